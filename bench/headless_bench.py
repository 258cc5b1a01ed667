"""Sheets without a browser, timed: `pysheets run` against papermill and `jupyter nbconvert
--execute`, what-if tables (1 and 2 local workers, a 2-worker Dask LocalCluster) against
re-running the notebook once per scenario, and goal seek.

    .venv/bin/python bench/headless_bench.py [--reps 5] [--scenarios 1000] [--json out.json]

Every timing is wall time of what a user runs, medians of `--reps` repetitions, the tools
alternating. ipykernel cannot run `examples/budget.ipynb` (its ranges, `sum(A1:A4)`, are not
Python), so papermill and nbconvert run it with the PySheets kernel, and all three tools run
`examples/plain-python.ipynb` (an ordinary notebook) against ipykernel too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUDGET = REPO / "examples" / "budget.ipynb"
PLAIN = REPO / "examples" / "plain-python.ipynb"


def wall(argv: list[str], **kw) -> float:
    t = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, **kw)
    elapsed = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({res.returncode}): {res.stderr[-800:]}")
    return elapsed


def tools(notebook: Path, kernel: str, out: Path) -> dict[str, list[str]]:
    t = {
        f"papermill -k {kernel}": [str(BIN / "papermill"), "-k", kernel, "--log-level",
                                   "ERROR", str(notebook), str(out / "pm.ipynb")],
        f"nbconvert --execute ({kernel})": [
            str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
            f"--ExecutePreprocessor.kernel_name={kernel}", "--output-dir", str(out),
            "--output", "nbc", str(notebook)],
    }
    return t


def time_tools(reps: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        cases = [(BUDGET, {"pysheets run": [str(BIN / "pysheets"), "run", str(BUDGET)],
                           **tools(BUDGET, "pysheets", out)}),
                 (PLAIN, {"pysheets run": [str(BIN / "pysheets"), "run", str(PLAIN)],
                          **tools(PLAIN, "pysheets", out), **tools(PLAIN, "python3", out)})]
        for notebook, argvs in cases:
            times = {name: [] for name in argvs}
            names = list(argvs)
            for r in range(reps):
                for name in (names if r % 2 == 0 else names[::-1]):
                    times[name].append(wall(argvs[name], cwd=out))
            base = statistics.median(times["pysheets run"])
            for name, ts in times.items():
                m = statistics.median(ts)
                rows.append({"notebook": notebook.name, "tool": name, "median_s": round(m, 3),
                             "vs_pysheets_run": round(m / base, 2)})
    return rows


def budget_cells() -> list[dict]:
    nb = json.loads(BUDGET.read_text())
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            code = "".join(c["source"])
            cells.append({"address": code.split()[1][1:], "code": code})
    return cells


def time_what_if(reps: int, n: int) -> dict:
    from pysheets_kernel import scenarios

    cells = budget_cells()
    # Two inputs, n combinations: the largest factor of n up to its square root, by the rest.
    side = max(f for f in range(1, int(n ** 0.5) + 1) if n % f == 0)
    a1 = list(range(1000, 1000 + 10 * (n // side), 10))
    b2 = list(range(3000, 3000 + 20 * side, 20))
    inputs = {"A1": a1, "B2": b2}
    count = len(a1) * len(b2)
    result = {"scenarios": count}
    scenarios.what_if({"A1": a1[:2]}, ["B3"], cells=cells, workers=2)  # warm the disk cache
    for label, kw in [("1 worker", {"workers": 1}), ("2 workers", {"workers": 2})]:
        ts, per = [], []
        for _ in range(reps):
            t = time.perf_counter()
            frame = scenarios.what_if(inputs, ["B3", "B4"], cells=cells, **kw)
            ts.append(time.perf_counter() - t)
            per.append(sum(frame.attrs["pysheets"]["scenario_seconds"]) / count)
        result[label] = {"median_s": round(statistics.median(ts), 3),
                         "per_scenario_ms": round(1000 * statistics.median(per), 4)}
    result["speed-up 2 vs 1"] = round(result["1 worker"]["median_s"]
                                      / result["2 workers"]["median_s"], 2)
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        result["dask"] = "not installed"
    else:
        t = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        started = time.perf_counter() - t
        try:
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                scenarios.what_if(inputs, ["B3", "B4"], cells=cells, executor=client)
                ts.append(time.perf_counter() - t)
        finally:
            client.close()
            cluster.close()
        result["dask LocalCluster, 2 workers"] = {
            "median_s": round(statistics.median(ts), 3), "cluster_start_s": round(started, 2)}
    # What a loop over the scenarios pays without what-if: one whole run of the notebook each.
    runs = [wall([str(BIN / "pysheets"), "run", str(BUDGET), "--set", f"A1={a1[i]}",
                  "--set", f"B2={b2[i % len(b2)]}"]) for i in range(reps)]
    whole = statistics.median(runs)
    result["whole notebook per scenario (pysheets run --set)"] = {"median_s": round(whole, 3)}
    result["per scenario: what-if / whole run"] = round(
        result["1 worker"]["per_scenario_ms"] / 1000 / whole, 6)
    return result


def time_goal_seek(reps: int) -> dict:
    from pysheets_kernel import scenarios

    cells = budget_cells()
    ts, evals = [], []
    for _ in range(reps):
        t = time.perf_counter()
        g = scenarios.goal_seek("B4", 0.25, "A1", (0, 3000), cells=cells)
        ts.append(time.perf_counter() - t)
        evals.append(g.evaluations)
    return {"question": "B4 = 0.25 by A1 in (0, 3000)", "answer": float(g),
            "evaluations": max(evals), "median_s": round(statistics.median(ts), 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--scenarios", type=int, default=1000)
    p.add_argument("--json", type=Path)
    p.add_argument("--skip-tools", action="store_true", help="no papermill / nbconvert")
    args = p.parse_args()
    load = os.getloadavg()[0]
    report = {"machine": {"cores": os.cpu_count(), "load_1min": round(load, 2)}}
    if not args.skip_tools:
        report["tools"] = time_tools(args.reps)
    report["what_if"] = time_what_if(args.reps, args.scenarios)
    report["goal_seek"] = time_goal_seek(args.reps)
    print(f"machine: {report['machine']}")
    for row in report.get("tools", []):
        print(f"{row['notebook']:<22} {row['tool']:<34} {row['median_s']:>7.3f} s"
              f"   x{row['vs_pysheets_run']} of pysheets run")
    for k, v in report["what_if"].items():
        print(f"what-if {k}: {v}")
    print(f"goal seek: {report['goal_seek']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
