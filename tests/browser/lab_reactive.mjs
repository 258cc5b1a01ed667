// Black-box check of PySheets reactivity in a real JupyterLab, in Debian's headless Chromium.
//
//   node lab_reactive.mjs <server url> <notebook path> <screenshot path>
//
// The notebook must hold two code cells, `# @A1\n1` and `# @B1\nA1 * 10`, on the pysheets kernel.
// The script runs both, checks that B1 shows 10, types `# @A1\n5` into A1, runs only A1 (Shift+Enter),
// and checks that B1's output turns into 50 in place while B1 itself is not re-executed by the
// frontend (same execution count, no execute_request for it). It prints one JSON object on stdout
// and exits 0 when every check holds, 1 otherwise (the JSON then has "error").
//
// Assertions read JupyterLab's own models through `window.jupyterapp` (the server runs with
// LabApp.expose_app_in_browser) and the output area's DOM text for what a user sees.

import { finish } from './chromium.mjs';
import {
  STEP_TIMEOUT, cellIdle, cellState, check, clickIntoEditor, openNotebook, scriptArgs,
  waitCellText,
} from './lab_page.mjs';

const { url, notebook, screenshot } = scriptArgs('lab_reactive.mjs');
const result = {};
const log = (...args) => console.error('[lab_reactive]', ...args);

const handles = {};
let page;
let exitCode = 0;
try {
  page = await openNotebook(handles, { url, notebook, workspace: 'pysheets-test', log });
  log('notebook open, kernel idle');
  const initial = [await page.evaluate(cellState, 0), await page.evaluate(cellState, 1)];
  check(initial[0].source === '# @A1\n1', `cell 0 source is '# @A1\\n1' (got ${JSON.stringify(initial[0].source)})`);
  check(initial[1].source === '# @B1\nA1 * 10', `cell 1 source is '# @B1\\nA1 * 10' (got ${JSON.stringify(initial[1].source)})`);

  // Run A1, then B1, with Shift+Enter as a user does.
  await clickIntoEditor(page, 0);
  await page.keyboard.press('Shift+Enter');
  await page.waitForFunction(cellIdle, 0, { timeout: STEP_TIMEOUT });
  await clickIntoEditor(page, 1);
  await page.keyboard.press('Shift+Enter');
  await page.waitForFunction(cellIdle, 1, { timeout: STEP_TIMEOUT });
  await waitCellText(page, 0, '1', 'after running A1');
  await waitCellText(page, 1, '10', 'after running B1');

  const before = await page.evaluate(cellState, 1);
  const a1Before = await page.evaluate(cellState, 0);
  result.b1_before = before.outputs[0].text;
  result.b1_before_dom = before.domOutputText;
  result.b1_exec_count_before = before.executionCount;
  result.a1_exec_count_before = a1Before.executionCount;
  result.b1_outputs_before = before.outputs;
  log('B1 before:', JSON.stringify(before));
  const sentBefore = await page.evaluate(() => window.__pysheetsMsgs.length);

  // Edit A1 in its editor: select all, type the new source, and run only that cell.
  await clickIntoEditor(page, 0);
  await page.keyboard.press('Control+A');
  await page.keyboard.type('# @A1');
  await page.keyboard.press('Enter');
  await page.keyboard.type('5');
  const a1Source = await page.evaluate(() =>
    window.jupyterapp.shell.currentWidget.content.widgets[0].model.sharedModel.getSource());
  check(a1Source === '# @A1\n5', `A1 source after typing is '# @A1\\n5' (got ${JSON.stringify(a1Source)})`);
  await page.keyboard.press('Shift+Enter');
  await page.waitForFunction(cellIdle, 0, { timeout: STEP_TIMEOUT });
  await waitCellText(page, 0, '5', 'after re-running A1');
  await waitCellText(page, 1, '50', 'B1 after re-running A1');

  const after = await page.evaluate(cellState, 1);
  const a1After = await page.evaluate(cellState, 0);
  result.b1_after = after.outputs[0].text;
  result.b1_after_dom = after.domOutputText;
  result.b1_exec_count_after = after.executionCount;
  result.a1_exec_count_after = a1After.executionCount;
  result.b1_outputs_after = after.outputs;
  result.b1_dom_output_count_after = after.domOutputCount;
  result.b1_prompt_after = after.domPrompt;
  log('B1 after:', JSON.stringify(after));

  // What went over the kernel connection while A1 was re-run.
  const msgs = await page.evaluate(() => window.__pysheetsMsgs);
  const later = msgs.slice(sentBefore);
  const executes = msgs.filter((m) => m.direction === 'send' && m.msg_type === 'execute_request');
  result.execute_requests = executes.map((m) => m.code);
  result.execute_requests_after_edit = later
    .filter((m) => m.direction === 'send' && m.msg_type === 'execute_request').map((m) => m.code);
  result.b1_updates = later
    .filter((m) => m.msg_type === 'update_display_data')
    .map((m) => ({ display_id: m.display_id, text: m.text }));
  const reply = later.find((m) => m.msg_type === 'execute_reply');
  result.a1_rerun_reply = reply ? { status: reply.status, metadata: reply.reply_metadata } : null;

  check(result.b1_before === '10' && result.b1_before_dom === '10', 'B1 showed 10 before the edit');
  check(result.b1_after === '50' && result.b1_after_dom === '50', 'B1 shows 50 after the edit');
  check(after.outputs.length === 1 && after.domOutputCount === 1, 'B1 still has exactly one output (updated in place)');
  check(result.b1_exec_count_after === result.b1_exec_count_before, 'B1 execution count unchanged');
  check(result.a1_exec_count_after > result.a1_exec_count_before, 'A1 was executed again');
  check(JSON.stringify(result.execute_requests_after_edit) === JSON.stringify(['# @A1\n5']),
        'after the edit, the frontend sent exactly one execute_request, for A1');
  check(result.b1_updates.some((u) => u.display_id === 'pysheets-B1' && u.text === '50'),
        'the kernel sent update_display_data for pysheets-B1 with 50');
} catch (e) {
  exitCode = 1;
  result.error = String(e && e.message ? e.message : e);
  log('FAILED:', result.error);
  if (handles.page) {
    try { result.messages = await page.evaluate(() => window.__pysheetsMsgs || null); } catch {}
  }
}
await finish({ page: handles.page, browser: handles.browser, screenshot, result, exitCode, log });
