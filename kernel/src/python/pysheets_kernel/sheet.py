"""The sheet engine's Python half: what a cell reads and defines, ranges, early cutoff, summaries.

Standard library only; pandas, numpy and matplotlib are never imported here except by
`Range.to_frame` (pandas, lazily). Nothing here touches `pysheets_kernel._native`, so the module can be
loaded and tested on its own.

Dependency analysis runs on a cell's code *after* the Rust side has rewritten ranges:
`A1:C4` arrives as `__pysheets_range__("A1", "C4")`.
"""

import ast
import builtins
import html
import math
import re
import sys

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
#
# Scoping follows Python's own rules (checked against `symtable` by test_analysis.py): a name is
# resolved through the function, comprehension and class scopes around it first, and only a name
# that reaches module scope is a read, a definition or a mutation of the cell. Address-shaped
# names (`R2`, `Q1`) are scoped like any other name; one that reaches module scope and is not the
# cell's own is reported in `reads_addresses` instead of `reads_names`.
#
# Differences from symtable, all deliberate:
# - module scope is flow-sensitive: a name read after the cell bound it on every path is the
#   cell's own, not a read (`x = 1; x + 1` reads nothing);
# - a read inside a function or lambda body is deferred (it happens when the function is called):
#   it is in `deferred_reads` always, and in `reads_names` unless the cell defines the name;
# - the name of `except ... as e` is not a definition (Python deletes it after the handler), nor is
#   a name only deleted (`del x`) or only annotated (`x: int`);
# - `global g` + an assignment inside a function the cell calls at module level (or in a class
#   body) is a definition of the cell; `from m import *` defines m's public names.

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_LOCAL = 0
_MODULE = 1

# Rule (2) of `_MUTATION_RULE`: methods that change their receiver in place (list, dict, set,
# deque, bytearray, numpy arrays, pandas' in-place methods without `inplace=`).
_MUTATING_METHODS = frozenset("""
    append extend insert remove pop popitem clear sort reverse update setdefault add discard
    difference_update intersection_update symmetric_difference_update appendleft extendleft
    popleft rotate fill resize put put_nowait itemset setflags move_to_end
    __setitem__ __delitem__ __iadd__ __isub__ __imul__
""".split())

# Methods that draw from (or seed) a random generator: the generator's state changes.
_RANDOM_METHODS = frozenset("""
    random randint randrange randbytes choice choices shuffle sample uniform triangular gauss
    normalvariate lognormvariate expovariate vonmisesvariate gammavariate betavariate
    paretovariate weibullvariate getrandbits seed setstate normal integers standard_normal rand
    randn random_sample random_integers ranf permutation permuted binomial poisson exponential
    bytes lognormal multivariate_normal beta gamma chisquare dirichlet geometric gumbel
    hypergeometric laplace logistic logseries multinomial negative_binomial noncentral_chisquare
    pareto power rayleigh standard_cauchy standard_exponential standard_gamma standard_t
    vonmises wald weibull zipf manual_seed
""".split())

# Seeding changes global state whatever the receiver.
_SEED_METHODS = frozenset(("seed", "manual_seed", "setstate"))

# Bare receivers that are (almost always) modules: `np.add(a, b)`, `np.append(a, 1)`,
# `math.gamma(x)` call functions of the module; they do not change it. Drawing from a module's
# global generator still does: `random.random()`, `np.random.normal()` (a `.random` in the chain).
_MODULE_ALIASES = frozenset("""
    np numpy pd pandas math cmath operator os sys itertools functools statistics string re json
    torch jnp jax tf scipy sp sps stats special sympy pl polars xr dask da plt sns
""".split())
_RANDOM_MODULES = frozenset(("random", "secrets"))

# Rule (4): functions that change their first argument, called bare or as `<x>.name(n, ...)`.
_FIRST_ARG_MUTATORS = frozenset("""
    shuffle heappush heappop heapify heappushpop heapreplace insort insort_left insort_right
""".split())
_FIRST_ARG_BUILTINS = frozenset(("next", "setattr", "delattr"))

# Rule (3): builtins (and kernel builtins) that never change their arguments.
_PURE_BUILTINS = frozenset("""
    print len repr str int float bool complex bytes bytearray display update_display
    clear_output isinstance issubclass type id hash sorted sum min max abs round list tuple dict
    set frozenset range enumerate zip map filter any all format hex oct bin chr ord callable dir
    help getattr hasattr iter reversed input open super object divmod pow ascii slice memoryview
    globals locals vars compile breakpoint exit quit property staticmethod classmethod
""".split())

# Dynamic definitions: `globals()` / `vars()` / `locals()` changed through these methods.
_NAMESPACE_FUNCTIONS = frozenset(("globals", "vars", "locals"))
_NAMESPACE_WRITERS = frozenset(("update", "setdefault", "pop", "popitem", "clear", "__setitem__",
                                "__delitem__"))

_MUTATION_RULE = """What the cell may change in place (`mutates`; inside a function body, for
names global there, `deferred_writes`). A name the cell bound on every path before that point is
the cell's own object and is never a mutation; every mutated name is also a read.

1. The base name of a subscript or attribute target of an assignment, augmented or annotated
   assignment, `del`, or a for / with / comprehension target: `df["c"] = ...`,
   `df.loc[0, "a"] = 1`, `obj.x += 1`, `del df["c"]`, `for d[k] in xs`.
2. Anywhere in an expression, the base name of the receiver of a method call `n.m(...)`,
   `n.a.m(...)`, `n[...].m(...)` when `m` is a known mutating method (`_MUTATING_METHODS`: list,
   dict, set, deque, bytearray and numpy in-place methods), or the call passes `inplace=True`, or
   `m` draws from or seeds a random generator (`_RANDOM_METHODS`: `rng.normal()`,
   `random.random()`, `np.random.normal()` mutate `rng`, `random`, `np`). A bare receiver that is
   a well-known module alias (`np.append(a, 1)`, `math.gamma(x)`, `_MODULE_ALIASES`) is not
   mutated by a mutating or drawing method, unless it seeds (`torch.manual_seed(0)`) or the chain
   goes through `.random` (`np.random.seed(0)`).
3. A call statement whose value is discarded (an expression statement that is a call, except the
   cell's last statement, whose value the cell shows): a method call `r.m(...)` mutates the base
   name of its receiver `r` (`ax.plot(x, y)` -> `ax`); any other call `f(a, b, k=c)` mutates each
   bare name passed as an argument (`a`, `b`, `c`), unless `f` is a builtin that never changes its
   arguments (`_PURE_BUILTINS`: print, len, repr, display, isinstance, ...).
4. Anywhere in an expression: `next(n)`, `setattr(n, ...)`, `delattr(n, ...)`, and
   `shuffle` / `heappush` / `heappop` / `heapify` / `heappushpop` / `heapreplace` / `insort*`
   called bare or as `<x>.f(n, ...)` (`random.shuffle(n)`, `heapq.heappush(n, x)`,
   `bisect.insort(n, x)`) mutate the base name of their first argument `n`.

A function defined by this cell and called at module level in it (directly or through other
functions of the cell) applies its deferred writes there: its `global` bindings become
(maybe-)definitions and its mutations become mutations of the cell.
"""


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
            # decorators, defaults, bases are evaluated in this scope
            for d in node.decorator_list:
                visit(d, in_comp)
            if isinstance(node, ast.ClassDef):
                for b in (*node.bases, *(k.value for k in node.keywords)):
                    visit(b, in_comp)
            else:
                for d in (*node.args.defaults, *node.args.kw_defaults):
                    if d is not None:
                        visit(d, in_comp)
            return
        if isinstance(node, ast.Lambda):
            for d in (*node.args.defaults, *node.args.kw_defaults):
                if d is not None:
                    visit(d, in_comp)
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


def _base(node):
    """The expression at the root of a chain of attributes and subscripts (`df.loc[0].x` -> df)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def _base_name(node):
    node = _base(node)
    return node.id if isinstance(node, ast.Name) else None


def _chain_has_attr(node, attr):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and node.attr == attr:
            return True
        node = node.value
    return False


def _is_namespace_call(node):
    """`globals()`, `vars()`, `locals()` (no arguments)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _NAMESPACE_FUNCTIONS and not node.args and not node.keywords)


def _mentions_sys_modules(node):
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and n.attr == "modules" \
                and isinstance(n.value, ast.Name) and n.value.id == "sys":
            return True
    return False


def _is_this_module(node):
    """`sys.modules[__name__]` or `sys.modules["__main__"]`: the cells' own namespace."""
    v, key = node.value, node.slice
    return (isinstance(v, ast.Attribute) and v.attr == "modules" and isinstance(v.value, ast.Name)
            and v.value.id == "sys"
            and ((isinstance(key, ast.Name) and key.id == "__name__")
                 or (isinstance(key, ast.Constant) and key.value == "__main__")))


def _star_import_names(module):
    """The names `from module import *` binds: `__all__`, else the public names; [] on failure."""
    try:
        mod = sys.modules.get(module)
        if mod is None:
            import importlib

            mod = importlib.import_module(module)
        names = getattr(mod, "__all__", None)
        if names is None:
            names = [n for n in vars(mod) if not n.startswith("_")]
        return [n for n in names if isinstance(n, str) and n.isidentifier()]
    except KeyboardInterrupt:
        raise
    except BaseException:  # an import that fails (or exits) resolves to nothing
        return []


class _FunctionInfo:
    """What calling a function of the cell may do to globals (insertion-ordered dicts)."""

    __slots__ = ("binds", "mutates", "calls")

    def __init__(self):
        self.binds = {}
        self.mutates = {}
        self.calls = {}

    def merge(self, other):
        self.binds.update(other.binds)
        self.mutates.update(other.mutates)
        self.calls.update(other.calls)


class _Frame:
    """One scope while walking: "module" and "class" are flow-sensitive (names bound so far),
    "function" is static (all its locals), "comp" holds a comprehension's targets."""

    __slots__ = ("kind", "names", "globals", "info")

    def __init__(self, kind, names=(), declared_global=()):
        self.kind = kind
        self.names = set(names)
        self.globals = set(declared_global)
        self.info = _FunctionInfo() if kind == "function" else None


class _Analyzer:
    def __init__(self, last_stmt=None, known_mutating=()):
        # Methods the notebook's own classes define that change their object (`deposit`):
        # a call of one is a change in place, like `append`.
        self.known_mutating = frozenset(known_mutating)
        self.mutating_methods = {}
        self.module = _Frame("module")
        self.frames = [self.module]
        self.last_stmt = last_stmt  # the cell's last statement: its value is shown
        self.reads = {}  # name -> deferred only (True) / also read at once (False), in order
        self.deferred_reads = {}
        self.deferred_writes = {}
        self.deferred_binds = {}  # `global g; g = ...` in a function
        self.defines = {}
        self.maybe = set()  # defined through a function call or a class body's `global`
        self.mutates = {}
        self.star_imports = []
        self.dynamic = False
        self.cell_functions = {}  # module-level name -> _FunctionInfo of the def/lambda
        self.module_names = set()  # names this cell binds with `import`
        self._last_info = None

    # -- scopes ---------------------------------------------------------------------------

    def resolve(self, name):
        """(_LOCAL, None), or (_MODULE, innermost function frame on the way or None)."""
        fn = None
        to_module = False
        innermost = True
        for frame in reversed(self.frames):
            kind = frame.kind
            if kind == "module":
                break
            if to_module:
                if fn is None and kind == "function":
                    fn = frame
                continue
            if kind == "function":
                if fn is None:
                    fn = frame
                if name in frame.globals:
                    to_module = True
                elif name in frame.names:
                    return _LOCAL, None
            elif kind == "comp":
                if name in frame.names:
                    return _LOCAL, None
            elif innermost:  # a class body's names are visible only directly in the class body
                if name in frame.globals:
                    to_module = True
                elif name in frame.names:
                    return _LOCAL, None
            innermost = False
        return _MODULE, fn

    def load(self, name):
        if name.startswith(_KERNEL_PREFIX):
            return
        if name == "__builtins__":
            self.dynamic = True
        scope, fn = self.resolve(name)
        if scope == _LOCAL:
            return
        if fn is not None:
            self.deferred_reads[name] = None
            self.reads.setdefault(name, True)
        elif name not in self.module.names:
            self.reads[name] = False

    def _define(self, name, maybe=False):
        self.defines[name] = None
        self.cell_functions.pop(name, None)
        if maybe:
            self.maybe.add(name)

    def bind(self, name, frame=None):
        frame = frame or self.frames[-1]
        kind = frame.kind
        if kind == "module":
            frame.names.add(name)
            self._define(name)
        elif kind == "class":
            if name in frame.globals:
                fn = next((f for f in reversed(self.frames) if f.kind == "function"), None)
                if fn is None:
                    self._define(name, maybe=True)  # the class body runs now
                else:
                    fn.info.binds[name] = None
                    self.deferred_binds[name] = None
                    self.deferred_writes[name] = None
            else:
                frame.names.add(name)
        elif kind == "function":
            if name in frame.globals:
                frame.info.binds[name] = None
                self.deferred_binds[name] = None
                self.deferred_writes[name] = None
        # "comp": the targets were bound when the frame was made.

    def unbind(self, name):
        """`del name`: needs the name to exist (a read), then it is gone."""
        self.load(name)
        frame = self.frames[-1]
        if frame.kind in ("module", "class"):
            frame.names.discard(name)
        elif frame.kind == "function" and name in frame.globals:
            frame.info.binds[name] = None
            self.deferred_writes[name] = None

    def mutate(self, name):
        if name is None or name.startswith(_KERNEL_PREFIX):
            return
        scope, fn = self.resolve(name)
        if scope == _LOCAL:
            return
        if fn is not None:
            fn.info.mutates[name] = None
            self.deferred_writes[name] = None
            self.deferred_reads[name] = None
            self.reads.setdefault(name, True)
        else:
            self._mutate_module(name)

    def _mutate_module(self, name):
        if name not in self.module.names:
            self.mutates[name] = None
            self.reads[name] = False

    def _called(self, name):
        """A call `name(...)`: record it (in a function) or apply a cell function's effects."""
        scope, fn = self.resolve(name)
        if scope == _LOCAL:
            return
        if fn is not None:
            fn.info.calls[name] = None
            return
        if name not in self.cell_functions:
            return
        binds, mutates = self._effects_of_calling(name)
        for b in binds:
            if b not in self.defines:
                self._define(b, maybe=True)
            elif b not in self.module.names:
                self.maybe.add(b)
            # (a function of the cell may be rebinding its own name: keep it callable)
        for m in mutates:
            self._mutate_module(m)

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

    def target(self, node):
        """An assignment target: names are bound, attribute/subscript bases mutated (rule 1)."""
        if isinstance(node, ast.Name):
            self.expr(node)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self.target(elt)
        elif isinstance(node, ast.Starred):
            self.target(node.value)
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            self.expr(node)
            root = _base(node)
            if isinstance(root, ast.Name):
                name = root.id
                self.mutate(name)
                if name in ("builtins", "__builtins__") or (
                        isinstance(node, ast.Attribute) and node.value is root
                        and name in self.module_names):
                    self.dynamic = True
            elif _is_namespace_call(root):
                self.dynamic = True
            if _mentions_sys_modules(node):
                self.dynamic = True
        else:
            self.expr(node)

    def stmt_Expr(self, node):
        self.expr(node.value)
        if node is self.last_stmt:
            return
        call = node.value
        if isinstance(call, ast.Await):
            call = call.value
        if not isinstance(call, ast.Call):
            return
        func = call.func
        if isinstance(func, ast.Attribute):  # rule 3, a method call: its receiver
            self.mutate(_base_name(func.value))
            return
        if isinstance(func, ast.Name) and func.id in _PURE_BUILTINS:
            return
        for arg in call.args:  # rule 3, a function call: its bare-name arguments
            if isinstance(arg, ast.Starred):
                arg = arg.value
            if isinstance(arg, ast.Name):
                self.mutate(arg.id)
        for kw in call.keywords:
            if isinstance(kw.value, ast.Name):
                self.mutate(kw.value.id)

    def stmt_Assign(self, node):
        self.expr(node.value)
        for target in node.targets:
            self.target(target)
        if isinstance(node.value, ast.Lambda) and self._last_info is not None \
                and self.frames[-1].kind == "module":
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.cell_functions[target.id] = self._last_info

    def stmt_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
            self.expr(node.value)
            # `acc += [3]` changes a list in place before rebinding it.
            self.mutate(node.target.id)
            self.bind(node.target.id)
        else:
            self.target(node.target)
            self.expr(node.value)

    def stmt_AnnAssign(self, node):
        if node.value is not None:
            self.expr(node.value)
        if self.frames[-1].kind != "function":
            self.expr(node.annotation)  # evaluated at module and class level
        if isinstance(node.target, ast.Name):
            if node.value is not None:
                self.bind(node.target.id)
        elif node.value is not None:
            self.target(node.target)
        else:
            self.expr(node.target)

    def stmt_For(self, node):
        self.expr(node.iter)
        before = self._snapshot()
        self.target(node.target)
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
                self.target(item.optional_vars)
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
                # Python deletes the name after the handler: it gives no value, but a handler
                # that runs unbinds whatever the name held, so at module level it is a
                # maybe-definition (its readers see it gone, as in a top-to-bottom run).
                frame.names.add(handler.name)
                if frame.kind == "module" and not handler.name.startswith(_KERNEL_PREFIX):
                    self._define(handler.name, maybe=True)
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
            self.target(target)

    def stmt_Import(self, node):
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            self.bind(name)
            if self.frames[-1].kind == "module":
                self.module_names.add(name)

    def stmt_ImportFrom(self, node):
        for alias in node.names:
            if alias.name != "*":
                self.bind(alias.asname or alias.name)
                continue
            module = "." * node.level + (node.module or "")
            self.star_imports.append(module)
            if not node.level and self.frames[-1].kind == "module":
                for name in _star_import_names(module):
                    self.bind(name)

    def stmt_Global(self, node):
        frame = self.frames[-1]
        if frame.kind == "class":
            frame.globals.update(node.names)

    def stmt_Nonlocal(self, node):
        pass

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

    def _in_function(self, frame, walk, node):
        """Walks a function/lambda body in `frame`; its effects also belong to an enclosing
        function (which may call it)."""
        self.frames.append(frame)
        try:
            walk(node)
        finally:
            self.frames.pop()
        for outer in reversed(self.frames):
            if outer.kind == "function":
                outer.info.merge(frame.info)
                break
        return frame.info

    def stmt_FunctionDef(self, node):
        for d in node.decorator_list:
            self.expr(d)
        self._arguments_at_definition(node.args)
        if node.returns is not None:
            self.expr(node.returns)
        info = self._in_function(self._function_frame(node), self.body, node.body)
        self.bind(node.name)
        if self.frames[-1].kind == "module":
            self.cell_functions[node.name] = info

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
        self.mutating_methods.update(_methods_changing_self(node, self.known_mutating))

    def stmt_TypeAlias(self, node):  # Python 3.12+: the value is evaluated lazily
        self._in_function(_Frame("function", _type_param_names(node)), self.expr, node.value)
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
        elif isinstance(node, ast.Call):
            self.expr(node.func)
            for arg in node.args:
                self.expr(arg)
            for kw in node.keywords:
                self.expr(kw.value)
            self.call(node)
        elif isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            # A walrus in a comprehension binds in the enclosing non-comprehension scope, and
            # only if the comprehension runs its body at least once.
            name = node.target.id
            if self.frames[-1].kind != "comp":
                self.bind(name)
                return
            frame = next(f for f in reversed(self.frames) if f.kind != "comp")
            if frame.kind == "module":
                self._define(name, maybe=True)
            else:
                self.bind(name, frame)
        elif isinstance(node, ast.Lambda):
            self._arguments_at_definition(node.args, annotations=False)
            self._last_info = self._in_function(self._function_frame(node), self.expr, node.body)
        elif isinstance(node, _COMPREHENSIONS):
            self.comprehension(node)
        else:
            if isinstance(node, ast.Subscript) and _is_this_module(node):
                self.dynamic = True
            for child in ast.iter_child_nodes(node):
                self.expr(child)

    def call(self, node):
        """Rules (2) and (4) of `_MUTATION_RULE`, dynamic definitions, calls of the cell's
        functions."""
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if name in _FIRST_ARG_BUILTINS or name in _FIRST_ARG_MUTATORS:
                if node.args:
                    first = node.args[0]
                    self.mutate(_base_name(first))
                    if name == "setattr" and (
                            _mentions_sys_modules(first) or _is_namespace_call(_base(first))
                            or (isinstance(first, ast.Name) and self._is_module_name(first.id))):
                        self.dynamic = True
            elif name == "exec":
                self.dynamic = True
            self._called(name)
            return
        if not isinstance(func, ast.Attribute):
            return
        method = func.attr
        receiver = func.value
        if method in _NAMESPACE_WRITERS and _is_namespace_call(receiver):
            self.dynamic = True
            return
        self._receiver(node, method, receiver)
        if method in _FIRST_ARG_MUTATORS and node.args:
            self.mutate(_base_name(node.args[0]))

    def _receiver(self, node, method, receiver):
        mutating = method in _MUTATING_METHODS or method in self.known_mutating
        drawing = method in _RANDOM_METHODS
        if not (mutating or drawing):
            for kw in node.keywords:
                if kw.arg == "inplace" and isinstance(kw.value, ast.Constant) \
                        and kw.value.value is True:
                    mutating = True
                    break
            else:
                return
        base = _base_name(receiver)
        if base is None:
            return
        if isinstance(receiver, ast.Name) and base in _MODULE_ALIASES \
                and method not in _SEED_METHODS:
            return  # np.append(a, 1), math.gamma(x): a module's function
        if drawing and not mutating and base not in _RANDOM_MODULES \
                and base in _MODULE_ALIASES and not _chain_has_attr(receiver, "random") \
                and method not in _SEED_METHODS:
            return  # scipy.stats.gamma(...): not a draw from a generator
        self.mutate(base)

    def _is_module_name(self, name):
        return name in self.module_names or name in _MODULE_ALIASES or name in sys.modules

    def comprehension(self, node):
        gens = node.generators
        # The first iterable is evaluated in the enclosing scope.
        self.expr(gens[0].iter)
        targets = set()
        for gen in gens:
            for n in ast.walk(gen.target):
                # `for d[k] in xs` binds nothing: d and k are reads
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    targets.add(n.id)
        self.frames.append(_Frame("comp", targets))
        try:
            for i, gen in enumerate(gens):
                if i:
                    self.expr(gen.iter)
                self.target(gen.target)
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

    def result(self, tree):
        defines = list(self.defines)
        reads_names, reads_addresses = [], []
        for name, deferred_only in self.reads.items():
            # A function body runs later: a name the cell binds anywhere is the cell's own.
            if deferred_only and name in self.defines:
                continue
            (reads_addresses if is_address(name) else reads_names).append(name)
        address_defines = [n for n in defines if is_address(n)]
        assigns_address = address_defines[0] if address_defines else next(
            (n for n in self.deferred_binds if is_address(n)), None)
        bound = self.module.names
        return {
            "reads_names": reads_names,
            "reads_addresses": reads_addresses,
            "defines": defines,
            "assigns_address": assigns_address,
            "value_kind": _value_kind(tree),
            "error": None,
            "maybe_defines": [n for n in defines if n in self.maybe or n not in bound],
            "mutates": list(self.mutates),
            "deferred_reads": list(self.deferred_reads),
            "deferred_writes": list(self.deferred_writes),
            "dynamic": self.dynamic,
            "star_imports": list(self.star_imports),
            "address_defines": address_defines,
            "mutating_methods": list(self.mutating_methods),
            "function_writes": self._function_writes(),
            # A builtin's name is read from a cell before the reader, never from a later one.
            "reads_builtins": [n for n in reads_names if hasattr(builtins, n)],
            "reads_model": False,
        }

    def _function_writes(self):
        """{function name: the globals calling it may bind or change}, for the cell's
        module-level functions (through the other functions of the cell they call)."""
        out = {}
        for name in self.cell_functions:
            binds, mutates = self._effects_of_calling(name)
            writes = {**binds, **mutates}
            if writes:
                out[name] = list(writes)
        return out

    def _effects_of_calling(self, name):
        """(binds, mutates) of calling the cell's function `name`, through the other functions
        of the cell it calls."""
        seen, todo = set(), [name]
        binds, mutates = {}, {}
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            info = self.cell_functions.get(n)
            if info is not None:
                binds.update(info.binds)
                mutates.update(info.mutates)
                todo.extend(info.calls)
        return binds, mutates


def _methods_changing_self(node, known):
    """Names of the methods of class `node` that change their object: they assign to,
    augment or delete an attribute or item of their first parameter, or call a mutating
    method on it (dunder methods left out: nobody calls them as `obj.m()`)."""
    out = {}
    for fn in node.body:
        if not isinstance(fn, _FUNCTIONS) or fn.name.startswith("__"):
            continue
        params = [*fn.args.posonlyargs, *fn.args.args]
        if not params or any(isinstance(d, ast.Name) and d.id == "staticmethod"
                             for d in fn.decorator_list):
            continue
        me = params[0].arg
        for sub in ast.walk(fn):
            if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = (sub.targets if isinstance(sub, (ast.Assign, ast.Delete))
                           else [sub.target])
                hit = any(isinstance(t, (ast.Attribute, ast.Subscript)) and _base_name(t) == me
                          for t in targets)
            elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                hit = (_base_name(sub.func.value) == me
                       and (sub.func.attr in _MUTATING_METHODS or sub.func.attr in known))
            else:
                hit = False
            if hit:
                out[fn.name] = None
                break
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
        "maybe_defines": [],
        "mutates": [],
        "deferred_reads": [],
        "deferred_writes": [],
        "dynamic": False,
        "star_imports": [],
        "address_defines": [],
        "mutating_methods": [],
        "function_writes": {},
        "reads_builtins": [],
        "reads_model": False,
    }


def analyze(code, mutating_methods=()):
    """Static dependencies of one cell's code; see the module docstring for the range rewrite.

    Returns a dict (lists in order of first appearance):
    - `reads_names`: global names the cell reads (builtins included: another cell may define
      them), also those read in its function/lambda bodies unless the cell defines them;
      `reads_addresses`: the same for address-shaped names;
    - `defines`: module-level names the cell may bind (builtin and address-shaped names
      included, star imports resolved, `global` bindings of functions it calls);
      `maybe_defines`: those not bound on every path; `address_defines`: the address-shaped
      ones; `assigns_address`: the first of these (or of the addresses a function of the cell
      declares `global` and binds), or None;
    - `mutates`: global names the cell may change in place (see `_MUTATION_RULE`);
    - `deferred_reads` / `deferred_writes`: global names its functions, lambdas and methods
      read / bind or mutate when called;
    - `dynamic`: the cell may define globals invisibly (`globals()[...] =`, `exec`,
      `setattr(module, ...)`, `sys.modules`, `__builtins__`); `star_imports`: modules
      star-imported;
    - `function_writes`: {function: globals calling it may bind or change};
    - `reads_builtins`: the names in `reads_names` that are builtins (the kernel's included);
    - `mutating_methods`: methods of the classes the cell defines that change their object;
      `mutating_methods` given to `analyze` (those of the notebook's classes) count as
      mutating methods for rule (2);
    - `value_kind` ("expr", "assign" or "none");
    - `reads_model`: the cell calls `sheet.what_if` / `sheet.goal_seek` (or their magics): the
      addresses named in the call are in `reads_addresses`, and the cell re-runs whenever a
      cell upstream of it does (its value depends on their code);
    - `error`: None, or one line ("SyntaxError: ..." or "AnalysisError: ...") with every other
      field empty. An analysis that fails never looks like "no dependencies".
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
    # An interrupt is not caught: the kernel shows it as the cell's KeyboardInterrupt.
    try:
        a = _Analyzer(tree.body[-1] if tree.body else None, mutating_methods)
        a.body(tree.body)
        result = a.result(tree)
        if any(word in code for word in _MODEL_WORDS):
            _add_model_reads(tree, result)
        return result
    except RecursionError:
        return _empty_analysis("SyntaxError: the cell is too deeply nested to analyze")
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        return _empty_analysis(f"AnalysisError: the analysis of the cell failed: "
                               f"{type(e).__name__}: {e}".replace("\n", " "))


# What-if tables and goal seek evaluate the sheet in a copy: their value depends on the cells
# they name and on the code of everything upstream of those, so the cell reads the named
# addresses (strings, to Python) and `reads_model` tells the kernel never to cut it off.
_MODEL_METHODS = frozenset(("what_if", "goal_seek"))
_MODEL_MAGICS = frozenset(("whatif", "goalseek"))
_MODEL_WORDS = ("what_if", "goal_seek", "whatif", "goalseek")
_ADDRESS_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Z]{1,3}[1-9][0-9]{0,6}(?![A-Za-z0-9_])")


def _add_model_reads(tree, result):
    named = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) \
                or not isinstance(node.func.value, ast.Name):
            continue
        owner, attr = node.func.value.id, node.func.attr
        if owner == "sheet" and attr in _MODEL_METHODS:
            named += [c.value for c in ast.walk(node)
                      if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        elif owner == "__pysheets_magics__" and attr == "line_magic" and node.args \
                and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) \
                and (node.args[0].value.split() or [""])[0] in _MODEL_MAGICS:
            named += _ADDRESS_WORD.findall(node.args[0].value)
        else:
            continue
        result["reads_model"] = True
    reads = result["reads_addresses"]
    for a in named:
        if is_address(a) and a not in reads:
            reads.append(a)


if analyze.__doc__:  # None under python -OO
    analyze.__doc__ += "\n" + _MUTATION_RULE

# ---------------------------------------------------------------------------------------------
# Ranges


class Range:
    """A rectangle of cells, what `A1:C4` evaluates to in a cell.

    `lookup(address)` returns the current value of a cell, or None when it is empty; it is
    called on every access, so a Range always shows the cells' current values.

    - iteration yields the non-empty values, row by row (A1, B1, C1, A2, ...), so `sum(A1:A10)`
      and `max(B1:C3)` skip blank cells as a spreadsheet does;
    - `len()` is the number of cells in the rectangle, empty ones included (so it matches
      `.addresses` and indexing, not the iteration); past `MAX_DENSE_CELLS` it is a TypeError
      (use `.size`), so that `list(r)` does not try to allocate one slot per cell;
    - `r[i]` is the i-th cell in row-major order and `r[i, j]` row i, column j (0-based, negative
      indices count from the end), None for empty cells; a slice gives a list.

    `occupied()`, when given, returns the addresses that may hold a value (the sheet's cells):
    iterating a range larger than that list walks the list, not the rectangle, so `sum(A1:XFD1048576)`
    costs what the cells cost. `.values`, `.addresses` and `to_frame()` make one entry per cell of
    the rectangle, so they refuse one of more than `MAX_DENSE_CELLS` cells.
    """

    __slots__ = ("_col0", "_row0", "_col1", "_row1", "_lookup", "_occupied")

    MAX_DENSE_CELLS = 10_000_000

    def __init__(self, start, end, lookup, occupied=None):
        c0, r0 = parse_address(start)
        c1, r1 = parse_address(end)
        if not callable(lookup):
            raise TypeError("Range needs a callable lookup(address) -> value or None")
        # `C4:A1` is the same rectangle as `A1:C4`.
        self._col0, self._col1 = min(c0, c1), max(c0, c1)
        self._row0, self._row1 = min(r0, r1), max(r0, r1)
        self._lookup = lookup
        self._occupied = occupied

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
        if self.size > self.MAX_DENSE_CELLS:
            raise ValueError(
                f"{self.start}:{self.end} has {self.size:,} cells, more than the "
                f"{self.MAX_DENSE_CELLS:,} a list of every cell may hold: iterate it (only the "
                f"cells that hold values), or take a smaller range"
            )
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

    @property
    def size(self):
        """Number of cells in the rectangle, empty ones included, whatever its size."""
        rows, cols = self.shape
        return rows * cols

    def __len__(self):
        # list(), sorted() and tuple() take len() as the size to allocate: for a huge range a
        # TypeError (not another error) makes them fall back to growing as they iterate.
        if self.size > self.MAX_DENSE_CELLS:
            raise TypeError(
                f"len() of {self.start}:{self.end}: it has {self.size:,} cells, more than "
                f"{self.MAX_DENSE_CELLS:,}; use .size"
            )
        return self.size

    def __iter__(self):
        for address in self._candidates():
            v = self._lookup(address)
            if v is not None:
                yield v

    def _candidates(self):
        """The addresses that may hold a value, row by row: the rectangle's, or the occupied
        addresses inside it when those are fewer."""
        occupied = None if self._occupied is None else list(self._occupied())
        if occupied is None or self.size <= len(occupied):
            return (format_address(c, r)
                    for r in range(self._row0, self._row1 + 1)
                    for c in range(self._col0, self._col1 + 1))
        inside = []
        for address in occupied:
            c, r = parse_address(address)
            if self._col0 <= c <= self._col1 and self._row0 <= r <= self._row1:
                inside.append((r, c, address))
        inside.sort()
        return (address for _, _, address in inside)

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


def summarize(value, max_len=60, text=None):
    """One line of text for the sheet view, at most `max_len` characters.

    DataFrame -> "DataFrame 120×4", Series -> "Series 120", ndarray -> "ndarray 3×4 float64",
    matplotlib Figure -> "Figure", strings as they are (newlines shown as ↵), anything else its
    repr on one line (`text`, when the caller has it already: a slow `__repr__` runs once);
    whatever is longer than `max_len` ends with "…".
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
        elif text is not None:
            text = _NEWLINES.sub(" ", text[: 4 * max_len])
        else:
            text = _NEWLINES.sub(" ", _bounded_repr(value, max_len + 1, set()))
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # a broken __repr__ (even SystemExit) must not break the sheet
        text = f"<{type(value).__name__} object (repr failed: {type(e).__name__})>"
    return _truncate(text, max_len)


def value_type(value):
    """The value's type with its length or shape, for the journal: `list[3]`,
    `DataFrame[120×4]`, `ndarray[3×4]`, `str[12]`, or the bare type name (`int`, `Figure`,
    `float64`: a numpy scalar's shape is empty)."""
    name = type(value).__name__
    try:
        shape = getattr(value, "shape", None) if not isinstance(value, (str, bytes)) else None
        if isinstance(shape, tuple) and shape and all(isinstance(n, int) for n in shape):
            return f"{name}[{'×'.join(str(n) for n in shape)}]"
        if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)):
            return f"{name}[{len(value)}]"
    except KeyboardInterrupt:
        raise
    except BaseException:  # a broken __getattr__ or __len__ (even SystemExit): the bare name
        pass
    return name
