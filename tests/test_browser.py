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

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, clean_env, jupyter_bin

BROWSER_DIR = REPO / "tests" / "browser"
SCRIPT = BROWSER_DIR / "lab_reactive.mjs"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path(os.environ.get("PYSHEETS_CHROMIUM", "/usr/bin/chromium"))
SERVER_STARTUP_TIMEOUT = 60
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url + "api/status", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(f"jupyter lab did not answer on {url} within {SERVER_STARTUP_TIMEOUT}s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _pids_mentioning(needle: str) -> list[int]:
    """Processes whose command line contains needle (the kernels this server started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


def _stop_server(proc: subprocess.Popen, url: str, runtime_dir: Path) -> None:
    # Ask the server to shut down with its kernels, then make sure: its process group, and any
    # kernel it started (they run in sessions of their own, with a connection file in runtime_dir).
    if proc.poll() is None:
        try:
            req = urllib.request.Request(url + "api/shutdown", method="POST", data=b"")
            urllib.request.urlopen(req, timeout=5).close()
        except (urllib.error.URLError, OSError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    for pid in _pids_mentioning(str(runtime_dir)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.pysheets_only
@pytest.mark.timeout(150)
def test_jupyterlab_updates_dependent_cell_in_place(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"{BROWSER_DIR}/node_modules is missing: run scripts/setup.sh (npm ci there)")

    root = tmp_path / "root"
    root.mkdir()
    (root / NOTEBOOK_NAME).write_text(json.dumps(_notebook(), indent=1))
    config_dir, runtime_dir = tmp_path / "config", tmp_path / "runtime"
    settings_dir, user_settings_dir, workspaces_dir = (
        tmp_path / "lab-settings",
        tmp_path / "lab-user-settings",
        tmp_path / "lab-workspaces",
    )
    for d in (config_dir, runtime_dir, settings_dir, user_settings_dir, workspaces_dir):
        d.mkdir()
    # No news toast (nor its question) over the notebook.
    (settings_dir / "overrides.json").write_text(
        json.dumps(
            {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
        )
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "lab_reactive.png"
    if screenshot.exists():
        screenshot.unlink()

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server_log = tmp_path / "jupyter-lab.log"
    env = clean_env(JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_RUNTIME_DIR=str(runtime_dir))
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
                f"--LabApp.app_settings_dir={settings_dir}",
                f"--LabApp.user_settings_dir={user_settings_dir}",
                f"--LabApp.workspaces_dir={workspaces_dir}",
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
                ["node", str(SCRIPT), url, NOTEBOOK_NAME, str(screenshot)],
                cwd=BROWSER_DIR,
                env=clean_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=NODE_TIMEOUT,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"the browser script took over {NODE_TIMEOUT}s:\n{e.stderr}\n{_tail(server_log)}")
        detail = f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}\njupyter lab log:\n{_tail(server_log)}"
        assert res.returncode == 0, f"browser script failed ({res.returncode})\n{detail}"
        lines = res.stdout.strip().splitlines()
        assert lines, f"browser script printed nothing\n{detail}"
        result = json.loads(lines[-1])
        print(json.dumps(result, indent=1))  # shown with -s, or on failure

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
    finally:
        _stop_server(proc, url, runtime_dir)
