"""Black-box transport fuzz: raw TCP peers that do not know the key send random and mutated
ZMTP traffic to each of the kernel's five ports; the kernel stays alive, bounded in memory,
and answers a real client afterwards.

The key protects messages, not the transport: any local process can connect to these ports.
Fixed seed, bounded duration (SECONDS_PER_PORT on each port, about 30 s in all). Run with
``PYSHEETS_KERNEL=python3`` to attack ipykernel the same way.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from typing import Any

import psutil
import pytest
import zmq
from conftest import IS_PYSHEETS, STARTUP_TIMEOUT, assert_ok, execute, get_reply

PORTS = ["shell", "control", "stdin", "hb", "iopub"]
# What a legitimate peer of each port is: the handshake fails without a matching type.
PEER_TYPE = {"shell": b"DEALER", "control": b"DEALER", "stdin": b"DEALER", "hb": b"REQ"}
PEER_TYPE["iopub"] = b"SUB"
SECONDS_PER_PORT = 6.0
SEED = 11
# Memory must not grow with the number of hostile connections: over the ~200,000 of the
# random test, PySheets grows by a few MB (a PUB IOPub socket kept ~11 KB per junk peer:
# over 1 GB). ipykernel grows by ~70 MB (~380 B per junk peer on shell), hence its own bound.
MAX_RSS_GROWTH = (32 << 20) if IS_PYSHEETS else (200 << 20)


def greeting(minor: int = 0) -> bytes:
    """ZMTP 3.x greeting: signature, version, NULL mechanism, as-server 0, filler."""
    return b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([3, minor]) + b"NULL".ljust(20, b"\x00") + (
        b"\x00" * 32
    )


def ready(socket_type: bytes) -> bytes:
    """The NULL mechanism's READY command, as a short command frame."""
    prop = b"\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    body = b"\x05READY" + prop
    return bytes([0x04, len(body)]) + body


def frame(body: bytes, more: bool = False) -> bytes:
    flags = 0x01 if more else 0x00
    if len(body) < 256:
        return bytes([flags, len(body)]) + body
    return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body


HUGE = 1 << 48


def huge_frame_header() -> bytes:
    """A long message frame announcing 2^48 bytes, followed by a few of them."""
    return b"\x02" + struct.pack(">Q", HUGE) + b"x" * 64


def huge_command_header() -> bytes:
    """A long command frame announcing 2^48 bytes, before any handshake."""
    return b"\x06" + struct.pack(">Q", HUGE) + b"x" * 64


def valid_session(port: str) -> bytes:
    """A whole well-formed (but unsigned) conversation for `port`: mutations of it reach deep."""
    head = greeting() + ready(PEER_TYPE[port])
    if port == "iopub":
        return head + frame(b"\x01kernel.")
    if port == "hb":
        return head + frame(b"", more=True) + frame(b"ping")
    dicts = [b'{"msg_id":"1","msg_type":"kernel_info_request"}', b"{}", b"{}", b"{}"]
    parts = [b"<IDS|MSG>", b"0" * 64, *dicts]
    return head + b"".join(frame(p, more=i < len(parts) - 1) for i, p in enumerate(parts))


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        at = rng.randrange(len(out) + 1)
        if op == 0 and out:  # flip bits
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert random bytes
            out[at:at] = rng.randbytes(rng.randint(1, 16))
        elif op == 2:  # delete a run
            del out[at : at + rng.randint(1, 16)]
        else:  # an interesting size byte: 0, 0xff, 0x7f, 0x80
            if out:
                out[min(at, len(out) - 1)] = rng.choice([0, 0xFF, 0x7F, 0x80, 0x01])
    return bytes(out)


def attack(rng: random.Random, port: str) -> bytes:
    """One connection's worth of hostile bytes."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randint(1, 512))
    if kind == 1:
        return greeting(rng.randrange(2)) + rng.randbytes(rng.randint(1, 512))
    if kind == 2:
        return greeting() + ready(PEER_TYPE[port]) + rng.randbytes(rng.randint(1, 512))
    if kind == 3:
        return mutate(rng, valid_session(port))
    if kind == 4:
        return mutate(rng, greeting() + ready(PEER_TYPE[port])) + huge_frame_header()
    whole = valid_session(port)
    return whole[: rng.randrange(len(whole))]


def send_raw(address: tuple[str, int], data: bytes, wait_close: float = 0.0) -> bool:
    """Connects, sends `data`, half-closes; True if the kernel closed the connection within
    `wait_close` seconds (refused what it got), False otherwise."""
    with socket.create_connection(address, timeout=2) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            return True  # the kernel already hung up
        s.settimeout(wait_close if wait_close > 0 else 0.001)
        deadline = time.monotonic() + wait_close
        try:
            while True:
                if not s.recv(65536):
                    return True
                if time.monotonic() > deadline:
                    return False
        except (TimeoutError, socket.timeout, BlockingIOError):
            return False
        except OSError:
            return True


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


@pytest.fixture
def target(shared_kernel: tuple[Any, Any]) -> tuple[Any, Any]:
    """The module's kernel, restarted if an earlier attack killed it: each case fails alone."""
    km, kc = shared_kernel
    if not km.is_alive():
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
    return km, kc


def addresses(km: Any) -> dict[str, tuple[str, int]]:
    info = km.get_connection_info()
    return {p: (info["ip"], info[f"{p}_port"]) for p in PORTS}


def heartbeat_echoes(km: Any) -> bool:
    info = km.get_connection_info()
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.linger = 0
    try:
        s.connect(f"tcp://{info['ip']}:{info['hb_port']}")
        s.send(b"are you there")
        return bool(s.poll(10_000)) and s.recv() == b"are you there"
    finally:
        s.close()


def assert_serves(km: Any, kc: Any) -> None:
    assert km.is_alive(), "the kernel process died"
    assert heartbeat_echoes(km), "heartbeat does not echo"
    msg_id = kc.kernel_info()
    assert get_reply(kc, msg_id)["content"]["status"] == "ok"
    on_control = kc.session.msg("kernel_info_request", {})
    kc.control_channel.send(on_control)
    reply = get_reply(kc, on_control["header"]["msg_id"], channel="control")
    assert reply["content"]["status"] == "ok"
    reply, iopub = execute(kc, "6 * 7")
    assert_ok(reply)
    assert [m["content"]["data"]["text/plain"] for m in iopub if m["msg_type"] == "execute_result"] == [
        "42"
    ]


@pytest.mark.parametrize("port", PORTS)
def test_huge_frame_header_drops_the_peer_not_the_kernel(target: Any, port: str) -> None:
    """A frame header announcing 2^48 bytes, after a valid handshake and instead of one."""
    km, kc = target
    address = addresses(km)[port]
    after_handshake = greeting() + ready(PEER_TYPE[port]) + huge_frame_header()
    assert send_raw(address, after_handshake, wait_close=5), "the peer was not disconnected"
    send_raw(address, greeting() + huge_command_header(), wait_close=5)
    time.sleep(0.2)
    assert km.is_alive(), f"a 2^48-byte frame header on {port} killed the kernel"
    assert_serves(km, kc)


@pytest.mark.parametrize("port", PORTS)
def test_random_bytes_after_a_valid_greeting(target: Any, port: str) -> None:
    """40 tries (the case that killed the kernel in 13 of 40 with the zeromq crate)."""
    km, kc = target
    address = addresses(km)[port]
    rng = random.Random(f"{SEED}-{port}")
    for i in range(40):
        send_raw(address, greeting() + rng.randbytes(rng.randint(1, 256)))
        assert km.is_alive(), f"random bytes after a greeting on {port} killed the kernel (try {i})"
    assert_serves(km, kc)


def test_random_and_mutated_traffic_on_every_port(target: Any) -> None:
    """Thousands of hostile connections per port for a bounded time, then a real client."""
    km, kc = target
    pid = km.provisioner.process.pid
    before = rss(pid)
    rng = random.Random(SEED)
    counts = {}
    for port, address in addresses(km).items():
        n = 0
        deadline = time.monotonic() + SECONDS_PER_PORT
        while time.monotonic() < deadline:
            send_raw(address, attack(rng, port))
            n += 1
            if n % 200 == 0:
                assert km.is_alive(), f"the kernel died after {n} connections to {port}"
        counts[port] = n
    assert km.is_alive()
    print(f"connections per port: {counts}; RSS {before >> 20} MB -> {rss(pid) >> 20} MB")
    assert all(n >= 1000 for n in counts.values()), counts
    time.sleep(0.5)  # let the kernel finish with connections still open on its side
    assert rss(pid) - before < MAX_RSS_GROWTH, (before, rss(pid))
    assert_serves(km, kc)
