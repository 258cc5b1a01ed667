// The grid as a spreadsheet (issue 13), in a real JupyterLab with the grid extension, in
// Debian's headless Chromium, on the real kernel:
//
//   node grid_sheet.mjs <server url> <notebook path> <screenshot path>
//
// The notebook (tests/test_grid_browser.py) is saved with outputs from an earlier session and
// holds A1 = 1000, A2 .. A6 slow cells (each sleeps, then adds one to the one above), B1 with a
// number format (`# @B1 savings rate :.1%`), B2 a string. The script:
//
// 1. opens the sheet view before running anything: the saved outputs are in the grid, stale;
// 2. runs all: the cells are the kernel's, live; B1 shows 25.0%, right-aligned, with its title
//    and format beside the address in the formula bar; B2 ('12', a string) is left-aligned;
// 3. selects A1:B2 and presses Ctrl+C: the clipboard gets tab-separated values;
// 4. commits A1 = 2000: the status line shows the batch's progress (done of total, the cell
//    running), the A1 cell's output shows the transient line; both go when the batch ends, and
//    A6 holds the new value;
// 5. commits A1 again and restarts the kernel during the batch: no cell stays marked running,
//    the grid shows the notebook's outputs, stale; after run all and an edit whose batch is
//    cut off at C1 (D1 marked running, not re-run), nothing is left running either.
//
// Every check is made even after one fails, so one run says everything that is missing.
// Prints one JSON object; exit 0 when every check holds.

import { finish } from './chromium.mjs';
import { STEP_TIMEOUT, keepPageErrors, openNotebook, scriptArgs, waitPageState } from './lab_page.mjs';

const { url, notebook, screenshot } = scriptArgs('grid_sheet.mjs');
const result = { failures: [], pageErrors: [] };
const log = (...args) => console.error('[grid_sheet]', ...args);
const expect = (cond, what) => {
  if (!cond) {
    result.failures.push(what);
    log('check failed:', what);
  }
  return cond;
};

// --- in the page -------------------------------------------------------------------------------

// What the checks read: grid cells as shown (kernel's or saved), running marks, progress,
// the status line, the formula bar, the A1 notebook cell's outputs.
function sheetState(path) {
  const s = window.pysheetsGrid.session(path);
  const view = window.pysheetsGrid.view(path);
  const m = s.model;
  const shown = {};
  for (const a of ['A1', 'A2', 'A6', 'B1', 'B2', 'C1', 'D1']) {
    const col = a.charCodeAt(0) - 65;
    const row = Number(a.slice(1)) - 1;
    const c = m.cellAt(row, col);
    let align = null;
    if (view && c) {
      const renderer = view.grid.cellRenderers.get({ region: 'body', row, column: col, value: null, metadata: {} });
      const h = renderer && renderer.horizontalAlignment;
      align = typeof h === 'function' ? h({ region: 'body', row, column: col, value: null, metadata: {} }) : h;
    }
    shown[a] = c ? { value: c.value, state: c.state, saved: !!c.saved, align } : null;
  }
  const running = [...m.cells()].filter((c) => c.state === 'running').map((c) => c.address);
  const status = view ? view.node.querySelector('.jp-PySheets-status') : null;
  const a1 = s.panel.content.model.cells.get(0);
  const a1Outputs = [];
  for (let j = 0; j < a1.outputs.length; j++) {
    const o = a1.outputs.get(j).toJSON();
    a1Outputs.push(o.data ? o.data['text/plain'] : o.output_type);
  }
  return {
    connection: s.connector.state,
    kernelStatus: s.panel.sessionContext.session && s.panel.sessionContext.session.kernel
      ? s.panel.sessionContext.session.kernel.status : null,
    size: m.size,
    shown,
    running,
    progress: m.progress,
    status: status ? status.textContent : null,
    formula: view ? { address: view.formula.address, title: view.formula.titleText, code: view.formula.input.value } : null,
    a1Outputs,
  };
}

async function waitState(page, pred, what, timeout = STEP_TIMEOUT) {
  if (await waitPageState(page, '__sheetState', notebook, pred, { timeout, polling: 50 })) return true;
  expect(false, `${what}: timed out; now ${JSON.stringify(await page.evaluate(sheetState, notebook))}`);
  return false;
}

const handles = {};
let exitCode = 0;
try {
  const page = await openNotebook(handles, { url, notebook, workspace: 'pysheets-sheet', log });
  keepPageErrors(page, result);
  await page.evaluate(() => window.jupyterapp.shell.collapseLeft());
  await page.evaluate(`window.__sheetState = ${sheetState.toString()}`);
  // Lumino's copy puts the text on the copy event's DataTransfer: keep what it puts there.
  await page.evaluate(() => {
    const set = DataTransfer.prototype.setData;
    DataTransfer.prototype.setData = function (type, data) {
      window.__copied = data;
      return set.call(this, type, data);
    };
  });

  log('1. the sheet view before anything ran: saved outputs, stale');
  await page.evaluate((path) => window.pysheetsGrid.open(path), notebook);
  await page.waitForFunction((path) => !!window.pysheetsGrid.view(path), notebook, { timeout: STEP_TIMEOUT });
  await waitState(page, (s) => s.shown.A1 && s.shown.B1, 'saved outputs in the grid');
  let st = await page.evaluate(sheetState, notebook);
  result.saved = st.shown;
  expect(st.size === 0, `the kernel has no cells yet (${st.size})`);
  expect(st.shown.A1 && st.shown.A1.saved && st.shown.A1.state === 'stale' && st.shown.A1.value === '1000',
         `A1 shows its saved 1000, stale (${JSON.stringify(st.shown.A1)})`);
  expect(st.shown.A6 && st.shown.A6.saved && st.shown.A6.value === '1005',
         `A6 shows its saved 1005 (${JSON.stringify(st.shown.A6)})`);

  log('2. run all: live cells, formats, alignment');
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  await waitState(page, (s) => s.shown.A6 && !s.shown.A6.saved && s.shown.A6.value === '1005' && s.running.length === 0
                  && s.shown.B2 && !s.shown.B2.saved, 'run all made every cell live', 60_000);
  st = await page.evaluate(sheetState, notebook);
  result.live = st.shown;
  expect(st.shown.B1 && st.shown.B1.value === '25.0%' && st.shown.B1.state === 'ok',
         `B1 shows 25.0% (${JSON.stringify(st.shown.B1)})`);
  expect(st.shown.B1 && st.shown.B1.align === 'right', `B1, a number, is right-aligned (${JSON.stringify(st.shown.B1)})`);
  expect(st.shown.A1 && st.shown.A1.align === 'right', `A1 is right-aligned (${JSON.stringify(st.shown.A1)})`);
  expect(st.shown.B2 && st.shown.B2.value === '12' && st.shown.B2.align === 'left',
         `B2, the string '12', is left-aligned (${JSON.stringify(st.shown.B2)})`);
  await page.evaluate(([path]) => window.pysheetsGrid.view(path).selectAddress('B1'), [notebook]);
  await waitState(page, (s) => s.formula && s.formula.address === 'B1' && s.formula.code === 'A1 / 4000',
                  'the formula bar shows B1');
  st = await page.evaluate(sheetState, notebook);
  result.formula = st.formula;
  expect(st.formula.title === 'savings rate :.1%', `the bar shows B1's title and format (${JSON.stringify(st.formula)})`);

  log('3. copy A1:B2 as tab-separated values');
  await page.evaluate((path) => {
    const grid = window.pysheetsGrid.view(path).grid;
    grid.selectionModel.select({ r1: 0, c1: 0, r2: 1, c2: 1, cursorRow: 0, cursorColumn: 0, clear: 'all' });
    grid.viewport.node.focus();
  }, notebook);
  await page.keyboard.press('Control+C');
  result.copied = await page.evaluate(() => window.__copied ?? null);
  expect(result.copied === '1000\t25.0%\n1001\t12', `the clipboard holds A1:B2 as TSV (got ${JSON.stringify(result.copied)})`);

  log('4. a long batch shows its progress');
  await page.evaluate(([path]) => void window.pysheetsGrid.view(path).commit('A1', '2000'), [notebook]);
  await waitState(page, (s) => s.progress && /Recomputing: \d+ of \d+ cells done, running A\d/.test(s.status),
                  'the status line shows progress', 20_000);
  await waitState(page, (s) => s.a1Outputs.some((t) => typeof t === 'string' && t.startsWith('recomputing:')),
                  'the running cell shows the progress line', 20_000);
  st = await page.evaluate(sheetState, notebook);
  result.progress = { status: st.status, a1Outputs: st.a1Outputs };
  await waitState(page, (s) => !s.progress && s.shown.A6.value === '2005' && s.running.length === 0,
                  'the batch ends: A6 new, no progress, nothing running', 30_000);
  st = await page.evaluate(sheetState, notebook);
  result.after_batch = { status: st.status, a1Outputs: st.a1Outputs };
  expect(!/Recomputing/.test(st.status), `the status line no longer shows progress (${st.status})`);
  expect(st.a1Outputs.every((t) => !(typeof t === 'string' && t.startsWith('recomputing:'))),
         `the progress line is gone from A1's output (${JSON.stringify(st.a1Outputs)})`);

  log('5. a restart during a batch leaves nothing marked running');
  await page.evaluate(([path]) => void window.pysheetsGrid.view(path).commit('A1', '3000'), [notebook]);
  await waitState(page, (s) => s.running.length > 0, 'the batch marks cells running');
  await page.evaluate((path) => window.pysheetsGrid.session(path).panel.sessionContext.restartKernel(), notebook);
  await waitState(page, (s) => s.connection === 'connected' && s.kernelStatus === 'idle', 'reconnected after the restart', 60_000);
  st = await page.evaluate(sheetState, notebook);
  result.after_restart = { running: st.running, size: st.size, A6: st.shown.A6 };
  expect(st.running.length === 0, `no cell marked running after the restart (${st.running})`);
  // (A1's own output may be gone: its execute was cut off.)
  expect(st.shown.A6 && st.shown.A6.saved && st.shown.A6.state === 'stale',
         `after the restart the grid shows the notebook's outputs, stale (${JSON.stringify(st.shown.A6)})`);
  // Run all again, then an edit whose batch stops early at C1 (A1 > 0 stays True): D1 is
  // marked running and not re-run, so only the request's end can clear its mark, which the
  // marks of the request the restart cut off must not hold back.
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  await waitState(page, (s) => s.shown.D1 && !s.shown.D1.saved && s.shown.D1.value === 'positive'
                  && s.kernelStatus === 'idle' && s.running.length === 0, 'run all again', 60_000);
  await page.evaluate(([path]) => void window.pysheetsGrid.view(path).commit('A1', '1'), [notebook]);
  await waitState(page, (s) => s.shown.A1 && s.shown.A1.value === '1' && s.shown.A6.value === '6',
                  'A1 = 1 re-runs the chain', 30_000);
  await waitState(page, (s) => s.kernelStatus === 'idle' && s.running.length === 0,
                  'nothing left running after the batch, D1 (cut off) included');
  st = await page.evaluate(sheetState, notebook);
  result.final = st.shown;
  expect(result.pageErrors.length === 0, `no errors from the extension in the page (${result.pageErrors.join('; ')})`);
  if (result.failures.length) {
    exitCode = 1;
    result.error = result.failures.join('\n');
  }
} catch (e) {
  exitCode = 1;
  result.error = String(e && e.message ? e.message : e);
  log('FAILED:', result.error);
}
await finish({ page: handles.page, browser: handles.browser, screenshot, result, exitCode, log });
