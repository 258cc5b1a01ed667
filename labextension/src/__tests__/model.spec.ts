import {
  columnName,
  displayText,
  editedOf,
  formatAddress,
  isNumber,
  ISheetCell,
  parseAddress,
  SheetModel
} from '../model';
import { cell } from './cells';
import { tsvField } from '../grid';

describe('addresses', () => {
  it('names columns like a spreadsheet', () => {
    expect([0, 25, 26, 27, 51, 52, 701, 702].map(columnName)).toEqual([
      'A',
      'Z',
      'AA',
      'AB',
      'AZ',
      'BA',
      'ZZ',
      'AAA'
    ]);
  });

  it('parses and formats addresses both ways', () => {
    expect(parseAddress('B3')).toEqual({ row: 2, col: 1 });
    expect(parseAddress('aa10')).toEqual({ row: 9, col: 26 });
    expect(parseAddress('A0')).toBeNull();
    expect(parseAddress('total')).toBeNull();
    for (const a of ['A1', 'Z99', 'AA1', 'XFD1048576']) {
      const p = parseAddress(a)!;
      expect(formatAddress(p.row, p.col)).toBe(a);
    }
  });
});

describe('SheetModel', () => {
  it('holds a snapshot at its addresses, with headers', () => {
    const m = new SheetModel();
    m.applySnapshot({
      mode: 'auto',
      cells: [cell('A1', '1'), cell('B3', 'DataFrame 120×4', ['A1'])]
    });
    expect(m.size).toBe(2);
    expect(m.data('body', 0, 0)).toBe('1');
    expect(m.data('body', 2, 1)).toBe('DataFrame 120×4');
    expect(m.data('body', 1, 1)).toBe('');
    expect(m.data('column-header', 0, 1)).toBe('B');
    expect(m.data('row-header', 2, 0)).toBe('3');
    expect(m.rowCount('body')).toBeGreaterThanOrEqual(3);
    expect(m.rowCount('column-header')).toBe(1);
    expect(m.addressOfCellId('id-B3')).toBe('B3');
  });

  it('grows past the last used row and column', () => {
    const m = new SheetModel();
    m.applySnapshot({ cells: [cell('C500', 'x')] });
    expect(m.rowCount('body')).toBeGreaterThan(500);
    m.applyUpdate([cell('AD2', 'y')]);
    expect(m.columnCount('body')).toBeGreaterThan(29);
  });

  it('applies updates and deletions, and signals what changed', () => {
    const m = new SheetModel();
    m.applySnapshot({ cells: [cell('A1', '1'), cell('B1', '10', ['A1'])] });
    const changes: string[] = [];
    const touched: string[][] = [];
    m.changed.connect((_, args) => changes.push(args.type));
    m.applied.connect((_, t) => touched.push(t));
    m.applyUpdate(
      [cell('B1', '50', ['A1']), { address: 'A1', state: 'deleted' }],
      'lazy'
    );
    expect(m.data('body', 0, 1)).toBe('50');
    expect(m.data('body', 0, 0)).toBe('');
    expect(m.cell('A1')).toBeUndefined();
    expect(m.mode).toBe('lazy');
    expect(touched).toEqual([['B1', 'A1']]);
    expect(changes).toEqual(['cells-changed', 'cells-changed']);
  });

  it('shows errors and upstream errors by state', () => {
    const err: ISheetCell = {
      ...cell('A3', ''),
      state: 'error',
      error: 'ZeroDivisionError: division by zero\nmore'
    };
    expect(displayText(err)).toBe('#ERROR ZeroDivisionError: division by zero');
    expect(displayText({ ...cell('B3', ''), state: 'upstream-error' })).toBe(
      '#UPSTREAM'
    );
    expect(displayText({ ...cell('C3', '7'), state: 'stale' })).toBe('7');
  });

  it('knows precedents, dependents and what is downstream', () => {
    const m = new SheetModel();
    m.applySnapshot({
      cells: [
        cell('A1', '1'),
        cell('B1', '10', ['A1']),
        cell('C1', '11', ['B1']),
        cell('A2', '22', ['A1', 'B1', 'C1']),
        cell('D9', '0')
      ]
    });
    expect(m.precedents('A2')).toEqual(['A1', 'B1', 'C1']);
    expect(m.dependents('A1').sort()).toEqual(['A2', 'B1']);
    expect([...m.downstream(['B1'])].sort()).toEqual(['A2', 'B1', 'C1']);
    m.select('b1');
    expect(m.selected).toBe('B1');
    expect(m.highlight('A1')).toBe('precedent');
    expect(m.highlight('C1')).toBe('dependent');
    expect(m.highlight('A2')).toBe('dependent');
    expect(m.highlight('D9')).toBeNull();
    // An update that changes what B1 reads changes the highlight.
    m.applyUpdate([cell('B1', '9', ['D9'])]);
    expect(m.highlight('A1')).toBeNull();
    expect(m.highlight('D9')).toBe('precedent');
  });

  it('marks cells running until the kernel reports on them', () => {
    const m = new SheetModel();
    m.applySnapshot({ cells: [cell('A1', '1'), cell('B1', '10', ['A1'])] });
    m.markRunning(m.downstream(['A1']));
    expect(m.cell('A1')!.state).toBe('running');
    expect(m.cell('B1')!.state).toBe('running');
    m.applyUpdate([cell('A1', '5')]);
    expect(m.cell('A1')!.state).toBe('ok');
    expect(m.cell('B1')!.state).toBe('running');
    m.clearRunning();
    expect(m.cell('B1')!.state).toBe('ok');
  });

  it('takes a 100,000-cell snapshot quickly', () => {
    const cells: ISheetCell[] = [];
    for (let i = 0; i < 100000; i++) {
      const col = i % 10;
      const row = Math.floor(i / 10);
      cells.push(
        cell(
          formatAddress(row, col),
          String(i),
          row ? [formatAddress(row - 1, col)] : []
        )
      );
    }
    const m = new SheetModel();
    const t0 = Date.now();
    m.applySnapshot({ cells });
    const elapsed = Date.now() - t0;
    expect(m.size).toBe(100000);
    expect(m.data('body', 9999, 9)).toBe('99999');
    expect(m.rowCount('body')).toBeGreaterThanOrEqual(10000);
    // Generous: the point is no quadratic step (that would take minutes).
    expect(elapsed).toBeLessThan(3000);
  });
});

describe('edited (the last change, from the journal)', () => {
  const at = '2026-12-01T11:40:00.123Z';

  it('comes with cells of snapshots and updates, and is absent when unknown', () => {
    const m = new SheetModel();
    m.applySnapshot({
      cells: [
        { ...cell('A1', '1'), edited: { by: 'alice', at } },
        cell('B1', '10')
      ]
    });
    expect(editedOf(m.cell('A1'))).toEqual({ by: 'alice', at });
    expect(editedOf(m.cell('B1'))).toBeNull();
    m.applyUpdate([{ ...cell('B1', '20'), edited: { by: 'bob', at } }]);
    expect(editedOf(m.cell('B1'))).toEqual({ by: 'bob', at });
    // An update without it: unknown again (the kernel sends whole cells).
    m.applyUpdate([cell('A1', '2')]);
    expect(editedOf(m.cell('A1'))).toBeNull();
    expect(editedOf(undefined)).toBeNull();
  });

  it('is ignored when malformed', () => {
    for (const edited of [
      null,
      'alice',
      {},
      { by: 'alice' },
      { at },
      { by: '', at },
      { by: '  ', at },
      { by: 3, at },
      { by: 'alice', at: 1764589200 }
    ]) {
      const c = { ...cell('A1', '1'), edited } as unknown as ISheetCell;
      expect(editedOf(c)).toBeNull();
    }
  });
});

describe('compact cells (the comm leaves defaults out)', () => {
  it('reads a cell without state, title, reads or code as ok, untitled, reading nothing', () => {
    const m = new SheetModel();
    m.applySnapshot({
      cells: [
        { address: 'A1', value: '1' } as ISheetCell,
        { address: 'A2', value: '2', reads: ['A1'] } as ISheetCell,
        {
          address: 'B4',
          value: '25.0%',
          format: '.1%',
          number: true
        } as ISheetCell
      ]
    });
    expect(m.cell('A1')!.state).toBe('ok');
    expect(m.data('body', 0, 0)).toBe('1');
    expect(m.precedents('A1')).toEqual([]);
    expect(m.dependents('A1')).toEqual(['A2']);
    expect(m.data('body', 3, 1)).toBe('25.0%');
  });
});

describe('isNumber', () => {
  it('believes the kernel, else reads the text as the kernel does', () => {
    const c = (value: string, extra: Partial<ISheetCell> = {}) =>
      ({ address: 'A1', state: 'ok', value, ...extra }) as ISheetCell;
    for (const v of ['1', '-1,234.5', '25.0%', '1e-07', '1_000']) {
      expect(isNumber(c(v))).toBe(true);
    }
    for (const v of ['', 'inf', "'12'", 'True', 'DataFrame 3×4', '%']) {
      expect(isNumber(c(v))).toBe(false);
    }
    expect(isNumber(c('123', { number: false }))).toBe(false);
    expect(isNumber(c('inf', { number: true }))).toBe(true);
    expect(isNumber(c('1', { state: 'error' }))).toBe(false);
  });
});

describe('tsvField', () => {
  it('quotes what would break a row or a column, and nothing else', () => {
    expect(tsvField('1,234.5')).toBe('1,234.5');
    expect(tsvField('#ERROR ZeroDivisionError: division by zero')).toBe(
      '#ERROR ZeroDivisionError: division by zero'
    );
    expect(tsvField('a\tb')).toBe('"a\tb"');
    expect(tsvField('two\nlines')).toBe('"two\nlines"');
    expect(tsvField('say "hi"')).toBe('"say ""hi"""');
  });
});

describe('saved outputs', () => {
  it('shows them stale where the kernel has no cell, until its cells come', () => {
    const m = new SheetModel();
    m.setSaved([
      { address: 'A1', cellId: 'c1', state: 'ok', value: '1' },
      { address: 'B30', cellId: 'c2', state: 'ok', value: '42' }
    ]);
    expect(m.cellAt(0, 0)).toMatchObject({
      value: '1',
      state: 'stale',
      saved: true
    });
    expect(m.savedCell('b30')!.value).toBe('42');
    expect(m.rowCount('body')).toBeGreaterThanOrEqual(50);
    expect(m.cell('A1')).toBeUndefined();
    expect(m.size).toBe(0);
    m.applySnapshot({ cells: [cell('A1', '5')] });
    expect(m.cellAt(0, 0)).toMatchObject({ value: '5', state: 'ok' });
    expect(m.savedCell('A1')).toBeUndefined();
    expect(m.cellAt(29, 1)!.saved).toBe(true);
    // A restart drops the kernel's cells; the saved ones show again.
    m.clear();
    expect(m.cellAt(0, 0)!.saved).toBe(true);
  });
});
