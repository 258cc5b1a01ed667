"""`pysheets export NB --to py`: the sheet as a standalone script that plain `python` runs.

The notebook is evaluated once by the kernel's engine (a `_native.Model`), which gives each
cell's address, what it reads and the code the kernel runs (ranges rewritten to calls). The
script then has:

- a prelude: the `Range` class the kernel gives `A1:C4` (its own source, copied from
  `pysheets_kernel.sheet`, so the script needs no PySheets), `_values` (address → value) and
  `__pysheets_range__`, what the rewritten ranges call;
- the cells in dependency order (a cell after every cell it reads; a cell that redefines a
  name after every reader of the name's earlier definition; otherwise notebook order), each
  ending with its value stored in the variable of its address and in `_values`, as the kernel
  does: the last expression's value, or the value of a final `name = …`.

Refused: a cell with a magic or a shell command (`%sheet`, `!ls`: no plain-Python meaning), a
cell on a circular reference, and a cell the kernel could not place or analyse. Each error
names the cell.
"""

import ast
import inspect
import os

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


def _order(sheet, cells, index):
    """Dependency order: precedents first, and a redefinition of a name after every reader
    of the definition before it; ties in notebook order. ExportError on a cycle."""
    from pysheets_kernel import cells as _cells

    after = {a: set() for a in cells}  # a -> cells that must come after a
    for a, c in cells.items():
        for p in c.get("reads", ()):
            if p in cells and p != a:
                after[p].add(a)
    definers = {}
    for a in cells:
        py = _cells._cells.get(a)
        for name in (py.defines if py is not None else ()):
            definers.setdefault(name, []).append(a)
    for name, ds in definers.items():
        if len(ds) < 2:
            continue
        ds.sort(key=index.get)
        nxt = {d: ds[k + 1] for k, d in enumerate(ds[:-1])}
        for d, n in nxt.items():
            after[d].add(n)
        for a, c in cells.items():
            used = (c.get("uses") or {}).get(name)
            if used in nxt and nxt[used] != a:
                after[a].add(nxt[used])
    order = _headless.dependency_order(index, after)
    if len(order) < len(cells):
        stuck = sorted(a for a in cells if a not in order)
        raise ExportError(f"cells {', '.join(stuck)} are on a circular reference (or depend "
                          f"on one): they have no order to run in")
    return order


def script(code_cells, notebook):
    """The script's text; ExportError naming the cell when a cell cannot be exported."""
    for _, code, _, _ in code_cells:
        if _magics.transform(code) != code:
            where = _headless.label_address(code) or "a cell"
            line = next((l.strip() for l in code.splitlines()
                         if l.strip().startswith(("%", "!"))), code.strip().splitlines()[0])
            raise ExportError(f"{where} uses {line!r}: magics and shell commands have no "
                              f"plain-Python meaning")
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

    order = _order(sheet, cells, index)
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
