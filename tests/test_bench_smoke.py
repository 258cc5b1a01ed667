"""Smoke test of the benchmark harness (bench/bench.py): it must not rot.

Not a timed test: it runs every case on every kernel (PySheets, ipykernel,
ipyflow, marimo; the peers come from requirements-dev.txt) with tiny sizes and
one repetition, and checks that the table and the JSON hold every case with
numbers. It passes no --results, and checks that bench/RESULTS.md is left
alone.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from conftest import REPO, clean_env
from lab_server import require_browser

BENCH = REPO / "bench" / "bench.py"
RESULTS = REPO / "bench" / "RESULTS.md"
KERNELS = ["pysheets", "pysheets-nojournal", "ipykernel", "ipyflow", "marimo"]
JUPYTER = ["pysheets", "pysheets-nojournal", "ipykernel", "ipyflow"]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.mark.timeout(300)
def test_bench_runs_every_case_on_every_kernel(tmp_path):
    out = tmp_path / "bench.json"
    before = _digest(RESULTS)
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "3,12", "--rows", "500", "--reps", "1",
         "--sheet-warmup", "0", "--executes", "3", "--warmup", "1", "--json", str(out)],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _digest(RESULTS) == before, "the smoke run must not write bench/RESULTS.md"

    doc = json.loads(out.read_text())
    assert doc["kernels"] == KERNELS
    assert not doc["failed"] and not doc["missing"]
    rows = doc["rows"]
    expected = ["start", "exec", "rss", "chain/3", "chain/12", "fanout/3", "fanout/12", "sheet",
                "rss/sheet"]
    assert list(rows) == expected

    def median(key, kernel):
        value = rows[key]["median"].get(kernel)
        assert isinstance(value, (int, float)) and value > 0, (key, kernel, rows[key])
        return value

    for key in ("start", "exec", "rss", "rss/sheet"):
        for kernel in JUPYTER:
            median(key, kernel)
        assert rows[key]["notes"].get("marimo") == "n/a"
    for key in ("chain/3", "chain/12", "fanout/3", "fanout/12", "sheet"):
        for kernel in KERNELS:
            median(key, kernel)
    # ipyflow's re-run is timed to its schedule reply, after the last execute_reply
    assert rows["chain/12"]["extra"]["ipyflow"]["rerun_ms"][0] <= median("chain/12", "ipyflow")
    # PySheets re-runs the sheet inside one request: far below ipykernel's cell-by-cell re-run
    assert median("chain/12", "pysheets") < median("chain/12", "ipykernel")
    # the journal's growth per re-run cell is measured (PySheets with its journal on)
    per_cell = rows["chain/12"]["extra"]["pysheets"]["journal_bytes_per_cell"][0]
    assert 20 < per_cell < 400, per_cell
    assert "journal_bytes_per_cell" not in rows["chain/12"]["extra"].get("pysheets-nojournal", {})

    goals = {g["goal"]: g for g in doc["goals"]}
    assert goals["start <= 1/8 of ipykernel's"]["value"] is not None
    assert goals["chain N=10000 <= 150 ms (pysheets)"]["ok"] is None  # not at these sizes
    assert goals["chain N=10000 journal on/off <= 1.10"]["ok"] is None

    # the printed table: a header with every kernel and the ratio columns, one line per case
    text = proc.stdout
    header = next(line for line in text.splitlines() if line.startswith("case "))
    for name in KERNELS + ["pysheets/ipykernel", "ipyflow/ipykernel", "pysheets/ipyflow",
                           "pysheets/pysheets-nojournal"]:
        assert name in header
    for title in ("start -> kernel_info_reply", "chain of 12 cells", "fan-out to 12 cells",
                  "sheet: 500-row DataFrame", "idle RSS after the 12-cell chain"):
        assert title in text
    assert "goals (pysheets):" in text


@pytest.mark.timeout(300)
def test_headless_bench_runs_every_case(tmp_path):
    """bench/headless_bench.py: pysheets run against papermill and nbconvert, what-if with
    1 and 2 workers and on a Dask LocalCluster, goal seek; tiny sizes, one repetition."""
    out = tmp_path / "headless.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "headless_bench.py"), "--reps", "1",
         "--scenarios", "4", "--json", str(out)],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    tools = {(r["notebook"], r["tool"]) for r in doc["tools"]}
    assert ("budget.ipynb", "papermill -k pysheets") in tools
    assert ("plain-python.ipynb", "nbconvert --execute (python3)") in tools
    assert all(r["median_s"] > 0 for r in doc["tools"])
    w = doc["what_if"]
    assert w["scenarios"] == 4
    for case in ("1 worker", "2 workers", "dask LocalCluster, 2 workers"):
        assert w[case]["median_s"] > 0, case
    assert doc["goal_seek"]["answer"] == 1480.0 and doc["goal_seek"]["evaluations"] >= 2


@pytest.mark.pysheets_only
@pytest.mark.timeout(400)
def test_grid_bench_runs_every_case(tmp_path):
    """bench/grid_bench.py, tiny: the big sheet's first paint, snapshot size and scroll, and
    the chain notebooks' edit timings, with every output right at the end."""
    require_browser()
    out = tmp_path / "grid.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "grid_bench.py"), "--cells", "600", "--chains", "30,60",
         "--ran-here", "20", "--reps", "1", "--json", str(out)],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=380,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    big = doc["big"]
    assert big["first_paint_ms"][0] > 0 and big["snapshot_bytes"] > 600 * 10, big
    assert big["scroll"]["frames"] == 120, big["scroll"]
    for kind, n in (("chains", "30"), ("chains", "60"), ("ran_here", "20")):
        chain = doc[kind][n]
        assert chain["grid_ms"][0] > 0 and chain["outputs_ms"][0] > 0, chain
        assert chain["wrong"] == [0], chain
    assert "edit A1 -> every output new" in proc.stdout, proc.stdout
