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


def _notebook() -> dict:
    def code(cell_id: str, source: str) -> dict:
        return {
            "cell_type": "code",
            "execution_count": None,
            "id": cell_id,
            "metadata": {},
            "outputs": [],
            "source": source,
        }

    return {
        "cells": [code("cell-a1", "# @A1\n1"), code("cell-b1", "# @B1\nA1 * 10")],
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
