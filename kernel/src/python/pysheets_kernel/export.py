"""`pysheets export NB --to py`: the sheet as a standalone script that plain `python` runs.

The notebook is evaluated once by the kernel's engine (a `_native.Model`), which gives each
cell's address, what it reads and the code the kernel runs (ranges rewritten to calls). The
script then has:

- a prelude: the `Range` class the kernel gives `A1:C4` (its own source, copied from
  `pysheets_kernel.sheet`, so the script needs no PySheets), `_values` (address → value) and
  `__pysheets_range__`, what the rewritten ranges call;
- the cells in dependency order (a cell after every cell it reads, and each name resolving
  to the definition the sheet gave its reader; otherwise notebook order), each
  ending with its value stored in the variable of its address and in `_values`, as the kernel
  does: the last expression's value, or the value of a final `name = …`.

Magics with a plain meaning become it (`%matplotlib` nothing, `%cd`, `%pwd`, `%env K=V` their
`os` calls). Refused, each error naming the cell: a magic or shell command without one
(`%sheet`, `%pip`, `!ls`), a call that needs the kernel's sheet (`sheet.what_if`, …), a cell on
a circular reference, and a cell the kernel could not place or analyse.
"""

import ast
import inspect
import os
import re
import types

from pysheets_kernel import headless as _headless
from pysheets_kernel import magics as _magics
from pysheets_kernel import sheet as _sheet


class ExportError(Exception):
    pass


def _prelude():
    parts = ["import re", "",
             f"MAX_COLUMNS = {_sheet.MAX_COLUMNS}", f"MAX_ROWS = {_sheet.MAX_ROWS}",
             f"_ADDRESS = re.compile({_sheet._ADDRESS.pattern!r})",
             f"_SIMPLE_SCALARS = (int, str, bytes, bool, type(None))", ""]
    for obj in (_sheet._column_number, _sheet._column_letters, _sheet.parse_address,
                _sheet.format_address):
        parts += [inspect.getsource(obj), ""]
    parts += ["", "def summarize(value, max_len=60):",
              "    text = repr(value).replace('\\n', ' ')",
              "    return text if len(text) <= max_len else text[:max_len - 1] + '…'", "", ""]
    parts += [inspect.getsource(_sheet.Range), "",
              "_values = {}  # address -> the value of the cell there", "", "",
              "def __pysheets_range__(start, end):",
              "    return Range(start, end, _values.get, _values.keys)", ""]
    return "\n".join(parts)


def _offset(lines, lineno, col):
    """Character offset of (1-based line, UTF-8 byte column) in the text made of `lines`."""
    before = sum(len(line) for line in lines[:lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))


def _with_value(address, code):
    """`code` ending with its value stored under `address`."""
    store = f'{address} = _values["{address}"] ='
    tree = ast.parse(code)
    if not tree.body:
        return f"{code}\n{address} = None" if code.strip() else f"{address} = None"
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        lines = code.splitlines(keepends=True)
        start = _offset(lines, last.lineno, last.col_offset)
        end = _offset(lines, last.end_lineno, last.end_col_offset)
        return f"{code[:start]}{store} ({code[start:end]}){code[end:]}"
    from pysheets_kernel.cells import assigned_name

    name = assigned_name(last)
    tail = f"{store} {name}" if name else f"{address} = None"
    return f"{code.rstrip()}\n{tail}"


def _order(cells, index):
    """Dependency order: each cell after the cells it reads, every name resolving to the
    definition the sheet gave its reader (`headless.resolution_order`); ties in notebook
    order. ExportError on a cycle."""
    from pysheets_kernel import cells as _cells

    after = {a: set() for a in cells}  # a -> cells that must come after a
    for a, c in cells.items():
        for p in c.get("reads", ()):
            if p in cells and p != a:
                after[p].add(a)
    # A cell the runtime could not make an object for binds and defines nothing.
    none = types.SimpleNamespace(defines=(), bind=())
    items = [(a, _cells._cells.get(a, none)) for a in sorted(cells, key=index.get)]
    order = _headless.resolution_order(items, after)
    if len(order) < len(cells):
        stuck = sorted(a for a in cells if a not in order)
        raise ExportError(f"cells {', '.join(stuck)} are on a circular reference (or depend "
                          f"on one): they have no order to run in")
    return order


def _plain_magic(line):
    """The plain Python of a magic line, or None when it has no plain-Python meaning.
    `%matplotlib` does nothing (the script draws with matplotlib's own backend); `%cd`,
    `%pwd` and `%env` are the `os` calls the kernel makes for them (`%cd` prints the new
    directory there too)."""
    stripped = line.lstrip()
    indent = line[:len(line) - len(stripped)]
    if not stripped.startswith("%"):
        return None
    name, _, args = stripped[1:].partition(" ")
    args = args.strip()
    if name in ("matplotlib", "config"):
        return f"{indent}pass  # %{name} {args}".rstrip()
    if name == "cd":
        return (f"{indent}__import__('os').chdir(__import__('os').path.expanduser("
                f"{args or '~'!r})); print(__import__('os').getcwd())")
    if name == "pwd" and not args:
        return f"{indent}__import__('os').getcwd()"
    if name == "env" and "=" in args:
        key, value = (t.strip() for t in args.split("=", 1))
        return f"{indent}__import__('os').environ[{key!r}] = {value!r}"
    return None


def _plain(code, where):
    """`code` with its magic lines made plain Python; ExportError naming the cell for a
    magic or shell command that has no plain meaning, or a call that needs the kernel."""
    transformed = _magics.transform(code)
    if transformed != code:
        lines = code.split("\n")
        out = []
        for line, new in zip(lines, transformed.split("\n")):
            if line == new:
                out.append(line)
                continue
            plain = _plain_magic(line)
            if plain is None:
                raise ExportError(f"{where} uses {line.strip()!r}: that magic or shell "
                                  f"command has no plain-Python meaning")
            out.append(plain)
        code = "\n".join(out)
    needs = _KERNEL_CALL.search(code)
    if needs:
        raise ExportError(f"{where} calls {needs.group(0)!r}, which needs the kernel's "
                          f"sheet (the journal, what-if, goal seek)")
    return code


_KERNEL_CALL = re.compile(r"\bsheet\s*\.\s*(what_if|goal_seek|asof|history|explain|diff|"
                          r"verify)\b")


def script(code_cells, notebook):
    """The script's text; ExportError naming the cell when a cell cannot be exported."""
    code_cells = [(i, _plain(code, _headless.label_address(code) or f"cell {n + 1}"), cid, a)
                  for n, (i, code, cid, a) in enumerate(code_cells)]
    sheet = _headless.Sheet(code_cells, echo=False)
    sheet.run()
    index = {}
    for n, (kind, address, error) in enumerate(sheet.steps):
        if kind == "refused":
            raise ExportError(f"{address or 'a cell'} cannot be exported: {error}")
        if address and kind == "cell":
            index.setdefault(address, n)
    cells = {a: sheet.cell(a) for a in index}
    cells = {a: c for a, c in cells.items() if c is not None}
    from pysheets_kernel import cells as _cells

    order = _order(cells, index)
    empty = sorted({p for c in cells.values() for p in c.get("reads", ())
                    if p not in cells and _sheet.is_address(p)},
                   key=lambda a: _sheet.parse_address(a)[::-1])
    out = [f"# Exported by `pysheets export` from {os.path.basename(notebook)}: the sheet's",
           "# cells in dependency order. Each cell's value is in the variable named by its",
           "# address (A1, B3, ...) and in _values, which ranges (A1:A4) read.",
           "", _prelude(), ""]
    if empty:
        out += ["# Addresses the cells read where no cell is: empty, as in the sheet.",
                "".join(f"{a} = " for a in empty) + "None", ""]
    for a in order:
        c = cells[a]
        py = _cells._cells.get(a)
        code = py.source if py is not None and py.source is not None else c["code"]
        title = f" {c['title']}" if c.get("title") else ""
        out += [f"# --- {a}{title} " + "-" * max(3, 60 - len(a) - len(title)),
                _with_value(a, code).rstrip(), ""]
    return "\n".join(out) + "\n"
