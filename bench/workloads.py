"""The sheets the benchmark builds, the same code for every kernel.

A sheet is a list of (cell_id, code); its first cell is the one that changes
(the head, or the input of the realistic sheet). `Sheet.change(k)` is the new
code of that cell; `Sheet.check` is an expression whose text/plain must be
`Sheet.expected(k)` once everything downstream is up to date.

  chain     N cells:     c0 = 0; c1 = c0 + 1; ...; c{N-1} = c{N-2} + 1
  fanout    1 + N cells: c0 = 0; d1 = c0 + 1; ...; d{N} = c0 + N
  sheet     a pandas DataFrame of 100,000 rows (first cell, so PySheets' A1),
            an input `threshold`, 50 summaries of the frame that read it and
            a matplotlib chart of ten of them rendered to PNG bytes; the input
            changes, and the 51 cells after it must follow.

`marimo_notebook()` writes the same cells as a marimo notebook (one
`@app.cell` function per cell, its parameters the names it reads, its return
the names it defines) plus a last cell that prints the check expression, so a
script run of it can be verified.
"""

import ast
import builtins

DEFAULT_ROWS = 100_000
SUMMARIES = 50


class Sheet:
    def __init__(self, case, n, cells, head_code, check, expected, downstream):
        self.case = case
        self.n = n
        self.cells = cells              # [(cell_id, code)], head first
        self._head_code = head_code     # "c0 = %d"
        self.check = check              # expression, its text/plain after change(k)
        self._expected = expected       # k -> str
        self.downstream = downstream    # how many cells the change must re-run

    @property
    def head_id(self):
        return self.cells[0][0]

    def change(self, k):
        return self._head_code % k

    def expected(self, k):
        return self._expected(k)


def chain(n):
    cells = [("chain-0", "c0 = 0")]
    cells += [("chain-%d" % i, "c%d = c%d + 1" % (i, i - 1)) for i in range(1, n)]
    return Sheet("chain", n, cells, "c0 = %d", "c%d" % (n - 1),
                 lambda k: str(k + n - 1), n - 1)


def fanout(n):
    cells = [("fanout-0", "c0 = 0")]
    cells += [("fanout-%d" % i, "d%d = c0 + %d" % (i, i)) for i in range(1, n + 1)]
    return Sheet("fanout", n, cells, "c0 = %d", "d%d" % n, lambda k: str(k + n), n)


_FRAME = """\
import numpy as np
import pandas as pd
_rng = np.random.default_rng(0)
_n = {rows}
df = pd.DataFrame({{
    "region": _rng.choice(["north", "south", "east", "west", "centre"], _n),
    "product": _rng.integers(0, 40, _n),
    "qty": _rng.integers(1, 50, _n),
    "price": _rng.uniform(1.0, 100.0, _n).round(2),
    "day": pd.Timestamp("2025-01-01") + pd.to_timedelta(_rng.integers(0, 365, _n), unit="D"),
}})
df.shape"""

# Five kinds of summary, each used ten times with a different j; the first is
# a number (the chart plots those).
_SUMMARY = [
    's{i} = float(df.loc[df.qty > threshold + {j}, "price"].sum())',
    's{i} = df[df.qty > threshold].groupby("region")["price"].mean().round(2).to_dict()',
    's{i} = int((df.qty * df.price > threshold * {j} * 10).sum())',
    's{i} = df.loc[df.qty > threshold].groupby("product")["qty"].sum().nlargest(5).to_dict()',
    's{i} = df.loc[df.qty > threshold + {j}].groupby(df.day.dt.month)["price"].sum().round(1).to_dict()',
]

_CHART = """\
import io
from matplotlib.figure import Figure
_fig = Figure(figsize=(6, 3))
_ax = _fig.add_subplot()
_ax.bar(range(10), [{bars}])
_ax.set_title("sales over %d" % threshold)
_buf = io.BytesIO()
_fig.savefig(_buf, format="png")
chart_png = _buf.getvalue()
len(chart_png)"""


def realistic(rows=DEFAULT_ROWS, summaries=SUMMARIES):
    cells = [("sheet-frame", _FRAME.format(rows=rows)), ("sheet-input", "threshold = 10")]
    for i in range(1, summaries + 1):
        kind, j = (i - 1) % len(_SUMMARY), (i - 1) // len(_SUMMARY)
        cells.append(("sheet-s%d" % i, _SUMMARY[kind].format(i=i, j=j)))
    numbers = ["s%d" % i for i in range(1, summaries + 1) if (i - 1) % len(_SUMMARY) == 0]
    cells.append(("sheet-chart", _CHART.format(bars=", ".join(numbers[:10]))))
    # the input is what changes: it goes first in the list of cells to re-run,
    # the frame is built once, before it
    frame = cells.pop(0)
    check = ('(threshold, s1 == float(df.loc[df.qty > threshold, "price"].sum()), '
             'len(chart_png) > 1000)')
    sheet = Sheet("sheet", rows, cells, "threshold = %d", check,
                  lambda k: "(%d, True, True)" % k, len(cells) - 1)
    sheet.setup = [frame]
    return sheet


def make(case, n):
    if case == "chain":
        return chain(n)
    if case == "fanout":
        return fanout(n)
    if case == "sheet":
        return realistic(n)
    raise ValueError(case)


def setup_cells(sheet):
    """Cells built once before the sheet (the realistic sheet's frame)."""
    return getattr(sheet, "setup", [])


# --------------------------------------------------------------------------
# marimo
# --------------------------------------------------------------------------

def _defs_refs(code):
    """Top-level names a cell defines, and the free names it reads."""
    tree = ast.parse(code)
    defs, loads = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                if node.id not in defs:
                    defs.append(node.id)
            else:
                loads.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = (alias.asname or alias.name).split(".")[0]
                if name not in defs:
                    defs.append(name)
    refs = sorted(n for n in loads if n not in defs and not hasattr(builtins, n))
    return [d for d in defs if not d.startswith("_")], refs


def marimo_notebook(sheet, k):
    """Text of a marimo notebook of the sheet with the head set to k, plus a check cell."""
    cells = setup_cells(sheet) + [(sheet.head_id, sheet.change(k))] + sheet.cells[1:]
    out = ["import marimo", "", "app = marimo.App()", ""]
    for _, code in cells + [("check", "print('CHECK', repr(str(%s)))" % sheet.check)]:
        defs, refs = _defs_refs(code)
        out.append("@app.cell")
        out.append("def _(%s):" % ", ".join(refs))
        out.extend("    " + line if line else "" for line in code.splitlines())
        out.append("    return (%s)" % "".join(d + ", " for d in defs) if defs else "    return")
        out.append("")
    out += ['if __name__ == "__main__":', "    app.run()", ""]
    return "\n".join(out)
