"""Input cells: the cells `pysheets run --set`, what-if tables and goal seek may give another
value. An input cell's code, apart from comments (its label among them), is one Python literal
(`1200`, `"EUR"`, `[1, 2]`), or one name bound to one (`rate = 0.05`): a spreadsheet's constant.
A formula is not an input, even when it reads nothing: replacing its code would lose it.
"""

import ast

from pysheets_kernel.sheet import is_address


class NotAnInput(ValueError):
    """The cell's code is not a literal (or `name = literal`)."""


def check_address(text):
    """`text` as a cell address of the sheet (A1 … XFD1048576; "b3" is refused: addresses are
    upper case, as in the kernel)."""
    a = str(text).strip()
    if not is_address(a):
        raise ValueError(f"{text!r} is not a cell address (like B7)")
    return a


def literal(text):
    """The value of `text`, a Python literal (`1500`, `-2.5`, `'EUR'`, `[1, 2]`), and its source
    as it will be written into the cell; ValueError when it is not one."""
    src = str(text).strip()
    try:
        value = ast.literal_eval(src)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"{text!r} is not a Python literal (a number, a quoted string, a "
                         f"list, …)") from None
    return value, src


def _statement(code):
    """The one statement of an input cell, or None."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    if isinstance(node, ast.Expr):
        value = node.value
    elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name):
        value = node.value
    elif isinstance(node, ast.AnnAssign) and node.simple and node.value is not None:
        value = node.value
    else:
        return None
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return node


def is_input(code):
    return _statement(code) is not None


def with_value(code, source, address="the cell"):
    """`code` with its literal replaced by `source` (a literal's text), comments and label
    kept; NotAnInput when `code` is not an input cell's."""
    node = _statement(code)
    if node is None:
        body = "\n".join(l for l in code.splitlines() if l.strip() and not l.lstrip().startswith("#"))
        shown = body if len(body) <= 60 else body[:57] + "..."
        raise NotAnInput(f"{address} is not an input cell (its code is a formula, not one "
                         f"literal): {shown!r}")
    lines = code.splitlines()
    if isinstance(node, ast.Expr):
        statement = source
    elif isinstance(node, ast.Assign):
        statement = f"{node.targets[0].id} = {source}"
    else:
        statement = f"{ast.unparse(node.target)}: {ast.unparse(node.annotation)} = {source}"
    # Lines before and after the statement are comments (the label) or blank: kept.
    before = lines[:node.lineno - 1]
    after = lines[node.end_lineno:]
    return "\n".join([*before, statement, *after])
