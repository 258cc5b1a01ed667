"""A real JupyterLab server for the browser tests, and running their playwright-core scripts.

One `jupyter lab` on 127.0.0.1 with a free port, no token, a temporary root, config, runtime,
settings and workspaces (so nothing of the user's is read or written), no news toast, and
`window.jupyterapp` exposed in both JupyterLab and Notebook 7. It is stopped with its kernels.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import REPO, clean_env, jupyter_bin

BROWSER_DIR = REPO / "tests" / "browser"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path(os.environ.get("PYSHEETS_CHROMIUM", "/usr/bin/chromium"))
SERVER_STARTUP_TIMEOUT = 60


def require_browser() -> None:
    """Fails (not skips) when what scripts/setup.sh installs for browser tests is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"{BROWSER_DIR}/node_modules is missing: run scripts/setup.sh (npm ci there)")


def fresh_artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    if path.exists():
        path.unlink()
    return path


@contextmanager
def jupyter_lab(
    tmp_path: Path, notebooks: dict[str, dict], disabled_extensions: tuple[str, ...] = ()
) -> Iterator[tuple[str, Path]]:
    """Starts the server with `notebooks` (name → nbformat dict) in its root; yields its URL and
    log file."""
    root = tmp_path / "root"
    root.mkdir()
    for name, notebook in notebooks.items():
        (root / name).write_text(json.dumps(notebook, indent=1))
    dirs = {n: tmp_path / n for n in ("config", "runtime", "settings", "user-settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    # No news toast (nor its question) over the notebook.
    (dirs["settings"] / "overrides.json").write_text(
        json.dumps(
            {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
        )
    )
    if disabled_extensions:
        (dirs["config"] / "labconfig").mkdir()
        (dirs["config"] / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {name: True for name in disabled_extensions}})
        )
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
        yield url, server_log
    finally:
        _stop_server(proc, url, dirs["runtime"])


def run_script(script: Path, args: list[str], server_log: Path, timeout: float) -> dict[str, Any]:
    """Runs a browser script with node; returns the JSON object on its last stdout line."""
    try:
        res = subprocess.run(
            ["node", str(script), *args],
            cwd=BROWSER_DIR,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the browser script took over {timeout}s:\n{e.stderr}\n{tail(server_log)}")
    detail = f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}\nserver log:\n{tail(server_log)}"
    assert res.returncode == 0, f"browser script failed ({res.returncode})\n{detail}"
    lines = res.stdout.strip().splitlines()
    assert lines, f"browser script printed nothing\n{detail}"
    result = json.loads(lines[-1])
    print(json.dumps(result, indent=1))  # shown with -s, or on failure
    return result


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url + "api/status", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(f"jupyter lab did not answer on {url} within {SERVER_STARTUP_TIMEOUT}s:\n{tail(log)}")


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
