"""Input cells (what `--set`, what-if and goal seek may change) and the analysis of cells that
evaluate the model."""

import pytest

from pysheets_kernel import inputs, scenarios, sheet


@pytest.mark.parametrize("code, literal, expected", [
    ("1200", "1500", "1500"),
    ("# @A1 rent\n1200", "1500", "# @A1 rent\n1500"),
    ("# @A1 rent\n\n1200\n# monthly\n", "-2.5", "# @A1 rent\n\n-2.5\n# monthly"),
    ("rate = 0.05", "0.07", "rate = 0.07"),
    ("# @B2\nrate: float = 0.05", "0.1", "# @B2\nrate: float = 0.1"),
    ("'EUR'", "'USD'", "'USD'"),
    ("[1, 2, (3, 4)]", "[5]", "[5]"),
    ("-3", "4", "4"),
])
def test_an_input_gets_its_new_literal_and_keeps_its_comments(code, literal, expected):
    assert inputs.is_input(code)
    assert inputs.with_value(code, literal) == expected


@pytest.mark.parametrize("code", [
    "A1 + 1", "sum(x)", "x = y", "a = b = 1", "x, y = 1, 2", "1; 2", "import os",
    "def f(): return 1", "", "# only a comment", "x = 1\ny = 2", "@@", "x += 1",
    "obj.attr = 3",
])
def test_a_formula_is_not_an_input(code):
    assert not inputs.is_input(code)
    with pytest.raises(inputs.NotAnInput, match="B7 is not an input cell"):
        inputs.with_value(code, "1", "B7")


@pytest.mark.parametrize("text, ok", [
    ("1500", True), (" -2.5 ", True), ("'x'", True), ("[1, 2]", True), ("None", True),
    ("foo", False), ("1 +", False), ("__import__('os')", False), ("", False),
])
def test_literals(text, ok):
    if ok:
        value, source = inputs.literal(text)
        assert source == text.strip()
    else:
        with pytest.raises(ValueError, match="not a Python literal"):
            inputs.literal(text)


def test_a_range_call_becomes_a_range_again():
    code = 'sum(__pysheets_range__("A1", "A4")) + (__pysheets_range__("B2", "C3")).values'
    assert scenarios._source(code) == "sum(A1:A4) + (B2:C3).values"


@pytest.mark.parametrize("code, reads", [
    ('sheet.what_if({"A1": [1, 2]}, outputs=["B3", "B4"])', ["A1", "B3", "B4"]),
    ('t = sheet.goal_seek("B3", target=0, by="A1", bounds=(0, 9))', ["B3", "A1"]),
    ("__pysheets_magics__.line_magic('whatif A1=1,2 B2=3 -> B3 B4')", ["A1", "B2", "B3", "B4"]),
    ("__pysheets_magics__.line_magic('goalseek B3=0 by A1 in 0:100')", ["B3", "A1"]),
])
def test_a_cell_evaluating_the_model_reads_what_it_names(code, reads):
    a = sheet.analyze(code)
    assert a["reads_model"] is True
    assert a["reads_addresses"] == reads


@pytest.mark.parametrize("code", [
    'what_if = 3\nwhat_if + 1', 'print("sheet.what_if")', "other.what_if('A1')",
    "__pysheets_magics__.line_magic('history A1')",
])
def test_other_cells_do_not_read_the_model(code):
    a = sheet.analyze(code)
    assert a["reads_model"] is False
    assert "A1" not in a["reads_addresses"]


class _Cell:
    def __init__(self, address, defines=(), bind=()):
        self.address, self.defines, self.bind = address, tuple(defines), tuple(bind)


def _order(*cells):
    return [a for a, _ in scenarios._resolution_order([(c.address, c) for c in cells])]


def _resolves_as_bound(order, cells):
    """In `order`, each reader's nearest definer above it is the one it is bound to."""
    by = {c.address: c for c in cells}
    for i, a in enumerate(order):
        for name, definer in by[a].bind:
            above = [b for b in order[:i] if name in by[b].defines]
            if not above or above[-1] != definer.address:
                return False
    return True


def test_a_copy_resolves_each_name_as_the_live_sheet_did():
    # Notebook order C1 (x = 1), A9 (x * 10), B5 (x = 2), A10 (x * 100); they first ran in
    # another order, which would give A9 the x of B5.
    c1, b5 = _Cell("C1", ["x"]), _Cell("B5", ["x"])
    a9, a10 = _Cell("A9", bind=[("x", c1)]), _Cell("A10", bind=[("x", b5)])
    cells = [a10, b5, c1, a9]
    assert not _resolves_as_bound([c.address for c in cells], cells)
    order = _order(*cells)
    assert sorted(order) == ["A10", "A9", "B5", "C1"]
    assert _resolves_as_bound(order, cells), order
    # Already consistent: the first-run order stays.
    assert _order(c1, a9, b5, a10) == ["C1", "A9", "B5", "A10"]


def test_without_a_consistent_order_the_first_run_order_stays():
    a, b = _Cell("A1", ["x"]), _Cell("B1", ["x"])
    # C1 reads A1's x, D1 reads B1's x and C1's y, E1 reads A1's x and D1's z: E1 comes
    # after D1, which comes after B1, so B1's x is nearer to E1 than A1's. No order fits.
    c = _Cell("C1", ["y"], bind=[("x", a)])
    d = _Cell("D1", ["z"], bind=[("x", b), ("y", c)])
    e = _Cell("E1", bind=[("x", a), ("z", d)])
    cells = [a, b, c, d, e]
    assert _order(*cells) == ["A1", "B1", "C1", "D1", "E1"]
