"""jupyter_kernel_test's conformance suite, filled in for a Python kernel."""

from __future__ import annotations

import json
import os
import sys
import unittest

import jupyter_kernel_test
import pytest
from conftest import IS_PYSHEETS, KERNEL_NAME, VENV, get_reply, kernel_spec, start_kernel, stop_kernel

# A display() helper that works in PySheets (builtin) and in IPython (builtin too).
_HTML_OBJ = (
    "class _Html:\n"
    "    def _repr_html_(self):\n"
    "        return '<b>bold</b>'\n"
    "    def __repr__(self):\n"
    "        return 'bold'\n"
)


class PySheetsKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"

    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "import collect", "matches": {"collections"}},
        {"text": "print(zi", "matches": {"zip"}},
    ]

    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2", "for i in range(3):"]
    invalid_code_samples = ["import = 7q", "1 +* 2", ")"]

    # `obj?` answers with a "page" payload (IPython's help syntax).
    code_page_something = "zip?"

    code_generate_error = "raise ValueError('boom')"

    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "6*7", "result": "42"},
        {"code": "[n*n for n in range(4)]", "result": "[0, 1, 4, 9]"},
        {"code": _HTML_OBJ + "_Html()", "mime": "text/html", "result": "<b>bold</b>"},
    ]

    code_display_data = [
        {"code": _HTML_OBJ + "display(_Html())", "mime": "text/html"},
        {"code": "display(42)", "mime": "text/plain"},
        {
            "code": "from IPython.display import display, HTML\ndisplay(HTML('<i>it</i>'))",
            "mime": "text/html",
        },
    ]

    # Glob that matches "1+2+3" among the code_execute_result samples and nothing else.
    code_history_pattern = "1?2*"
    # IPython answers a "range" request for the current session with session
    # number 0 where "tail" gave the real one, which jupyter_kernel_test rejects:
    # "range" is checked for PySheets only.
    supported_history_operations = (
        ("tail", "range", "search") if IS_PYSHEETS else ("tail", "search")
    )

    code_inspect_sample = "zip"

    code_clear_output = (
        "try:\n"
        "    clear_output\n"
        "except NameError:\n"
        "    from IPython.display import clear_output\n"
        "print('before')\n"
        "clear_output()\n"
    )


@pytest.mark.pysheets_only
def test_installed_kernelspec() -> None:
    """The kernelspec the wheel installs into the venv as data files, as ipykernel's does."""
    spec = kernel_spec("pysheets")
    with open(os.path.join(spec.resource_dir, "kernel.json")) as f:
        data = json.load(f)
    assert os.path.realpath(spec.resource_dir) == os.path.realpath(
        VENV / "share" / "jupyter" / "kernels" / "pysheets"
    ), f"pysheets kernelspec found at {spec.resource_dir}, not in the venv"
    # "python" is replaced by jupyter_client with its own interpreter: the venv's.
    assert data["argv"] == ["python", "-m", "pysheets_kernel", "-f", "{connection_file}"], data
    assert data["display_name"] == "PySheets"
    assert data["language"] == "python"
    assert data.get("interrupt_mode") == "signal"
    assert data.get("env") == {"MIMALLOC_ARENA_EAGER_COMMIT": "0"}, data


@pytest.mark.pysheets_only
def test_kernel_info_identity() -> None:
    """kernel_info names the implementation and the language version of the venv."""
    km, kc = start_kernel()
    try:
        msg_id = kc.kernel_info()
        reply = get_reply(kc, msg_id)
        content = reply["content"]
        assert content["status"] == "ok"
        assert content["implementation"] != "ipython"
        li = content["language_info"]
        assert li["name"] == "python"
        assert li["version"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
        assert li["mimetype"] == "text/x-python"
        assert li["file_extension"] == ".py"
        assert li.get("pygments_lexer") in ("ipython3", "python3", "python"), li
        assert tuple(int(x) for x in content["protocol_version"].split(".")[:2]) >= (5, 4)
    finally:
        stop_kernel(km, kc)


if __name__ == "__main__":
    unittest.main()
