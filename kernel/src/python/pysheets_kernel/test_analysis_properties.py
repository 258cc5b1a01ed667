"""Property tests (hypothesis) of the cell analysis (pysheets_kernel.sheet.analyze).

Hypothesis writes Python cells from a small grammar of statements and expressions with scopes
(functions, classes, comprehensions, lambdas, global/nonlocal, walrus, del, try/except names,
with, match, imports), keeps those `compile()` accepts, and checks two properties:

- the analysis never fails on code Python compiles (no exception, no `error`);
- module-level definitions and free reads agree with `symtable`'s, by the same rules as the
  table's check (`test_analysis.check_against_symtable`, which lists the deliberate differences:
  flow-sensitive module scope, `x += 1` and `del x` as reads, annotations in functions).

The profile is fixed (`derandomize`, a set number of examples) so that a run is repeatable and
takes well under a minute; `PYSHEETS_HYPOTHESIS_EXAMPLES` raises the count for a longer hunt.
"""

import importlib.util
import os
import pathlib
import sys

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in requirements-dev.txt")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _table():
    """The table's module (its `analyze` and symtable check), by path: pytest's importlib mode
    puts no test folder on sys.path."""
    name = "pysheets_test_analysis"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, pathlib.Path(__file__).parent / "test_analysis.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


table = _table()

EXAMPLES = int(os.environ.get("PYSHEETS_HYPOTHESIS_EXAMPLES", "400"))

settings.register_profile(
    "pysheets-analysis",
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# Few names, so that scopes collide: a name bound in a function and read at module level, a
# parameter shadowing a global, an address-shaped name (A1, R2) and a builtin (max).
NAMES = st.sampled_from(["a", "b", "x", "f", "df", "A1", "R2", "max", "lst"])


@st.composite
def expr(draw, depth=2):
    """An expression; `depth` bounds nesting."""
    name = draw(NAMES)
    if depth <= 0:
        return draw(st.one_of(st.just(name), st.sampled_from(["1", "'s'", "None"])))
    sub = lambda: draw(expr(depth - 1))  # noqa: E731
    kind = draw(st.integers(0, 13))
    return [
        lambda: name,
        lambda: f"{sub()} + {sub()}",
        lambda: f"{name}({sub()})",
        lambda: f"{name}.attr",
        lambda: f"{name}[{sub()}]",
        lambda: f"(lambda {draw(NAMES)}: {sub()})",
        lambda: f"[{sub()} for {draw(NAMES)} in {sub()}]",
        lambda: f"[{sub()} for {draw(NAMES)} in {sub()} if {sub()}]",
        lambda: f"{{{draw(NAMES)}: {sub()} for {draw(NAMES)} in {sub()}}}",
        lambda: f"({sub()} for {draw(NAMES)} in {sub()})",
        lambda: f"({draw(NAMES)} := {sub()})",
        lambda: f"f'{{{sub()}}}'",
        lambda: f"{sub()} if {sub()} else {sub()}",
        lambda: f"{name}.append({sub()})",
    ][kind]()


def indent(lines):
    return ["    " + line for line in lines]


@st.composite
def block(draw, depth, func):
    """One to three statements; `func` is how many function scopes surround them."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        out.extend(draw(stmt(depth, func)))
    return out


@st.composite
def stmt(draw, depth=2, func=0):
    """A statement as a list of lines."""
    e = lambda: draw(expr(1))  # noqa: E731
    n = lambda: draw(NAMES)  # noqa: E731
    simple = [
        lambda: [f"{n()} = {e()}"],
        lambda: [f"{n()} += {e()}"],
        lambda: [f"{n()}, *{n()} = {e()}"],
        lambda: [f"{n()}[{e()}] = {e()}"],
        lambda: [f"{n()}.attr = {e()}"],
        lambda: [e()],
        lambda: [f"del {n()}"],
        lambda: [f"import {n()}"],
        lambda: [f"from m import {n()} as {n()}"],
        lambda: [f"{n()}: {n()} = {e()}"],
    ]
    if func:
        simple += [lambda: [f"global {n()}", f"{n()} = {e()}"],
                   lambda: [f"return {e()}"]]
    if func > 1:
        simple += [lambda: [f"nonlocal {n()}", f"{n()} = {e()}"]]
    if depth <= 0:
        return draw(st.sampled_from(simple))()
    body = lambda f=func: draw(block(depth - 1, f))  # noqa: E731
    compound = [
        lambda: [f"if {e()}:", *indent(body()), "else:", *indent(body())],
        lambda: [f"for {n()} in {e()}:", *indent(body())],
        lambda: [f"while {e()}:", *indent(body())],
        lambda: ["try:", *indent(body()), f"except E as {n()}:", *indent(body())],
        lambda: [f"with {e()} as {n()}:", *indent(body())],
        lambda: [f"def {n()}({n()}, {n()}=1):", *indent(body(func + 1))],
        lambda: [f"class {n()}:", *indent(body())],
        lambda: [f"match {e()}:", f"    case [{n()}, *{n()}]:", *indent(indent(body())),
                 f"    case {{'k': {n()}}}:", *indent(indent(body())),
                 "    case _:", *indent(indent(body()))],
    ]
    return draw(st.sampled_from(simple + compound))()


def compiles(code):
    try:
        compile(code, "<cell>", "exec")
    except SyntaxError:
        return False
    return True


CELLS = st.builds(lambda lines: "\n".join(lines), block(2, 0)).filter(compiles)


@settings(settings.get_profile("pysheets-analysis"))
@given(CELLS)
def test_the_analysis_never_fails_on_code_python_compiles(code):
    got = table.analyze(code)
    assert got["error"] is None, (code, got["error"])


@settings(settings.get_profile("pysheets-analysis"))
@given(CELLS)
def test_definitions_and_free_reads_agree_with_symtable(code):
    table.check_against_symtable(code)
