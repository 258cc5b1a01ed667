"""`pysheets run` and `pysheets export`: notebooks evaluated as sheets without Jupyter.

Black-box: the installed `pysheets` command of the venv. The values `run` prints are checked
against a real PySheets kernel running the same notebook as JupyterLab would (each cell with
its cellId, then `%sheet`), before and after the edit that `--set` stands for; the exported
script is run by plain Python and must give every cell the kernel's value.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import REPO, VENV_PYTHON, clean_env, collect_iopub, get_reply, start_kernel
from conftest import open_grid_comm, stop_kernel

pytestmark = pytest.mark.pysheets_only

EXAMPLES = sorted((REPO / "examples").glob("*.ipynb"))
PYSHEETS = str(VENV_PYTHON.parent / "pysheets")
SHEET_MIME = "application/vnd.pysheets.sheet+json"
TIMEOUT = 120


def pysheets(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([PYSHEETS, *args], capture_output=True, text=True, timeout=TIMEOUT,
                         env=clean_env(), cwd=cwd)
    assert "panicked" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    return res


def run_json(*args: str) -> dict[str, dict[str, Any]]:
    res = pysheets("run", *args, "--format", "json")
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    return json.loads(res.stdout)["cells"]


def code_cells(path: Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text())
    return [(c.get("id") or f"cell-{i}", "".join(c["source"]))
            for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def execute_cell(kc: Any, code: str, cell_id: str | None = None) -> tuple[dict, list[dict]]:
    """Executes `code` as JupyterLab does (with the cell's id in the metadata)."""
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": False}
    msg = kc.session.msg("execute_request", content,
                         metadata={"cellId": cell_id} if cell_id else {})
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    return get_reply(kc, msg_id, timeout=TIMEOUT), collect_iopub(kc, msg_id, timeout=TIMEOUT)


def kernel_values(cells: list[tuple[str, str]],
                  edits: list[tuple[str, str]] = ()) -> dict[str, dict[str, Any]]:
    """The sheet a PySheets kernel holds after running `cells` (cellId, code) in order with
    their cellIds, then the `edits` (cellId, new code): {address: {state, value}}."""
    km, kc = start_kernel()
    try:
        # As the grid extension does: the kernel is told the notebook's order, so names
        # resolve in it (as `pysheets run` resolves them, from the file).
        comm_id = open_grid_comm(kc)
        kc.shell_channel.send(kc.session.msg("comm_msg", {
            "comm_id": comm_id, "data": {"type": "order", "cells": [c for c, _ in cells]}}))
        for cell_id, code in [*cells, *edits]:
            execute_cell(kc, code, cell_id)
        _, iopub = execute_cell(kc, "%sheet")
        for m in iopub:
            data = m["content"].get("data", {}).get(SHEET_MIME)
            if data is not None:
                sheet = json.loads(data) if isinstance(data, str) else data
                return {c["address"]: {"state": c["state"], "value": c["value"]}
                        for c in sheet["cells"]}
        raise AssertionError(f"%sheet showed no sheet: {iopub}")
    finally:
        stop_kernel(km, kc)


def same_sheet(got: dict[str, dict[str, Any]], kernel: dict[str, dict[str, Any]]) -> None:
    assert set(got) == set(kernel), (sorted(got), sorted(kernel))
    for a, k in kernel.items():
        assert (got[a]["state"], got[a]["value"]) == (k["state"], k["value"]), a


def notebook(tmp_path: Path, *sources: str, name: str = "nb.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_run_gives_every_cell_the_kernels_value(path: Path) -> None:
    same_sheet(run_json(str(path)), kernel_values(code_cells(path)))


def test_set_gives_what_the_kernel_gives_after_the_edit() -> None:
    path = REPO / "examples" / "budget.ipynb"
    got = run_json(str(path), "--set", "A1=1500", "--set", "B2=4000")
    cells = code_cells(path)
    edits = [(cid, code.replace("\n1200", "\n1500").replace("\n3000", "\n4000"))
             for cid, code in cells if code.startswith(("# @A1", "# @B2"))]
    assert len(edits) == 2
    same_sheet(got, kernel_values(cells, edits))
    assert (got["B1"]["python"], got["B3"]["python"]) == (2270, 1730)


def test_the_default_table_shows_the_dependents_change() -> None:
    path = str(REPO / "examples" / "budget.ipynb")
    before = pysheets("run", path, "--show", "A1", "B1", "B3")
    after = pysheets("run", path, "--set", "A1=1500", "--show", "A1", "B1", "B3")
    assert before.returncode == after.returncode == 0, (before.stderr, after.stderr)
    rows = [line.split() for line in after.stdout.splitlines()]
    assert rows[0] == ["address", "title", "state", "value"]
    assert [r[0] for r in rows[1:]] == ["A1", "B1", "B3"], "--show's order"
    assert [r[-1] for r in rows[1:]] == ["1500", "2270", "730"]
    assert [line.split()[-1] for line in before.stdout.splitlines()[1:]] == ["1200", "1970", "1030"]


def test_csv_format() -> None:
    res = pysheets("run", str(REPO / "examples" / "budget.ipynb"), "--format", "csv",
                   "--show", "B3", "B4")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows == [["address", "title", "state", "value", "error"],
                    ["B3", "savings", "ok", "1030", ""],
                    ["B4", "savings rate", "ok", "0.3433333333333333", ""]]


@pytest.mark.parametrize("args, says", [
    (["--set", "B1=5"], "B1 is not an input cell"),
    (["--set", "Z9=5"], "no cell at Z9"),
    (["--set", "A1=foo("], "is not a Python literal"),
    (["--set", "a1=5"], "is not a cell address"),
    (["--set", "A1"], "expected ADDRESS=LITERAL"),
    (["--show", "Q7"], "no cell at Q7"),
])
def test_a_bad_set_or_show_is_exit_2(args: list[str], says: str) -> None:
    res = pysheets("run", str(REPO / "examples" / "budget.ipynb"), *args)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert says in res.stderr, res.stderr


def test_an_unreadable_notebook_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    for name, says in [("missing.ipynb", "cannot read"), ("bad.ipynb", "is not a notebook")]:
        res = pysheets("run", str(tmp_path / name))
        assert res.returncode == 2 and says in res.stderr, (res.returncode, res.stderr)


def test_a_failing_cell_is_exit_1_naming_the_cell_and_the_cause(tmp_path: Path) -> None:
    path = notebook(tmp_path, "# @A1 zero\n0", "# @B1 ratio\n10 / A1", "# @C1\nB1 + 1",
                    "# @D1\n42")
    res = pysheets("run", str(path), "--format", "json")
    assert res.returncode == 1, res.stderr
    assert "B1 failed: ZeroDivisionError: division by zero" in res.stderr
    cells = json.loads(res.stdout)["cells"]
    assert cells["C1"]["state"] == "upstream-error"
    assert cells["D1"] == {"title": "", "state": "ok", "value": "42", "python": 42}
    # The same notebook with the input fixed runs clean.
    fixed = pysheets("run", str(path), "--set", "A1=4", "--show", "B1", "C1")
    assert fixed.returncode == 0, fixed.stderr
    assert [line.split()[-1] for line in fixed.stdout.splitlines()[1:]] == ["2.5", "3.5"]


def test_a_cycle_is_exit_1_naming_the_cells(tmp_path: Path) -> None:
    path = notebook(tmp_path, "# @C1\nD1 + 1", "# @D1\nC1 + 1", "# @E1\n5")
    res = pysheets("run", str(path))
    assert res.returncode == 1
    assert "C1 failed" in res.stderr and "D1 failed" in res.stderr, res.stderr
    assert "circular" in res.stderr, res.stderr


def test_set_on_a_cell_without_a_label(tmp_path: Path) -> None:
    """Its address comes from the kernel's rules (next free in column A) during the run."""
    path = notebook(tmp_path, "10", "A1 * 2", "rate = 0.5", "A2 * rate")
    got = run_json(str(path), "--set", "A1=7", "--set", "A3=0.25")
    assert {a: c["value"] for a, c in got.items()} == {
        "A1": "7", "A2": "14", "A3": "0.25", "A4": "3.5"}
    res = pysheets("run", str(path), "--set", "A2=3")
    assert res.returncode == 2 and "A2 is not an input cell" in res.stderr, res.stderr


def test_out_writes_the_notebook_with_outputs_and_addresses(tmp_path: Path) -> None:
    src = REPO / "examples" / "budget.ipynb"
    out = tmp_path / "ran.ipynb"
    res = pysheets("run", str(src), "--set", "A1=1500", "--out", str(out))
    assert res.returncode == 0, res.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    by_address = {c.metadata["pysheets"]["address"]: c for c in nb.cells
                  if c.cell_type == "code"}
    assert sorted(by_address) == ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1", "C2"]
    # --set gives A1 its value before the run: every output shows the final value.
    text = {a: "".join(o.get("data", {}).get("text/plain", "")
                       for o in c.outputs if o.output_type == "display_data")
            for a, c in by_address.items()}
    assert (text["A1"], text["B1"], text["B3"]) == ("1500", "2270", "730")
    assert "text/html" in by_address["C1"].outputs[0].data
    assert "image/png" in by_address["C2"].outputs[0].data
    assert [c.execution_count for c in by_address.values()] == list(range(1, 11))
    # The input notebook is not touched.
    assert json.loads(src.read_text()) == json.loads((REPO / "examples" / "budget.ipynb").read_text())


def test_out_keeps_prints_errors_and_updates_in_place(tmp_path: Path) -> None:
    path = notebook(tmp_path, "# @B1\nA1 * 2", "print('hello')\n# @ not a label\n5",
                    "# @C1\n1/0", name="forward.ipynb")
    out = tmp_path / "out.ipynb"
    res = pysheets("run", str(path), "--out", str(out))
    assert res.returncode == 1, res.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    b1, a1, c1 = nb.cells
    # B1 ran first (A1 empty: None * 2 fails), then A1 was defined and B1 re-ran: its value
    # replaces the error.
    assert b1.metadata["pysheets"]["address"] == "B1"
    assert [o.output_type for o in b1.outputs] == ["display_data"]
    assert b1.outputs[0].data["text/plain"] == "10"
    assert a1.metadata["pysheets"]["address"] == "A1"
    assert [o.text for o in a1.outputs if o.output_type == "stream"] == ["hello\n"]
    assert [o.ename for o in c1.outputs if o.output_type == "error"] == ["ZeroDivisionError"]


# --- export -------------------------------------------------------------------------------

VALUES_OF_SCRIPT = """
import json, runpy, sys
ns = runpy.run_path(sys.argv[1], run_name="__main__")
assert not [m for m in sys.modules if m.startswith("pysheets")], "the script imported PySheets"
from pysheets_kernel.sheet import summarize
print(json.dumps({a: summarize(v) for a, v in ns["_values"].items()}))
"""


def script_values(script: Path, cwd: Path) -> dict[str, str]:
    res = subprocess.run([str(VENV_PYTHON), "-c", VALUES_OF_SCRIPT, str(script)],
                         capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd,
                         env=clean_env(MPLBACKEND="Agg"))
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.splitlines()[-1])


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_export_runs_in_plain_python_to_the_kernels_values(path: Path, tmp_path: Path) -> None:
    script = tmp_path / "sheet.py"
    res = pysheets("export", str(path), "--to", "py", "-o", str(script))
    assert res.returncode == 0, res.stderr
    text = script.read_text()
    assert "pysheets_kernel" not in text and "__pysheets_magics__" not in text
    # Plain python runs it (its own process, nothing of PySheets imported).
    plain = subprocess.run([str(VENV_PYTHON), "-I", str(script)], capture_output=True,
                           text=True, timeout=TIMEOUT, cwd=tmp_path,
                           env=clean_env(MPLBACKEND="Agg"))
    assert plain.returncode == 0, plain.stderr
    kernel = kernel_values(code_cells(path))
    got = script_values(script, tmp_path)
    expected = {a: c["value"] for a, c in kernel.items() if c["state"] == "ok" and c["value"]}
    assert {a: got.get(a) for a in expected} == expected


def test_export_orders_by_dependency_and_keeps_each_readers_definition(tmp_path: Path) -> None:
    path = notebook(tmp_path, "# @B2\nA1 + 1", "# @C1\nx = 1", "# @A9\nx * 10",
                    "# @B5\nx = 2", "# @A10\nx * 100", "# @A1\n41", "# @D1\nsum(A9:A10)")
    script = tmp_path / "sheet.py"
    assert pysheets("export", str(path), "-o", str(script)).returncode == 0
    got = script_values(script, tmp_path)
    assert got == {"A1": "41", "B2": "42", "C1": "1", "A9": "10", "B5": "2", "A10": "200",
                   "D1": "210"}
    kernel = kernel_values([(f"c{i}", s) for i, s in enumerate(
        ["# @B2\nA1 + 1", "# @C1\nx = 1", "# @A9\nx * 10", "# @B5\nx = 2",
         "# @A10\nx * 100", "# @A1\n41", "# @D1\nsum(A9:A10)"])])
    assert got == {a: c["value"] for a, c in kernel.items()}
    order = [line.split()[2] for line in script.read_text().splitlines()
             if line.startswith("# --- ")]
    assert order.index("A1") < order.index("B2"), order


@pytest.mark.parametrize("source, says", [
    ("# @B2\n%sheet", "B2 uses '%sheet'"),
    ("# @B3\n!ls", "B3 uses '!ls'"),
    ("x = 1\n%pip install six", "cell 2 uses '%pip install six'"),
    ('# @B4\nsheet.what_if({"A1": [1]}, outputs=["A1"])', "B4 calls 'sheet.what_if'"),
])
def test_export_refuses_magics_naming_the_cell(tmp_path: Path, source: str, says: str) -> None:
    path = notebook(tmp_path, "# @A1\n1", source)
    res = pysheets("export", str(path))
    assert res.returncode == 1 and says in res.stderr, (res.returncode, res.stderr)
    assert res.stdout == ""


def test_export_makes_magics_with_a_plain_meaning_plain(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = notebook(tmp_path, "# @A1\n%matplotlib inline\n1", f"# @A2\n%cd {tmp_path}/sub\n%pwd",
                    "# @A3\n%env PYSHEETS_EXPORT_X=7\nimport os\nos.environ['PYSHEETS_EXPORT_X']")
    script = tmp_path / "sheet.py"
    res = pysheets("export", str(path), "-o", str(script))
    assert res.returncode == 0, res.stderr
    got = script_values(script, tmp_path)
    assert got["A3"] == "7", got
    # The kernel's own run of the notebook agrees (A2: the directory %cd went to).
    kernel = run_json(str(path))
    assert {a: c["value"] for a, c in kernel.items()} == got
    assert kernel["A2"]["python"] == str(tmp_path / "sub")


def test_export_refuses_a_cycle(tmp_path: Path) -> None:
    path = notebook(tmp_path, "# @C1\nD1 + 1", "# @D1\nC1 + 1")
    res = pysheets("export", str(path))
    assert res.returncode == 1 and "C1, D1" in res.stderr and "circular" in res.stderr, res.stderr


def test_help_lists_run_and_export() -> None:
    res = pysheets("--help")
    assert res.returncode == 0
    for command in ("run", "export", "replay", "install"):
        assert f"  {command}" in res.stdout, res.stdout
    assert "scenario-worker" not in res.stdout
