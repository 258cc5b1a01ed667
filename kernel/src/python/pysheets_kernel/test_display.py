"""Unit tests of what a value shows (pysheets_kernel.display) and of is_complete (pysheets_kernel.introspect),
with the native module replaced by a recorder of what would be published."""

import importlib.util
import json
import pathlib
import sys
import types

import pytest

_DIR = pathlib.Path(__file__).parent


def _load():
    native = types.ModuleType("pysheets_kernel._native")
    native.sent = []
    native.publish = lambda msg_type, content: native.sent.append((msg_type, json.loads(content)))
    native.flush_streams = lambda: None
    # This folder as the package (not the installed copy), with the native module faked.
    spec = importlib.util.spec_from_file_location(
        "pysheets_kernel", _DIR / "__init__.py", submodule_search_locations=[str(_DIR)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["pysheets_kernel"] = package
    spec.loader.exec_module(package)
    sys.modules["pysheets_kernel._native"] = native
    package._native = native
    return native


_native = _load()
from pysheets_kernel import display, execution, introspect  # noqa: E402


@pytest.fixture
def sent():
    _native.sent.clear()
    yield _native.sent


def test_a_getattr_that_raises_does_not_stop_the_repr(sent):
    class Proxy:
        def __getattr__(self, name):
            raise RuntimeError("no attributes here")

        def __repr__(self):
            return "Proxy!"

    data, _ = display.format_bundle(Proxy())
    assert data == {"text/plain": "Proxy!"}
    assert sent == []


def test_an_object_answering_every_attribute_has_no_formatters(sent):
    class Anything:
        def __getattr__(self, name):
            return lambda *a, **k: "<b>made up</b>"

        def __repr__(self):
            return "Anything"

    assert display.format_bundle(Anything())[0] == {"text/plain": "Anything"}


def test_a_failing_formatter_shows_its_traceback_and_the_rest_still_shows(sent):
    class Half:
        def _repr_html_(self):
            raise ValueError("html broke")

        def _repr_markdown_(self):
            return "**md**"

        def __repr__(self):
            return "Half"

    data, _ = display.format_bundle(Half())
    assert data == {"text/markdown": "**md**", "text/plain": "Half"}
    assert [t for t, _ in sent] == ["error"]
    err = sent[0][1]
    assert err["ename"] == "ValueError" and err["evalue"] == "html broke"
    assert any("_repr_html_" in line for line in err["traceback"]), err["traceback"]


def test_system_exit_in_repr_is_the_value_failing_and_keyboard_interrupt_is_not(sent):
    class Exits:
        def __repr__(self):
            raise SystemExit(3)

    data, _ = display.format_bundle(Exits())
    assert data["text/plain"] == "<Exits object (repr failed: SystemExit: 3)>"
    assert sent[0][1]["ename"] == "SystemExit"

    class Interrupts:
        def __repr__(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        display.format_bundle(Interrupts())


def test_text_that_is_not_a_string_is_an_error_and_the_repr_shows(sent):
    class Number:
        def _repr_mimebundle_(self, include=None, exclude=None):
            return {"text/plain": 42, "text/html": "<i>42</i>"}

        def __repr__(self):
            return "Number()"

    data, _ = display.format_bundle(Number())
    assert data == {"text/html": "<i>42</i>", "text/plain": "Number()"}
    assert "text/plain data must be a str, not int" in sent[0][1]["evalue"]


def test_lone_surrogates_show_as_escapes():
    class Broken:
        def __repr__(self):
            return "x\ud800y"

    data, _ = display.format_bundle(Broken())
    assert data["text/plain"] == "x\\ud800y"
    data["text/plain"].encode("utf-8")  # what the wire needs
    assert display.clean_text("plain é") == "plain é"


@pytest.mark.parametrize("build, why", [
    ("d = {}; d['d'] = d", "it contains itself"),
    ("d = []\nfor _ in range(100000):\n    d = [d]", "nested deeper than 100 levels"),
    ("d = [float('nan')]", "nan"),
    ("d = {('a', 1): 2}", "key of type tuple"),
    ("d = ['\\ud800']", "lone surrogate"),
    ("d = {'n': 10 ** 5000}", "int too long"),
    ("d = []\nfor _ in range(60):\n    d = [d, d]", "more than 2,000,000 lists and dicts"),
])
def test_json_that_cannot_be_sent_is_refused_with_why(sent, build, why):
    ns = {}
    exec(build, ns)

    class J:
        def _repr_json_(self):
            return ns["d"]

        def __repr__(self):
            return "J"

    data, _ = display.format_bundle(J())
    assert data == {"text/plain": "J"}
    assert why in sent[0][1]["evalue"], sent[0][1]["evalue"]


def test_json_problem_counts_containers_not_items():
    assert display.json_problem([1] * 3_000_000) is None
    shared = []
    for _ in range(40):
        shared = [shared, shared]  # 40 deep, 2**40 lists as JSON
    assert "more than" in display.json_problem(shared)
    a = [1]
    assert display.json_problem({"x": [a, a], "y": (1, "s", None, True, 2.5)}) is None


def test_an_exception_whose_str_raises():
    class Bad(Exception):
        def __str__(self):
            raise ValueError("bad str")

    try:
        raise Bad()
    except Bad as exc:
        err = execution.format_exception(exc)
    assert err["ename"] == "Bad"
    assert err["evalue"] == "<exception str() failed>"
    assert err["traceback"][-1].endswith("Bad: <exception str() failed>")


def test_a_display_of_an_object_with_a_slow_repr_calls_it_once(sent):
    calls = []

    class Slow:
        def __repr__(self):
            calls.append(1)
            return "Slow"

    display.display(Slow())
    assert len(calls) == 1
    assert sent[-1][0] == "display_data"


# ---------------------------------------------------------------------------------------------
# is_complete: the same answers as IPython's TransformerManager.check_complete

IS_COMPLETE_CASES = [
    'print("hello', 'print("hello")', "x = (1,\n", "x = [1,\n 2", 's = """abc',
    's = """abc\ndef"""', "s = '''x\n", "x = 1 + \\", "x = 1 + \\\n", "if x:", "if x:\n",
    "if x:\n    y = 1", "if x:\n    y = 1\n", "if x:\n    y = 1\n\n", "@dec", "@dec\ndef f():",
    "@dec\ndef f():\n    pass\n", "%matplotlib inline", "%%time\nx = 1", "%%time\nx = 1\n\n",
    "!ls", "x?", "", "\n", "   ", "1 +", "x = )", ")(", "print(1))", "def f(:",
    "for i in range(3):\n\tprint(i)", "class A:\n    def f(self):", "if x:  # c", "if x:\n# c\n",
    'x = "hello', "# only a comment", "try:\n    x\nexcept:", "if x:\n  y\n z", "lambda: (",
    "x = {1:", "x = 1\ny = ", "async def f():\n    await g()\n", 'x = f"{1"', "return 1",
    "if True:\n    x = (1,\n",
]


@pytest.mark.parametrize("code", IS_COMPLETE_CASES)
def test_is_complete_answers_as_ipython(code):
    ipython = pytest.importorskip("IPython.core.inputtransformer2")
    status, indent = ipython.TransformerManager().check_complete(code)
    want = {"status": status}
    if status == "incomplete":
        want["indent"] = " " * (indent or 0)
    assert introspect.is_complete(code) == want
