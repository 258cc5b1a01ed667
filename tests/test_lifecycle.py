"""The kernel does not outlive the client that started it (jupyter_client's JPY_PARENT_PID)."""

import json
import os
import socket
import subprocess
import time

import pytest
from conftest import REPO, VENV

BINARY = REPO / "target" / "release" / "pysheets-kernel"


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.pysheets_only
def test_kernel_exits_when_its_parent_dies(tmp_path):
    shell, iopub, stdin, control, hb = free_ports(5)
    conn = tmp_path / "kernel.json"
    conn.write_text(json.dumps({
        "shell_port": shell, "iopub_port": iopub, "stdin_port": stdin,
        "control_port": control, "hb_port": hb, "ip": "127.0.0.1", "key": "k",
        "transport": "tcp", "signature_scheme": "hmac-sha256",
    }))
    parent = subprocess.Popen(["sleep", "60"])
    env = dict(os.environ, JPY_PARENT_PID=str(parent.pid),
               PYSHEETS_PYTHON=str(VENV / "bin" / "python"))
    kernel = subprocess.Popen([str(BINARY), "-f", str(conn)], env=env,
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
