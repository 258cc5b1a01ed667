import { Signal } from '@lumino/signaling';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { ISheetCell, SheetModel } from '../model';
import { NotebookSync } from '../sync';

// The widgets are not used by what is tested here (the fake notebook has none), and loading
// them needs JupyterLab's web components, which jest does not transform.
jest.mock('@jupyterlab/cells', () => ({ CodeCell: class {} }));

/** A notebook cell as far as the sync touches one: source, metadata, outputs. */
class FakeCell {
  readonly type = 'code';
  metadata: Record<string, any> = {};
  outputs: any[] = [];
  writes = 0;
  constructor(
    readonly id: string,
    public source: string
  ) {}
  readonly sharedModel = {
    getSource: () => this.source,
    setSource: (s: string) => {
      this.source = s;
    },
    transact: (f: () => void) => f()
  };
  getMetadata(key: string) {
    return this.metadata[key];
  }
  setMetadata(key: string, value: unknown) {
    this.metadata[key] = value;
  }
  get outputArea() {
    return this.outputs;
  }
}

/** The notebook's cell list; counts the cells read through it. */
class FakeCells {
  gets = 0;
  readonly changed = new Signal<this, unknown>(this);
  constructor(readonly cells: FakeCell[]) {}
  get length() {
    return this.cells.length;
  }
  get(i: number) {
    this.gets++;
    const cell = this.cells[i];
    const outputs = cell.outputs;
    // The model's outputs list, as JupyterLab's IOutputAreaModel offers it.
    (cell as any).outputs_ = outputs;
    return Object.assign(cell, {
      outputs: Object.assign(outputs, {
        get: (k: number) => ({ toJSON: () => outputs[k] }),
        clear: () => {
          outputs.length = 0;
        },
        add: (o: unknown) => {
          cell.writes++;
          return outputs.push(o);
        },
        set: (k: number, o: unknown) => {
          cell.writes++;
          outputs[k] = o;
        }
      })
    });
  }
  insert(cell: FakeCell) {
    this.cells.push(cell);
    this.changed.emit({ type: 'add' });
  }
}

function fakePanel(cells: FakeCells) {
  const iopub = new Signal<unknown, any>({});
  const panel = {
    content: {
      model: { cells },
      activeCellChanged: new Signal<unknown, unknown>({}),
      widgets: []
    },
    sessionContext: { iopubMessage: iopub }
  };
  return { panel: panel as unknown as NotebookPanel, iopub };
}

function update(address: string, text: string) {
  return {
    header: { msg_type: 'update_display_data' },
    content: {
      data: { 'text/plain': text },
      metadata: {},
      transient: { display_id: `pysheets-${address}` }
    }
  };
}

describe('NotebookSync', () => {
  it('applies a 10,000-cell re-run visiting each notebook cell once, not once per update', () => {
    const n = 10000;
    const nbCells: FakeCell[] = [];
    const sheetCells: ISheetCell[] = [];
    for (let r = 1; r <= n; r++) {
      const address = `A${r}`;
      const code = r === 1 ? '# @A1\n1' : `# @A${r}\nA${r - 1} + 1`;
      nbCells.push(new FakeCell(`cell-${r}`, code));
      sheetCells.push({
        address,
        cellId: `cell-${r}`,
        state: 'ok',
        value: String(r),
        reads: r > 1 ? [`A${r - 1}`] : []
      });
    }
    const cells = new FakeCells(nbCells);
    const { panel, iopub } = fakePanel(cells);
    const model = new SheetModel();
    const sync = new NotebookSync(panel, model);
    model.applySnapshot({ cells: sheetCells });
    const afterSnapshot = cells.gets;
    expect(afterSnapshot).toBeLessThanOrEqual(n);
    // A1 edited to 5: every cell's output is updated in place.
    for (let r = 1; r <= n; r++) {
      iopub.emit(update(`A${r}`, String(r + 4)));
    }
    expect(
      nbCells.every(
        (c, i) => c.outputs[0]?.data['text/plain'] === String(i + 5)
      )
    ).toBe(true);
    expect(nbCells.every(c => c.writes === 1)).toBe(true);
    // Work per update does not grow with the notebook: the index was built once.
    expect(cells.gets).toBe(afterSnapshot);
    expect(sync.cellsVisited).toBeLessThanOrEqual(n);
    // The same value again writes nothing.
    iopub.emit(update('A7', '11'));
    expect(nbCells[6].writes).toBe(1);
    // A second edit replaces each output in place (one output, one write).
    for (let r = 1; r <= n; r++) {
      iopub.emit(update(`A${r}`, String(r + 9)));
    }
    expect(
      nbCells.every(
        (c, i) =>
          c.outputs.length === 1 &&
          c.outputs[0].data['text/plain'] === String(i + 10)
      )
    ).toBe(true);
    expect(nbCells.every(c => c.writes === 2)).toBe(true);
    expect(cells.gets).toBe(afterSnapshot);
    // Every address is in its cell's metadata, for the saved notebook.
    expect(nbCells[9999].metadata.pysheets).toEqual({ address: 'A10000' });
    sync.dispose();
  });

  it('finds cells by label or metadata when the kernel has no cellId, and after the list changes', () => {
    const labelled = new FakeCell('x', '# @B2 total\nA1 + 1');
    const placed = new FakeCell('y', 'A1 * 3');
    placed.metadata.pysheets = { address: 'C3' };
    const cells = new FakeCells([labelled, placed]);
    const { panel, iopub } = fakePanel(cells);
    const model = new SheetModel();
    const sync = new NotebookSync(panel, model);
    model.applySnapshot({
      cells: [
        { address: 'B2', state: 'ok', value: '2' },
        { address: 'C3', state: 'ok', value: '3' },
        { address: 'D4', cellId: 'z', state: 'ok', value: '4' }
      ]
    });
    expect(sync.cellAt('B2')).toBe(labelled);
    expect(sync.cellAt('C3')).toBe(placed);
    expect(sync.cellAt('D4')).toBeNull();
    // A cell added later (the formula bar's new cell) is found: the list changed.
    const added = new FakeCell('z', '# @D4\n4');
    cells.insert(added);
    expect(sync.cellAt('D4')).toBe(added);
    // A label edited away is not trusted from the index.
    labelled.source = '# @B9\nA1 + 1';
    expect(sync.cellAt('B2')).toBeNull();
    iopub.emit(update('C3', '9'));
    expect(placed.outputs[0].data['text/plain']).toBe('9');
    sync.dispose();
  });
});
