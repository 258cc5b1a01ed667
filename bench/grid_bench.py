"""Grid view benchmark: the PySheets sheet view (labextension/) in a real JupyterLab, in Debian's
headless Chromium, on the real kernel.

    .venv/bin/python bench/grid_bench.py [--cells 100000] [--chain 1000] [--reps 3] [--json FILE]

It starts `jupyter lab` on 127.0.0.1 (temp dirs, no token), starts a pysheets kernel for
bench.ipynb through the REST API, and fills its sheet straight over ZeroMQ with `--cells`
cells: column A holds A1 (the input) and a chain A2 = A1 + 1, A3 = A2 + 1, … of `--chain`
cells, the other columns constants. Then bench/grid_bench.mjs opens the notebook, and measures:

- first paint: from running "Open Sheet View" to the grid's first paint with every cell in its
  model (comm open, snapshot from the kernel, JSON parse, model build, paint);
- scroll: frame times while the grid scrolls through the whole sheet;
- edit → last dependent painted: from committing `A1` through the sheet view (what Enter in the
  formula bar does) to the first paint after the last cell of the chain got its new value
  (the grid is scrolled so that cell is on screen).

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


def fill(connection_file: Path, sources: list[str]) -> float:
    """Runs every source as a cell, pipelined in batches; returns the seconds it took."""
    kc = BlockingKernelClient(connection_file=str(connection_file))
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        t0 = time.perf_counter()
        batch = 200
        for start in range(0, len(sources), batch):
            ids = [kc.execute(src, store_history=False) for src in sources[start:start + batch]]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--chain", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3, help="sheet view openings and edits")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    (REPO / "bench" / "out").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="grid-bench-"))
    dirs = {n: tmp / n for n in ("root", "config", "runtime", "settings", "user", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    (dirs["settings"] / "overrides.json").write_text(json.dumps(
        {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}))
    (dirs["config"] / "labconfig").mkdir()
    (dirs["config"] / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"jupyterlab-ipyflow": True}}))
    nb = {"cells": [], "metadata": {"kernelspec": {"display_name": "PySheets", "language": "python",
                                                   "name": "pysheets"}},
          "nbformat": 4, "nbformat_minor": 5}
    (dirs["root"] / "bench.ipynb").write_text(json.dumps(nb))

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
        session = api(url, "api/sessions", "POST", {"path": "bench.ipynb", "type": "notebook",
                                                     "name": "bench.ipynb", "kernel": {"name": "pysheets"}})
        kernel_id = session["kernel"]["id"]
        conn = dirs["runtime"] / f"kernel-{kernel_id}.json"
        for _ in range(100):
            if conn.exists():
                break
            time.sleep(0.1)
        sources = sheet_sources(args.cells, args.chain)
        print(f"filling the sheet: {len(sources)} cells (chain of {args.chain} in column A) …", file=sys.stderr)
        fill_s = fill(conn, sources)
        print(f"filled in {fill_s:.1f} s", file=sys.stderr)
        res = subprocess.run(
            ["node", str(SCRIPT), url, "bench.ipynb", str(args.cells), str(args.chain), str(args.reps)],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        sys.stderr.write(res.stderr[-4000:])
        if res.returncode != 0:
            print(res.stdout[-4000:], file=sys.stderr)
            return 1
        result = json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        stop(proc, url, dirs["runtime"])
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):8.0f} ms  (samples: {', '.join(f'{x:.0f}' for x in xs)})"

    print(f"grid bench: {args.cells} cells, chain of {args.chain}, {args.reps} repetitions")
    print(f"  first paint of the sheet view  {med(result['first_paint_ms'])}")
    print(f"    snapshot message received    {med(result['message_ms'])}")
    print(f"    snapshot in the model        {med(result['model_ms'])}")
    print(f"  scroll frames (median / max)   {result['scroll']['median_ms']:.1f} / {result['scroll']['max_ms']:.1f} ms "
          f"over {result['scroll']['frames']} frames")
    print(f"  edit A1 -> A{args.chain} painted        {med(result['edit_ms'])}")
    print(f"    execute_reply received       {med(result['edit_reply_ms'])}")
    print(f"    update message received      {med(result['edit_update_ms'])}")
    print(f"    update in the model          {med(result['edit_model_ms'])}")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "fill_s": fill_s,
                                         **result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
