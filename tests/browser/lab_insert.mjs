// A cell inserted between a definer and its reader, in a real JupyterLab with the grid
// extension, in Debian's headless Chromium:
//
//   node lab_insert.mjs <server url> <notebook path> <screenshot path>
//
// The notebook holds `ox = 1` and `oy = ox * 2` on the pysheets kernel. The script runs both
// (the reader shows 2), inserts a cell below the first (`b` in command mode), types `ox = 5`
// and runs only it: the extension has told the kernel the notebook's new order, so the reader,
// now below the new cell, shows 10 as a top-to-bottom run would (the new cell's address, A3,
// comes after the reader's). Prints one JSON object; exit 0 when every check holds.

import { finish } from './chromium.mjs';
import {
  STEP_TIMEOUT, cellIdle, cellState, check, clickIntoEditor, openNotebook, scriptArgs,
  waitCellText,
} from './lab_page.mjs';

const { url, notebook, screenshot } = scriptArgs('lab_insert.mjs');
const result = {};
const log = (...args) => console.error('[lab_insert]', ...args);

const handles = {};
let page;
let exitCode = 0;
try {
  page = await openNotebook(handles, { url, notebook, workspace: 'pysheets-insert', log });

  for (const i of [0, 1]) {
    await clickIntoEditor(page, i);
    await page.keyboard.press('Shift+Enter');
    await page.waitForFunction(cellIdle, i, { timeout: STEP_TIMEOUT });
  }
  await waitCellText(page, 1, '2', 'the reader before the insert');
  // The grid extension's comm is open (it sends the order on it): the kernel's updates come.
  await page.waitForFunction(
    () => window.__pysheetsMsgs.some((m) => m.direction === 'recv' && m.msg_type === 'comm_msg' &&
                                       m.data_type === 'update'),
    null, { timeout: STEP_TIMEOUT });
  const sentBefore = await page.evaluate(() => window.__pysheetsMsgs.length);

  // Insert a cell below the first, as a user would: command mode, `b`, then edit and run it.
  // (Shift+Enter on the last cell added an empty one below it, as JupyterLab does.)
  const count = await page.evaluate(() => window.jupyterapp.shell.currentWidget.content.widgets.length);
  await clickIntoEditor(page, 0);
  await page.keyboard.press('Escape');
  await page.keyboard.press('b');
  await page.waitForFunction(
    (n) => window.jupyterapp.shell.currentWidget.content.widgets.length === n + 1, count,
    { timeout: STEP_TIMEOUT });
  await clickIntoEditor(page, 1);
  await page.keyboard.type('ox = 5');
  await page.keyboard.press('Shift+Enter');
  await page.waitForFunction(cellIdle, 1, { timeout: STEP_TIMEOUT });
  await waitCellText(page, 2, '10', 'the reader after the inserted cell ran');

  const later = (await page.evaluate(() => window.__pysheetsMsgs)).slice(sentBefore);
  const sent = later.filter((m) => m.direction === 'send');
  result.executes_after_insert = sent
    .filter((m) => m.msg_type === 'execute_request').map((m) => m.code);
  const orderAt = sent.findIndex((m) => m.msg_type === 'comm_msg' && m.data_type === 'order');
  const execAt = sent.findIndex((m) => m.msg_type === 'execute_request');
  result.order_sent = orderAt >= 0 ? sent[orderAt].data_cells : null;
  result.order_before_execute = orderAt >= 0 && orderAt < execAt;
  result.reader = await page.evaluate(cellState, 2);
  result.inserted = await page.evaluate(cellState, 1);
  const reply = later.find((m) => m.msg_type === 'execute_reply');
  result.reply_metadata = reply ? reply.reply_metadata : null;

  check(JSON.stringify(result.executes_after_insert) === JSON.stringify(['ox = 5']),
        'only the inserted cell was executed by the frontend');
  check(result.order_before_execute, 'the notebook order reached the kernel before the execute');
  check(Array.isArray(result.order_sent) && result.order_sent.length === count + 1,
        'the order names every cell of the notebook');
  check(result.reader.outputs.length === 1 && result.reader.outputs[0].text === '10',
        'the reader shows 10, in place');
} catch (e) {
  exitCode = 1;
  result.error = String(e && e.message ? e.message : e);
  log('FAILED:', result.error);
  if (handles.page) {
    try { result.messages = await page.evaluate(() => window.__pysheetsMsgs || null); } catch {}
  }
}
await finish({ page: handles.page, browser: handles.browser, screenshot, result, exitCode, log });
