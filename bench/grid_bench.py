"""Grid view benchmark: the PySheets sheet view (labextension/) in a real JupyterLab, in Debian's
headless Chromium, on the real kernel.

    .venv/bin/python bench/grid_bench.py [--cells 100000] [--chains 1000,10000] [--reps 3] [--json FILE]

It starts `jupyter lab` on 127.0.0.1 (temp dirs, no token) and two kinds of notebooks, each with
a pysheets kernel started through the REST API and filled straight over ZeroMQ:

- `big.ipynb`: a sheet of `--cells` cells made by a client without cells (a console): a chain of
  1,000 in column A, constants in the other columns. bench/grid_bench.mjs opens its sheet view
  and measures the first paint (comm open, snapshot, model, paint), the snapshot's bytes per
  cell, and frame times while scrolling through the whole sheet;
- `chain-N.ipynb` for each N of `--chains`: a notebook of N cells, A1 and A2 = A1 + 1, … (each
  with its id, label and saved output), run into the kernel with those cellIds, as JupyterLab
  runs them. The page opens the notebook and its sheet view, commits A1 through the sheet view
  (what Enter in the formula bar does) and measures until the grid is painted with the chain's
  last value, until every notebook cell's output holds its new value, the longest main-thread
  task meanwhile, and whether every output was right in the end;
- `ran-N.ipynb` for each N of `--ran-here`: the same chain, run in the page by Run All (so
  JupyterLab's own display-id bookkeeping updates the outputs, as for a user who ran the
  notebook in this tab), then the same edits.

Prints a table and, with --json, writes every sample. Leaves no process behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from jupyter_client import BlockingKernelClient

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
SCRIPT = REPO / "bench" / "grid_bench.mjs"
COLUMNS = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, path: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
    return json.loads(raw) if raw else {}


def column(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        name = chr(65 + rem) + name
    return name


def chain_notebook(n: int) -> tuple[dict, list[tuple[str, str]]]:
    """A notebook of an n-cell chain in column A, as saved after a run: ids, labels, outputs.
    Also (cellId, source) of each cell, to run them into the kernel."""
    cells, runs = [], []
    for r in range(1, n + 1):
        source = "# @A1\n1" if r == 1 else f"# @A{r}\nA{r - 1} + 1"
        cell_id = f"c{r}"
        cells.append({"cell_type": "code", "id": cell_id, "execution_count": r,
                      "metadata": {"pysheets": {"address": f"A{r}"}}, "source": source,
                      "outputs": [{"output_type": "display_data", "data": {"text/plain": str(r)},
                                   "metadata": {}}]})
        runs.append((cell_id, source))
    return notebook(cells), runs


def notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "PySheets", "language": "python",
                                                        "name": "pysheets"}},
            "nbformat": 4, "nbformat_minor": 5}


def sheet_sources(cells: int, chain: int) -> list[str]:
    """A1, the chain below it in column A, then constants row by row in columns B.. ."""
    sources = ["# @A1\n1"] + [f"# @A{r}\nA{r - 1} + 1" for r in range(2, chain + 1)]
    rows = -(-(cells - chain) // (COLUMNS - 1))
    for r in range(1, rows + 1):
        for c in range(1, COLUMNS):
            if len(sources) == cells:
                break
            sources.append(f"# @{column(c)}{r}\n{r * COLUMNS + c}")
    return sources


def fill(connection_file: Path, sources: list[str], cell_ids: list[str] | None = None) -> float:
    """Runs every source as a cell (as the notebook cell `cell_ids[i]`, if given), pipelined in
    batches; returns the seconds it took."""
    kc = BlockingKernelClient(connection_file=str(connection_file))
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        t0 = time.perf_counter()
        batch = 200
        for start in range(0, len(sources), batch):
            ids = []
            for i in range(start, min(start + batch, len(sources))):
                metadata = {"cellId": cell_ids[i]} if cell_ids else {}
                msg = kc.session.msg("execute_request", {
                    "code": sources[i], "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": False},
                    metadata=metadata)
                kc.shell_channel.send(msg)
                ids.append(msg["header"]["msg_id"])
            pending = set(ids)
            while pending:
                reply = kc.get_shell_msg(timeout=60)
                if reply["parent_header"].get("msg_id") in pending:
                    pending.discard(reply["parent_header"]["msg_id"])
                    if reply["content"]["status"] != "ok":
                        raise RuntimeError(f"cell failed: {reply['content']}")
            # Keep IOPub drained: the kernel must not block or drop on a full queue.
            while True:
                try:
                    kc.get_iopub_msg(timeout=0)
                except Exception:
                    break
        return time.perf_counter() - t0
    finally:
        kc.stop_channels()


def stop(proc: subprocess.Popen, url: str, runtime_dir: Path) -> None:
    try:
        urllib.request.urlopen(urllib.request.Request(url + "api/shutdown", method="POST", data=b""),
                               timeout=5).close()
        proc.wait(timeout=15)
    except Exception:
        pass
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    # Kernels run in sessions of their own; their connection files name runtime_dir.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(runtime_dir) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


def start_kernel(url: str, runtime: Path, path: str) -> Path:
    session = api(url, "api/sessions", "POST", {"path": path, "type": "notebook", "name": path,
                                                 "kernel": {"name": "pysheets"}})
    conn = runtime / f"kernel-{session['kernel']['id']}.json"
    for _ in range(100):
        if conn.exists():
            break
        time.sleep(0.1)
    return conn


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=100_000, help="cells of the big sheet")
    ap.add_argument("--chains", default="1000,10000", help="chain notebooks' lengths, comma-separated")
    ap.add_argument("--ran-here", default="1000",
                    help="chains run by Run All in the page, comma-separated ('' for none)")
    ap.add_argument("--reps", type=int, default=3, help="sheet view openings and edits")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--lab-disable", default="",
                    help="JupyterLab plugins to disable, comma-separated (to measure their share)")
    ap.add_argument("--profile", action="store_true",
                    help="profile the last edit of each chain (printed; not a sample)")
    args = ap.parse_args()
    chains = [int(n) for n in args.chains.split(",") if n.strip()]
    ran_here = [int(n) for n in args.ran_here.split(",") if n.strip()]

    (REPO / "bench" / "out").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="grid-bench-"))
    dirs = {n: tmp / n for n in ("root", "config", "runtime", "settings", "user", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    (dirs["settings"] / "overrides.json").write_text(json.dumps(
        {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}))
    (dirs["config"] / "labconfig").mkdir()
    (dirs["config"] / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"jupyterlab-ipyflow": True}
                    | {p.strip(): True for p in args.lab_disable.split(",") if p.strip()}}))
    (dirs["root"] / "big.ipynb").write_text(json.dumps(notebook([])))
    chain_runs = {}
    for n in chains:
        nb, runs = chain_notebook(n)
        (dirs["root"] / f"chain-{n}.ipynb").write_text(json.dumps(nb))
        chain_runs[n] = runs
    for n in ran_here:
        (dirs["root"] / f"ran-{n}.ipynb").write_text(json.dumps(chain_notebook(n)[0]))

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]))
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "jupyter"), "lab", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
         "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         "--allow-root", "--no-browser", f"--ServerApp.root_dir={dirs['root']}",
         "--LabApp.expose_app_in_browser=True", f"--LabApp.app_settings_dir={dirs['settings']}",
         f"--LabApp.user_settings_dir={dirs['user']}", f"--LabApp.workspaces_dir={dirs['workspaces']}"],
        cwd=dirs["root"], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                api(url, "api/status")
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    print((tmp / "server.log").read_text()[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.25)
        fills = {}
        conn = start_kernel(url, dirs["runtime"], "big.ipynb")
        sources = sheet_sources(args.cells, min(1000, args.cells))
        print(f"filling big.ipynb's sheet: {len(sources)} cells …", file=sys.stderr)
        fills["big"] = fill(conn, sources)
        for n, runs in chain_runs.items():
            conn = start_kernel(url, dirs["runtime"], f"chain-{n}.ipynb")
            print(f"running chain-{n}.ipynb's {n} cells into its kernel …", file=sys.stderr)
            fills[f"chain-{n}"] = fill(conn, [s for _, s in runs], [i for i, _ in runs])
        print("filled: " + ", ".join(f"{k} {v:.1f} s" for k, v in fills.items()), file=sys.stderr)
        config = {"url": url, "cells": args.cells, "chains": chains, "ran_here": ran_here,
                  "reps": args.reps + (1 if args.profile else 0), "profile": args.profile}
        res = subprocess.run(["node", str(SCRIPT), json.dumps(config)], env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=1800)
        sys.stderr.write(res.stderr[-6000:])
        if res.returncode != 0:
            print(res.stdout[-4000:], file=sys.stderr)
            return 1
        result = json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        stop(proc, url, dirs["runtime"])
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(xs: list[float | None]) -> str:
        if any(x is None for x in xs):
            return f"{'never':>8}     (samples: {', '.join('never' if x is None else f'{x:.0f}' for x in xs)})"
        return f"{statistics.median(xs):8.0f} ms  (samples: {', '.join(f'{x:.0f}' for x in xs)})"

    big = result["big"]
    print(f"grid bench: {args.cells}-cell sheet, chain notebooks of {', '.join(map(str, chains))} cells, "
          f"{args.reps} repetitions")
    print(f"  first paint of the sheet view  {med(big['first_paint_ms'])}")
    print(f"    snapshot message received    {med(big['message_ms'])}")
    print(f"    snapshot in the model        {med(big['model_ms'])}")
    print(f"    snapshot on the wire         {big['snapshot_bytes'] / args.cells:8.1f} bytes a cell "
          f"({big['snapshot_bytes'] / 1e6:.1f} MB)")
    print(f"  scroll frames (median / max)   {big['scroll']['median_ms']:.1f} / {big['scroll']['max_ms']:.1f} ms "
          f"over {big['scroll']['frames']} frames")
    for kind, n in [("chains", n) for n in chains] + [("ran_here", n) for n in ran_here]:
        c = result[kind][str(n)]
        how = "run into the kernel" if kind == "chains" else f"Run All in the page, {c['run_all_ms'] / 1000:.1f} s"
        print(f"  chain of {n} in the notebook ({how}; opened in {c['open_ms']:.0f} ms):")
        print(f"    edit A1 -> grid shows A{n}   {med(c['grid_ms'])}")
        print(f"      execute_reply received     {med(c['reply_ms'])}")
        print(f"      grid update received       {med(c['update_ms'])}")
        print(f"    edit A1 -> every output new  {med(c['outputs_ms'])}")
        print(f"    longest task meanwhile       {med(c['longest_task_ms'])}")
        print(f"    outputs wrong at the end     {max(c['wrong'])} of {n}"
              + ("  (jupyter_server: IOPub message rate exceeded)" if c.get("dropped") else ""))
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "fill_s": fills,
                                         **result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
