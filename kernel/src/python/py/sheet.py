"""The sheet engine's Python half: what a cell reads and defines, ranges, early cutoff, summaries.

Standard library only; pandas, numpy and matplotlib are never imported here except by
`Range.to_frame` (pandas, lazily). Nothing here touches `_pysheets_native`, so the module can be
loaded and tested on its own.

Dependency analysis runs on a cell's code *after* the Rust side has rewritten ranges:
`A1:C4` arrives as `__pysheets_range__("A1", "C4")`.
"""

import ast
import builtins
import html
import math
import re

# ---------------------------------------------------------------------------------------------
# Addresses

MAX_COLUMNS = 16384  # A .. XFD
MAX_ROWS = 1048576

_ADDRESS = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")

# Names of the kernel's own helpers (`__pysheets_range__`, `__pysheets_magics__`...) are never
# dependencies.
_KERNEL_PREFIX = "__pysheets"


def _column_number(letters):
    """1-based column number of `letters` ("A" -> 1, "XFD" -> 16384)."""
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _column_letters(col0):
    letters = ""
    n = col0 + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def is_address(name):
    """True when `name` is a cell address within the sheet's limits (A1 .. XFD1048576)."""
    if not isinstance(name, str):
        return False
    m = _ADDRESS.match(name)
    if not m:
        return False
    return _column_number(m.group(1)) <= MAX_COLUMNS and int(m.group(2)) <= MAX_ROWS


def parse_address(address):
    """"AB12" -> (27, 11): 0-based column and row. Raises ValueError for anything else."""
    if not isinstance(address, str):
        raise ValueError(f"a cell address must be a string like 'B3', not {type(address).__name__}")
    m = _ADDRESS.match(address)
    if not m:
        raise ValueError(
            f"not a cell address: {address!r} (expected 1-3 capital column letters then a row "
            f"number, e.g. 'B3')"
        )
    col = _column_number(m.group(1))
    row = int(m.group(2))
    if col > MAX_COLUMNS:
        raise ValueError(f"column {m.group(1)} in {address!r} is beyond the last column XFD")
    if row > MAX_ROWS:
        raise ValueError(f"row {row} in {address!r} is beyond the last row {MAX_ROWS}")
    return col - 1, row - 1


def format_address(col0, row0):
    """(27, 11) -> "AB12". Raises ValueError outside the sheet, TypeError for non-integers."""
    for what, v in (("column", col0), ("row", row0)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{what} index must be an int, not {type(v).__name__}")
    if not 0 <= col0 < MAX_COLUMNS:
        raise ValueError(f"column index {col0} is outside 0..{MAX_COLUMNS - 1} (A..XFD)")
    if not 0 <= row0 < MAX_ROWS:
        raise ValueError(f"row index {row0} is outside 0..{MAX_ROWS - 1} (rows 1..{MAX_ROWS})")
    return f"{_column_letters(col0)}{row0 + 1}"


# ---------------------------------------------------------------------------------------------
# Dependency analysis

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _type_param_names(node):
    # Python 3.12+: `def f[T]()`, `class C[T]`, `type X[T] = ...`.
    return {p.name for p in getattr(node, "type_params", None) or ()}


def _local_bindings(nodes):
    """Names a function (or lambda) body binds, and the names it declares `global`.

    Scoping in a function is static: a name bound anywhere in it is local everywhere in it.
    Nested function/class/lambda bodies are not entered; comprehensions only for walrus targets,
    which bind in the function.
    """
    bound, declared_global = set(), set()

    def visit(node, in_comp):
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            if not in_comp:
                bound.add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, _COMPREHENSIONS):
            in_comp = True
        elif isinstance(node, ast.NamedExpr):
            bound.add(node.target.id)
        elif isinstance(node, ast.Name):
            if not in_comp and isinstance(node.ctx, (ast.Store, ast.Del)):
                bound.add(node.id)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    bound.add(alias.asname or alias.name)
        elif isinstance(node, ast.ExceptHandler):
            if node.name:
                bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)):
            if node.name:
                bound.add(node.name)
        elif isinstance(node, ast.MatchMapping):
            if node.rest:
                bound.add(node.rest)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
            return
        elif isinstance(node, ast.Nonlocal):
            # An enclosing function's variable: not a global, so treat it as local.
            bound.update(node.names)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, in_comp)

    for n in nodes:
        visit(n, False)
    return bound - declared_global, declared_global


def _arg_names(args):
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if args.vararg:
        names.append(args.vararg.arg)
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


class _Frame:
    """One scope while walking: "module" and "class" are flow-sensitive (names bound so far),
    "function" is static (all its locals), "comp" holds a comprehension's targets."""

    __slots__ = ("kind", "names", "globals")

    def __init__(self, kind, names=(), declared_global=()):
        self.kind = kind
        self.names = set(names)
        self.globals = set(declared_global)


class _Analyzer:
    def __init__(self):
        self.builtins = set(dir(builtins))
        self.module = _Frame("module")
        self.frames = [self.module]
        self.reads = []  # (name, deferred): deferred reads come from function/lambda bodies
        self.addresses = []
        self.defines = []
        self._seen_addresses = set()
        self._seen_defines = set()
        self.assigns_address = None

    # -- names ----------------------------------------------------------------------------

    def _flag_address(self, name):
        if self.assigns_address is None and is_address(name):
            self.assigns_address = name

    def load(self, name):
        if is_address(name):
            if name not in self._seen_addresses:
                self._seen_addresses.add(name)
                self.addresses.append(name)
            return
        if name.startswith(_KERNEL_PREFIX):
            return
        deferred = False
        to_module = False
        innermost = True
        for frame in reversed(self.frames):
            kind = frame.kind
            if kind == "module":
                if name in frame.names:
                    return
                break
            if to_module:
                continue
            if kind == "function":
                deferred = True
                if name in frame.globals:
                    to_module = True
                elif name in frame.names:
                    return
            elif kind == "comp":
                if name in frame.names:
                    return
            elif kind == "class":
                # A class body's names are visible only directly in the class body.
                if innermost and name in frame.names:
                    return
            innermost = False
        if name in self.builtins:
            return
        self.reads.append((name, deferred))

    def bind(self, name, frame=None):
        frame = frame or self.frames[-1]
        if frame.kind == "module":
            frame.names.add(name)
            if name not in self._seen_defines:
                self._seen_defines.add(name)
                self.defines.append(name)
            self._flag_address(name)
        elif frame.kind == "class":
            frame.names.add(name)
        elif frame.kind == "function":
            if name in frame.globals:
                # `global A1; A1 = ...` inside a function still overwrites a cell's value.
                self._flag_address(name)
        # "comp": the targets were bound when the frame was made.

    def unbind(self, name):
        """`del name`: needs the name to exist (a read), then it is gone."""
        self.load(name)
        frame = self.frames[-1]
        if frame.kind in ("module", "class"):
            frame.names.discard(name)
        if frame.kind == "module" or (frame.kind == "function" and name in frame.globals):
            self._flag_address(name)

    # -- flow: names bound on every path ---------------------------------------------------

    def _snapshot(self):
        return set(self.frames[-1].names)

    def _restore(self, names):
        self.frames[-1].names = set(names)

    # -- statements -----------------------------------------------------------------------

    def body(self, stmts):
        for s in stmts:
            self.stmt(s)

    def stmt(self, node):
        method = getattr(self, "stmt_" + type(node).__name__, None)
        if method is not None:
            method(node)
        else:
            self.generic(node)

    def generic(self, node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.stmt(child)
            else:
                self.expr(child)

    def stmt_Assign(self, node):
        self.expr(node.value)
        for target in node.targets:
            self.expr(target)

    def stmt_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
            self.expr(node.value)
            self.bind(node.target.id)
        else:
            self.expr(node.target)
            self.expr(node.value)

    def stmt_AnnAssign(self, node):
        if node.value is not None:
            self.expr(node.value)
        if self.frames[-1].kind != "function":
            self.expr(node.annotation)  # evaluated at module and class level
        if isinstance(node.target, ast.Name):
            if node.value is not None:
                self.bind(node.target.id)
        else:
            self.expr(node.target)

    def stmt_For(self, node):
        self.expr(node.iter)
        before = self._snapshot()
        self.expr(node.target)
        self.body(node.body)
        self.body(node.orelse)
        self._restore(before)  # the loop may run zero times

    stmt_AsyncFor = stmt_For

    def stmt_While(self, node):
        self.expr(node.test)  # always evaluated once
        before = self._snapshot()
        self.body(node.body)
        self.body(node.orelse)
        self._restore(before)

    def stmt_If(self, node):
        self.expr(node.test)
        before = self._snapshot()
        self.body(node.body)
        after_body = self._snapshot()
        self._restore(before)
        self.body(node.orelse)
        self._restore(after_body & self._snapshot())

    def stmt_With(self, node):
        for item in node.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.expr(item.optional_vars)
        self.body(node.body)

    stmt_AsyncWith = stmt_With

    def stmt_Try(self, node):
        before = self._snapshot()
        self.body(node.body)
        self.body(node.orelse)
        ends = [self._snapshot()]
        for handler in node.handlers:
            self._restore(before)
            if handler.type is not None:
                self.expr(handler.type)
            frame = self.frames[-1]
            if handler.name:
                # Python deletes the name after the handler: bound inside it, not defined.
                if frame.kind == "module":
                    self._flag_address(handler.name)
                frame.names.add(handler.name)
            self.body(handler.body)
            if handler.name and frame.kind in ("module", "class"):
                frame.names.discard(handler.name)
            ends.append(self._snapshot())
        common = set.intersection(*ends)
        self._restore(before)
        self.body(node.finalbody)
        self._restore(common | self._snapshot())

    stmt_TryStar = stmt_Try

    def stmt_Delete(self, node):
        for target in node.targets:
            self.expr(target)

    def stmt_Import(self, node):
        for alias in node.names:
            self.bind(alias.asname or alias.name.split(".")[0])

    def stmt_ImportFrom(self, node):
        for alias in node.names:
            if alias.name != "*":
                self.bind(alias.asname or alias.name)

    def stmt_Global(self, node):
        pass

    stmt_Nonlocal = stmt_Global

    def _function_frame(self, node, extra=()):
        bound, declared_global = _local_bindings(node.body if isinstance(node.body, list)
                                                 else [node.body])
        bound |= set(_arg_names(node.args)) | _type_param_names(node) | set(extra)
        return _Frame("function", bound - declared_global, declared_global)

    def _arguments_at_definition(self, args, annotations=True):
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.expr(default)
        if annotations:
            for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if a is not None and a.annotation is not None:
                    self.expr(a.annotation)

    def stmt_FunctionDef(self, node):
        for d in node.decorator_list:
            self.expr(d)
        self._arguments_at_definition(node.args)
        if node.returns is not None:
            self.expr(node.returns)
        self.frames.append(self._function_frame(node))
        try:
            self.body(node.body)
        finally:
            self.frames.pop()
        self.bind(node.name)

    stmt_AsyncFunctionDef = stmt_FunctionDef

    def stmt_ClassDef(self, node):
        for d in node.decorator_list:
            self.expr(d)
        for b in node.bases:
            self.expr(b)
        for k in node.keywords:
            self.expr(k.value)
        # The class body runs now; it sees its own names as they get bound.
        self.frames.append(_Frame("class", _type_param_names(node)))
        try:
            self.body(node.body)
        finally:
            self.frames.pop()
        self.bind(node.name)

    def stmt_TypeAlias(self, node):  # Python 3.12+: the value is evaluated lazily
        self.frames.append(_Frame("function", _type_param_names(node)))
        try:
            self.expr(node.value)
        finally:
            self.frames.pop()
        self.expr(node.name)

    def stmt_Match(self, node):
        self.expr(node.subject)
        before = self._snapshot()
        ends = []
        for case in node.cases:
            self._restore(before)
            self.pattern(case.pattern)
            if case.guard is not None:
                self.expr(case.guard)
            self.body(case.body)
            ends.append(self._snapshot())
        last = node.cases[-1] if node.cases else None
        exhaustive = (last is not None and last.guard is None
                      and isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None)
        self._restore(set.intersection(*ends) if exhaustive else before)

    def pattern(self, node):
        if isinstance(node, ast.MatchValue):
            self.expr(node.value)
        elif isinstance(node, ast.MatchSequence):
            for p in node.patterns:
                self.pattern(p)
        elif isinstance(node, ast.MatchMapping):
            for k in node.keys:
                self.expr(k)
            for p in node.patterns:
                self.pattern(p)
            if node.rest:
                self.bind(node.rest)
        elif isinstance(node, ast.MatchClass):
            self.expr(node.cls)
            for p in (*node.patterns, *node.kwd_patterns):
                self.pattern(p)
        elif isinstance(node, ast.MatchStar):
            if node.name:
                self.bind(node.name)
        elif isinstance(node, ast.MatchAs):
            if node.pattern is not None:
                self.pattern(node.pattern)
            if node.name:
                self.bind(node.name)
        elif isinstance(node, ast.MatchOr):
            for p in node.patterns:
                self.pattern(p)

    # -- expressions ----------------------------------------------------------------------

    def expr(self, node):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.load(node.id)
            elif isinstance(node.ctx, ast.Store):
                self.bind(node.id)
            else:
                self.unbind(node.id)
        elif isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            # A walrus in a comprehension binds in the enclosing non-comprehension scope.
            frame = next(f for f in reversed(self.frames) if f.kind != "comp")
            self.bind(node.target.id, frame)
        elif isinstance(node, ast.Lambda):
            self._arguments_at_definition(node.args, annotations=False)
            self.frames.append(self._function_frame(node))
            try:
                self.expr(node.body)
            finally:
                self.frames.pop()
        elif isinstance(node, _COMPREHENSIONS):
            self.comprehension(node)
        else:
            for child in ast.iter_child_nodes(node):
                self.expr(child)

    def comprehension(self, node):
        gens = node.generators
        # The first iterable is evaluated in the enclosing scope.
        self.expr(gens[0].iter)
        targets = set()
        for gen in gens:
            for n in ast.walk(gen.target):
                if isinstance(n, ast.Name):
                    targets.add(n.id)
        self.frames.append(_Frame("comp", targets))
        try:
            for i, gen in enumerate(gens):
                if i:
                    self.expr(gen.iter)
                self.expr(gen.target)
                for cond in gen.ifs:
                    self.expr(cond)
            if isinstance(node, ast.DictComp):
                self.expr(node.key)
                self.expr(node.value)
            else:
                self.expr(node.elt)
        finally:
            self.frames.pop()

    # -- result ---------------------------------------------------------------------------

    def reads_names(self):
        out, seen = [], set()
        for name, deferred in self.reads:
            # A function body runs later: a name the cell binds anywhere is the cell's own.
            if (deferred and name in self._seen_defines) or name in seen:
                continue
            seen.add(name)
            out.append(name)
        return out


def _value_kind(tree):
    if not tree.body:
        return "none"
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        return "expr"
    if isinstance(last, ast.Assign) and len(last.targets) == 1 and isinstance(last.targets[0], ast.Name):
        return "assign"
    if isinstance(last, ast.AnnAssign) and last.value is not None and isinstance(last.target, ast.Name):
        return "assign"
    return "none"


def _empty_analysis(error=None):
    return {
        "reads_names": [],
        "reads_addresses": [],
        "defines": [],
        "assigns_address": None,
        "value_kind": "none",
        "error": error,
    }


def analyze(code):
    """Static dependencies of one cell's code; see the module docstring for the range rewrite.

    Returns a dict with `reads_names`, `reads_addresses`, `defines` (lists in order of first
    appearance), `assigns_address` (first address the code binds, or None), `value_kind`
    ("expr", "assign" or "none") and `error` (None, or a one-line "SyntaxError: ..." with every
    other field empty).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        where = f" (line {e.lineno})" if e.lineno else ""
        return _empty_analysis(f"SyntaxError: {e.msg}{where}")
    except (ValueError, TypeError) as e:  # e.g. null bytes in the source on Python < 3.12
        return _empty_analysis(f"SyntaxError: {e}")
    except (RecursionError, MemoryError):
        return _empty_analysis("SyntaxError: the cell is too deeply nested to parse")
    a = _Analyzer()
    try:
        a.body(tree.body)
    except RecursionError:
        return _empty_analysis("SyntaxError: the cell is too deeply nested to analyze")
    return {
        "reads_names": a.reads_names(),
        "reads_addresses": list(a.addresses),
        "defines": list(a.defines),
        "assigns_address": a.assigns_address,
        "value_kind": _value_kind(tree),
        "error": None,
    }


# ---------------------------------------------------------------------------------------------
# Ranges


class Range:
    """A rectangle of cells, what `A1:C4` evaluates to in a cell.

    `lookup(address)` returns the current value of a cell, or None when it is empty; it is
    called on every access, so a Range always shows the cells' current values.

    - iteration yields the non-empty values, row by row (A1, B1, C1, A2, ...), so `sum(A1:A10)`
      and `max(B1:C3)` skip blank cells as a spreadsheet does;
    - `len()` is the number of cells in the rectangle, empty ones included (so it matches
      `.addresses` and indexing, not the iteration);
    - `r[i]` is the i-th cell in row-major order and `r[i, j]` row i, column j (0-based, negative
      indices count from the end), None for empty cells; a slice gives a list.
    """

    __slots__ = ("_col0", "_row0", "_col1", "_row1", "_lookup")

    def __init__(self, start, end, lookup):
        c0, r0 = parse_address(start)
        c1, r1 = parse_address(end)
        if not callable(lookup):
            raise TypeError("Range needs a callable lookup(address) -> value or None")
        # `C4:A1` is the same rectangle as `A1:C4`.
        self._col0, self._col1 = min(c0, c1), max(c0, c1)
        self._row0, self._row1 = min(r0, r1), max(r0, r1)
        self._lookup = lookup

    @property
    def start(self):
        return format_address(self._col0, self._row0)

    @property
    def end(self):
        return format_address(self._col1, self._row1)

    @property
    def shape(self):
        """(rows, columns)."""
        return self._row1 - self._row0 + 1, self._col1 - self._col0 + 1

    def _address_rows(self):
        return [[format_address(c, r) for c in range(self._col0, self._col1 + 1)]
                for r in range(self._row0, self._row1 + 1)]

    @property
    def addresses(self):
        """Every address of the rectangle as one flat list, row by row."""
        return [a for row in self._address_rows() for a in row]

    @property
    def values(self):
        """List of rows, each a list of values; empty cells are None."""
        return [[self._lookup(a) for a in row] for row in self._address_rows()]

    def __len__(self):
        rows, cols = self.shape
        return rows * cols

    def __iter__(self):
        for r in range(self._row0, self._row1 + 1):
            for c in range(self._col0, self._col1 + 1):
                v = self._lookup(format_address(c, r))
                if v is not None:
                    yield v

    def __getitem__(self, key):
        rows, cols = self.shape
        if isinstance(key, tuple):
            if len(key) != 2:
                raise IndexError("a Range is indexed as r[i] or r[row, column]")
            i = self._index(key[0], rows, "row")
            j = self._index(key[1], cols, "column")
            return self._lookup(format_address(self._col0 + j, self._row0 + i))
        if isinstance(key, slice):
            return [self[k] for k in range(*key.indices(rows * cols))]
        k = self._index(key, rows * cols, "cell")
        i, j = divmod(k, cols)
        return self._lookup(format_address(self._col0 + j, self._row0 + i))

    @staticmethod
    def _index(key, size, what):
        import operator

        if isinstance(key, bool):
            raise TypeError(f"{what} index must be an int, not bool")
        try:
            k = operator.index(key)
        except TypeError:
            raise TypeError(f"{what} index must be an int, not {type(key).__name__}") from None
        if k < 0:
            k += size
        if not 0 <= k < size:
            raise IndexError(f"{what} index {key} out of range for {size} {what}s")
        return k

    def to_frame(self, header=False):
        """The values as a pandas DataFrame; `header=True` makes the first row the column names."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Range.to_frame needs pandas: pip install pandas") from None
        rows = self.values
        if header:
            return pd.DataFrame(rows[1:], columns=rows[0])
        return pd.DataFrame(rows)

    def __repr__(self):
        return f"Range({self.start}:{self.end})"

    _HTML_MAX_ROWS = 50
    _HTML_MAX_COLS = 20

    def _repr_html_(self):
        rows, cols = self.shape
        show_rows = min(rows, self._HTML_MAX_ROWS)
        show_cols = min(cols, self._HTML_MAX_COLS)
        out = ['<table class="pysheets-range">', "<thead><tr><th></th>"]
        for c in range(self._col0, self._col0 + show_cols):
            out.append(f"<th>{_column_letters(c)}</th>")
        if show_cols < cols:
            out.append("<th>…</th>")
        out.append("</tr></thead><tbody>")
        for r in range(self._row0, self._row0 + show_rows):
            out.append(f"<tr><th>{r + 1}</th>")
            for c in range(self._col0, self._col0 + show_cols):
                v = self._lookup(format_address(c, r))
                text = "" if v is None else summarize(v, 40)
                out.append(f"<td>{html.escape(text)}</td>")
            if show_cols < cols:
                out.append("<td>…</td>")
            out.append("</tr>")
        if show_rows < rows:
            out.append(f"<tr><td colspan=\"{show_cols + 2}\">… {rows - show_rows} more rows</td></tr>")
        out.append("</tbody></table>")
        return "".join(out)


# ---------------------------------------------------------------------------------------------
# Early cutoff

_SIMPLE_SCALARS = (int, str, bytes, bool, type(None))


def _float_same(a, b):
    if math.isnan(a) and math.isnan(b):
        return True
    # 0.0 and -0.0 compare equal but are not the same result (1/x, str(x) differ).
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _same(a, b):
    t = type(a)
    if t is not type(b):
        return False
    if t in _SIMPLE_SCALARS:
        return a == b
    if t is float:
        return _float_same(a, b)
    if t is complex:
        return _float_same(a.real, b.real) and _float_same(a.imag, b.imag)
    if t is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return False


def values_equal(old, new):
    """Early cutoff: True when a recomputed value is certainly the same, so dependents may skip.

    Only "simple" values qualify: int, float, complex, str, bytes, bool, None and tuples of
    these (recursively), with exactly the same types (so 1, 1.0 and True all differ, and
    subclasses such as numpy scalars or enums never qualify). NaN equals NaN here, since
    recomputing NaN is no change; 0.0 and -0.0 differ. Anything else (lists, dicts, DataFrames,
    arbitrary objects, which may be mutable or have odd `==`) returns False: run downstream.
    """
    try:
        return _same(old, new)
    except RecursionError:
        return False


# ---------------------------------------------------------------------------------------------
# Summaries

_NEWLINES = re.compile(r"\s*[\r\n]+\s*")
_CONTAINERS = (list, tuple, dict, set, frozenset)


def _bounded_repr(value, limit, active):
    """repr(value) when it is at most `limit` long, else a prefix of it at least `limit` long.

    Exact built-in containers are rendered element by element, so a list of a million items
    costs no more than the few items shown.
    """
    t = type(value)
    if t not in _CONTAINERS:
        return repr(value)
    if id(value) in active:  # a container inside itself, as repr shows it
        return {list: "[...]", tuple: "(...)", dict: "{...}"}.get(t, "...")
    if not value:
        return repr(value)
    active.add(id(value))
    try:
        if t is dict:
            out, close = "{", "}"
        elif t is list:
            out, close = "[", "]"
        elif t is tuple:
            out, close = "(", ",)" if len(value) == 1 else ")"
        elif t is set:
            out, close = "{", "}"
        else:
            out, close = "frozenset({", "})"
        items = value.items() if t is dict else value
        for i, item in enumerate(items):
            if i:
                out += ", "
            if t is dict:
                out += _bounded_repr(item[0], limit - len(out), active)
                if len(out) >= limit:
                    return out
                out += ": "
                out += _bounded_repr(item[1], limit - len(out), active)
            else:
                out += _bounded_repr(item, limit - len(out), active)
            if len(out) >= limit:
                return out
        return out + close
    finally:
        active.discard(id(value))


def _truncate(text, max_len):
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def _is_instance(value, module, attr):
    import sys

    mod = sys.modules.get(module)  # never import: if it is not loaded, value can't be one
    cls = getattr(mod, attr, None) if mod is not None else None
    return isinstance(cls, type) and isinstance(value, cls)


def summarize(value, max_len=60):
    """One line of text for the sheet view, at most `max_len` characters.

    DataFrame -> "DataFrame 120×4", Series -> "Series 120", ndarray -> "ndarray 3×4 float64",
    matplotlib Figure -> "Figure", strings as they are (newlines shown as ↵), anything else its
    repr on one line; whatever is longer than `max_len` ends with "…".
    """
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    try:
        if _is_instance(value, "pandas", "DataFrame"):
            rows, cols = value.shape
            text = f"{type(value).__name__} {rows}×{cols}"
        elif _is_instance(value, "pandas", "Series"):
            text = f"{type(value).__name__} {len(value)}"
        elif _is_instance(value, "numpy", "ndarray"):
            shape = "×".join(str(n) for n in value.shape) or "0-d"
            text = f"ndarray {shape} {value.dtype}"
        elif _is_instance(value, "matplotlib.figure", "Figure"):
            text = "Figure"
        elif isinstance(value, str):
            text = value[: max_len + 1].replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
        else:
            text = _NEWLINES.sub(" ", _bounded_repr(value, max_len + 1, set()))
    except Exception as e:  # a broken __repr__ (or a huge int) must not break the sheet view
        text = f"<{type(value).__name__} object (repr failed: {type(e).__name__})>"
    return _truncate(text, max_len)
