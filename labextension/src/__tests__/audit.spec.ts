// The sanitizer alone: apputils' index pulls in React components jest cannot load.
import { Sanitizer } from '@jupyterlab/apputils/lib/sanitizer';
import { nullTranslator } from '@jupyterlab/translation';
import { CellAudit, editedLabel, ExplainPanel, formatUtc } from '../audit';
import { SheetConnector } from '../comm';
import { SheetModel } from '../model';
import { cell } from './cells';
import { FakeKernel } from './fakes';

const trans = nullTranslator.load('jupyterlab_pysheets');

describe('the editor label', () => {
  it('shows the time in UTC, to the minute', () => {
    expect(formatUtc('2026-12-01T11:40:00.123Z')).toBe('2026-12-01 11:40 UTC');
    expect(formatUtc('2026-12-01T11:40:59.999Z')).toBe('2026-12-01 11:40 UTC');
    // Another offset is converted, across midnight too.
    expect(formatUtc('2026-12-01T00:10:00.000+01:00')).toBe(
      '2026-11-30 23:10 UTC'
    );
    expect(formatUtc('2026-01-02T03:04Z')).toBe('2026-01-02 03:04 UTC');
  });

  it('shows a time that does not parse as it came', () => {
    for (const raw of ['yesterday', '', '2026-13-45T99:00:00Z', '1700000000']) {
      expect(formatUtc(raw)).toBe(raw);
    }
  });

  it('reads "edited by <user> · <time>", and nothing when unknown', () => {
    expect(
      editedLabel({ by: 'alice', at: '2026-12-01T11:40:00.123Z' }, trans)
    ).toBe('edited by alice · 2026-12-01 11:40 UTC');
    expect(editedLabel(null, trans)).toBe('');
  });

  it('beside the bar: empty with no cell or no edit, the change otherwise', () => {
    const audit = new CellAudit(trans);
    expect(audit.node.querySelector('.jp-PySheets-editedBy')).toBe(audit.label);
    expect(audit.label.textContent).toBe('');
    expect(audit.button.disabled).toBe(true);
    audit.show('B7', { by: 'bob', at: '2026-12-01T11:40:00.123Z' }, true);
    expect(audit.label.textContent).toBe(
      'edited by bob · 2026-12-01 11:40 UTC'
    );
    expect(audit.label.title).toContain('2026-12-01T11:40:00.123Z');
    expect(audit.button.disabled).toBe(false);
    expect(audit.button.textContent).toBe('Explain');
    expect(audit.button.title).toContain('B7');
    audit.show('B7', null, true);
    expect(audit.label.textContent).toBe('');
    audit.show(null, { by: 'bob', at: '2026-12-01T11:40:00.123Z' }, true);
    expect(audit.label.textContent).toBe('');
    expect(audit.button.disabled).toBe(true);
    // An empty address, or no sheet: nothing to explain.
    audit.show('Z9', null, false);
    expect(audit.button.disabled).toBe(true);
  });

  it('pressing Explain asks for the shown cell', () => {
    const audit = new CellAudit(trans);
    const asked: string[] = [];
    audit.explainRequested.connect((_, a) => asked.push(a));
    audit.button.click(); // disabled: no cell
    audit.show('C3', null, true);
    audit.button.click();
    expect(asked).toEqual(['C3']);
  });
});

describe('the explain panel', () => {
  const connected = () => {
    const model = new SheetModel();
    const connector = new SheetConnector(model);
    const kernel = new FakeKernel();
    connector.setKernel(kernel, true);
    const comm = kernel.comms[0];
    comm.receive({
      type: 'snapshot',
      sheet: { cells: [cell('A1', '1'), cell('B1', '10', ['A1'])] }
    });
    comm.sent.length = 0;
    const panel = new ExplainPanel(trans, new Sanitizer(), connector);
    return { connector, kernel, comm, panel };
  };

  it('is hidden until asked, and sends the explain message', () => {
    const { comm, panel } = connected();
    expect(panel.isHidden).toBe(true);
    expect(panel.hasClass('jp-PySheets-explain')).toBe(true);
    panel.explain('b1');
    expect(comm.sent).toEqual([{ type: 'explain', address: 'B1' }]);
    expect(panel.isHidden).toBe(false);
    expect(panel.waiting).toBe(true);
    expect(panel.node.textContent).toContain('Explain B1');
  });

  it('shows the kernel tree, sanitized', () => {
    const { comm, panel } = connected();
    panel.explain('B1');
    comm.receive({
      type: 'explain',
      address: 'B1',
      html:
        '<div class="pysheets-explain"><details open><summary>B1 = 10</summary>' +
        '<details><summary>A1 = 1</summary></details></details>' +
        '<script>window.pwned = true</script>' +
        '<img src="x" onerror="window.pwned = true"></div>',
      text: 'B1 = 10\n  A1 = 1'
    });
    expect(panel.waiting).toBe(false);
    const body = panel.body;
    expect(body.querySelectorAll('details').length).toBe(2);
    expect(body.querySelector('.pysheets-explain')).not.toBeNull();
    expect(body.textContent).toContain('B1 = 10');
    expect(body.textContent).toContain('A1 = 1');
    expect(body.querySelector('script')).toBeNull();
    expect(body.innerHTML).not.toContain('onerror');
    expect((window as any).pwned).toBeUndefined();
  });

  it('shows the plain text when the kernel sends no HTML', () => {
    const { comm, panel } = connected();
    panel.explain('B1');
    comm.receive({ type: 'explain', address: 'B1', text: 'B1 = 10\n  A1 = 1' });
    const pre = panel.body.querySelector('pre')!;
    expect(pre.textContent).toBe('B1 = 10\n  A1 = 1');
  });

  it("shows the kernel's error", () => {
    const { comm, panel } = connected();
    panel.explain('Q9');
    comm.receive({ type: 'explain', address: 'Q9', error: 'no cell at Q9' });
    expect(panel.node.dataset.state).toBe('error');
    expect(
      panel.body.querySelector('.jp-PySheets-explainError')!.textContent
    ).toBe('no cell at Q9');
  });

  it('ignores an answer for another cell, or after it was closed', () => {
    const { comm, panel } = connected();
    panel.explain('B1');
    comm.receive({ type: 'explain', address: 'A1', text: 'A1 = 1' });
    expect(panel.waiting).toBe(true);
    panel.node
      .querySelector<HTMLButtonElement>('.jp-PySheets-explainClose')!
      .click();
    expect(panel.isHidden).toBe(true);
    comm.receive({ type: 'explain', address: 'B1', text: 'B1 = 10' });
    expect(panel.isHidden).toBe(true);
    expect(panel.body.textContent).toBe('');
  });

  it('says why when the kernel answers with a snapshot (no explain yet)', () => {
    const { comm, panel } = connected();
    comm.nextMsgId = 'explain-1';
    panel.explain('B1');
    comm.receive(
      { type: 'snapshot', sheet: { cells: [cell('A1', '1')] } },
      'explain-1'
    );
    expect(panel.waiting).toBe(false);
    expect(panel.body.textContent).toMatch(/cannot explain/);
  });

  it('says so when there is no kernel to ask', () => {
    const model = new SheetModel();
    const panel = new ExplainPanel(
      trans,
      new Sanitizer(),
      new SheetConnector(model)
    );
    panel.explain('B1');
    expect(panel.waiting).toBe(false);
    expect(panel.body.textContent).toMatch(/Not connected/);
  });
});
