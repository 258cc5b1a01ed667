// Browser half of bench/grid_bench.py (run that; it starts the server and fills the kernels).
//
//   node grid_bench.mjs '{"url": …, "cells": N, "chains": [N, …], "reps": R}'
//
// Prints one JSON object: {big: {first_paint_ms[], message_ms[], model_ms[], snapshot_bytes,
// scroll{}}, chains: {N: {open_ms, grid_ms[], reply_ms[], update_ms[], outputs_ms[],
// longest_task_ms[], wrong[]}}}.
// playwright-core comes from tests/browser/node_modules (scripts/setup.sh installs it), through
// the browser tests' own launcher.

import { launchChromium } from '../tests/browser/chromium.mjs';

const config = JSON.parse(process.argv[2]);
const log = (...a) => console.error('[grid_bench]', ...a);

// In the page: opens a notebook (if it is not open) and waits until its sheet is connected.
async function openNotebook(path) {
  const app = window.jupyterapp;
  const t0 = performance.now();
  if (!window.pysheetsGrid.session(path)) {
    await app.commands.execute('docmanager:open', { path });
  }
  for (;;) {
    const s = window.pysheetsGrid.session(path);
    const k = s && s.panel.sessionContext.session && s.panel.sessionContext.session.kernel;
    if (k && k.status === 'idle' && s.connector.state === 'connected') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

// In the page: opens (or re-opens) the sheet view; resolves with the time to the model holding
// a fresh snapshot of every cell and to the first paint after that, and the snapshot's size.
async function openTimed([path, cells]) {
  const g = window.pysheetsGrid;
  const old = g.view(path);
  if (old) old.dispose();
  const session = g.session(path);
  const model = session.model;
  const kernel = session.panel.sessionContext.session.kernel;
  let tMsg = 0;
  let bytes = 0;
  const onMsg = (_, { msg, direction }) => {
    if (direction === 'recv' && msg.header.msg_type === 'comm_msg' && msg.content.data.type === 'snapshot') {
      tMsg = performance.now();
      bytes = JSON.stringify(msg.content.data).length;
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
  return { message: tMsg - t0, model: tModel - t0, paint: view.grid.lastPaint - t0, bytes };
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

// In the page: commits A1 = value as the formula bar does. Times until the grid is painted
// with the chain's last cell's new value (scrolled into view first), until the notebook's last
// cell's output holds it (the kernel updates outputs in chain order), the longest main-thread
// task meanwhile; then counts the notebook outputs that are not what the chain gives.
async function editTimed([path, value, chain]) {
  const view = window.pysheetsGrid.view(path);
  const session = window.pysheetsGrid.session(path);
  const model = view.model;
  const last = `A${chain}`;
  const want = String(value + chain - 1);
  view.grid.scrollToCell(chain - 1, 0);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const kernel = session.panel.sessionContext.session.kernel;
  const cells = session.panel.content.model.cells;
  const lastCell = cells.get(chain - 1);
  const text = (cell) => {
    const o = cell.outputs.length ? cell.outputs.get(0).toJSON() : null;
    return o && o.data ? o.data['text/plain'] : undefined;
  };
  let tReply = 0;
  let tUpdate = 0;
  const onMsg = (_, { msg, direction }) => {
    if (direction !== 'recv') return;
    if (msg.header.msg_type === 'execute_reply' && !tReply) tReply = performance.now();
    if (msg.header.msg_type === 'comm_msg' && msg.content.data.type === 'update') tUpdate = performance.now();
  };
  kernel.anyMessage.connect(onMsg);
  const tasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) tasks.push({ start: e.startTime, duration: e.duration });
  });
  observer.observe({ type: 'longtask', buffered: false });
  let tModel = 0;
  const gridDone = new Promise((resolve) => {
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
  let tOutputs = 0;
  const outputsDone = new Promise((resolve) => {
    const on = () => {
      if (text(lastCell) === want) {
        tOutputs = performance.now();
        lastCell.outputs.changed.disconnect(on);
        resolve();
      }
    };
    lastCell.outputs.changed.connect(on);
  });
  const t0 = performance.now();
  void view.commit('A1', String(value));
  await gridDone;
  await new Promise((resolve) => {
    const check = () => (view.grid.lastPaint > tModel ? resolve() : requestAnimationFrame(check));
    check();
  });
  const tGrid = view.grid.lastPaint;
  // Outputs a server dropped never come: give up after a while and count what is wrong.
  await Promise.race([outputsDone, new Promise((r) => setTimeout(r, 120_000))]);
  // Let the observer deliver the last entries.
  await new Promise((r) => setTimeout(r, 100));
  observer.disconnect();
  kernel.anyMessage.disconnect(onMsg);
  let wrong = 0;
  for (let r = 1; r <= chain; r++) {
    if (text(cells.get(r - 1)) !== String(value + r - 1)) wrong++;
  }
  // jupyter_server says so in the cell that ran when it dropped messages.
  const a1 = cells.get(0);
  let dropped = false;
  for (let j = 0; j < a1.outputs.length; j++) {
    if (/rate exceeded/.test(JSON.stringify(a1.outputs.get(j).toJSON()))) dropped = true;
  }
  const during = tasks.filter((t) => t.start >= t0 && t.start <= (tOutputs || performance.now()));
  return {
    reply: tReply - t0,
    update: tUpdate - t0,
    grid: tGrid - t0,
    outputs: tOutputs ? tOutputs - t0 : null,
    longestTask: during.reduce((m, t) => Math.max(m, t.duration), 0),
    wrong,
    dropped
  };
}

// A CPU profile's self time by function (top 25) and by package.
function summarize(profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) || 0) + (deltas[i] || 0) / 1000);
  }
  const byFn = new Map();
  const byPkg = new Map();
  for (const [id, ms] of self) {
    const f = byNode.get(id).callFrame;
    const pkg = (f.url.match(/node_modules\/((@[^/]+\/)?[^/]+)/) || [null, f.url.split('/').pop() || '(native)'])[1];
    const key = `${f.functionName || '(anonymous)'}  ${pkg}:${f.lineNumber}`;
    byFn.set(key, (byFn.get(key) || 0) + ms);
    byPkg.set(`[package] ${pkg}`, (byPkg.get(`[package] ${pkg}`) || 0) + ms);
  }
  const top = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([what, ms]) => ({ what, ms }));
  return [...top(byPkg, 12), ...top(byFn, 25)];
}

let browser;
const out = {
  big: { first_paint_ms: [], message_ms: [], model_ms: [], snapshot_bytes: 0 },
  chains: {},
  ran_here: {}
};

// In the page: Run All on a chain notebook; resolves when its last cell shows its value.
async function runAll([path, n]) {
  const t0 = performance.now();
  const panel = window.pysheetsGrid.session(path).panel;
  window.jupyterapp.shell.activateById(panel.id);
  await window.jupyterapp.commands.execute('notebook:run-all-cells');
  const last = panel.content.model.cells.get(n - 1);
  for (;;) {
    const o = last.outputs.length ? last.outputs.get(0).toJSON() : null;
    if (o && o.data && o.data['text/plain'] === String(n) && panel.sessionContext.session.kernel.status === 'idle') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return performance.now() - t0;
}

// Opens a chain notebook's sheet view and times `reps` edits of A1 into `into`.
async function chainCase(page, path, n, into, runAllMs) {
  const openMs = await page.evaluate(openNotebook, path);
  log(`${path} open in ${openMs.toFixed(0)} ms`);
  if (runAllMs) {
    const ms = await page.evaluate(runAll, [path, n]);
    log(`${path}: Run All took ${ms.toFixed(0)} ms`);
    runAllMs.ms = ms;
  }
  await page.evaluate(openTimed, [path, n]);
  const c = { open_ms: openMs, grid_ms: [], reply_ms: [], update_ms: [], outputs_ms: [], longest_task_ms: [], wrong: [] };
  if (runAllMs) c.run_all_ms = runAllMs.ms;
  for (let i = 0; i < config.reps; i++) {
    // With --profile, the last edit of each chain runs under the CPU profiler (its times are
    // then not samples): where the main thread's time goes, by function and by package.
    const profiling = config.profile && i === config.reps - 1;
    let cdp = null;
    if (profiling) {
      cdp = await page.context().newCDPSession(page);
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    const t = await page.evaluate(editTimed, [path, 10 * (i + 2), n]);
    if (profiling) {
      const { profile } = await cdp.send('Profiler.stop');
      c.profile = summarize(profile);
      await cdp.detach();
      log(`${path} profile (self time):\n` + c.profile.map((r) => `  ${r.ms.toFixed(0).padStart(6)} ms  ${r.what}`).join('\n'));
      continue;
    }
    log(`${path} edit ${i + 1}: execute_reply ${t.reply.toFixed(0)} ms, grid update ${t.update.toFixed(0)} ms, ` +
        `grid painted ${t.grid.toFixed(0)} ms, every output ${t.outputs === null ? 'never' : t.outputs.toFixed(0) + ' ms'}, ` +
        `longest task ${t.longestTask.toFixed(0)} ms, wrong outputs ${t.wrong}` +
        (t.dropped ? ' (the server said: IOPub message rate exceeded)' : ''));
    c.grid_ms.push(t.grid);
    c.reply_ms.push(t.reply);
    c.update_ms.push(t.update);
    c.outputs_ms.push(t.outputs);
    c.longest_task_ms.push(t.longestTask);
    c.wrong.push(t.wrong);
    c.dropped = (c.dropped || false) || t.dropped;
  }
  into[n] = c;
  await page.screenshot({ path: new URL(`out/grid_bench_${path.replace('.ipynb', '')}.png`, import.meta.url).pathname }).catch(() => {});
}
try {
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => log('page error:', e.message));
  const base = config.url.endsWith('/') ? config.url : config.url + '/';
  await page.goto(`${base}lab/workspaces/grid-bench/tree/big.ipynb?reset`);
  await page.waitForFunction(() => !!(window.jupyterapp && window.pysheetsGrid), null, { timeout: 120_000 });
  await page.evaluate(openNotebook, 'big.ipynb');
  log('big.ipynb open; sheet connected with', await page.evaluate((p) => window.pysheetsGrid.session(p).model.size, 'big.ipynb'), 'cells');
  for (let i = 0; i < config.reps; i++) {
    const t = await page.evaluate(openTimed, ['big.ipynb', config.cells]);
    log(`open ${i + 1}: snapshot message ${t.message.toFixed(0)} ms, model ${t.model.toFixed(0)} ms, first paint ${t.paint.toFixed(0)} ms, ${t.bytes} bytes`);
    out.big.message_ms.push(t.message);
    out.big.model_ms.push(t.model);
    out.big.first_paint_ms.push(t.paint);
    out.big.snapshot_bytes = t.bytes;
  }
  const frames = await page.evaluate(scrollTimed, 'big.ipynb');
  const sorted = [...frames].sort((a, b) => a - b);
  out.big.scroll = { frames: frames.length, median_ms: sorted[Math.floor(sorted.length / 2)], max_ms: sorted[sorted.length - 1] };
  await page.screenshot({ path: new URL('out/grid_bench_big.png', import.meta.url).pathname }).catch(() => {});
  for (const n of config.chains) {
    await chainCase(page, `chain-${n}.ipynb`, n, out.chains, null);
  }
  for (const n of config.ran_here || []) {
    await chainCase(page, `ran-${n}.ipynb`, n, out.ran_here, {});
  }
} catch (e) {
  console.error('[grid_bench] failed:', e);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
await browser.close().catch(() => {});
console.log(JSON.stringify(out));
