"""What a cell's value shows when its formatting goes wrong, and values other processes use.

A value whose `__getattr__`, `__repr__`, `__str__` or `_repr_*_` misbehaves shows once, with the
error of the part that failed (as IPython does: that formatter's traceback, and still the
text/plain); no JSON a value hands over (self-containing, very deep) can crash the kernel; a
slow `__repr__` runs once. Cell-defined functions and classes pickle, so multiprocessing and
concurrent.futures run them.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import IS_PYSHEETS, REPLY_TIMEOUT, assert_ok, collect_iopub, execute, get_reply

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def run_cell(kc: Any, code: str, cell_id: str | None = None) -> tuple[dict, list]:
    """Executes ``code``, as a notebook cell (with a cellId, as JupyterLab sends it) if given."""
    if cell_id is None:
        return execute(kc, code)
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": False}
    msg = kc.session.msg("execute_request", content, metadata={"cellId": cell_id})
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    reply = get_reply(kc, msg_id)
    return reply, collect_iopub(kc, msg_id)


def values(iopub: list[dict]) -> list[dict]:
    """The data of each shown value (execute_result, display_data, update_display_data)."""
    kinds = ("execute_result", "display_data", "update_display_data")
    return [m["content"]["data"] for m in iopub if m["msg_type"] in kinds]


def errors(iopub: list[dict]) -> list[dict]:
    return [m["content"] for m in iopub if m["msg_type"] == "error"]


def assert_alive(kc: Any) -> None:
    reply, iopub = execute(kc, "6 * 7")
    assert_ok(reply)
    assert values(iopub) == [{"text/plain": "42"}]


def cell_id() -> str:
    return uuid.uuid4().hex


MODES = [pytest.param(None, id="console"), pytest.param("cell", id="notebook-cell")]

# ---------------------------------------------------------------------------
# Values whose formatting fails
# ---------------------------------------------------------------------------

# (code, the text/plain shown, the ename of the formatter error shown, a word of its message)
BROKEN_VALUES = {
    "getattr-raises": (
        "class G:\n    def __getattr__(self, name):\n        raise RuntimeError('nope')\n"
        "    def __repr__(self):\n        return 'G!'\nG()",
        "G!", None, None),
    "system-exit-in-repr": (
        "class S:\n    def __repr__(self):\n        raise SystemExit(3)\nS()",
        "<S object (repr failed: SystemExit: 3)>", "SystemExit", "3"),
    "text-plain-not-a-string": (
        "class P:\n    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'text/plain': 42, 'text/html': '<b>P</b>'}\n"
        "    def __repr__(self):\n        return 'P()'\nP()",
        "P()", "ValueError", "text/plain data must be a str, not int"),
    "lone-surrogate": (
        "class U:\n    def __repr__(self):\n        return 'x\\ud800y'\nU()",
        "x\\ud800y", None, None),
    "html-formatter-raises": (
        "class H:\n    def _repr_html_(self):\n        raise ValueError('html broke')\n"
        "    def __repr__(self):\n        return 'H-plain'\nH()",
        "H-plain", "ValueError", "html broke"),
    "json-contains-itself": (
        "class J:\n    def _repr_json_(self):\n        d = {}\n        d['d'] = d\n        return d\n"
        "    def __repr__(self):\n        return 'J-plain'\nJ()",
        "J-plain", "ValueError", "contains itself"),
    "json-very-deep": (
        "class D:\n    def _repr_json_(self):\n        d = []\n        for _ in range(100000):\n"
        "            d = [d]\n        return d\n    def __repr__(self):\n        return 'D-plain'\n"
        "D()",
        "D-plain", "ValueError", "nested deeper"),
}


@pytest.mark.pysheets_only
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(BROKEN_VALUES))
def test_a_broken_value_shows_once_with_the_error_of_what_failed(
    kc: Any, case: str, mode: str | None
) -> None:
    code, plain, ename, words = BROKEN_VALUES[case]
    reply, iopub = run_cell(kc, code, cell_id() if mode else None)
    assert_ok(reply)
    shown = values(iopub)
    assert len(shown) == 1, [m["msg_type"] for m in iopub]
    assert shown[0]["text/plain"] == plain
    errs = errors(iopub)
    if ename is None:
        assert errs == []
    else:
        assert [e["ename"] for e in errs] == [ename], errs
        assert words in errs[0]["evalue"], errs[0]
    assert_alive(kc)


@pytest.mark.pysheets_only
def test_a_broken_value_re_run_in_place_still_shows_its_text(kc: Any) -> None:
    """A re-run (update_display_data for another request) with a self-containing JSON repr."""
    a1, b1 = cell_id(), cell_id()
    assert_ok(run_cell(kc, "# @A1\nn = 1", a1)[0])
    code = ("# @B1\nclass J:\n    def __init__(self, n):\n        self.n = n\n"
            "    def _repr_json_(self):\n        d = {'n': self.n}\n        d['d'] = d\n"
            "        return d\n    def __repr__(self):\n        return f'J({self.n})'\nJ(n)")
    reply, iopub = run_cell(kc, code, b1)
    assert_ok(reply)
    assert values(iopub)[0]["text/plain"] == "J(1)"
    reply, iopub = run_cell(kc, "# @A1\nn = 2", a1)
    assert_ok(reply)
    updated = [m["content"] for m in iopub if m["msg_type"] == "update_display_data"]
    assert [u["data"]["text/plain"] for u in updated
            if u["transient"]["display_id"] == "pysheets-B1"] == ["J(2)"], updated
    assert_alive(kc)


@pytest.mark.parametrize("mode", MODES)
def test_an_exception_whose_str_raises_is_shown_as_python_shows_it(
    kc: Any, mode: str | None
) -> None:
    if mode and not IS_PYSHEETS:
        pytest.skip("cellIds mean nothing to other kernels")
    code = "class E(Exception):\n    def __str__(self):\n        raise ValueError('bad str')\nraise E()"
    reply, iopub = run_cell(kc, code, cell_id() if mode else None)
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] != "KernelError"
    assert len(errors(iopub)) >= 1
    if IS_PYSHEETS:
        assert (content["ename"], content["evalue"]) == ("E", "<exception str() failed>")
        assert errors(iopub)[0]["traceback"][-1] == "E: <exception str() failed>"
    assert_alive(kc)


@pytest.mark.pysheets_only
@pytest.mark.parametrize("mode", MODES)
def test_an_error_message_with_a_lone_surrogate_is_shown(kc: Any, mode: str | None) -> None:
    reply, iopub = run_cell(kc, "raise ValueError('bad \\ud800 value')", cell_id() if mode else None)
    content = reply["content"]
    assert (content["ename"], content["evalue"]) == ("ValueError", "bad \\ud800 value")
    assert errors(iopub)[0]["traceback"][-1] == "ValueError: bad \\ud800 value"
    assert_alive(kc)


@pytest.mark.pysheets_only
@pytest.mark.parametrize("mode", MODES)
def test_an_int_too_long_to_print_shows_why(kc: Any, mode: str | None) -> None:
    reply, iopub = run_cell(kc, "big = 10 ** 5000\nbig", cell_id() if mode else None)
    assert_ok(reply)
    shown = values(iopub)
    assert len(shown) == 1 and "repr failed: ValueError: Exceeds the limit" in shown[0]["text/plain"]
    assert [e["ename"] for e in errors(iopub)] == ["ValueError"]
    assert_alive(kc)


@pytest.mark.parametrize("mode", MODES)
def test_keyboard_interrupt_in_repr_stays_an_interrupt(kc: Any, mode: str | None) -> None:
    if mode and not IS_PYSHEETS:
        pytest.skip("cellIds mean nothing to other kernels")
    code = "class K:\n    def __repr__(self):\n        raise KeyboardInterrupt\nK()"
    reply, _ = run_cell(kc, code, cell_id() if mode else None)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert_alive(kc)


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_repr_runs_once(kc: Any, mode: str | None) -> None:
    if mode and not IS_PYSHEETS:
        pytest.skip("cellIds mean nothing to other kernels")
    code = ("calls = []\nclass Slow:\n    def __repr__(self):\n        calls.append(1)\n"
            "        return 'Slow'\nSlow()")
    reply, iopub = run_cell(kc, code, cell_id() if mode else None)
    assert_ok(reply)
    assert [v["text/plain"] for v in values(iopub)] == ["Slow"]
    reply, iopub = execute(kc, "len(calls)")
    assert values(iopub) == [{"text/plain": "1"}]


@pytest.mark.pysheets_only
def test_display_of_json_that_cannot_be_sent_shows_the_rest(kc: Any) -> None:
    code = ("d = []\nfor _ in range(100000):\n    d = [d]\n"
            "display({'application/json': d, 'text/plain': 'still here'}, raw=True)")
    reply, iopub = execute(kc, code)
    assert_ok(reply)
    assert values(iopub) == [{"text/plain": "still here"}]
    assert "nested deeper" in errors(iopub)[0]["evalue"]
    assert_alive(kc)


@pytest.mark.pysheets_only
def test_display_of_a_list_too_deep_to_repr_shows_why(kc: Any) -> None:
    code = "deep = []\nfor _ in range(100000):\n    deep = [deep]\ndisplay(deep)\ndeep"
    reply, iopub = execute(kc, code)
    assert_ok(reply)
    shown = values(iopub)
    assert len(shown) == 2, [m["msg_type"] for m in iopub]
    for data in shown:
        assert data["text/plain"].startswith("<list object (repr failed: RecursionError"), data
    assert [e["ename"] for e in errors(iopub)] == ["RecursionError", "RecursionError"]
    assert_alive(kc)


@pytest.mark.pysheets_only
@pytest.mark.parametrize("build", [
    "d = {}; d['d'] = d",
    "d = []\nfor _ in range(200):\n    d = [d]",
    "d = []\nfor _ in range(100000):\n    d = [d]",
])
def test_a_comm_message_that_cannot_be_sent_is_an_error_in_the_cell(kc: Any, build: str) -> None:
    # In a function of its own: the names of one case's cell are none of the next one's.
    body = "".join(f"    {line}\n" for line in build.split("\n"))
    name = f"send_{uuid.uuid4().hex}"
    code = (f"def {name}():\n    import pysheets_kernel.comm as comm\n{body}"
            f"    comm.Comm(target_name='values-test').send({{'d': d}})\n{name}()")
    reply, _ = execute(kc, code)
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] in ("ValueError", "RecursionError"), content
    assert content["evalue"], content
    assert_alive(kc)


# ---------------------------------------------------------------------------
# Pickling and other processes
# ---------------------------------------------------------------------------


def test_cell_defined_classes_and_functions_pickle(kc: Any) -> None:
    reply, _ = execute(kc, "class Pt:\n    def __init__(self, x):\n        self.x = x\n"
                           "def double(v):\n    return 2 * v")
    assert_ok(reply)
    reply, iopub = execute(kc, "import pickle\np = pickle.loads(pickle.dumps(Pt(21)))\n"
                               "(type(p) is Pt, p.x, pickle.loads(pickle.dumps(double))(4))")
    assert_ok(reply)
    assert values(iopub) == [{"text/plain": "(True, 21, 8)"}]


@pytest.mark.timeout(120)
def test_a_cell_defined_function_runs_in_a_forked_pool_and_process_pool(kc: Any) -> None:
    reply, _ = execute(kc, "def square(v):\n    return v * v")
    assert_ok(reply)
    code = (
        "import multiprocessing, concurrent.futures\n"
        "ctx = multiprocessing.get_context('fork')\n"
        "with ctx.Pool(2) as pool:\n    a = pool.map(square, [1, 2, 3])\n"
        "with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:\n"
        "    b = list(ex.map(square, [4, 5]))\n"
        "(a, b)"
    )
    reply, iopub = execute(kc, code, timeout=90)
    assert_ok(reply)
    assert values(iopub) == [{"text/plain": "([1, 4, 9], [16, 25])"}]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawned_processes_start_from_the_environment_python(kc: Any, method: str) -> None:
    """spawn and forkserver start `sys.executable`: it must be a Python, not the kernel binary.
    (They re-import `__main__` from its file, so a function a cell defines cannot run there, in
    ipykernel either; a module's function can.)"""
    code = (
        "import sys, os, math, multiprocessing, concurrent.futures\n"
        f"ctx = multiprocessing.get_context({method!r})\n"
        "with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:\n"
        "    got = list(ex.map(math.factorial, [5, 6]))\n"
        "(got, os.path.basename(sys.executable).startswith('python'))"
    )
    reply, iopub = execute(kc, code, timeout=90)
    assert_ok(reply)
    assert values(iopub) == [{"text/plain": "([120, 720], True)"}]


# ---------------------------------------------------------------------------
# is_complete
# ---------------------------------------------------------------------------

IS_COMPLETE_INPUTS = [
    # open brackets and strings
    'print("hello', 'print("hello")', "x = (1,\n", "x = [1,\n 2", "x = {1:", "lambda: (",
    'x = "hello', 'x = f"{1"',
    # triple-quoted strings
    's = """abc', 's = """abc\ndef"""', "s = '''x\n",
    # backslash continuation
    "x = 1 + \\", "x = 1 + \\\n",
    # blocks
    "if x:", "if x:\n", "if x:  # why", "if x:\n    y = 1", "if x:\n    y = 1\n",
    "if x:\n    y = 1\n\n", "for i in range(3):\n\tprint(i)", "class A:\n    def f(self):",
    "try:\n    x\nexcept:", "if True:\n    x = (1,\n", "async def f():\n    await g()\n",
    # decorators
    "@dec", "@dec\ndef f():", "@dec\ndef f():\n    pass\n",
    # magics and shell lines
    "%matplotlib inline", "%%time\nx = 1", "%%time\nx = 1\n\n", "!ls", "x?",
    # blank lines and comments
    "", "\n", "   ", "x = 1\n\n", "# only a comment", "if x:\n# c\n",
    # syntax errors
    "1 +", "x = )", ")(", "print(1))", "def f(:", "if x:\n  y\n z", "x = 1\ny = ", "return 1",
]


def test_is_complete_answers_as_ipython(kc: Any) -> None:
    ipython = pytest.importorskip("IPython.core.inputtransformer2")
    manager = ipython.TransformerManager()
    wrong = []
    for code in IS_COMPLETE_INPUTS:
        status, indent = manager.check_complete(code)
        want = {"status": status}
        if status == "incomplete":
            want["indent"] = " " * (indent or 0)
        reply = get_reply(kc, kc.is_complete(code), timeout=REPLY_TIMEOUT)
        got = {k: v for k, v in reply["content"].items() if k in ("status", "indent")}
        if got != want:
            wrong.append((code, want, got))
    assert wrong == []


@pytest.mark.pysheets_only
def test_is_complete_says_invalid_for_code_it_cannot_run(kc: Any) -> None:
    """IPython strips a first line's indentation before running; this kernel runs code as it is
    (an IndentationError), so it does not call it complete."""
    reply = get_reply(kc, kc.is_complete("  x = 1"))
    assert reply["content"]["status"] == "invalid"
