"""Comms: comm_info, comm_open / comm_msg / comm_close, binary buffers, driven through
jupyter_client. The kernel's own `pysheets` comm (the grid's) is tested with the sheet, in
test_sheet.py.
"""

from __future__ import annotations

from typing import Any

from conftest import (
    REPLY_TIMEOUT,
    assert_ok,
    collect_iopub,
    execute,
    get_reply,
    read_iopub,
)
from jupyter_kernel_test.msgspec_v5 import validate_message

# ---------------------------------------------------------------------------
# comm_info and comms
# ---------------------------------------------------------------------------


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

    def is_close(m: dict[str, Any]) -> bool:
        return m["msg_type"] == "comm_close" and m["content"].get("comm_id") == comm_id

    closed = bool(read_iopub(kc, until=is_close, keep=is_close, timeout=REPLY_TIMEOUT))
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
