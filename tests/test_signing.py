"""Message authentication and robustness against bad frames, over raw pyzmq."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any, Iterator

import pytest
import zmq
from conftest import IS_PYSHEETS, assert_ok, collect_iopub, execute, get_reply
from jupyter_client.session import Session

DELIM = b"<IDS|MSG>"


class RawPeer:
    """A DEALER socket on one kernel channel, with a Session of our choosing."""

    def __init__(self, info: dict[str, Any], channel: str, key: bytes) -> None:
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.identity = uuid.uuid4().hex.encode()
        self.sock.connect(f"{info['transport']}://{info['ip']}:{info[channel + '_port']}")
        self.session = Session(key=key, signature_scheme=info["signature_scheme"])
        self.good_key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        # Replies are signed with the connection key; read them with it.
        self.reader = Session(key=self.good_key, signature_scheme=info["signature_scheme"])

    def close(self) -> None:
        self.sock.close()

    def sign(self, frames: list[bytes]) -> bytes:
        h = hmac.new(self.good_key, digestmod=hashlib.sha256)
        for f in frames:
            h.update(f)
        return h.hexdigest().encode()

    def replies(self, wait: float) -> list[dict[str, Any]]:
        """Every message that arrives within ``wait`` seconds (not verified)."""
        got = []
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return got
            frames = self.sock.recv_multipart()
            idx = frames.index(DELIM)
            got.append(self.reader.deserialize(frames[idx + 1 :], content=True))

    def kernel_info_ok(self, timeout: float = 10) -> bool:
        """Send a well-signed kernel_info_request; True once its reply arrives."""
        msg = Session(key=self.good_key, signature_scheme="hmac-sha256").send(
            self.sock, "kernel_info_request", {}
        )
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return False
            frames = self.sock.recv_multipart()
            reply = self.reader.deserialize(frames[frames.index(DELIM) + 1 :], content=True)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply["header"]["msg_type"] == "kernel_info_reply"


@pytest.fixture
def info(shared_kernel: Any) -> dict[str, Any]:
    km, _ = shared_kernel
    assert km.is_alive()
    return km.get_connection_info()


@pytest.fixture
def shell(info: dict[str, Any]) -> Iterator[RawPeer]:
    peer = RawPeer(info, "shell", key=info["key"])
    yield peer
    peer.close()


def test_raw_peer_good_key_is_answered(shell: RawPeer) -> None:
    """Sanity check of the raw client: a well-signed request gets its reply."""
    assert shell.kernel_info_ok()


def test_bad_signature_is_ignored(info: dict[str, Any], shared_kernel: Any) -> None:
    _, kc = shared_kernel
    bad = RawPeer(info, "shell", key=b"not-the-right-key")
    try:
        msg = bad.session.send(
            bad.sock,
            "execute_request",
            {
                "code": "forged = True",
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        got = bad.replies(2.0)
        assert not got, f"kernel answered a badly signed request: {[m['msg_type'] for m in got]}"
        assert bad.kernel_info_ok(), "kernel stopped answering after a bad signature"
        assert msg["header"]["msg_id"]
    finally:
        bad.close()
    reply, iopub = execute(kc, "'forged' in globals()")
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["data"]["text/plain"] == "False", "forged code was executed"


def test_missing_signature_is_ignored(shell: RawPeer) -> None:
    unsigned = Session(key=b"", signature_scheme="hmac-sha256")
    msg = unsigned.msg("kernel_info_request", {})
    frames = unsigned.serialize(msg)
    assert frames[1] == b""
    shell.sock.send_multipart(frames)
    assert shell.replies(2.0) == []
    assert shell.kernel_info_ok()


def test_replayed_message_answered_once(shell: RawPeer) -> None:
    msg = shell.session.msg("kernel_info_request", {})
    frames = shell.session.serialize(msg)
    shell.sock.send_multipart(frames)
    shell.sock.send_multipart(frames)
    replies = [
        r
        for r in shell.replies(2.5)
        if r["parent_header"].get("msg_id") == msg["header"]["msg_id"]
    ]
    assert len(replies) == 1, f"replayed request answered {len(replies)} times"
    assert shell.kernel_info_ok()


def test_replayed_execute_runs_once(shell: RawPeer, shared_kernel: Any) -> None:
    _, kc = shared_kernel
    assert_ok(execute(kc, "replay_counter = 0")[0])
    msg = shell.session.msg(
        "execute_request",
        {
            "code": "replay_counter += 1",
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    )
    frames = shell.session.serialize(msg)
    shell.sock.send_multipart(frames)
    shell.sock.send_multipart(frames)
    shell.replies(2.0)
    reply, iopub = execute(kc, "replay_counter")
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["data"]["text/plain"] == "1"


@pytest.mark.parametrize(
    "case",
    [
        "bad-json-header",
        "header-not-object",
        "header-missing-fields",
        "bad-json-content",
        "too-few-frames",
        "no-delimiter",
        "empty-message",
        "non-utf8",
    ],
)
def test_malformed_frames_do_not_kill_kernel(shell: RawPeer, case: str) -> None:
    good_header = shell.session.msg_header("kernel_info_request")
    hdr = shell.session.pack(good_header)
    parts = {
        "bad-json-header": [b"{not json", b"{}", b"{}", b"{}"],
        "header-not-object": [b"[1, 2, 3]", b"{}", b"{}", b"{}"],
        "header-missing-fields": [b'{"msg_type": "kernel_info_request"}', b"{}", b"{}", b"{}"],
        "bad-json-content": [hdr, b"{}", b"{}", b"{oops"],
        "too-few-frames": [hdr, b"{}"],
        "non-utf8": [b"\xff\xfe\x00", b"{}", b"{}", b"{}"],
    }
    if case == "no-delimiter":
        frames = [b"garbage", b"more garbage"]
    elif case == "empty-message":
        frames = [b""]
    else:
        frames = [DELIM, shell.sign(parts[case]), *parts[case]]
    shell.sock.send_multipart(frames)
    got = [r for r in shell.replies(0.5) if r["header"]["msg_type"] != "status"]
    if case == "bad-json-content" and IS_PYSHEETS:
        # Signed, with a readable header: the request is known, so it is answered with an
        # error (see test_unreadable_request_is_answered_with_an_error).
        assert [(r["msg_type"], r["content"]["status"]) for r in got] == [
            ("kernel_info_reply", "error")
        ]
    else:
        assert not got or all(r["header"]["msg_type"] == "error" for r in got)
    assert shell.kernel_info_ok(), f"kernel stopped answering after {case}"


# Deeper than any JSON parser's default nesting limit (serde_json's is 128), within Python's.
DEEP = {"a": 1}
for _ in range(300):
    DEEP = {"nested": DEEP}


@pytest.mark.pysheets_only
@pytest.mark.parametrize("part", ["metadata", "content"])
@pytest.mark.parametrize("channel", ["shell", "control"])
def test_unreadable_request_is_answered_with_an_error(kc: Any, channel: str, part: str) -> None:
    """A signed request whose header names it but whose metadata or content cannot be parsed
    gets its reply with status "error" on its own channel, and busy/idle on IOPub: a client
    waiting for the reply (or for idle) does not wait forever."""
    msg_type = "execute_request" if channel == "shell" else "kernel_info_request"
    content: dict[str, Any] = {"code": "unreadable_ran = True", "silent": False}
    if channel == "control":
        content = {}
    metadata: dict[str, Any] = {}
    if part == "metadata":
        metadata = DEEP
    else:
        content["deep"] = DEEP
    msg = kc.session.msg(msg_type, content, metadata=metadata)
    getattr(kc, f"{channel}_channel").send(msg)
    msg_id = msg["header"]["msg_id"]
    reply = get_reply(kc, msg_id, channel=channel)
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "InvalidRequest"
    assert part in reply["content"]["evalue"], reply["content"]["evalue"]
    states = [
        m["content"]["execution_state"]
        for m in collect_iopub(kc, msg_id)
        if m["msg_type"] == "status"
    ]
    assert states == ["busy", "idle"]
    # Nothing of it ran, and the kernel serves the next request.
    reply, iopub = execute(kc, "'unreadable_ran' in globals()")
    assert_ok(reply)
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res[0]["content"]["data"]["text/plain"] == "False"


def test_unreadable_request_with_a_bad_signature_gets_no_reply(info: dict[str, Any]) -> None:
    """The error reply is for clients holding the key only: without it, silence."""
    bad = RawPeer(info, "shell", key=b"not-the-right-key")
    try:
        bad.session.send(bad.sock, "kernel_info_request", {}, metadata=DEEP)
        assert bad.replies(1.5) == []
        assert bad.kernel_info_ok()
    finally:
        bad.close()


def test_unknown_msg_type_does_not_kill_kernel(shell: RawPeer) -> None:
    shell.session.send(shell.sock, "no_such_request", {"x": 1})
    shell.replies(0.5)
    assert shell.kernel_info_ok()


def test_badly_signed_shutdown_on_control_is_ignored(fresh_kernel: Any) -> None:
    km, kc = fresh_kernel
    info = km.get_connection_info()
    bad = RawPeer(info, "control", key=b"wrong")
    try:
        bad.session.send(bad.sock, "shutdown_request", {"restart": False})
        assert bad.replies(2.0) == []
    finally:
        bad.close()
    assert km.is_alive(), "a badly signed shutdown_request stopped the kernel"
    reply, _ = execute(kc, "1")
    assert_ok(reply)
