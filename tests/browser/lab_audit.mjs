// The audit trail in the grid view, in a real JupyterLab with the grid extension, in Debian's
// headless Chromium, on the real kernel:
//
//   node lab_audit.mjs <server url> <notebook path> <screenshot path>
//
// The notebook holds `# @A1\n1` and `# @B1\nA1 * 10` on the pysheets kernel. The script runs
// both, opens the sheet view and clicks B1 on the grid: beside the formula bar the editor label
// (.jp-PySheets-editedBy) must read "edited by <user> · <YYYY-MM-DD HH:MM> UTC", with the user
// the kernel sent as B1's `edited.by`. Then it presses Explain: the panel (.jp-PySheets-explain)
// must show the kernel's tree, naming B1 and its upstream cell A1.
//
// It also records what the page puts in the `username` of the message headers it sends to the
// kernel (and its kernel connection's `username` and `clientId`), in JupyterLab and, in a
// second tab on the same server, in Notebook 7.
//
// Every check is made even after one fails, so one run says everything that is missing.
// Prints one JSON object; exit 0 when every check holds.

import { finish } from './chromium.mjs';
import {
  STEP_TIMEOUT, gridCellPoint, keepPageErrors, openNotebook, scriptArgs, waitCellText, waitPageState,
} from './lab_page.mjs';

const { url, notebook, screenshot } = scriptArgs('lab_audit.mjs');
const result = { failures: [], pageErrors: [] };
const log = (...args) => console.error('[lab_audit]', ...args);
const expect = (cond, what) => {
  if (!cond) {
    result.failures.push(what);
    log('check failed:', what);
  }
  return cond;
};
const base = url.endsWith('/') ? url : url + '/';

// --- in the page -------------------------------------------------------------------------------

// The sheet view of `path` as the checks need it: the model's B1, the label, button and panel.
function auditState([path, address]) {
  const view = window.pysheetsGrid.view(path);
  const s = window.pysheetsGrid.session(path);
  const cell = s.model.cell(address);
  const label = view ? view.node.querySelector('.jp-PySheets-editedBy') : null;
  const button = view ? view.node.querySelector('.jp-PySheets-explainButton') : null;
  const panel = view ? view.node.querySelector('.jp-PySheets-explain') : null;
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return { top: Math.round(r.top), height: Math.round(r.height), width: Math.round(r.width) };
  };
  return {
    connection: s.connector.state,
    selected: s.model.selected,
    formulaAddress: view ? view.formula.address : null,
    cell: cell ? { value: cell.value, reads: cell.reads, edited: cell.edited ?? null } : null,
    label: label ? label.textContent : null,
    labelTitle: label ? label.title : null,
    button: button ? { text: button.textContent, title: button.title, disabled: button.disabled } : null,
    panel: panel ? {
      visible: !panel.classList.contains('lm-mod-hidden') && panel.getBoundingClientRect().height > 0,
      state: panel.dataset.state ?? null,
      text: panel.innerText,
      details: panel.querySelectorAll('details').length,
      scripts: panel.querySelectorAll('script').length,
    } : null,
    boxes: { panel: box(panel), grid: box(view && view.grid.node) },
  };
}

// The notebook panel of `path` in JupyterLab or Notebook 7 (the sheet view may be the current
// widget).
function notebookPanel(path) {
  const s = window.pysheetsGrid && window.pysheetsGrid.session(path);
  if (s) return s.panel;
  const w = window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.shell.currentWidget;
  return w && w.context && w.context.path === path ? w : null;
}

// What this page's kernel connection says about its user, and what the next message it sends
// carries in its header (a kernel_info_request it sends for the purpose).
async function headerUser(path) {
  const panel = window.__notebookPanel(path);
  const kernel = panel.sessionContext.session.kernel;
  let sent = null;
  const spy = (_, { msg, direction }) => {
    if (direction === 'send' && sent === null) sent = { msg_type: msg.header.msg_type, username: msg.header.username };
  };
  kernel.anyMessage.connect(spy);
  await kernel.requestKernelInfo();
  kernel.anyMessage.disconnect(spy);
  return {
    app: window.jupyterapp.name,
    version: window.jupyterapp.version,
    kernelUsername: kernel.username,
    clientId: kernel.clientId,
    sent,
  };
}

// The extension build the page loaded (to tell which install of it the server serves).
function loadedExtension() {
  const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const ext = (config.federated_extensions || []).find((e) => e.name === 'jupyterlab-pysheets');
  return ext ? ext.load : null;
}

// --- steps ---------------------------------------------------------------------------------------

async function waitAudit(page, pred, what) {
  if (await waitPageState(page, '__auditState', [notebook, 'B1'], pred)) return true;
  expect(false, `${what}: timed out; now ${JSON.stringify(await page.evaluate(auditState, [notebook, 'B1']))}`);
  return false;
}

const handles = {};
let exitCode = 0;
try {
  const page = await openNotebook(handles, { url, notebook, workspace: 'pysheets-audit', log });
  keepPageErrors(page, result);
  // Room for the sheet view beside the notebook (the screenshot shows the label whole).
  await page.evaluate(() => window.jupyterapp.shell.collapseLeft());
  result.extension = await page.evaluate(loadedExtension);
  await page.evaluate(`window.__auditState = ${auditState.toString()}`);
  const helper = `window.__notebookPanel = ${notebookPanel.toString()}`;
  await page.evaluate(helper);

  log('run all');
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  await waitCellText(page, 1, '10', 'B1 after run all');

  log('open the sheet, select B1');
  await page.evaluate((path) => window.pysheetsGrid.open(path), notebook);
  await page.waitForFunction((path) => !!window.pysheetsGrid.view(path), notebook, { timeout: STEP_TIMEOUT });
  await waitAudit(page, (s) => s.connection === 'connected' && s.cell && s.cell.value === '10', 'the sheet holds B1');
  const p = await page.evaluate(gridCellPoint, [notebook, 'B1']);
  await page.mouse.click(p.x, p.y);
  await waitAudit(page, (s) => s.selected === 'B1' && s.formulaAddress === 'B1', 'B1 selected by a click');

  // The editor label: the kernel's edited.by for B1, and a time in UTC.
  await waitAudit(page, (s) => !!s.label, 'the editor label shows');
  let st = await page.evaluate(auditState, [notebook, 'B1']);
  result.b1 = st.cell;
  result.label = st.label;
  result.label_title = st.labelTitle;
  const edited = st.cell && st.cell.edited;
  if (expect(edited && typeof edited.by === 'string' && edited.by.trim() !== '' && typeof edited.at === 'string',
             `the kernel sent B1's edited {by, at} (B1 is ${JSON.stringify(st.cell)})`)) {
    const m = /^edited by (.+) · (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC$/.exec(st.label || '');
    expect(m, `the label reads "edited by <user> · <time> UTC" (got ${JSON.stringify(st.label)})`);
    expect(m && m[1] === edited.by, `the label's user is B1's edited.by ${JSON.stringify(edited.by)} (label ${JSON.stringify(st.label)})`);
    // The time shown is edited.at, to the minute, in UTC.
    const at = new Date(edited.at);
    expect(m && !Number.isNaN(at.getTime()) && m[2] === at.toISOString().slice(0, 16).replace('T', ' '),
           `the label's time is edited.at ${edited.at} in UTC (label ${JSON.stringify(st.label)})`);
  }
  expect(st.button && st.button.text === 'Explain' && !st.button.disabled && st.button.title,
         `an enabled Explain button with a tooltip (got ${JSON.stringify(st.button)})`);

  log('explain B1');
  await page.click('.jp-PySheets-explainButton');
  await waitAudit(page, (s) => s.panel && s.panel.visible, 'the explain panel opens');
  await waitAudit(page, (s) => s.panel && s.panel.state !== 'waiting', 'the kernel answers the explain request');
  st = await page.evaluate(auditState, [notebook, 'B1']);
  result.panel = st.panel;
  result.boxes = st.boxes;
  const answer = ((await page.evaluate(() => window.__pysheetsMsgs)) || [])
    .filter((m) => m.msg_type === 'comm_msg' && m.data_type === 'explain');
  result.explain_messages = answer.map((m) => m.direction);
  expect(answer.some((m) => m.direction === 'send'), 'the explain request went out on the comm');
  expect(st.panel && st.panel.state === 'ok', `the panel shows a tree, not an error (${JSON.stringify(st.panel && st.panel.text)})`);
  expect(st.panel && /B1/.test(st.panel.text) && /A1/.test(st.panel.text),
         `the panel names B1 and its upstream A1 (${JSON.stringify(st.panel && st.panel.text)})`);
  expect(st.panel && st.panel.scripts === 0, 'no script in the panel');
  expect(st.boxes.grid && st.boxes.grid.height >= 100, `the grid stays in view beside the panel (${JSON.stringify(st.boxes)})`);

  // What JupyterLab puts in the headers' username.
  result.username_lab = await page.evaluate(headerUser, notebook);
  const sentUsers = [...new Set((await page.evaluate(() => window.__pysheetsMsgs))
    .filter((m) => m.direction === 'send').map((m) => m.username))];
  result.username_lab.all_sent = sentUsers;

  // And Notebook 7, in a second tab on the same server and kernel.
  const nb7 = await handles.browser.newPage({ viewport: { width: 1280, height: 720 } });
  try {
    await nb7.goto(`${base}notebooks/${encodeURI(notebook)}`, { waitUntil: 'domcontentloaded' });
    await nb7.waitForFunction(`!!window.jupyterapp`, null, { timeout: 60_000, polling: 200 });
    await nb7.evaluate(helper);
    await nb7.waitForFunction((path) => {
      const w = window.__notebookPanel(path);
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      return !!(k && k.connectionStatus === 'connected' && k.status === 'idle');
    }, notebook, { timeout: 60_000, polling: 200 });
    result.username_notebook7 = await nb7.evaluate(headerUser, notebook);
  } catch (e) {
    result.username_notebook7 = { error: String(e && e.message ? e.message : e) };
  } finally {
    await nb7.close().catch(() => {});
  }
  await page.bringToFront();
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
