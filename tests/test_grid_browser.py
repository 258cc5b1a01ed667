"""The grid view extension (labextension/) in a real JupyterLab and a real Notebook 7.

Drives tests/browser/grid_view.mjs (playwright-core on Debian's headless Chromium) against a
jupyter server this test starts on 127.0.0.1 and stops, with its kernels, at the end:

- ``lab`` / ``notebook``: a notebook on the pysheets kernel is run, the sheet view opened, its
  data model checked, A1 edited through the formula bar, D1 created through it, the notebook
  saved and reloaded, A1 edited again, saved, and the file read back (see the script's header);
- ``other-kernel``: the same view on an ipykernel notebook says there is no sheet, and nothing
  in the page throws;
- the audit trail (tests/browser/lab_audit.mjs): the selected cell's last editor beside the
  formula bar, and its explain tree in a panel.

Screenshots go to tests/artifacts/grid_<mode>.png and tests/artifacts/grid_audit.png.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import clean_env, jupyter_bin
from lab_server import BROWSER_DIR, fresh_artifact, jupyter_lab, require_browser, run_script

SCRIPT = BROWSER_DIR / "grid_view.mjs"
NODE_TIMEOUT = 200
NOTEBOOK_NAME = "grid.ipynb"


def _notebook(kernel: str, sources: list[str]) -> dict:
    names = {"pysheets": "PySheets", "python3": "Python 3 (ipykernel)"}
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(sources)
        ],
        "metadata": {
            "kernelspec": {"display_name": names[kernel], "language": "python", "name": kernel},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


SHEET_SOURCES = [
    "# @A1\n1",
    "# @B1\nA1 * 10",
    "# @C1\nB1 + 1",
    "# @A2 total\nsum(A1:C1)",
    "# @A3\n1/0",
]


def _labextension_installed() -> bool:
    res = subprocess.run(
        [jupyter_bin("jupyter"), "labextension", "list"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "jupyterlab-pysheets" in (res.stdout + res.stderr) and res.returncode == 0


def _run(tmp_path: Path, mode: str, kernel: str, sources: list[str]) -> dict:
    return _run_script(
        tmp_path, SCRIPT, [mode], f"grid_{mode}.png", NOTEBOOK_NAME, _notebook(kernel, sources)
    )


def _run_script(
    tmp_path: Path, script: Path, args: list[str], artifact: str, name: str, notebook: dict
) -> dict:
    """Runs a browser script as `node script *args <url> <notebook> <screenshot>`."""
    require_browser()
    if not _labextension_installed():
        pytest.fail("jupyterlab-pysheets is not installed in .venv: run scripts/setup.sh")
    screenshot = fresh_artifact(artifact)
    # Only the extensions JupyterLab and Notebook ship, and ours: a third-party extension that
    # happens to be installed in .venv (jupyterlab-ipyflow throws on its own) is not under test.
    with jupyter_lab(tmp_path, {name: notebook}, disabled_extensions=("jupyterlab-ipyflow",)) as (
        url,
        server_log,
    ):
        result = run_script(
            script, [*args, url, name, str(screenshot)], server_log, NODE_TIMEOUT
        )
    assert screenshot.is_file() and screenshot.stat().st_size > 0, result
    return result


@pytest.mark.pysheets_only
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["lab", "notebook"])
def test_grid_view_edits_and_persists(tmp_path: Path, mode: str) -> None:
    result = _run(tmp_path, mode, "pysheets", SHEET_SOURCES)
    # The script checked each step; the essentials again, from what it reports.
    assert result["after_run_all"]["B1"]["text"] == "10"
    assert result["after_edit"]["B1"]["text"] == "50"
    assert result["after_edit"]["A2"]["text"] == "106"
    saved = result["saved_after_reload"]
    assert [c["outputs"][:1] for c in saved[:4]] == [["7"], ["70"], ["71"], ["148"]]
    assert [c["address"] for c in saved] == ["A1", "B1", "C1", "A2", "A3", "D1"]
    assert result["pageErrors"] == []


@pytest.mark.timeout(200)
def test_grid_view_on_another_kernel_shows_no_sheet(tmp_path: Path) -> None:
    result = _run(tmp_path, "other-kernel", "python3", ["1 + 1"])
    assert result["other_kernel"]["size"] == 0
    assert result["pageErrors"] == []


@pytest.mark.pysheets_only
@pytest.mark.timeout(300)
def test_grid_audit_shows_editor_and_explains(tmp_path: Path) -> None:
    """Selecting B1 (`A1 * 10`) shows who changed it last and when, as the kernel's journal says
    (`edited` in the cell JSON); Explain opens a panel with its upstream tree, naming A1."""
    notebook = _notebook("pysheets", ["# @A1\n1", "# @B1\nA1 * 10"])
    result = _run_script(
        tmp_path, BROWSER_DIR / "lab_audit.mjs", [], "grid_audit.png", "audit.ipynb", notebook
    )
    # The script checked each step; the essentials again, from what it reports.
    edited = result["b1"]["edited"]
    assert edited["by"].strip(), result
    assert result["label"].startswith(f"edited by {edited['by']} · "), result
    assert result["label"].endswith(" UTC"), result
    assert result["panel"]["visible"] and result["panel"]["state"] == "ok", result
    assert "B1" in result["panel"]["text"] and "A1" in result["panel"]["text"], result
    assert result["pageErrors"] == []


def _saved(source: str, text: str, count: int) -> dict:
    """A code cell as saved after a run: its output's text."""
    return {"cell_type": "code", "execution_count": count, "id": f"cell-{count}", "metadata": {},
            "source": source,
            "outputs": [{"output_type": "display_data", "data": {"text/plain": text}, "metadata": {}}]}


@pytest.mark.pysheets_only
@pytest.mark.timeout(400)
def test_grid_as_a_spreadsheet(tmp_path: Path) -> None:
    """Saved outputs shown stale before the kernel runs, number formats and alignment, the
    title in the formula bar, copy as TSV, a long batch's progress, a restart during a batch
    (tests/browser/grid_sheet.mjs)."""
    slow = "import time\ntime.sleep(0.4)\n"
    cells = [_saved("# @A1\n1000", "1000", 1)]
    cells += [_saved(f"# @A{r}\n{slow}A{r - 1} + 1", str(999 + r), r) for r in range(2, 7)]
    cells += [_saved("# @B1 savings rate :.1%\nA1 / 4000", "25.0%", 7),
              _saved("# @B2\n'12'", "'12'", 8),
              _saved("# @C1\nA1 > 0", "True", 9),
              _saved("# @D1\nC1 and 'positive'", "'positive'", 10)]
    notebook = _notebook("pysheets", [])
    notebook["cells"] = cells
    result = _run_script(
        tmp_path, BROWSER_DIR / "grid_sheet.mjs", [], "grid_sheet.png", "sheet.ipynb", notebook
    )
    # The script checked each step; the essentials again, from what it reports.
    assert result["saved"]["A1"] == {"value": "1000", "state": "stale", "saved": True,
                                     "align": result["saved"]["A1"]["align"]}, result["saved"]
    assert result["live"]["B1"]["value"] == "25.0%" and result["live"]["B1"]["align"] == "right"
    assert result["formula"]["title"] == "savings rate :.1%"
    assert result["copied"] == "1000\t25.0%\n1001\t12"
    assert "Recomputing:" in result["progress"]["status"]
    assert any(t.startswith("recomputing:") for t in result["progress"]["a1Outputs"])
    assert result["after_restart"]["running"] == []
    assert result["pageErrors"] == []
