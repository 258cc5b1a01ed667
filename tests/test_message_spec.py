"""Message-level behaviour of the kernel, driven through jupyter_client.

Written in the spirit of ipykernel's message-spec tests, against the Jupyter
messaging protocol 5.x and the PySheets contract.
"""

from __future__ import annotations

import os
import time
from queue import Empty
from typing import Any

import pytest
import zmq
from conftest import (
    REPLY_TIMEOUT,
    VENV,
    assert_ok,
    collect_iopub,
    execute,
    get_reply,
    outputs,
    stream_text,
)
from jupyter_kernel_test.msgspec_v5 import validate_message

# ---------------------------------------------------------------------------
# Execution order, counts, silent, store_history, stop_on_error
# ---------------------------------------------------------------------------


def test_execute_reply_shape(kc: Any) -> None:
    msg_id = kc.execute("a = 1")
    reply = get_reply(kc, msg_id)
    validate_message(reply, "execute_reply", msg_id)
    assert_ok(reply)
    assert isinstance(reply["content"]["execution_count"], int)
    iopub = collect_iopub(kc, msg_id)
    for msg in iopub:
        validate_message(msg, msg["msg_type"], msg_id)
    assert [m["msg_type"] for m in iopub] == ["status", "execute_input", "status"]
    ei = iopub[1]["content"]
    assert ei["code"] == "a = 1"
    assert ei["execution_count"] == reply["content"]["execution_count"]


def test_hundred_rapid_executes_in_order(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    ids = [kc.execute(f"x{n} = {n}") for n in range(100)]
    replies: list[dict[str, Any]] = []
    while len(replies) < len(ids):
        msg = kc.get_shell_msg(timeout=REPLY_TIMEOUT)
        if msg["msg_type"] == "kernel_info_reply":
            continue  # a late answer to wait_for_ready's polling
        replies.append(msg)
    assert [r["parent_header"]["msg_id"] for r in replies] == ids, "replies out of order"
    counts = [r["content"]["execution_count"] for r in replies]
    assert all(r["content"]["status"] == "ok" for r in replies)
    assert counts == list(range(counts[0], counts[0] + 100)), counts
    reply, iopub = execute(kc, "x99 + x0")
    assert_ok(reply)
    results = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert results and results[0]["content"]["data"]["text/plain"] == "99"


def test_silent_execute(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    r1, _ = execute(kc, "1")
    count = r1["content"]["execution_count"]
    reply, iopub = execute(kc, "display('shown'); 42", silent=True)
    assert_ok(reply)
    types = [m["msg_type"] for m in iopub]
    assert "execute_input" not in types, types
    assert "execute_result" not in types, types
    assert types[0] == "status" and types[-1] == "status"
    r3, iopub3 = execute(kc, "2")
    assert r3["content"]["execution_count"] == count + 1, "silent execute incremented the count"
    ei = [m for m in iopub3 if m["msg_type"] == "execute_input"]
    assert ei and ei[0]["content"]["execution_count"] == count + 1


@pytest.mark.pysheets_only
def test_silent_execute_publishes_nothing(fresh_kernel: Any) -> None:
    """The protocol says a silent execute broadcasts no output on iopub at all.

    ipykernel still publishes stream and display output of silent requests,
    so this is checked for PySheets only.
    """
    _, kc = fresh_kernel
    reply, iopub = execute(
        kc, "import sys\nprint('loud'); print('err', file=sys.stderr); display('d'); 42", silent=True
    )
    assert_ok(reply)
    assert outputs(iopub) == [], [m["msg_type"] for m in iopub]


def test_silent_execute_still_runs(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    reply, _ = execute(kc, "side_effect = 'done'", silent=True)
    assert_ok(reply)
    reply, iopub = execute(kc, "side_effect")
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["data"]["text/plain"] == "'done'"


def test_execution_count_only_with_store_history(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    r1, _ = execute(kc, "1")
    c1 = r1["content"]["execution_count"]
    r2, _ = execute(kc, "2", store_history=False)
    assert_ok(r2)
    r3, _ = execute(kc, "3", store_history=False)
    r4, _ = execute(kc, "4")
    assert r4["content"]["execution_count"] == c1 + 1
    r5, _ = execute(kc, "5")
    assert r5["content"]["execution_count"] == c1 + 2
    assert r3["content"]["status"] == "ok"


def test_first_execution_count_is_one(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    reply, iopub = execute(kc, "'first'")
    assert reply["content"]["execution_count"] == 1
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["execution_count"] == 1


def test_stop_on_error_aborts_queued(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    fail_id = kc.execute("import time\ntime.sleep(0.5)\nraise ValueError('first fails')")
    queued = [kc.execute(f"never_{n} = {n}") for n in range(3)]
    fail = get_reply(kc, fail_id)
    assert fail["content"]["status"] == "error"
    assert fail["content"]["ename"] == "ValueError"
    for msg_id in queued:
        reply = get_reply(kc, msg_id)
        assert reply["content"]["status"] == "aborted", reply["content"]
    # The kernel accepts work again once the queue is drained, and the aborted
    # cells never ran.
    time.sleep(0.2)
    reply, iopub = execute(kc, "'never_0' in globals()")
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["data"]["text/plain"] == "False"


def test_no_abort_without_stop_on_error(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    fail_id = kc.execute(
        "import time\ntime.sleep(0.5)\nraise ValueError('x')", stop_on_error=False
    )
    ok_id = kc.execute("ran_after = True")
    assert get_reply(kc, fail_id)["content"]["status"] == "error"
    assert_ok(get_reply(kc, ok_id))


def test_error_reply_and_output(kc: Any) -> None:
    reply, iopub = execute(kc, "1/0")
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "ZeroDivisionError"
    assert "division" in content["evalue"]
    assert isinstance(content["traceback"], list) and content["traceback"]
    errs = [m for m in iopub if m["msg_type"] == "error"]
    assert len(errs) == 1
    assert errs[0]["content"]["ename"] == "ZeroDivisionError"
    assert stream_text(iopub, "stderr") == "", "traceback also printed to stderr"


def test_syntax_error(kc: Any) -> None:
    reply, iopub = execute(kc, "def f(:\n    pass")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "SyntaxError"
    assert any(m["msg_type"] == "error" for m in iopub)


# ---------------------------------------------------------------------------
# user_expressions, comm_info, comms, history, kernel_info
# ---------------------------------------------------------------------------


def test_user_expressions(kc: Any) -> None:
    reply, _ = execute(kc, "ue = 5", user_expressions={"plus": "ue + 1", "bad": "1/0"})
    assert_ok(reply)
    ue = reply["content"]["user_expressions"]
    assert ue["plus"]["status"] == "ok"
    assert ue["plus"]["data"]["text/plain"] == "6"
    assert "metadata" in ue["plus"]
    assert ue["bad"]["status"] == "error"
    assert ue["bad"]["ename"] == "ZeroDivisionError"


def test_user_expressions_with_silent(kc: Any) -> None:
    reply, iopub = execute(kc, "", silent=True, user_expressions={"v": "'a' * 3"})
    assert_ok(reply)
    assert reply["content"]["user_expressions"]["v"]["data"]["text/plain"] == "'aaa'"
    assert outputs(iopub) == []


def test_comm_info(kc: Any) -> None:
    msg_id = kc.comm_info()
    reply = get_reply(kc, msg_id)
    validate_message(reply, "comm_info_reply", msg_id)
    assert reply["content"]["status"] == "ok"
    assert isinstance(reply["content"]["comms"], dict)


def test_comm_open_unknown_target_is_closed(kc: Any) -> None:
    comm_id = "test-comm-unknown-target"
    msg = kc.session.msg(
        "comm_open", {"comm_id": comm_id, "target_name": "no.such.target", "data": {}}
    )
    kc.shell_channel.send(msg)
    deadline = time.monotonic() + REPLY_TIMEOUT
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            m = kc.iopub_channel.get_msg(timeout=1)
        except Empty:
            continue
        if m["msg_type"] == "comm_close" and m["content"].get("comm_id") == comm_id:
            closed = True
    assert closed, "no comm_close for a comm_open with an unknown target"
    reply = get_reply(kc, kc.comm_info())
    assert comm_id not in reply["content"]["comms"]


def test_comm_round_trip(kc: Any) -> None:
    """A comm target registered from Python code receives comm_open and comm_msg."""
    code = (
        "received = []\n"
        "try:\n"
        "    import comm as _comm_pkg\n"
        "    _mgr = _comm_pkg.get_comm_manager()\n"
        "except Exception:\n"
        "    _mgr = get_ipython().kernel.comm_manager\n"
        "def _target(c, open_msg):\n"
        "    received.append(('open', open_msg['content']['data']))\n"
        "    @c.on_msg\n"
        "    def _on(msg):\n"
        "        received.append(('msg', msg['content']['data']))\n"
        "        c.send({'echo': msg['content']['data']})\n"
        "_mgr.register_target('test.echo', _target)\n"
    )
    reply, _ = execute(kc, code)
    assert_ok(reply)
    comm_id = "test-comm-echo"
    open_msg = kc.session.msg(
        "comm_open", {"comm_id": comm_id, "target_name": "test.echo", "data": {"hello": 1}}
    )
    kc.shell_channel.send(open_msg)
    collect_iopub(kc, open_msg["header"]["msg_id"])
    info = get_reply(kc, kc.comm_info(target_name="test.echo"))
    assert comm_id in info["content"]["comms"]
    data_msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"n": 7}})
    kc.shell_channel.send(data_msg)
    iopub = collect_iopub(kc, data_msg["header"]["msg_id"])
    echoes = [m for m in iopub if m["msg_type"] == "comm_msg"]
    assert echoes and echoes[0]["content"]["data"] == {"echo": {"n": 7}}
    close_msg = kc.session.msg("comm_close", {"comm_id": comm_id, "data": {}})
    kc.shell_channel.send(close_msg)
    collect_iopub(kc, close_msg["header"]["msg_id"])
    reply, iopub = execute(kc, "received")
    text = [m for m in iopub if m["msg_type"] == "execute_result"][0]["content"]["data"][
        "text/plain"
    ]
    assert "('open', {'hello': 1})" in text and "('msg', {'n': 7})" in text


def test_comm_binary_buffers_and_metadata_both_ways(kc: Any) -> None:
    """ipywidgets sends bytes and arrays as buffers, outside the JSON: they must arrive in the
    kernel's handler as memoryviews and go back out as frames, with the message metadata."""
    code = (
        "try:\n"
        "    import comm as _comm_pkg\n"
        "    _bmgr = _comm_pkg.get_comm_manager()\n"
        "except Exception:\n"
        "    _bmgr = get_ipython().kernel.comm_manager\n"
        "def _btarget(c, open_msg):\n"
        "    @c.on_msg\n"
        "    def _on(msg):\n"
        "        got = [bytes(b) for b in msg['buffers']]\n"
        "        c.send({'sizes': [len(b) for b in got]}, metadata={'kind': 'echo'},\n"
        "               buffers=[b[::-1] for b in got])\n"
        "_bmgr.register_target('test.buffers', _btarget)\n"
    )
    assert_ok(execute(kc, code)[0])
    comm_id = "test-comm-buffers"
    open_msg = kc.session.msg(
        "comm_open", {"comm_id": comm_id, "target_name": "test.buffers", "data": {}}
    )
    kc.shell_channel.send(open_msg)
    collect_iopub(kc, open_msg["header"]["msg_id"])
    payload = [b"\x00\x01\x02binary", bytes(range(256)) * 4]
    data_msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {}})
    kc.session.send(kc.shell_channel.socket, data_msg, buffers=payload)
    iopub = collect_iopub(kc, data_msg["header"]["msg_id"])
    echoes = [m for m in iopub if m["msg_type"] == "comm_msg"]
    assert echoes, f"no comm_msg back: {[m['msg_type'] for m in iopub]}"
    echo = echoes[0]
    assert echo["content"]["data"] == {"sizes": [len(b) for b in payload]}
    assert echo["metadata"].get("kind") == "echo"
    assert [bytes(b) for b in echo["buffers"]] == [b[::-1] for b in payload]
    close_msg = kc.session.msg("comm_close", {"comm_id": comm_id, "data": {}})
    kc.shell_channel.send(close_msg)
    collect_iopub(kc, close_msg["header"]["msg_id"])


def test_history_tail(fresh_kernel: Any) -> None:
    _, kc = fresh_kernel
    codes = ["h1 = 'one'", "h2 = 'two'", "h3 = h1 + h2"]
    for code in codes:
        assert_ok(execute(kc, code)[0])
    execute(kc, "not_in_history = 1", store_history=False)
    msg_id = kc.history(hist_access_type="tail", n=3, output=False, raw=True)
    reply = get_reply(kc, msg_id)
    validate_message(reply, "history_reply", msg_id)
    assert reply["content"]["status"] == "ok"
    hist = reply["content"]["history"]
    assert [h[2] for h in hist] == codes
    lines = [h[1] for h in hist]
    assert lines == sorted(lines) and len(set(lines)) == 3


def test_kernel_info_on_shell_and_control(kc: Any) -> None:
    msg_id = kc.kernel_info()
    reply = get_reply(kc, msg_id)
    validate_message(reply, "kernel_info_reply", msg_id)
    msg = kc.session.msg("kernel_info_request")
    kc.control_channel.send(msg)
    creply = get_reply(kc, msg["header"]["msg_id"], channel="control")
    validate_message(creply, "kernel_info_reply", msg["header"]["msg_id"])
    assert creply["content"]["language_info"]["name"] == "python"


def test_complete_cursor_counts_code_points(kc: Any) -> None:
    assert_ok(execute(kc, "ünïcode_variable_ab = 1")[0])
    code = "s = 'ü' + str(ünïcode_varia"
    msg_id = kc.complete(code, len(code))
    reply = get_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok"
    assert "ünïcode_variable_ab" in reply["content"]["matches"]
    assert reply["content"]["cursor_end"] == len(code)
    assert reply["content"]["cursor_start"] == len(code) - len("ünïcode_varia")


# ---------------------------------------------------------------------------
# stdin: input() and getpass
# ---------------------------------------------------------------------------


def test_input_over_stdin(kc: Any) -> None:
    msg_id = kc.execute("name = input('your name? ')\nprint('hello ' + name)", allow_stdin=True)
    req = kc.get_stdin_msg(timeout=REPLY_TIMEOUT)
    assert req["msg_type"] == "input_request"
    assert req["parent_header"]["msg_id"] == msg_id
    assert req["content"]["prompt"] == "your name? "
    assert req["content"]["password"] is False
    kc.input("Ada")
    reply = get_reply(kc, msg_id)
    assert_ok(reply)
    iopub = collect_iopub(kc, msg_id)
    assert "hello Ada" in stream_text(iopub)


def test_getpass_over_stdin(kc: Any) -> None:
    msg_id = kc.execute(
        "import getpass\nsecret = getpass.getpass('pw: ')\nprint(len(secret))", allow_stdin=True
    )
    req = kc.get_stdin_msg(timeout=REPLY_TIMEOUT)
    assert req["msg_type"] == "input_request"
    assert req["content"]["password"] is True
    kc.input("hunter2")
    assert_ok(get_reply(kc, msg_id))
    iopub = collect_iopub(kc, msg_id)
    text = stream_text(iopub)
    assert "7" in text and "hunter2" not in text


def test_input_without_stdin_fails(kc: Any) -> None:
    reply, _ = execute(kc, "input('x')", allow_stdin=False)
    assert reply["content"]["status"] == "error"
    # No input_request may be sent to a client that did not allow stdin.
    with pytest.raises(Empty):
        kc.get_stdin_msg(timeout=0.5)


# ---------------------------------------------------------------------------
# Interrupts
# ---------------------------------------------------------------------------

BUSY_LOOP = "while True:\n    pass"
SLEEP = "import time\ntime.sleep(30)"


def _wait_busy(kc: Any, msg_id: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.iopub_channel.get_msg(timeout=0.5)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return
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
# Busy/idle around every request
# ---------------------------------------------------------------------------


def _requests(kc: Any) -> list[tuple[str, str]]:
    """(label, msg_id) for one request of each kind on shell."""
    return [
        ("kernel_info", kc.kernel_info()),
        ("execute ok", kc.execute("busy_idle = 1")),
        ("execute SyntaxError", kc.execute("def (:", stop_on_error=False)),
        ("execute error", kc.execute("raise RuntimeError('x')", stop_on_error=False)),
        ("complete", kc.complete("pri", 3)),
        ("inspect", kc.inspect("print", 5)),
        ("is_complete", kc.is_complete("for i in x:")),
        ("history", kc.history(hist_access_type="tail", n=2)),
        ("comm_info", kc.comm_info()),
    ]


def test_busy_idle_around_every_request(kc: Any) -> None:
    for label, msg_id in _requests(kc):
        reply = get_reply(kc, msg_id)
        assert "status" in reply["content"], (label, reply["content"])
        if label.startswith("execute"):
            assert reply["content"]["status"] != "aborted", (label, reply["content"])
        iopub = collect_iopub(kc, msg_id)
        states = [m["content"]["execution_state"] for m in iopub if m["msg_type"] == "status"]
        assert iopub[0]["msg_type"] == "status", (label, [m["msg_type"] for m in iopub])
        assert states[0] == "busy" and states[-1] == "idle", (label, states)
        assert states.count("busy") == 1 and states.count("idle") == 1, (label, states)


def test_busy_idle_on_control(kc: Any) -> None:
    msg = kc.session.msg("kernel_info_request")
    kc.control_channel.send(msg)
    get_reply(kc, msg["header"]["msg_id"], channel="control")
    iopub = collect_iopub(kc, msg["header"]["msg_id"])
    assert [m["content"]["execution_state"] for m in iopub] == ["busy", "idle"]


def test_parent_header_is_request_header(kc: Any) -> None:
    msg = kc.session.msg("execute_request", {
        "code": "print('p')", "silent": False, "store_history": True,
        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
    })
    kc.shell_channel.send(msg)
    reply = get_reply(kc, msg["header"]["msg_id"])
    iopub = collect_iopub(kc, msg["header"]["msg_id"])
    sent = dict(msg["header"])
    for m in [reply, *iopub]:
        got = dict(m["parent_header"])
        for key in ("msg_id", "session", "username", "msg_type", "version"):
            assert got[key] == sent[key], (m["msg_type"], key)


# ---------------------------------------------------------------------------
# Output capture
# ---------------------------------------------------------------------------


def test_stdout_and_stderr_capture(kc: Any) -> None:
    code = (
        "import os, subprocess, sys\n"
        "print('py-stdout')\n"
        "print('py-stderr', file=sys.stderr)\n"
        "os.system('echo fd-level')\n"
        "os.system('echo fd-level-err 1>&2')\n"
        "subprocess.run(['echo', 'from-subprocess'], check=True)\n"
        "sys.stdout.write('no-newline')\n"
        "import time\n"
        "time.sleep(0.5)  # ipykernel forwards fd-level output from a watcher thread\n"
    )
    reply, iopub = execute(kc, code)
    assert_ok(reply)
    out = stream_text(iopub, "stdout")
    err = stream_text(iopub, "stderr")
    for text in ("py-stdout", "fd-level", "from-subprocess", "no-newline"):
        assert text in out, f"{text!r} missing from stdout: {out!r}"
    assert "py-stderr" in err and "fd-level-err" in err, err
    assert "py-stderr" not in out and "py-stdout" not in err


@pytest.mark.pysheets_only
def test_fd_level_output_arrives_before_idle(kc: Any) -> None:
    """Output written to fd 1/2 by C code or children belongs to its request.

    It must be published before that request's idle, with no grace period
    (ipykernel forwards it from a thread and may publish it after idle).
    """
    code = (
        "import os, subprocess\n"
        "os.system('echo fd-now')\n"
        "subprocess.run('echo sub-err >&2', shell=True)\n"
        "os.write(1, b'raw-write\\n')\n"
    )
    reply, iopub = execute(kc, code)
    assert_ok(reply)
    out = stream_text(iopub, "stdout")
    assert "fd-now" in out and "raw-write" in out, out
    assert "sub-err" in stream_text(iopub, "stderr")
    reply, iopub = execute(kc, "1")
    assert stream_text(iopub) == "", "fd-level output leaked into the next request"


def test_stdout_isatty_and_fileno(kc: Any) -> None:
    reply, iopub = execute(
        kc,
        "import sys\nprint(sys.stdout.isatty(), sys.stderr.isatty(), sys.stdout.encoding.lower())",
    )
    assert_ok(reply)
    assert stream_text(iopub).split() == ["False", "False", "utf-8"]


def test_large_output(kc: Any) -> None:
    reply, iopub = execute(kc, "for i in range(5000):\n    print(i)")
    assert_ok(reply)
    lines = stream_text(iopub).splitlines()
    assert lines == [str(i) for i in range(5000)]


def test_output_before_idle_ordering(kc: Any) -> None:
    msg_id = kc.execute("print('a')\nimport sys\nprint('b', file=sys.stderr)\n'c'")
    get_reply(kc, msg_id)
    iopub = collect_iopub(kc, msg_id)
    types = [m["msg_type"] for m in iopub]
    assert types[0] == "status" and types[1] == "execute_input" and types[-1] == "status"
    assert types.index("execute_result") < len(types) - 1


# ---------------------------------------------------------------------------
# Display protocol
# ---------------------------------------------------------------------------

_UPDATE_DISPLAY = (
    "try:\n"
    "    update_display\n"
    "except NameError:\n"
    "    from IPython.display import update_display\n"
)


def test_display_id_and_update(kc: Any) -> None:
    reply, iopub = execute(kc, "display('first', display_id='dd1');")
    assert_ok(reply)
    shown = [m for m in iopub if m["msg_type"] == "display_data"]
    assert len(shown) == 1
    assert len(outputs(iopub)) == 1, [m["msg_type"] for m in iopub]
    assert shown[0]["content"]["data"]["text/plain"] == "'first'"
    assert shown[0]["content"]["transient"]["display_id"] == "dd1"

    reply, iopub = execute(kc, _UPDATE_DISPLAY + "update_display('second', display_id='dd1')")
    assert_ok(reply)
    updates = [m for m in iopub if m["msg_type"] == "update_display_data"]
    assert len(updates) == 1, [m["msg_type"] for m in iopub]
    assert updates[0]["content"]["data"]["text/plain"] == "'second'"
    assert updates[0]["content"]["transient"]["display_id"] == "dd1"
    assert not [m for m in iopub if m["msg_type"] == "display_data"]


def test_display_update_flag(kc: Any) -> None:
    reply, iopub = execute(kc, "display('third', display_id='dd2', update=True);")
    assert_ok(reply)
    types = [m["msg_type"] for m in outputs(iopub)]
    assert types == ["update_display_data"], types


def test_display_mimebundle_priority(kc: Any) -> None:
    code = (
        "class Rich:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'text/markdown': '**md**', 'text/plain': 'plain'}\n"
        "    def _repr_html_(self):\n"
        "        return '<p>html</p>'\n"
        "display(Rich())\n"
        "Rich()\n"
    )
    reply, iopub = execute(kc, code)
    assert_ok(reply)
    shown = [m for m in iopub if m["msg_type"] in ("display_data", "execute_result")]
    assert len(shown) == 2
    for m in shown:
        assert m["content"]["data"]["text/markdown"] == "**md**"
        assert m["content"]["data"]["text/plain"] == "plain"


def test_png_repr_is_base64(kc: Any) -> None:
    code = (
        "class Png:\n"
        "    def _repr_png_(self):\n"
        "        return b'\\x89PNG\\r\\n\\x1a\\nfake'\n"
        "display(Png())\n"
    )
    reply, iopub = execute(kc, code)
    assert_ok(reply)
    shown = [m for m in iopub if m["msg_type"] == "display_data"]
    import base64

    assert base64.b64decode(shown[0]["content"]["data"]["image/png"]).startswith(b"\x89PNG")
    assert "text/plain" in shown[0]["content"]["data"]


@pytest.mark.timeout(120)
def test_matplotlib_png(kc: Any) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot([1, 3, 2])\n"
        "print('plotted')\n"
    )
    reply, iopub = execute(kc, code, timeout=90)
    assert_ok(reply)
    pngs = [
        m for m in iopub if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]
    ]
    assert len(pngs) == 1, [m["msg_type"] for m in iopub]
    import base64

    assert base64.b64decode(pngs[0]["content"]["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    # The figure was shown (and closed) at the end of that cell only.
    reply, iopub = execute(kc, "1")
    assert not [m for m in iopub if m["msg_type"] == "display_data"]


@pytest.mark.timeout(120)
def test_pandas_dataframe_html(kc: Any) -> None:
    reply, iopub = execute(
        kc, "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})", timeout=90
    )
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert len(res) == 1
    data = res[0]["content"]["data"]
    assert "<table" in data["text/html"]
    assert "text/plain" in data


def test_trailing_expression_only(kc: Any) -> None:
    reply, iopub = execute(kc, "v = 3\nv * 2\nv * 5")
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert [m["content"]["data"]["text/plain"] for m in res] == ["15"]
    reply, iopub = execute(kc, "v * 5;")
    assert not [m for m in iopub if m["msg_type"] == "execute_result"]
    reply, iopub = execute(kc, "None")
    assert not [m for m in iopub if m["msg_type"] == "execute_result"]


# ---------------------------------------------------------------------------
# Magics and shell escapes
# ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_pip_magic(kc: Any) -> None:
    reply, iopub = execute(kc, "%pip --version", timeout=90)
    assert_ok(reply)
    out = stream_text(iopub)
    assert "pip " in out, out
    assert str(VENV) in out or os.path.realpath(VENV) in out, f"pip is not the venv's: {out}"


def test_shell_escape(kc: Any) -> None:
    reply, iopub = execute(kc, "!echo hi")
    assert_ok(reply)
    assert "hi" in stream_text(iopub).split()


def test_shell_escape_indented(kc: Any) -> None:
    reply, iopub = execute(kc, "for _ in range(2):\n    !echo loop-hi\n")
    assert_ok(reply)
    assert stream_text(iopub).split().count("loop-hi") == 2


def test_unknown_magic_is_error(kc: Any) -> None:
    reply, _ = execute(kc, "%nosuch")
    assert reply["content"]["status"] == "error"
    assert "nosuch" in reply["content"]["evalue"] + "".join(reply["content"]["traceback"])


@pytest.mark.pysheets_only
def test_unknown_magic_lists_available(kc: Any) -> None:
    reply, iopub = execute(kc, "%nosuch")
    assert reply["content"]["status"] == "error"
    text = reply["content"]["evalue"] + "\n".join(reply["content"]["traceback"])
    for magic in ("%pip", "%matplotlib", "%config"):
        assert magic in text, f"{magic} not listed in: {text}"


def test_matplotlib_magic_in_indented_try(kc: Any) -> None:
    code = "try:\n    %matplotlib inline\nexcept Exception as e:\n    print('failed', e)\nprint('ok')"
    reply, iopub = execute(kc, code)
    assert_ok(reply)
    out = stream_text(iopub)
    assert "ok" in out and "failed" not in out


def test_vscode_startup_code(kc: Any) -> None:
    """VS Code sends these lines (joined, silent) to every Python kernel it starts."""
    code = "%config Completer.use_jedi = False\n%matplotlib inline\nimport sys as _vscode_sys"
    reply, iopub = execute(kc, code, silent=True)
    assert_ok(reply)
    assert outputs(iopub) == []


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


@pytest.mark.pysheets_only
@pytest.mark.timeout(120)
def test_figure_as_value_shows_once(kc: Any) -> None:
    """A cell whose value is the figure it drew shows one picture, not the figure twice
    (ipykernel shows it twice: the value and the inline backend's flush)."""
    code = (
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot([1, 2])\n"
        "fig\n"
    )
    reply, iopub = execute(kc, code, timeout=90)
    assert_ok(reply)
    images = [
        m for m in iopub
        if m["msg_type"] in ("display_data", "execute_result")
        and "image/png" in m["content"]["data"]
    ]
    assert len(images) == 1, [m["msg_type"] for m in iopub]
