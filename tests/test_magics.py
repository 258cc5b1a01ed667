"""Magics (%pip, %matplotlib, %config, unknown ones) and shell escapes (`!cmd`)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from conftest import VENV, assert_ok, execute, outputs, stream_text

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
