"""What a cell shows: stdout and stderr (also of C code and subprocesses), execute_result,
display_data and display ids, rich reprs (mimebundle, PNG, matplotlib, pandas).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_ok, collect_iopub, execute, get_reply, outputs, stream_text

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
# A figure as a cell's value
# ---------------------------------------------------------------------------


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
