"""Driving `jupyter console` against the kernel in a pseudo-terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect
import pytest
from conftest import KERNEL_NAME, clean_env, jupyter_bin, reap_kernels

PROMPT = re.compile(r"In \[(\d+)\]: ")


def spawn_console(tmp_path: Path) -> pexpect.spawn:
    env = clean_env(TERM="dumb", JUPYTER_RUNTIME_DIR=str(tmp_path))
    return pexpect.spawn(
        jupyter_bin("jupyter"),
        ["console", "--kernel", KERNEL_NAME, "--simple-prompt", "--no-confirm-exit"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )


def finish(child: pexpect.spawn, tmp_path: Path) -> None:
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus, child.before)
    # The console shut its kernel down: no connection file is left behind.
    assert not list(tmp_path.glob("kernel-*.json"))


@pytest.mark.timeout(120)
def test_console_print_and_exit(tmp_path: Path) -> None:
    child = spawn_console(tmp_path)
    try:
        child.expect(PROMPT)
        assert child.match.group(1) == "1"
        child.sendline("print(1 + 1)")
        child.expect(r"\r?\n2\r?\n")
        child.expect(PROMPT)
        assert child.match.group(1) == "2"
        child.sendline("6 * 7")
        child.expect(r"Out\[2\]: 42")
        child.expect(PROMPT)
        child.sendline("1/0")
        child.expect("ZeroDivisionError")
        child.expect(PROMPT)
        assert child.match.group(1) == "4"
        child.sendeof()  # Ctrl-D: the console's own way out
        finish(child, tmp_path)
    finally:
        child.close(force=True)
        reap_kernels(tmp_path)


@pytest.mark.timeout(120)
def test_console_exit_function(tmp_path: Path) -> None:
    """`exit()` typed at the console ends the session (ipykernel: an ask_exit payload)."""
    child = spawn_console(tmp_path)
    try:
        child.expect(PROMPT)
        child.sendline("exit()")
        finish(child, tmp_path)
    finally:
        child.close(force=True)
        reap_kernels(tmp_path)
