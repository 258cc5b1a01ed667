"""The kernel's command line (`python -m pysheets_kernel`, `pysheets`): flags, bad connection
files, install."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import KERNEL_CMD, VENV_PYTHON
from conftest import start_kernel, stop_kernel
from conftest import assert_ok, clean_env, connection_file, execute, kernel_spec
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

pysheets_only = pytest.mark.pysheets_only


def run_bin(*args: str, timeout: float = 15, **kw: Any) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [*KERNEL_CMD, *args], capture_output=True, text=True, timeout=timeout, **kw
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(KERNEL_CMD)} {' '.join(args)} still running after {timeout} s: {e}")


@pysheets_only
def test_version() -> None:
    res = run_bin("--version")
    assert res.returncode == 0, res.stderr
    assert re.search(r"\b\d+\.\d+\.\d+\b", res.stdout), res.stdout


@pysheets_only
def test_the_versions_agree() -> None:
    """`pysheets --version`, the installed distribution's version and kernel_info's
    implementation_version are one number."""
    pysheets = Path(VENV_PYTHON).parent / "pysheets"
    res = subprocess.run([str(pysheets), "--version"], capture_output=True, text=True, timeout=15)
    assert res.returncode == 0, res.stderr
    command = res.stdout.split()[-1]
    wheel = subprocess.run(
        [str(VENV_PYTHON), "-c", "import importlib.metadata as m; print(m.version('pysheets-kernel'))"],
        capture_output=True, text=True, timeout=15, check=True,
    ).stdout.strip()
    km, kc = start_kernel()
    try:
        kc.kernel_info()
        info = kc.get_shell_msg(timeout=20)["content"]
    finally:
        stop_kernel(km, kc)
    assert command == wheel == info["implementation_version"], (command, wheel, info)


@pysheets_only
def test_help() -> None:
    res = run_bin("--help")
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert "-f" in text and "install" in text, text


@pysheets_only
def test_no_arguments_is_usage_error() -> None:
    res = run_bin()
    assert res.returncode != 0
    assert res.stderr.strip(), "no message on stderr"


@pysheets_only
def test_missing_connection_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    res = run_bin("-f", str(missing))
    assert res.returncode != 0
    assert str(missing) in res.stderr or "nope.json" in res.stderr, res.stderr


@pysheets_only
@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"ip": "127.0.0.1"}', ""],
    ids=["bad-json", "not-object", "missing-fields", "empty"],
)
def test_malformed_connection_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    res = run_bin("-f", str(path))
    assert res.returncode != 0
    err = res.stderr.lower()
    assert "connection" in err or "broken.json" in err, res.stderr
    assert "panicked" not in err, "a malformed connection file must not panic"


@pysheets_only
def test_unsupported_signature_scheme(tmp_path: Path) -> None:
    path = connection_file(tmp_path, signature_scheme="hmac-md5")
    res = run_bin("-f", str(path))
    assert res.returncode != 0
    assert "hmac-md5" in res.stderr or "signature" in res.stderr.lower(), res.stderr
    assert "panicked" not in res.stderr


@pysheets_only
def test_port_in_use(tmp_path: Path) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        path = connection_file(tmp_path, shell_port=port)
        res = run_bin("-f", str(path))
        assert res.returncode != 0
        err = res.stderr.lower()
        assert str(port) in err or "in use" in err or "bind" in err, res.stderr
        assert "panicked" not in err
    finally:
        blocker.close()


def _read_spec(root: Path, name: str = "pysheets") -> dict[str, Any]:
    path = root / "share" / "jupyter" / "kernels" / name / "kernel.json"
    assert path.exists(), f"{path} not written; found {sorted(str(p) for p in root.rglob('*'))}"
    return json.loads(path.read_text())


@pysheets_only
def test_install_prefix(tmp_path: Path) -> None:
    res = run_bin("install", "--prefix", str(tmp_path))
    assert res.returncode == 0, res.stderr
    data = _read_spec(tmp_path)
    argv = data["argv"]
    # The interpreter as the user named it (the venv's bin/python), not the one it links to.
    assert argv[0] == str(VENV_PYTHON), argv
    assert argv[1:] == ["-m", "pysheets_kernel", "-f", "{connection_file}"]
    assert data["display_name"] == "PySheets"
    assert data["language"] == "python"
    assert data["interrupt_mode"] == "signal"


@pysheets_only
def test_install_prefix_is_idempotent(tmp_path: Path) -> None:
    assert run_bin("install", "--prefix", str(tmp_path)).returncode == 0
    res = run_bin("install", "--prefix", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert _read_spec(tmp_path)["display_name"] == "PySheets"


@pysheets_only
def test_install_name_and_interrupt_mode(tmp_path: Path) -> None:
    res = run_bin(
        "install", "--prefix", str(tmp_path), "--name", "sheets-msg", "--interrupt-mode", "message"
    )
    assert res.returncode == 0, res.stderr
    data = _read_spec(tmp_path, "sheets-msg")
    assert data["interrupt_mode"] == "message"
    assert not (tmp_path / "share" / "jupyter" / "kernels" / "pysheets").exists()


@pysheets_only
def test_install_user(tmp_path: Path) -> None:
    env = clean_env()
    env.pop("JUPYTER_DATA_DIR", None)
    env.pop("XDG_DATA_HOME", None)
    env["HOME"] = str(tmp_path)
    expected = subprocess.run(
        [sys.executable, "-c", "from jupyter_core.paths import jupyter_data_dir as d; print(d())"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    res = run_bin("install", "--user", env=env)
    assert res.returncode == 0, res.stderr
    path = Path(expected) / "kernels" / "pysheets" / "kernel.json"
    assert path.exists(), f"{path} not written"
    assert json.loads(path.read_text())["argv"][0] == str(VENV_PYTHON)


@pysheets_only
def test_install_rejects_bad_interrupt_mode(tmp_path: Path) -> None:
    res = run_bin("install", "--prefix", str(tmp_path), "--interrupt-mode", "telepathy")
    assert res.returncode != 0
    assert not (tmp_path / "share").exists()


# ---------------------------------------------------------------------------
# Running the kernel command of the kernelspec directly (also valid for ipykernel)
# ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_kernel_runs_from_connection_file(tmp_path: Path, transport: str) -> None:
    spec = kernel_spec()
    cf = tmp_path / "conn.json"
    ip = "127.0.0.1" if transport == "tcp" else str(tmp_path / "kernel-ipc")
    write_connection_file(str(cf), ip=ip, key=b"direct-key", transport=transport)
    argv = [a.replace("{connection_file}", str(cf)) for a in spec.argv]
    if argv[0] in ("python", "python3"):  # what jupyter_client does with such a spec
        argv[0] = sys.executable
    env = clean_env(**(spec.env or {}))
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kc = BlockingKernelClient()
    kc.load_connection_file(str(cf))
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        reply, iopub = execute(kc, "import os\nos.getpid()")
        assert_ok(reply)
        res = [m for m in iopub if m["msg_type"] == "execute_result"]
        assert res[0]["content"]["data"]["text/plain"] == str(proc.pid)
        kc.shutdown()
        assert proc.wait(timeout=15) == 0
    finally:
        kc.stop_channels()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


@pysheets_only
@pytest.mark.timeout(60)
def test_sigterm_exits(tmp_path: Path) -> None:
    cf = connection_file(tmp_path)
    proc = subprocess.Popen(
        [*KERNEL_CMD, "-f", str(cf)],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        kc = BlockingKernelClient()
        kc.load_connection_file(str(cf))
        kc.start_channels()
        kc.wait_for_ready(timeout=30)
        kc.stop_channels()
        time.sleep(0.2)
        proc.terminate()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
