"""Unit tests of the magic-line rewrite (pysheets_kernel.magics.transform)."""

import importlib.util
import pathlib

_PATH = pathlib.Path(__file__).with_name("magics.py")
_spec = importlib.util.spec_from_file_location("pysheets_magics", _PATH)
magics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(magics)
transform = magics.transform


def test_magic_and_shell_lines_become_calls():
    out = transform("%matplotlib inline\n!echo hi\nx = 1")
    assert out.splitlines() == [
        "__pysheets_magics__.line_magic('matplotlib inline')",
        "__pysheets_magics__.system('echo hi')",
        "x = 1",
    ]


def test_indented_magic_inside_a_block_is_rewritten():
    out = transform("try:\n    %config InlineBackend.figure_format = 'png'\nexcept Exception:\n    pass")
    assert "    __pysheets_magics__.line_magic(" in out


def test_lines_inside_a_triple_quoted_string_are_left_alone():
    code = 'sql = """\n%name is a column\n!important\nobj?\n"""\n%pwd'
    out = transform(code).splitlines()
    assert out[1:4] == ["%name is a column", "!important", "obj?"]
    assert out[5] == "__pysheets_magics__.line_magic('pwd')"


def test_continuation_lines_inside_brackets_are_left_alone():
    code = "x = (a\n%b)\ny = [1,\n!flag]"
    assert transform(code) == code


def test_help_line_and_plain_code():
    assert transform("len?") == "__pysheets_magics__.page_help('len', 0)"
    assert transform("len??") == "__pysheets_magics__.page_help('len', 1)"
    assert transform("a = b % c != d") == "a = b % c != d"


def test_code_that_does_not_tokenize_still_gets_its_magics():
    # An unterminated bracket: no token map, every line counts as before.
    out = transform("%time\nf(")
    assert out.startswith("__pysheets_magics__.line_magic('time')")
