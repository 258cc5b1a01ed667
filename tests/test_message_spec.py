"""Message-level behaviour of the kernel, driven through jupyter_client.

Written in the spirit of ipykernel's message-spec tests, against the Jupyter
messaging protocol 5.x and the PySheets contract: replies, execution counts,
silent and stop_on_error, user_expressions, history, kernel_info, complete,
stdin, busy/idle and parent headers. Comms (test_comms.py), the kernel's life
(test_lifecycle.py), what cells show (test_display.py) and magics
(test_magics.py) have files of their own.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

import pytest
from conftest import (
    REPLY_TIMEOUT,
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
# user_expressions, history, kernel_info, complete
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
