"""The Run-All contract of issue 9, checked against a fresh ipykernel (tests/oracle.py).

For each notebook of tests/oracle_corpus.py: run its cells once in order in PySheets (with
cellIds, as JupyterLab does), edit one cell and execute only that cell; then every cell's value
and every top-level name must equal a fresh ipykernel's Run All of the edited notebook.

Insert cases (a new cell between others) need the notebook's order, which a kernel that only
sees execute requests cannot know: the oracle tells it as the grid extension does (a comm
`order` message), and they must pass too.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from oracle import (
    Kernels,
    case_names,
    check_case,
    compare,
    defined_names,
    edited_cells,
    format_failure,
    run_all,
    run_pysheets,
    same_value,
    value_kind,
)
from oracle_corpus import CORPUS, INSERT_CASES

pytestmark = pytest.mark.pysheets_only

BY_NAME = {c["name"]: c for c in CORPUS + INSERT_CASES}


@pytest.fixture(scope="module")
def kernels() -> Iterator[Kernels]:
    with Kernels() as k:
        yield k


def _check(kernels: Kernels, case: dict[str, Any]) -> None:
    diffs, _, _ = check_case(kernels, case)
    if diffs:
        pytest.fail(format_failure(case, diffs), pytrace=False)


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_edit_then_run_equals_run_all(kernels: Kernels, case: dict[str, Any]) -> None:
    _check(kernels, case)


# The kernel learns the notebook's order from the grid extension's `order` message, which
# the oracle sends as the extension does (see `oracle.run_pysheets`).
@pytest.mark.parametrize("case", INSERT_CASES, ids=[c["name"] for c in INSERT_CASES])
def test_insert_then_run_equals_run_all(kernels: Kernels, case: dict[str, Any]) -> None:
    _check(kernels, case)


# -- the oracle itself --------------------------------------------------------------------


def test_oracle_reports_a_wrong_expectation(kernels: Kernels) -> None:
    """PySheets after the edit compared with Run All of the ORIGINAL notebook must differ
    (the edited cell's own value changed: r = 2 became r = 3)."""
    case = BY_NAME["math_area"]
    names = case_names(case)
    wrong = run_all(kernels, case["cells"], names)
    got = run_pysheets(kernels, case, names)
    diffs = compare(wrong, got, edited_cells(case))
    assert any(d.startswith("cell 2 ") and "Run All 2 | PySheets 3" in d for d in diffs), diffs
    assert any(d.startswith("name r: Run All 2 | PySheets 3") for d in diffs), diffs


def test_oracle_is_deterministic_and_sees_edits(kernels: Kernels) -> None:
    """Two Run Alls of the same notebook agree (pandas, a seeded generator, a figure); Run All
    of the original and of the edited notebook do not."""
    for name in ("pandas_groupby_pipeline", "numpy_default_rng", "matplotlib_figure_value"):
        case = BY_NAME[name]
        names = case_names(case)
        first = run_all(kernels, edited_cells(case), names)
        assert compare(first, run_all(kernels, edited_cells(case), names)) == [], name
        assert compare(first, run_all(kernels, case["cells"], names)) != [], name


def test_value_rules() -> None:
    assert value_kind("x = 1\ny = x + 1") == ("name", "y")
    assert value_kind("t: int = 3") == ("name", "t")
    assert value_kind("a, b = 1, 2") == ("none", None)
    assert value_kind("x += 1") == ("none", None)
    assert value_kind("print(1)") == ("expr", None)
    assert value_kind("out = 1; out.bit_length()") == ("expr", None)
    assert defined_names("import pandas as pd\nfor i in x:\n    y = i") == {"pd", "i", "y"}
    assert defined_names("def f():\n    global g\n    g = 1\n[v for v in w]") == {"f", "g"}
    assert defined_names("try:\n    pass\nexcept E as e:\n    m = 1") == {"e", "m"}
    assert same_value("!error NameError", "!upstream-error")
    assert not same_value("1", "!upstream-error")
    assert not same_value("!error NameError", "!error TypeError")
