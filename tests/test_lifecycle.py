"""The kernel's life: Python from the venv, interrupts, shutdown and restart, control and
heartbeat while a cell runs, and not outliving the client that started it
(jupyter_client's JPY_PARENT_PID).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
import zmq
from conftest import (
    KERNEL_CMD,
    VENV,
    assert_ok,
    collect_iopub,
    connection_file,
    execute,
    get_reply,
    read_iopub,
    stream_text,
)
from jupyter_kernel_test.msgspec_v5 import validate_message

# ---------------------------------------------------------------------------
# Interrupts
# ---------------------------------------------------------------------------

BUSY_LOOP = "while True:\n    pass"
SLEEP = "import time\ntime.sleep(30)"


def _wait_busy(kc: Any, msg_id: str, timeout: float = 10) -> None:
    def started(msg: dict[str, Any]) -> bool:
        return msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input"

    if not read_iopub(kc, until=started, keep=started, timeout=timeout):
        raise AssertionError("cell did not start")


def _interrupt_and_check(km: Any, kc: Any, code: str) -> None:
    msg_id = kc.execute(code)
    _wait_busy(kc, msg_id)
    time.sleep(0.5)  # be inside the loop / the sleep
    started = time.monotonic()
    km.interrupt_kernel()
    reply = get_reply(kc, msg_id, timeout=5)
    elapsed = time.monotonic() - started
    assert reply["content"]["status"] == "error", reply["content"]
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 5
    iopub = collect_iopub(kc, msg_id, timeout=5)
    assert any(
        m["msg_type"] == "error" and m["content"]["ename"] == "KeyboardInterrupt" for m in iopub
    )
    # Still alive and answering, state intact.
    reply, iopub = execute(kc, "after_interrupt = 2 + 2\nafter_interrupt", timeout=10)
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["data"]["text/plain"] == "4"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code", [BUSY_LOOP, SLEEP], ids=["busy-loop", "sleep"])
def test_interrupt_signal_mode(fresh_kernel: Any, code: str) -> None:
    km, kc = fresh_kernel
    assert km.kernel_spec.interrupt_mode == "signal"
    _interrupt_and_check(km, kc, code)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code", [BUSY_LOOP, SLEEP], ids=["busy-loop", "sleep"])
def test_interrupt_message_mode(message_mode_kernel: Any, code: str) -> None:
    km, kc = message_mode_kernel
    assert km.kernel_spec.interrupt_mode == "message"
    _interrupt_and_check(km, kc, code)


@pytest.mark.timeout(60)
def test_interrupt_request_reply_on_control(message_mode_kernel: Any) -> None:
    km, kc = message_mode_kernel
    exec_id = kc.execute(SLEEP)
    _wait_busy(kc, exec_id)
    msg = kc.session.msg("interrupt_request", {})
    kc.control_channel.send(msg)
    reply = get_reply(kc, msg["header"]["msg_id"], channel="control", timeout=5)
    validate_message(reply, "interrupt_reply", msg["header"]["msg_id"])
    assert reply["content"]["status"] == "ok"
    assert get_reply(kc, exec_id, timeout=5)["content"]["ename"] == "KeyboardInterrupt"


@pytest.mark.timeout(60)
def test_idle_interrupt_is_harmless(fresh_kernel: Any) -> None:
    km, kc = fresh_kernel
    km.interrupt_kernel()
    time.sleep(0.5)
    reply, _ = execute(kc, "x = 1\nx", timeout=10)
    assert_ok(reply)


# ---------------------------------------------------------------------------
# Shutdown and restart
# ---------------------------------------------------------------------------


def _wait_dead(km: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not km.is_alive():
            return
        time.sleep(0.1)
    raise AssertionError(f"kernel process still alive {timeout} s after shutdown_request")


@pytest.mark.timeout(60)
def test_shutdown_request(fresh_kernel: Any) -> None:
    km, kc = fresh_kernel
    msg_id = kc.shutdown(restart=False)
    reply = get_reply(kc, msg_id, channel="control")
    validate_message(reply, "shutdown_reply", msg_id)
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["restart"] is False
    _wait_dead(km)


@pytest.mark.timeout(90)
def test_shutdown_restart_flag_and_restart(fresh_kernel: Any) -> None:
    km, kc = fresh_kernel
    assert_ok(execute(kc, "before_restart = 1")[0])
    msg_id = kc.shutdown(restart=True)
    reply = get_reply(kc, msg_id, channel="control")
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["restart"] is True
    _wait_dead(km)
    km.restart_kernel(now=True)
    kc.wait_for_ready(timeout=30)
    reply, _ = execute(kc, "before_restart")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "NameError"
    reply, iopub = execute(kc, "6 * 7")
    assert_ok(reply)
    assert reply["content"]["execution_count"] == 2


@pytest.mark.timeout(90)
def test_restart_kernel(fresh_kernel: Any) -> None:
    km, kc = fresh_kernel
    assert_ok(execute(kc, "state = 'old'")[0])
    old_pid = km.provisioner.pid if km.provisioner else None
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=30)
    if old_pid is not None:
        assert km.provisioner.pid != old_pid
        with pytest.raises(ProcessLookupError):
            os.kill(old_pid, 0)
    reply, iopub = execute(kc, "'state' in globals(), 1 + 1")
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["data"]["text/plain"] == "(False, 2)"


# ---------------------------------------------------------------------------
# Control and heartbeat while a cell runs
# ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_control_answers_during_long_cell(fresh_kernel: Any) -> None:
    km, kc = fresh_kernel
    exec_id = kc.execute("import time\ntime.sleep(5)")
    _wait_busy(kc, exec_id)
    msg = kc.session.msg("kernel_info_request")
    sent = time.monotonic()
    kc.control_channel.send(msg)
    reply = get_reply(kc, msg["header"]["msg_id"], channel="control", timeout=2)
    assert time.monotonic() - sent < 2
    assert reply["content"]["status"] == "ok"
    _assert_still_running(kc, exec_id)
    assert_ok(get_reply(kc, exec_id, timeout=20))


def _assert_still_running(kc: Any, exec_id: str) -> None:
    """The cell has not replied yet, so what was just checked happened during it."""
    while True:
        try:
            msg = kc.shell_channel.get_msg(timeout=0)
        except Empty:
            return
        # Anything else on shell (a late kernel_info_reply from wait_for_ready) is noise.
        assert msg["parent_header"].get("msg_id") != exec_id, "the cell had already finished"


@pytest.mark.timeout(60)
def test_heartbeat_during_long_cell(fresh_kernel: Any) -> None:
    km, kc = fresh_kernel
    exec_id = kc.execute("import time\ntime.sleep(5)")
    _wait_busy(kc, exec_id)
    info = km.get_connection_info()
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    try:
        sock.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
        for payload in (b"ping-1", b"\x00\xffbinary-beat", b"x" * 1000):
            sock.send(payload)
            assert sock.poll(2000), "no heartbeat echo within 2 s while a cell runs"
            assert sock.recv() == payload, "heartbeat must echo the request bytes"
    finally:
        sock.close()
    _assert_still_running(kc, exec_id)
    assert_ok(get_reply(kc, exec_id, timeout=20))


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


@pytest.mark.pysheets_only
def test_sys_prefix_is_venv(kc: Any) -> None:
    reply, iopub = execute(kc, "import sys\nprint(sys.prefix)\nprint(sys.executable)")
    assert_ok(reply)
    prefix, executable = stream_text(iopub).split("\n")[:2]
    assert os.path.realpath(prefix) == os.path.realpath(VENV)
    assert os.path.realpath(os.path.dirname(executable)) == os.path.realpath(VENV / "bin")


def test_venv_packages_importable(kc: Any) -> None:
    reply, iopub = execute(
        kc, "import pandas, matplotlib, nbformat\nprint(pandas.__file__)", timeout=60
    )
    assert_ok(reply)
    assert os.path.realpath(VENV) in os.path.realpath(stream_text(iopub).strip())


# ---------------------------------------------------------------------------
# Not outliving the client
# ---------------------------------------------------------------------------


@pytest.mark.pysheets_only
def test_kernel_exits_when_its_parent_dies(tmp_path: Path) -> None:
    conn = connection_file(tmp_path)
    parent = subprocess.Popen(["sleep", "60"])
    env = dict(os.environ, JPY_PARENT_PID=str(parent.pid))
    kernel = subprocess.Popen([*KERNEL_CMD, "-f", str(conn)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        assert kernel.poll() is None, "the kernel died while its parent was alive"
        parent.kill()
        parent.wait()
        kernel.wait(timeout=10)
        assert kernel.returncode == 0
        assert b"is gone" in kernel.stderr.read()
    finally:
        parent.kill()
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait()
