"""The grid view extension (labextension/) in a real JupyterLab and a real Notebook 7.

Drives tests/browser/grid_view.mjs (playwright-core on Debian's headless Chromium) against a
jupyter server this test starts on 127.0.0.1 and stops, with its kernels, at the end:

- ``lab`` / ``notebook``: a notebook on the pysheets kernel is run, the sheet view opened, its
  data model checked, A1 edited through the formula bar, D1 created through it, the notebook
  saved and reloaded, A1 edited again, saved, and the file read back (see the script's header);
- ``other-kernel``: the same view on an ipykernel notebook says there is no sheet, and nothing
  in the page throws.

Screenshots go to tests/artifacts/grid_<mode>.png.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, clean_env, jupyter_bin
from test_browser import _free_port, _stop_server, _tail, _wait_for_server

BROWSER_DIR = REPO / "tests" / "browser"
SCRIPT = BROWSER_DIR / "grid_view.mjs"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path(os.environ.get("PYSHEETS_CHROMIUM", "/usr/bin/chromium"))
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
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"{BROWSER_DIR}/node_modules is missing: run scripts/setup.sh (npm ci there)")
    if not _labextension_installed():
        pytest.fail("jupyterlab-pysheets is not installed in .venv: run scripts/setup.sh")

    root = tmp_path / "root"
    root.mkdir()
    (root / NOTEBOOK_NAME).write_text(json.dumps(_notebook(kernel, sources), indent=1))
    dirs = {n: tmp_path / n for n in ("config", "runtime", "settings", "user-settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    (dirs["settings"] / "overrides.json").write_text(
        json.dumps(
            {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
        )
    )
    # Only the extensions JupyterLab and Notebook ship, and ours: a third-party extension that
    # happens to be installed in .venv (jupyterlab-ipyflow throws on its own) is not under test.
    (dirs["config"] / "labconfig").mkdir()
    (dirs["config"] / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"jupyterlab-ipyflow": True}})
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"grid_{mode}.png"
    if screenshot.exists():
        screenshot.unlink()

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server_log = tmp_path / "jupyter.log"
    env = clean_env(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]))
    # One `jupyter lab` server serves both UIs: /lab and Notebook 7's /notebooks.
    with open(server_log, "wb") as log:
        proc = subprocess.Popen(
            [
                jupyter_bin("jupyter"),
                "lab",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                "--allow-root",
                "--no-browser",
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",
                "--JupyterNotebookApp.expose_app_in_browser=True",
                f"--LabApp.app_settings_dir={dirs['settings']}",
                f"--LabApp.user_settings_dir={dirs['user-settings']}",
                f"--LabApp.workspaces_dir={dirs['workspaces']}",
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_server(url, proc, server_log)
        try:
            res = subprocess.run(
                ["node", str(SCRIPT), mode, url, NOTEBOOK_NAME, str(screenshot)],
                cwd=BROWSER_DIR,
                env=clean_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=NODE_TIMEOUT,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"the browser script took over {NODE_TIMEOUT}s:\n{e.stderr}\n{_tail(server_log)}")
        detail = f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}\nserver log:\n{_tail(server_log)}"
        assert res.returncode == 0, f"browser script failed ({res.returncode})\n{detail}"
        lines = res.stdout.strip().splitlines()
        assert lines, f"browser script printed nothing\n{detail}"
        result = json.loads(lines[-1])
        print(json.dumps(result, indent=1))  # shown with -s, or on failure
        assert screenshot.is_file() and screenshot.stat().st_size > 0, detail
        return result
    finally:
        _stop_server(proc, url, dirs["runtime"])


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
