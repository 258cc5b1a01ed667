"""PySheets in a real JupyterLab, driven in Debian's headless Chromium.

A black-box test of what a user sees: a notebook on the pysheets kernel with
the cells ``# @A1\\n1`` and ``# @B1\\nA1 * 10``; after running both, B1 shows
10; after changing A1 to 5 and running only A1, B1's output turns into 50 in
place, without the frontend re-running B1.

The browser side is tests/browser/lab_reactive.mjs (playwright-core, launched
on /usr/bin/chromium); scripts/setup.sh installs both.  The screenshot goes to
tests/artifacts/lab_reactive.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_server import BROWSER_DIR, fresh_artifact, jupyter_lab, require_browser, run_script

SCRIPT = BROWSER_DIR / "lab_reactive.mjs"
NODE_TIMEOUT = 100

NOTEBOOK_NAME = "reactive.ipynb"


def _notebook(cells: list[tuple[str, str]] | None = None) -> dict:
    def code(cell_id: str, source: str) -> dict:
        return {
            "cell_type": "code",
            "execution_count": None,
            "id": cell_id,
            "metadata": {},
            "outputs": [],
            "source": source,
        }

    cells = cells or [("cell-a1", "# @A1\n1"), ("cell-b1", "# @B1\nA1 * 10")]
    return {
        "cells": [code(cell_id, source) for cell_id, source in cells],
        "metadata": {
            "kernelspec": {"display_name": "PySheets", "language": "python", "name": "pysheets"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.mark.pysheets_only
@pytest.mark.timeout(150)
def test_jupyterlab_updates_dependent_cell_in_place(tmp_path: Path) -> None:
    require_browser()
    screenshot = fresh_artifact("lab_reactive.png")
    with jupyter_lab(tmp_path, {NOTEBOOK_NAME: _notebook()}) as (url, server_log):
        result = run_script(SCRIPT, [url, NOTEBOOK_NAME, str(screenshot)], server_log, NODE_TIMEOUT)
        detail = f"browser script result: {result}"
        assert result["b1_before"] == "10", detail
        assert result["b1_before_dom"] == "10", detail
        assert result["b1_after"] == "50", detail
        assert result["b1_after_dom"] == "50", detail
        # B1 was not re-run by the frontend: same execution count, one output updated in place,
        # and the only execute_request after the edit was A1's.
        assert isinstance(result["b1_exec_count_before"], int), detail
        assert result["b1_exec_count_after"] == result["b1_exec_count_before"], detail
        assert result["a1_exec_count_after"] > result["a1_exec_count_before"], detail
        assert [o["output_type"] for o in result["b1_outputs_after"]] == ["display_data"], detail
        assert result["b1_dom_output_count_after"] == 1, detail
        assert result["execute_requests_after_edit"] == ["# @A1\n5"], detail
        assert {"display_id": "pysheets-B1", "text": "50"} in result["b1_updates"], detail
        assert result["a1_rerun_reply"]["status"] == "ok", detail
        assert screenshot.is_file() and screenshot.stat().st_size > 0, detail


@pytest.mark.pysheets_only
@pytest.mark.timeout(150)
def test_jupyterlab_cell_inserted_between_definer_and_reader(tmp_path: Path) -> None:
    """In JupyterLab with the grid extension: `ox = 1`, `oy = ox * 2` (2); a cell `ox = 5`
    inserted between them and run alone makes the reader show 10, as Run All would, although
    the new cell's address (A3) comes after the reader's (A2)."""
    require_browser()
    screenshot = fresh_artifact("lab_insert.png")
    notebook = _notebook([("cell-ox", "ox = 1"), ("cell-oy", "oy = ox * 2")])
    with jupyter_lab(tmp_path, {"insert.ipynb": notebook}) as (url, server_log):
        result = run_script(
            BROWSER_DIR / "lab_insert.mjs", [url, "insert.ipynb", str(screenshot)], server_log,
            NODE_TIMEOUT,
        )
        detail = f"browser script result: {result}"
        assert result["executes_after_insert"] == ["ox = 5"], detail
        assert result["order_before_execute"], detail
        order = result["order_sent"]
        assert order[0] == "cell-ox" and order[2] == "cell-oy", detail
        assert order[1] == result["inserted"]["id"], detail
        assert result["reader"]["outputs"][0]["text"] == "10", detail
        assert result["reply_metadata"]["pysheets"]["address"] == "A3", detail
        assert screenshot.is_file() and screenshot.stat().st_size > 0, detail
