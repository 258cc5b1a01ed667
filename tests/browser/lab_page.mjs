// What the JupyterLab browser scripts share: reading a notebook's cells from JupyterLab's own
// models (`window.jupyterapp`, the server runs with LabApp.expose_app_in_browser) and its DOM,
// waiting for a cell to finish or to show a text, recording kernel messages, and focusing a
// cell's editor as a user would. Functions named "In the page" run inside the page
// (`page.evaluate` / `page.waitForFunction`).

import { launchChromium } from './chromium.mjs';

export const STEP_TIMEOUT = 30_000;

// The script's arguments `<server url> <notebook path> <screenshot path>` (exit 2 without them).
export function scriptArgs(name) {
  const [url, notebook, screenshot] = process.argv.slice(2);
  if (!url || !notebook || !screenshot) {
    console.error(`usage: node ${name} <server url> <notebook path> <screenshot path>`);
    process.exit(2);
  }
  return { url, notebook, screenshot };
}

// Chromium with the notebook open in JupyterLab (a workspace of its own), its kernel started
// and idle, and the kernel's messages recorded in window.__pysheetsMsgs. Sets `handles.browser`
// and `handles.page` as they come, so a failure half-way can still be screenshot and closed.
export async function openNotebook(handles, { url, notebook, workspace, log }) {
  handles.browser = await launchChromium();
  const page = (handles.page = await handles.browser.newPage({ viewport: { width: 1280, height: 720 } }));
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (e) => log('page error:', e.message));
  page.on('dialog', (d) => { log('dialog:', d.message()); d.dismiss(); });
  const base = url.endsWith('/') ? url : url + '/';
  const nbUrl = `${base}lab/workspaces/${workspace}/tree/${encodeURI(notebook)}?reset`;
  log('opening', nbUrl);
  await page.goto(nbUrl, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(notebookReady, notebook, { timeout: 60_000, polling: 200 });
  await page.evaluate(recordKernelMessages);
  return page;
}

// Errors thrown from this extension's code go to `result.pageErrors` (the scripts fail on
// them); others, when `result.foreignPageErrors` is a list, go there.
export function keepPageErrors(page, result) {
  page.on('pageerror', (e) => {
    const ours = /jupyterlab-pysheets/.test(e.stack || '');
    const list = ours ? result.pageErrors : result.foreignPageErrors;
    if (list) list.push(e.message);
  });
}

// Waits until `pred` holds of `window[stateName](arg)`, a state function the script installed
// in the page; true, or false when it timed out.
export async function waitPageState(page, stateName, arg, pred, { timeout = STEP_TIMEOUT, polling = 100 } = {}) {
  try {
    await page.waitForFunction(
      ([name, arg, src]) => {
        // eslint-disable-next-line no-new-func
        const f = new Function('s', `return (${src})(s);`);
        try { return f(window[name](arg)); } catch { return false; }
      },
      [stateName, arg, pred.toString()],
      { timeout, polling },
    );
    return true;
  } catch {
    return false;
  }
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// In the page: the state of the notebook's cell i (model and DOM).
export function cellState(i) {
  const panel = window.jupyterapp.shell.currentWidget;
  const cell = panel.content.widgets[i];
  const model = cell.model;
  const outputs = [];
  for (let j = 0; j < model.outputs.length; j++) {
    const out = model.outputs.get(j).toJSON();
    const text = out.data ? out.data['text/plain'] : out.text;
    outputs.push({
      output_type: out.output_type,
      text: Array.isArray(text) ? text.join('') : text ?? null,
      ename: out.ename ?? null,
      evalue: out.evalue ?? null,
    });
  }
  const area = cell.node.querySelector('.jp-OutputArea');
  const prompt = cell.node.querySelector('.jp-InputArea-prompt');
  return {
    id: model.sharedModel.getId(),
    source: model.sharedModel.getSource(),
    executionCount: model.executionCount,
    outputs,
    domOutputText: area ? area.innerText.trim() : null,
    domOutputCount: cell.node.querySelectorAll('.jp-OutputArea-output').length,
    domPrompt: prompt ? prompt.innerText.trim() : null,
  };
}

// In the page: true once the notebook is open with its kernel started and idle.
export function notebookReady(nbPath) {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== nbPath || !panel.content.model) return false;
  if (panel.content.widgets.length < 2) return false;
  const sc = panel.sessionContext;
  const kernel = sc && sc.session && sc.session.kernel;
  return !!(sc.isReady && kernel && kernel.name === 'pysheets' && kernel.status === 'idle' &&
            kernel.connectionStatus === 'connected');
}

// In the page: records every kernel message (both directions) in window.__pysheetsMsgs.
export function recordKernelMessages() {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  window.__pysheetsMsgs = [];
  kernel.anyMessage.connect((_, { msg, direction }) => {
    const c = msg.content || {};
    window.__pysheetsMsgs.push({
      direction,
      channel: msg.channel,
      msg_type: msg.header.msg_type,
      msg_id: msg.header.msg_id,
      parent_msg_id: msg.parent_header ? msg.parent_header.msg_id : undefined,
      code: c.code,
      cellId: msg.metadata ? msg.metadata.cellId : undefined,
      display_id: c.transient ? c.transient.display_id : undefined,
      text: c.data ? c.data['text/plain'] : c.text,
      status: c.status ?? c.execution_state,
      execution_count: c.execution_count,
      ename: c.ename,
      evalue: c.evalue,
      reply_metadata: msg.header.msg_type === 'execute_reply' ? msg.metadata : undefined,
      data_type: c.data ? c.data.type : undefined,
      data_cells: c.data ? c.data.cells : undefined,
      username: msg.header.username,
    });
  });
}

// In the page: true when the kernel is idle and cell i has a finished run (no `[*]`).
export function cellIdle(i) {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const cell = panel.content.widgets[i];
  const prompt = cell.node.querySelector('.jp-InputArea-prompt');
  return kernel.status === 'idle' && cell.model.executionCount !== null &&
         !(prompt && prompt.innerText.includes('*'));
}

export async function waitCellText(page, i, text, what) {
  try {
    await page.waitForFunction(
      ([i, text]) => {
        const panel = window.jupyterapp.shell.currentWidget;
        const cell = panel.content.widgets[i];
        const o = cell.model.outputs;
        if (o.length !== 1) return false;
        const data = o.get(0).toJSON().data || {};
        const area = cell.node.querySelector('.jp-OutputArea');
        return data['text/plain'] === text && area && area.innerText.trim() === text;
      },
      [i, text],
      { timeout: STEP_TIMEOUT, polling: 100 },
    );
  } catch (e) {
    throw new Error(`${what}: cell ${i} never showed ${JSON.stringify(text)} ` +
                    `(now ${JSON.stringify(await page.evaluate(cellState, i))})`);
  }
}

// Selects cell i as the active cell and focuses its editor, by clicking into it as a user would.
export async function clickIntoEditor(page, i) {
  const editor = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')
    .nth(i).locator('.cm-content');
  await editor.click();
  await page.waitForFunction(
    (i) => {
      const nb = window.jupyterapp.shell.currentWidget.content;
      return nb.activeCellIndex === i && nb.mode === 'edit';
    },
    i,
    { timeout: STEP_TIMEOUT },
  );
}

// In the page: client coordinates of the centre of a cell of the sheet view of `path` (the grid
// paints a canvas; a user clicks there). Scrolls the cell into view first.
export function gridCellPoint([path, address]) {
  const g = window.pysheetsGrid.view(path).grid;
  const [, letters, digits] = address.match(/^([A-Z]+)(\d+)$/);
  let col = 0;
  for (const ch of letters) col = col * 26 + ch.charCodeAt(0) - 64;
  col -= 1;
  const row = Number(digits) - 1;
  g.scrollToCell(row, col);
  const r = g.node.getBoundingClientRect();
  const { columnWidth, rowHeight } = g.defaultSizes;
  return {
    x: r.left + g.headerWidth + col * columnWidth - g.scrollX + columnWidth / 2,
    y: r.top + g.headerHeight + row * rowHeight - g.scrollY + rowHeight / 2,
  };
}
