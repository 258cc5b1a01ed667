// Browser half of bench/grid_bench.py (run that; it starts the server and fills the sheet).
//
//   node grid_bench.mjs <server url> <notebook> <cells> <chain> <reps>
//
// Prints one JSON object: first_paint_ms[], model_ms[], edit_ms[], scroll{}.
// playwright-core comes from tests/browser/node_modules (scripts/setup.sh installs it), through
// the browser tests' own launcher.

import { launchChromium } from '../tests/browser/chromium.mjs';

const [url, notebook, cellsArg, chainArg, repsArg] = process.argv.slice(2);
const CELLS = Number(cellsArg);
const CHAIN = Number(chainArg);
const REPS = Number(repsArg);
const log = (...a) => console.error('[grid_bench]', ...a);

// In the page: opens (or re-opens) the sheet view; resolves with the time to the model holding
// a fresh snapshot of every cell and to the first paint after that.
async function openTimed([path, cells]) {
  const g = window.pysheetsGrid;
  const old = g.view(path);
  if (old) old.dispose();
  const session = g.session(path);
  const model = session.model;
  const kernel = session.panel.sessionContext.session.kernel;
  let tMsg = 0;
  const onMsg = (_, { msg, direction }) => {
    if (direction === 'recv' && msg.header.msg_type === 'comm_msg' && msg.content.data.type === 'snapshot') {
      tMsg = performance.now();
    }
  };
  kernel.anyMessage.connect(onMsg);
  const t0 = performance.now();
  let tModel = 0;
  const applied = new Promise((resolve) => {
    const on = () => {
      if (model.size >= cells) {
        tModel = performance.now();
        model.applied.disconnect(on);
        resolve();
      }
    };
    model.applied.connect(on);
  });
  const view = await g.open(path);
  await applied;
  await new Promise((resolve) => {
    const check = () => (view.grid.lastPaint > tModel ? resolve() : requestAnimationFrame(check));
    check();
  });
  kernel.anyMessage.disconnect(onMsg);
  return { message: tMsg - t0, model: tModel - t0, paint: view.grid.lastPaint - t0 };
}

// In the page: scrolls the grid top to bottom, one step a frame; frame intervals in ms.
async function scrollTimed(path) {
  const grid = window.pysheetsGrid.view(path).grid;
  const steps = 120;
  const frames = [];
  let last = performance.now();
  for (let i = 1; i <= steps; i++) {
    grid.scrollTo(0, (grid.maxScrollY * i) / steps);
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  grid.scrollTo(0, 0);
  return frames;
}

// In the page: commits A1 = value as the formula bar does; time until the chain's last cell
// shows value + chain - 1 and has been painted (it is scrolled into view first).
async function editTimed([path, value, chain]) {
  const view = window.pysheetsGrid.view(path);
  const model = view.model;
  const last = `A${chain}`;
  const want = String(value + chain - 1);
  view.grid.scrollToCell(chain - 1, 0);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const kernel = window.pysheetsGrid.session(path).panel.sessionContext.session.kernel;
  let tReply = 0;
  let tUpdate = 0;
  const onMsg = (_, { msg, direction }) => {
    if (direction !== 'recv') return;
    if (msg.header.msg_type === 'execute_reply' && !tReply) tReply = performance.now();
    if (msg.header.msg_type === 'comm_msg' && msg.content.data.type === 'update') tUpdate = performance.now();
  };
  kernel.anyMessage.connect(onMsg);
  let tModel = 0;
  const done = new Promise((resolve) => {
    const on = () => {
      const c = model.cell(last);
      if (c && c.value === want) {
        tModel = performance.now();
        model.applied.disconnect(on);
        resolve();
      }
    };
    model.applied.connect(on);
  });
  const t0 = performance.now();
  void view.commit('A1', String(value));
  await done;
  await new Promise((resolve) => {
    const check = () => (view.grid.lastPaint > tModel ? resolve() : requestAnimationFrame(check));
    check();
  });
  kernel.anyMessage.disconnect(onMsg);
  return { reply: tReply - t0, update: tUpdate - t0, model: tModel - t0, paint: view.grid.lastPaint - t0 };
}

let browser;
const out = { first_paint_ms: [], message_ms: [], model_ms: [], edit_ms: [], edit_model_ms: [], edit_reply_ms: [], edit_update_ms: [] };
try {
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => log('page error:', e.message));
  const base = url.endsWith('/') ? url : url + '/';
  await page.goto(`${base}lab/workspaces/grid-bench/tree/${encodeURI(notebook)}?reset`);
  await page.waitForFunction((path) => {
    const s = window.pysheetsGrid && window.pysheetsGrid.session(path);
    const k = s && s.panel.sessionContext.session && s.panel.sessionContext.session.kernel;
    return !!(k && k.status === 'idle' && s.connector.state === 'connected');
  }, notebook, { timeout: 120_000, polling: 200 });
  log('notebook open; sheet connected with', await page.evaluate((p) => window.pysheetsGrid.session(p).model.size, notebook), 'cells');
  for (let i = 0; i < REPS; i++) {
    const t = await page.evaluate(openTimed, [notebook, CELLS]);
    log(`open ${i + 1}: snapshot message ${t.message.toFixed(0)} ms, model ${t.model.toFixed(0)} ms, first paint ${t.paint.toFixed(0)} ms`);
    out.message_ms.push(t.message);
    out.model_ms.push(t.model);
    out.first_paint_ms.push(t.paint);
  }
  const frames = await page.evaluate(scrollTimed, notebook);
  const sorted = [...frames].sort((a, b) => a - b);
  out.scroll = { frames: frames.length, median_ms: sorted[Math.floor(sorted.length / 2)], max_ms: sorted[sorted.length - 1] };
  for (let i = 0; i < REPS; i++) {
    const t = await page.evaluate(editTimed, [notebook, 10 * (i + 2), CHAIN]);
    log(`edit ${i + 1}: execute_reply ${t.reply.toFixed(0)} ms, update message ${t.update.toFixed(0)} ms, ` +
        `model ${t.model.toFixed(0)} ms, painted ${t.paint.toFixed(0)} ms`);
    out.edit_reply_ms.push(t.reply);
    out.edit_update_ms.push(t.update);
    out.edit_model_ms.push(t.model);
    out.edit_ms.push(t.paint);
  }
  await page.screenshot({ path: new URL('out/grid_bench.png', import.meta.url).pathname }).catch(() => {});
} catch (e) {
  console.error('[grid_bench] failed:', e);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
await browser.close().catch(() => {});
console.log(JSON.stringify(out));
