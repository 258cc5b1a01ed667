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
