// The PySheets grid view (labextension/) in a real JupyterLab or Notebook 7, in Debian's headless
// Chromium, on the real kernel.
//
//   node grid_view.mjs <lab|notebook> <server url> <notebook path> <screenshot path>
//   node grid_view.mjs other-kernel <server url> <notebook path> <screenshot path>
//
// pysheets flow (notebook: A1=1, B1=A1*10, C1=B1+1, A2=sum(A1:C1), A3=1/0): run all, open the
// sheet view, check the grid's data model (the grid paints a canvas: the model is what it paints),
// click A1 and B1 on the canvas (formula bar, precedents, dependents), edit A1 through the formula
// bar, fill the empty D1 through it, save, reload, check the saved outputs, edit A1 again (now the
// display-id link is gone: the extension writes the outputs), save, and read the file back.
// other-kernel flow: the notebook is on ipykernel; the sheet view must say "no sheet" and nothing
// may throw.
//
// Prints one JSON object on stdout; exit 0 when every check holds, 1 otherwise (with "error").

import { finish, launchChromium } from './chromium.mjs';
import { keepPageErrors, waitPageState } from './lab_page.mjs';

const [mode, url, notebook, screenshot] = process.argv.slice(2);
if (!['lab', 'notebook', 'other-kernel'].includes(mode) || !url || !notebook || !screenshot) {
  console.error('usage: node grid_view.mjs <lab|notebook|other-kernel> <url> <notebook> <screenshot>');
  process.exit(2);
}

const STEP = 30_000;
const result = { mode, pageErrors: [] };
const log = (...args) => console.error(`[grid_view ${mode}]`, ...args);
const check = (cond, what) => {
  if (!cond) throw new Error(`check failed: ${what}`);
};

const base = url.endsWith('/') ? url : url + '/';
const pageUrl = mode === 'notebook'
  ? `${base}notebooks/${encodeURI(notebook)}`
  : `${base}lab/workspaces/grid-test/tree/${encodeURI(notebook)}?reset`;

// --- in the page -------------------------------------------------------------------------------

function panelOf(path) {
  const s = window.pysheetsGrid && window.pysheetsGrid.session(path);
  return s ? s.panel : null;
}

function ready([path, kernelName]) {
  const app = window.jupyterapp;
  if (!app || !window.pysheetsGrid) return false;
  const panel = (() => { const s = window.pysheetsGrid.session(path); return s && s.panel; })();
  if (!panel || !panel.content.model || panel.content.widgets.length === 0) return false;
  const sc = panel.sessionContext;
  const k = sc && sc.session && sc.session.kernel;
  return !!(sc.isReady && k && k.name === kernelName && k.status === 'idle' &&
            k.connectionStatus === 'connected');
}

function allRun(path) {
  const s = window.pysheetsGrid.session(path);
  const k = s.panel.sessionContext.session.kernel;
  const cells = s.panel.content.widgets;
  // Run all stops at the first error (A3, the last cell).
  return k.status === 'idle' && cells.every((c) => c.model.type !== 'code' || c.model.executionCount !== null);
}

function sheetState(path) {
  const view = window.pysheetsGrid.view(path);
  const s = window.pysheetsGrid.session(path);
  const m = s.model;
  const cells = {};
  for (const c of m.cells()) {
    cells[c.address] = { value: c.value, state: c.state, text: (() => {
      const a = c.address.match(/^([A-Z]+)(\d+)$/);
      let col = 0; for (const ch of a[1]) col = col * 26 + ch.charCodeAt(0) - 64;
      return m.data('body', Number(a[2]) - 1, col - 1);
    })(), reads: c.reads, error: c.error ?? null };
  }
  const nb = s.panel.content;
  return {
    connection: s.connector.state,
    size: m.size,
    cells,
    selected: m.selected,
    formulaAddress: view ? view.formula.address : null,
    formulaText: view ? view.formula.input.value : null,
    precedentOfSelected: m.selected ? m.precedents(m.selected) : [],
    dependentOfSelected: m.selected ? m.dependents(m.selected) : [],
    lastPaint: view ? view.grid.lastPaint : 0,
    status: view ? view.node.querySelector('.jp-PySheets-status').textContent : null,
    notebook: nb.widgets.map((w) => {
      const outs = [];
      for (let i = 0; i < w.model.outputs?.length ?? 0; i++) {
        const o = w.model.outputs.get(i).toJSON();
        const t = o.data ? o.data['text/plain'] : o.text ?? o.evalue;
        outs.push(Array.isArray(t) ? t.join('') : t ?? null);
      }
      return { source: w.model.sharedModel.getSource(), address: (w.model.getMetadata('pysheets') || {}).address ?? null,
               outputs: outs, executionCount: w.model.executionCount ?? null };
    }),
    activeCellIndex: nb.activeCellIndex,
    dirty: s.panel.context.model.dirty,
  };
}

// Client coordinates of a grid cell's centre (the grid paints a canvas; a user clicks there).
function cellPoint([path, address]) {
  const view = window.pysheetsGrid.view(path);
  const g = view.grid;
  const a = address.match(/^([A-Z]+)(\d+)$/);
  let col = 0; for (const ch of a[1]) col = col * 26 + ch.charCodeAt(0) - 64;
  const row = Number(a[2]) - 1;
  g.scrollToCell(row, col - 1);
  const r = g.node.getBoundingClientRect();
  const x = r.left + g.headerWidth + (col - 1) * g.defaultSizes.columnWidth - g.scrollX + g.defaultSizes.columnWidth / 2;
  const y = r.top + g.headerHeight + row * g.defaultSizes.rowHeight - g.scrollY + g.defaultSizes.rowHeight / 2;
  return { x, y };
}

// --- steps ---------------------------------------------------------------------------------------

async function waitSheet(page, pred, what) {
  if (!(await waitPageState(page, '__sheetState', notebook, pred, { timeout: STEP }))) {
    throw new Error(`${what}: timed out; sheet now ${JSON.stringify(await page.evaluate(sheetState, notebook))}`);
  }
}

async function openPage(page) {
  log('opening', pageUrl);
  await page.goto(pageUrl, { waitUntil: 'domcontentloaded' });
  const kernelName = mode === 'other-kernel' ? 'python3' : 'pysheets';
  await page.waitForFunction(ready, [notebook, kernelName], { timeout: 60_000, polling: 200 });
  await page.evaluate(`window.__sheetState = ${sheetState.toString()}`);
}

async function openSheet(page) {
  await page.evaluate((path) => window.pysheetsGrid.open(path), notebook);
  await page.waitForFunction((path) => !!window.pysheetsGrid.view(path), notebook, { timeout: STEP });
}

async function clickCell(page, address, opts = {}) {
  const p = await page.evaluate(cellPoint, [notebook, address]);
  await page.mouse.click(p.x, p.y, opts);
  await waitSheet(page, new Function('s', `return s.selected === ${JSON.stringify(address)};`), `select ${address}`);
}

async function editInFormulaBar(page, address, text) {
  await clickCell(page, address);
  const p = await page.evaluate(cellPoint, [notebook, address]);
  await page.mouse.dblclick(p.x, p.y);
  try {
    await page.waitForFunction(() => document.activeElement &&
      document.activeElement.classList.contains('jp-PySheets-formulaInput'), null, { timeout: 5000 });
  } catch {
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 200));
    throw new Error(`double-click on ${address} did not focus the formula bar (focus on ${focused})`);
  }
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

async function save(page) {
  await page.evaluate((path) => window.jupyterapp.commands.execute('docmanager:save',
    {}).catch(() => window.pysheetsGrid.session(path).panel.context.save()), notebook);
  await page.evaluate((path) => window.pysheetsGrid.session(path).panel.context.save(), notebook);
  await waitSheet(page, (s) => s.dirty === false, 'saved');
}

async function savedFile(page) {
  return page.evaluate(async ([b, path]) => {
    const r = await fetch(`${b}api/contents/${encodeURI(path)}?content=1`);
    const nb = (await r.json()).content;
    return nb.cells.map((c) => ({
      source: Array.isArray(c.source) ? c.source.join('') : c.source,
      address: (c.metadata.pysheets || {}).address ?? null,
      outputs: (c.outputs || []).map((o) => {
        const t = o.data ? o.data['text/plain'] : o.text ?? o.evalue;
        return Array.isArray(t) ? t.join('') : t ?? null;
      }),
    }));
  }, [base, notebook]);
}

async function pysheetsFlow(page) {
  await openPage(page);
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  log('run all');
  await page.waitForFunction(allRun, notebook, { timeout: STEP, polling: 200 });
  log('open sheet');
  await openSheet(page);
  await waitSheet(page, (s) => s.connection === 'connected' && s.size === 5 && s.lastPaint > 0 &&
    s.cells.A2 && s.cells.A2.value === '22' && s.cells.A3 && s.cells.A3.state === 'error', 'sheet after run all');
  let st = await page.evaluate(sheetState, notebook);
  result.after_run_all = st.cells;
  result.status_after_run_all = st.status;
  check(st.cells.A1.text === '1' && st.cells.B1.text === '10' && st.cells.C1.text === '11', 'A1, B1, C1 show 1, 10, 11');
  check(st.cells.A2.text === '22', 'A2 = sum(A1:C1) shows 22');
  check(st.cells.A3.state === 'error' && /ZeroDivisionError/.test(st.cells.A3.error || ''), 'A3 is an error with its message');
  check(st.notebook.map((c) => c.address).join(',') === 'A1,B1,C1,A2,A3', `addresses in metadata (${st.notebook.map((c) => c.address)})`);

  // Selecting on the canvas: formula bar, precedents and dependents.
  await clickCell(page, 'B1');
  st = await page.evaluate(sheetState, notebook);
  result.b1_selected = { formula: st.formulaText, precedents: st.precedentOfSelected, dependents: st.dependentOfSelected,
                         activeCellIndex: st.activeCellIndex };
  check(st.formulaAddress === 'B1' && st.formulaText === 'A1 * 10', `formula bar shows B1's code (got ${JSON.stringify(st.formulaText)})`);
  check(JSON.stringify(st.precedentOfSelected) === '["A1"]', 'B1 reads A1');
  check(JSON.stringify([...st.dependentOfSelected].sort()) === '["A2","C1"]', 'C1 and A2 read B1');
  check(st.activeCellIndex === 1, 'clicking B1 in the grid selected its notebook cell');

  // Selecting a notebook cell selects its grid cell.
  await page.evaluate((path) => { window.pysheetsGrid.session(path).panel.content.activeCellIndex = 3; }, notebook);
  await waitSheet(page, (s) => s.selected === 'A2', 'notebook cell 3 selects A2');

  // Edit A1 through the formula bar; dependents follow.
  await editInFormulaBar(page, 'A1', '5');
  await waitSheet(page, (s) => s.cells.B1.text === '50' && s.cells.C1.text === '51' && s.cells.A2.text === '106',
                  'dependents after A1 = 5');
  st = await page.evaluate(sheetState, notebook);
  result.after_edit = st.cells;
  check(st.notebook[0].source === '# @A1\n5', `notebook A1 source updated (got ${JSON.stringify(st.notebook[0].source)})`);
  await waitSheet(page, (s) => s.notebook[1].outputs[0] === '50' && s.notebook[3].outputs[0] === '106', 'notebook outputs follow');

  // An empty address: a new labelled cell at the end of the notebook.
  await editInFormulaBar(page, 'D1', 'A1 + 100');
  await waitSheet(page, (s) => s.cells.D1 && s.cells.D1.text === '105', 'D1 created from the formula bar');
  st = await page.evaluate(sheetState, notebook);
  const last = st.notebook[st.notebook.length - 1];
  check(last.source === '# @D1\nA1 + 100' && last.address === 'D1', `new cell at the end (got ${JSON.stringify(last)})`);

  await save(page);
  result.saved_before_reload = await savedFile(page);

  // Reload: the saved values show, and a new edit is written into cells the tab never ran.
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForFunction(ready, [notebook, 'pysheets'], { timeout: 60_000, polling: 200 });
  await page.evaluate(`window.__sheetState = ${sheetState.toString()}`);
  st = await page.evaluate(sheetState, notebook);
  result.after_reload_notebook = st.notebook;
  check(st.notebook[1].outputs[0] === '50' && st.notebook[2].outputs[0] === '51' && st.notebook[3].outputs[0] === '106',
        'after reload the notebook shows the values saved');
  await openSheet(page);
  await waitSheet(page, (s) => s.connection === 'connected' && s.size === 6 && s.cells.B1.text === '50', 'sheet after reload');
  await editInFormulaBar(page, 'A1', '7');
  await waitSheet(page, (s) => s.cells.B1.text === '70' && s.cells.D1.text === '107', 'dependents after A1 = 7 (reloaded tab)');
  await waitSheet(page, (s) => s.notebook[1].outputs[0] === '70' && s.notebook[2].outputs[0] === '71' &&
                  s.notebook[3].outputs[0] === '148' && s.notebook[5].outputs[0] === '107',
                  'outputs written into the cells after reload');
  await save(page);
  const saved = await savedFile(page);
  result.saved_after_reload = saved;
  check(saved[0].source === '# @A1\n7', 'saved A1 source');
  check(saved[1].outputs[0] === '70' && saved[2].outputs[0] === '71' && saved[3].outputs[0] === '148' &&
        saved[5].outputs[0] === '107', 'saved outputs hold the re-run values');
  check(saved.map((c) => c.address).join(',') === 'A1,B1,C1,A2,A3,D1', 'saved addresses in metadata');

  // `%sheet` output renders inline through the extension's mime renderer (a grid, not HTML).
  await page.evaluate(async (path) => {
    const panel = window.pysheetsGrid.session(path).panel;
    const m = panel.content.model;
    m.sharedModel.insertCell(m.cells.length, { cell_type: 'code', source: '%sheet' });
    panel.content.activeCellIndex = m.cells.length - 1;
    await window.jupyterapp.commands.execute('notebook:run-cell');
  }, notebook);
  await page.waitForFunction((path) => {
    const nb = window.pysheetsGrid.session(path).panel.content;
    const cell = nb.widgets[nb.widgets.length - 1];
    return !!cell.node.querySelector('.jp-PySheets-inline canvas');
  }, notebook, { timeout: STEP });
  result.inline_sheet = await page.evaluate((path) => {
    const nb = window.pysheetsGrid.session(path).panel.content;
    const cell = nb.widgets[nb.widgets.length - 1];
    const out = cell.model.outputs.get(0).toJSON();
    const data = out.data['application/vnd.pysheets.sheet+json'];
    return { mimeCells: data ? data.cells.length : null, rendered: !!cell.node.querySelector('.jp-PySheets-inline') };
  }, notebook);
  check(result.inline_sheet.rendered && result.inline_sheet.mimeCells >= 6, `%sheet rendered inline (${JSON.stringify(result.inline_sheet)})`);

  // A kernel restart empties the sheet; the view reconnects, and a run brings the cells back
  // at the addresses kept in the notebook.
  await page.evaluate((path) => window.pysheetsGrid.session(path).panel.sessionContext.session.kernel.restart(), notebook);
  await waitSheet(page, (s) => s.connection === 'connected' && s.size === 0, 'empty sheet after a restart');
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  // Run all stops at A3's error: the cells above it are back.
  await waitSheet(page, (s) => s.cells.B1 && s.cells.B1.text === '70' && s.cells.A2 && s.cells.A2.text === '148' &&
                  s.cells.A3 && s.cells.A3.state === 'error', 'cells back after restart and run all');
  await clickCell(page, 'B1');
}

async function otherKernelFlow(page) {
  await openPage(page);
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  await page.waitForFunction(allRun, notebook, { timeout: STEP, polling: 200 });
  await openSheet(page);
  await waitSheet(page, (s) => s.connection === 'unavailable', 'no sheet on ipykernel');
  const st = await page.evaluate(sheetState, notebook);
  result.other_kernel = { status: st.status, size: st.size, outputs: st.notebook.map((c) => c.outputs) };
  check(st.size === 0, 'an empty grid');
  check(/No sheet/.test(st.status), `the view says there is no sheet (got ${JSON.stringify(st.status)})`);
  check(st.notebook[0].outputs[0] === '2', 'the notebook itself ran as usual');
}

let browser;
let page;
let exitCode = 0;
try {
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  page.setDefaultTimeout(STEP);
  // Errors thrown from this extension's code fail the test; others (Notebook 7's own shortcuts
  // plugin throws one at load, with or without this extension) are reported only.
  result.foreignPageErrors = [];
  page.on('pageerror', (e) => log('page error:', e.stack || e.message));
  keepPageErrors(page, result);
  page.on('dialog', (d) => { log('dialog:', d.message()); d.dismiss(); });
  if (mode === 'other-kernel') await otherKernelFlow(page);
  else await pysheetsFlow(page);
  check(result.pageErrors.length === 0, `no errors in the page (${result.pageErrors.join('; ')})`);
} catch (e) {
  exitCode = 1;
  result.error = String(e && e.message ? e.message : e);
  log('FAILED:', result.error);
}
await finish({ page, browser, screenshot, result, exitCode, log });
