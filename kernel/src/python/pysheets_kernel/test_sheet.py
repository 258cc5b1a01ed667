"""Unit tests of pysheets_kernel.sheet, loaded by path (the package only exists inside the kernel)."""

import importlib.util
import math
import pathlib
import sys

import pytest

_PATH = pathlib.Path(__file__).with_name("sheet.py")
_spec = importlib.util.spec_from_file_location("pysheets_sheet", _PATH)
sheet = importlib.util.module_from_spec(_spec)
sys.modules["pysheets_sheet"] = sheet
_spec.loader.exec_module(sheet)

analyze = sheet.analyze
Range = sheet.Range


def reads(code):
    return analyze(code)["reads_names"]


def defines(code):
    return analyze(code)["defines"]


# ------------------------------------------------------------------------------------------
# Module hygiene


def _imports(nodes):
    import ast

    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "").split(".")[0])
    return out


def test_module_imports_only_the_standard_library_at_import_time():
    import ast

    tree = ast.parse(_PATH.read_text())
    top = _imports(tree.body)
    assert top and all(name in sys.stdlib_module_names for name in top), top
    everywhere = _imports(ast.walk(tree))
    assert "pysheets_kernel" not in everywhere
    # pandas only lazily, inside Range.to_frame
    assert "pandas" in everywhere and "pandas" not in top


# ------------------------------------------------------------------------------------------
# analyze: reads and defines


def test_simple_expression_reads_in_order():
    r = analyze("b + a * b")
    assert r["reads_names"] == ["b", "a"]
    assert r["defines"] == []
    assert r["error"] is None


def test_builtins_are_reads_too():
    # Another cell may define a builtin's name (`max = 10`): reads of builtins are reported
    # (issue 9); the Rust side only makes an edge when some cell defines the name.
    assert reads("print(sum(xs), len(ys), range(3))") == ["print", "sum", "xs", "len", "ys", "range"]


def test_assignment_defines_and_tuple_unpacking():
    assert defines("a = 1\nb, (c, *d) = 1, (2, 3, 4)\ne = f = 0") == ["a", "b", "c", "d", "e", "f"]


def test_defined_before_read_is_not_a_read():
    assert reads("x = 1\ny = x + 1") == []


def test_read_before_define_is_a_read():
    r = analyze("print(x)\nx = 1")
    assert r["reads_names"] == ["print", "x"]
    assert r["defines"] == ["x"]


def test_rebinding_lists_name_in_both():
    r = analyze("df = df.dropna()")
    assert r["reads_names"] == ["df"] and r["defines"] == ["df"]
    r = analyze("x += 1")
    assert r["reads_names"] == ["x"] and r["defines"] == ["x"]


def test_augmented_assignment_reads_target_before_value():
    assert reads("total += step") == ["total", "step"]


def test_annotated_assignment():
    r = analyze("x: MyType = make()")
    assert r["defines"] == ["x"]
    assert r["reads_names"] == ["make", "MyType"]
    # without a value nothing is bound
    assert defines("y: int") == []


def test_subscript_and_attribute_assignment_read_the_object():
    r = analyze("df['c'] = 1\nobj.attr = key")
    assert r["defines"] == []
    # the value is evaluated before the target's object
    assert r["reads_names"] == ["df", "key", "obj"]


def test_names_in_blocks_are_top_level():
    code = (
        "if cond:\n    a = 1\nelse:\n    a = 2\n"
        "for i in items:\n    b = i\n"
        "while more():\n    c = 3\n"
        "try:\n    d = 4\nexcept E:\n    d = 5\n"
        "with open(p) as fh:\n    e = fh.read()\n"
    )
    r = analyze(code)
    assert r["defines"] == ["a", "i", "b", "c", "d", "fh", "e"]
    assert r["reads_names"] == ["cond", "items", "more", "E", "open", "p"]


def test_branches_bind_only_when_every_path_does():
    # `x` might not be bound by the cell when the if is false: it also reads x.
    assert reads("if c:\n    x = 1\nprint(x)") == ["c", "print", "x"]
    # bound on both branches: no read
    assert reads("if c:\n    x = 1\nelse:\n    x = 2\nprint(x)") == ["c", "print"]
    # a loop may run zero times
    assert reads("for i in r:\n    last = i\nprint(last)") == ["r", "print", "last"]


def test_try_import_fallback_binds_on_every_path():
    code = "try:\n    import foo\nexcept ImportError:\n    foo = None\nfoo.bar()"
    r = analyze(code)
    assert r["reads_names"] == ["ImportError"]
    assert r["defines"] == ["foo"]


def test_except_as_name_is_only_a_maybe_define():
    # The handler deletes `err` when it ends: no value, but whatever `err` held is gone.
    r = analyze("try:\n    f()\nexcept Exception as err:\n    print(err)")
    assert r["defines"] == ["err"] and r["maybe_defines"] == ["err"]
    assert r["reads_names"] == ["f", "Exception", "print"]


def test_function_def_and_free_variables():
    r = analyze("def price(qty, *args, discount=default_discount, **kw):\n"
                "    local = qty * rate\n"
                "    return local - discount + helper(kw)\n")
    assert r["defines"] == ["price"]
    assert r["reads_names"] == ["default_discount", "rate", "helper"]


def test_function_reading_name_the_cell_defines_later_is_not_a_read():
    code = "def f():\n    return helper()\ndef helper():\n    return 1\nresult = f()"
    r = analyze(code)
    assert r["reads_names"] == []
    assert r["defines"] == ["f", "helper", "result"]


def test_function_body_bindings_are_not_defines():
    r = analyze("def f():\n    inner = 1\n    for j in range(3):\n        pass\n    return inner")
    assert r["defines"] == ["f"]
    assert r["reads_names"] == ["range"]


def test_function_local_is_local_everywhere_in_the_function():
    # `y` is assigned later in the function, so it is local (Python's static scoping)
    assert reads("def f():\n    print(y)\n    y = 1") == ["print"]


def test_global_declaration_in_function_reads_the_global():
    assert reads("def bump():\n    global counter\n    counter += 1") == ["counter"]


def test_nested_function_free_names():
    code = "def outer(a):\n    def inner(b):\n        return a + b + c\n    return inner"
    assert reads(code) == ["c"]


def test_decorators_and_class_bodies():
    code = (
        "@register(registry)\n"
        "class Model(Base, metaclass=Meta):\n"
        "    size = default_size\n"
        "    doubled = size * 2\n"
        "    def method(self):\n"
        "        return size + self.x\n"  # class names are not visible in methods
    )
    r = analyze(code)
    assert r["defines"] == ["Model"]
    assert r["reads_names"] == ["register", "registry", "Base", "Meta", "default_size", "size"]


def test_comprehension_targets_are_not_reads_nor_defines():
    r = analyze("squares = [x * x for x in values if x > limit]")
    assert r["defines"] == ["squares"]
    assert r["reads_names"] == ["values", "limit"]


def test_nested_comprehension_and_dict_comprehension():
    r = analyze("m = {k: v for k, vs in table.items() for v in vs if v not in skip}")
    assert r["reads_names"] == ["table", "skip"]
    assert r["defines"] == ["m"]


def test_comprehension_first_iterable_is_outer_scope():
    # `x` in the iterable is the outer x (a read), even though x is also the target
    assert reads("[x for x in x]") == ["x"]


def test_lambda_params_are_not_reads_free_names_are():
    r = analyze("f = lambda a, b=default: a + b + offset")
    assert r["defines"] == ["f"]
    assert r["reads_names"] == ["default", "offset"]


def test_walrus_at_top_level_and_in_comprehension():
    r = analyze("if (n := compute()) > 3:\n    pass\nprint(n)")
    assert r["defines"] == ["n"]
    assert r["reads_names"] == ["compute", "print"]
    # a walrus in a comprehension binds in the enclosing (module) scope, as in Python
    assert defines("[last := v for v in data]") == ["last"]


def test_imports():
    code = ("import os\nimport numpy as np\nimport xml.etree.ElementTree\n"
            "from math import pi, tau as TAU\nfrom pathlib import *\nfrom . import sibling\n")
    r = analyze(code)
    # a star import binds the module's `__all__` (issue 9)
    import pathlib as _pathlib

    assert r["defines"] == ["os", "np", "xml", "pi", "TAU", *_pathlib.__all__, "sibling"]
    assert r["star_imports"] == ["pathlib"]
    assert r["reads_names"] == []


def test_import_then_use_is_not_a_read():
    assert reads("import pandas as pd\npd.DataFrame(data)") == ["data"]


def test_strings_and_comments_do_not_count():
    assert analyze("s = 'x + A1'  # y and B2\n")["reads_names"] == []
    assert analyze("s = 'x + A1'  # y and B2\n")["reads_addresses"] == []


def test_del_reads_and_unbinds():
    r = analyze("del tmp\nprint(tmp2)")
    assert r["reads_names"] == ["tmp", "print", "tmp2"]
    assert r["defines"] == []


def test_match_statement_captures():
    code = "match cmd:\n    case [verb, *rest]:\n        go(verb, rest)\n    case {'k': val, **others}:\n        pass\n"
    r = analyze(code)
    assert r["reads_names"] == ["cmd", "go"]
    assert r["defines"] == ["verb", "rest", "val", "others"]


def test_kernel_helper_names_are_not_reads():
    r = analyze('__pysheets_magics__.line_magic("time")\ntotal = sum(__pysheets_range__("A1", "A3"))')
    assert r["reads_names"] == ["sum"]
    assert r["reads_addresses"] == []  # the corners are the Rust side's business


# ------------------------------------------------------------------------------------------
# analyze: addresses


def test_address_reads():
    r = analyze("A1 + B2 * A1 + XFD1048576 + foo")
    assert r["reads_addresses"] == ["A1", "B2", "XFD1048576"]
    assert r["reads_names"] == ["foo"]


def test_non_addresses_are_plain_names():
    # lower case, beyond XFD, row 0, row beyond the limit, too many letters
    r = analyze("a1 + XFE1 + A0 + A1048577 + ABCD1")
    assert r["reads_addresses"] == []
    assert r["reads_names"] == ["a1", "XFE1", "A0", "A1048577", "ABCD1"]


def test_addresses_read_in_function_body():
    assert analyze("def f():\n    return C3 * 2")["reads_addresses"] == ["C3"]


@pytest.mark.parametrize("code", [
    "A1 = 3",
    "A1 += 1",
    "for A1 in range(3):\n    pass",
    "def A1():\n    pass",
    "class A1:\n    pass",
    "import os as A1",
    "from os import path as A1",
    "with open(p) as A1:\n    pass",
    "(A1 := 5)",
    "x, A1 = 1, 2",
    "def f():\n    global A1\n    A1 = 2",
])
def test_assignment_to_address_is_reported(code):
    assert analyze(code)["assigns_address"] == "A1"


def test_first_assigned_address_wins_and_plain_cells_have_none():
    assert analyze("B2 = 1\nA1 = 2")["assigns_address"] == "B2"
    assert analyze("x = A1")["assigns_address"] is None
    # a function's own local called like an address does not touch the sheet
    assert analyze("def f():\n    C3 = 1\n    return C3")["assigns_address"] is None


# ------------------------------------------------------------------------------------------
# analyze: value kind and errors


@pytest.mark.parametrize("code,kind", [
    ("1 + 2", "expr"),
    ("x = 1\nx * 2", "expr"),
    ("x = 1", "assign"),
    ("x: int = 3", "assign"),
    ("x = y = 1", "none"),
    ("a, b = 1, 2", "none"),
    ("obj.attr = 1", "none"),
    ("x += 1", "none"),
    ("x: int", "none"),
    ("import os", "none"),
    ("def f():\n    return 1", "none"),
    ("", "none"),
    ("# just a comment", "none"),
])
def test_value_kind(code, kind):
    assert analyze(code)["value_kind"] == kind


def test_syntax_error():
    r = analyze("x = = 1\ny = z")
    assert r["error"].startswith("SyntaxError: ")
    assert "line 1" in r["error"]
    assert "\n" not in r["error"]
    assert r["reads_names"] == [] and r["defines"] == [] and r["reads_addresses"] == []
    assert r["assigns_address"] is None and r["value_kind"] == "none"


def test_indentation_error_is_reported_as_syntax_error():
    r = analyze("if x:\nprint(1)")
    assert r["error"].startswith("SyntaxError: ")


def test_result_has_exactly_the_documented_keys():
    assert set(analyze("x")) == {"reads_names", "reads_addresses", "defines",
                                 "assigns_address", "value_kind", "error",
                                 # issue 9
                                 "maybe_defines", "mutates", "deferred_reads", "deferred_writes",
                                 "dynamic", "star_imports", "address_defines",
                                 "mutating_methods", "function_writes", "reads_builtins",
                                 # issue 14
                                 "reads_model"}


# ------------------------------------------------------------------------------------------
# Addresses


@pytest.mark.parametrize("address,expected", [
    ("A1", (0, 0)), ("Z9", (25, 8)), ("AA1", (26, 0)), ("AB12", (27, 11)),
    ("XFD1048576", (16383, 1048575)),
])
def test_parse_and_format_address_round_trip(address, expected):
    assert sheet.parse_address(address) == expected
    assert sheet.format_address(*expected) == address


@pytest.mark.parametrize("bad,fragment", [
    ("a1", "not a cell address"), ("A0", "not a cell address"), ("1A", "not a cell address"),
    ("XFE1", "beyond the last column"), ("A1048577", "beyond the last row"), ("", "not a cell"),
])
def test_parse_address_rejects(bad, fragment):
    with pytest.raises(ValueError, match=fragment):
        sheet.parse_address(bad)


def test_format_address_rejects():
    with pytest.raises(ValueError, match="column"):
        sheet.format_address(16384, 0)
    with pytest.raises(ValueError, match="row"):
        sheet.format_address(0, -1)
    with pytest.raises(TypeError):
        sheet.format_address(True, 0)


# ------------------------------------------------------------------------------------------
# Range


def make_lookup(cells):
    return lambda address: cells.get(address)


CELLS = {"A1": 1, "B1": 2, "C1": 3, "A2": 4, "C2": 6, "A3": 7, "B3": 8, "C3": 9}


def test_range_iterates_non_empty_row_major():
    r = Range("A1", "C3", make_lookup(CELLS))
    assert list(r) == [1, 2, 3, 4, 6, 7, 8, 9]
    assert sum(r) == 40
    assert max(Range("B1", "C2", make_lookup(CELLS))) == 6


def test_range_values_and_addresses():
    r = Range("A1", "C2", make_lookup(CELLS))
    assert r.values == [[1, 2, 3], [4, None, 6]]
    assert r.addresses == ["A1", "B1", "C1", "A2", "B2", "C2"]
    assert r.shape == (2, 3)


def test_range_len_counts_empty_cells():
    r = Range("A1", "C2", make_lookup(CELLS))
    assert len(r) == 6
    assert len(list(r)) == 5


def test_range_indexing():
    r = Range("A1", "C3", make_lookup(CELLS))
    assert r[0] == 1 and r[3] == 4 and r[4] is None and r[-1] == 9
    assert r[1, 2] == 6 and r[1, 1] is None and r[-1, 0] == 7
    assert r[0:3] == [1, 2, 3]
    with pytest.raises(IndexError):
        r[9]
    with pytest.raises(IndexError):
        r[0, 3]
    with pytest.raises(TypeError):
        r["A1"]


def test_range_reversed_corners_are_normalized():
    r = Range("C3", "A1", make_lookup(CELLS))
    assert repr(r) == "Range(A1:C3)"
    assert r.start == "A1" and r.end == "C3"
    assert list(r)[0] == 1


def test_range_reads_current_values():
    cells = {"A1": 1}
    r = Range("A1", "A2", make_lookup(cells))
    assert list(r) == [1]
    cells["A2"] = 5
    assert list(r) == [1, 5]


def test_range_repr_and_single_cell():
    assert repr(Range("A1", "C4", make_lookup({}))) == "Range(A1:C4)"
    r = Range("B2", "B2", make_lookup({"B2": "x"}))
    assert len(r) == 1 and list(r) == ["x"]


def test_a_whole_sheet_range_walks_only_the_occupied_cells():
    cells = {"ZZ50000": 3, "A1": 1, "B1": None, "XFD1048576": 4, "C2": 2}
    seen = []

    def lookup(address):
        seen.append(address)
        return cells.get(address)

    r = Range("A1", "XFD1048576", lookup, cells.keys)
    # Row by row, the empty (None) cell skipped, as in a small range.
    assert list(r) == [1, 2, 3, 4]
    assert len(seen) == 5
    assert sum(r) == 10
    assert r.size == 16_384 * 1_048_576
    with pytest.raises(TypeError, match="use .size"):
        len(r)
    assert list(Range("B1", "ZZ50000", lookup, cells.keys)) == [2, 3]
    with pytest.raises(ValueError, match="A1:XFD1048576 has 17,179,869,184 cells"):
        r.values
    with pytest.raises(ValueError, match="iterate it"):
        r.addresses


def test_a_small_range_with_occupied_iterates_as_without():
    occupied = lambda: ["C3", "A1", "B1", "C1", "A2", "C2", "A3", "B3", "Z9"]
    r = Range("A1", "C3", make_lookup(CELLS), occupied)
    assert list(r) == list(Range("A1", "C3", make_lookup(CELLS)))
    # Fewer occupied cells than the rectangle holds: the occupied ones, in row-major order.
    few = Range("A1", "C3", make_lookup(CELLS), lambda: ["C3", "B1", "A2"])
    assert list(few) == [2, 4, 9]


def test_range_rejects_bad_corners():
    with pytest.raises(ValueError):
        Range("A1", "ZZZZ1", make_lookup({}))


def test_range_to_frame():
    pd = pytest.importorskip("pandas")
    r = Range("A1", "C2", make_lookup(CELLS))
    df = r.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (2, 3)
    assert df.iloc[1, 0] == 4
    assert pd.isna(df.iloc[1, 1])


def test_range_to_frame_with_header():
    pytest.importorskip("pandas")
    cells = {"A1": "name", "B1": "qty", "A2": "apple", "B2": 3, "A3": "pear", "B3": 5}
    df = Range("A1", "B3", make_lookup(cells)).to_frame(header=True)
    assert list(df.columns) == ["name", "qty"]
    assert df["qty"].tolist() == [3, 5]


def test_range_to_frame_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    r = Range("A1", "A2", make_lookup(CELLS))
    with pytest.raises(ImportError, match=r"Range.to_frame needs pandas: pip install pandas"):
        r.to_frame()


def test_range_repr_html_escapes():
    cells = {"A1": "<b>&</b>", "B1": 2}
    out = Range("A1", "B2", make_lookup(cells))._repr_html_()
    assert out.startswith("<table")
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in out
    assert "<b>" not in out
    assert "<th>A</th>" in out and "<th>B</th>" in out


# ------------------------------------------------------------------------------------------
# values_equal


@pytest.mark.parametrize("old,new", [
    (1, 1), ("a", "a"), (b"x", b"x"), (None, None), (True, True), (1.5, 1.5), (2j, 2j),
    ((1, ("a", None)), (1, ("a", None))), ((), ()),
    (float("nan"), float("nan")), ((1, float("nan")), (1, float("nan"))),
])
def test_values_equal_true(old, new):
    assert sheet.values_equal(old, new) is True


@pytest.mark.parametrize("old,new", [
    (1, True), (1, 1.0), (True, 1), (0, None), (1, 2), ("a", b"a"), ((1,), (1, 2)),
    ((1, 2), (1, 2.0)), (0.0, -0.0), ([1], [1]), ({"a": 1}, {"a": 1}), ((1, [2]), (1, [2])),
])
def test_values_equal_false(old, new):
    assert sheet.values_equal(old, new) is False


def test_values_equal_objects_and_subclasses_rerun():
    class MyInt(int):
        pass

    obj = object()
    assert sheet.values_equal(obj, obj) is False
    assert sheet.values_equal(MyInt(1), MyInt(1)) is False


def test_values_equal_dataframes_never_cut_off():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1]})
    assert sheet.values_equal(df, df) is False


# ------------------------------------------------------------------------------------------
# summarize


def test_summarize_pandas():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({c: range(120) for c in "abcd"})
    assert sheet.summarize(df) == "DataFrame 120×4"
    assert sheet.summarize(df["a"]) == "Series 120"


def test_summarize_numpy():
    np = pytest.importorskip("numpy")
    assert sheet.summarize(np.zeros((3, 4))) == "ndarray 3×4 float64"
    assert sheet.summarize(np.arange(5, dtype="int64")) == "ndarray 5 int64"


def test_summarize_figure():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    assert sheet.summarize(Figure()) == "Figure"


def test_summarize_strings():
    assert sheet.summarize("hello") == "hello"
    long = "x" * 100
    out = sheet.summarize(long)
    assert len(out) == 60 and out.endswith("…") and out.startswith("xxx")
    assert sheet.summarize("a\nb") == "a↵b"
    assert sheet.summarize("abcdef", max_len=4) == "abc…"


def test_summarize_repr_and_truncation():
    assert sheet.summarize(42) == "42"
    assert sheet.summarize([1, "a", None]) == "[1, 'a', None]"
    out = sheet.summarize(list(range(1000)), max_len=20)
    assert out == repr(list(range(1000)))[:19] + "…"
    assert len(out) == 20


@pytest.mark.parametrize("value", [
    (1,), (1, 2), {"a": [1, 2], "b": (3,)}, {1, 2}, frozenset({3}), set(), frozenset(), [], {},
    [[1, 2], {"k": "v" * 30}, (4,)] * 10, {"k" * 10: list(range(50))},
])
def test_summarize_containers_match_truncated_repr(value):
    for n in (5, 12, 60, 400):
        full = repr(value)
        expected = full if len(full) <= n else full[: n - 1] + "…"
        assert sheet.summarize(value, max_len=n) == expected


def test_summarize_huge_list_is_fast():
    import time

    big = list(range(5_000_000))
    t = time.perf_counter()
    assert sheet.summarize(big).startswith("[0, 1, 2")
    assert time.perf_counter() - t < 0.05


def test_summarize_recursive_list():
    a = [1]
    a.append(a)
    assert sheet.summarize(a) == repr(a) == "[1, [...]]"


def test_summarize_one_line_and_broken_repr():
    class Multi:
        def __repr__(self):
            return "line one\n  line two"

    class Broken:
        def __repr__(self):
            raise RuntimeError("boom")

    assert sheet.summarize(Multi()) == "line one line two"
    assert sheet.summarize(Broken()) == "<Broken object (repr failed: RuntimeError)>"


def test_summarize_range():
    assert sheet.summarize(Range("A1", "B2", make_lookup({}))) == "Range(A1:B2)"
