"""Sheet cells, the Python side: run a cell at an address, keep its value, show it by display id.

The Rust side decides which cells run and in which order; this module only runs one cell at a
time and reports whether its value changed (early cutoff needs that).
"""

import ast
import builtins
import json
import numbers
import sys

from pysheets_kernel import _native
from pysheets_kernel import display as _display
from pysheets_kernel import execution as _execution
from pysheets_kernel import magics as _magics
from pysheets_kernel import sheet as _sheet

user_ns = _execution.user_ns
_modules = sys.modules
_MISSING = object()
# A cell's output carries the display id "pysheets-<ADDR>", so re-runs can update it in place.
DISPLAY_ID_PREFIX = "pysheets-"
_SIMPLE = {int, float, bool, type(None)}
# Types whose `!=` is the early-cutoff rule itself (floats need the NaN rule of values_equal).
_EXACT = {int, bool, str, bytes, type(None)}


class Cell:
    """One sheet cell's Python side. The Rust record holds this object and hands it back for
    every run, so a re-run batch of 10,000 cells looks nothing up by address."""

    __slots__ = ("address", "display_id", "source", "defines", "bind", "compiled", "value",
                 "defined", "dynamic", "changes", "number_format")

    def __init__(self, address):
        self.address = address
        self.display_id = DISPLAY_ID_PREFIX + address
        self.source = None
        self.defines = ()
        # ((name, definer Cell), ...): where each name the cell reads comes from (set by Rust).
        self.bind = ()
        self.compiled = None  # (body code, last-expression code, assigned name, hidden)
        self.value = _MISSING
        self.defined = {}  # {name: value} the cell bound, so each reader sees its own definer
        # It may bind names no analysis sees (`globals()[...]`, `exec`): what it bound is
        # found by comparing the namespace before and after it runs.
        self.dynamic = False
        # Names it only changes in place (`lst.append(1)`): not running it cannot unbind them.
        self.changes = ()
        # Its label's `:spec` (a Python format spec), for numbers: `.1%` shows 0.25 as 25.0%.
        self.number_format = None


_cells = {}  # address -> Cell


def cell(address, source, defines, dynamic=False, changes=(), number_format=None):
    """The Cell at `address` with this code: the same object while the address holds a cell,
    so that readers' bindings to it stay valid across edits."""
    c = _cells.get(address)
    if c is None:
        c = _cells[address] = Cell(address)
    if c.source != source:
        c.source = source
        c.compiled = None
    c.defines = tuple(defines)
    c.dynamic = dynamic
    c.changes = tuple(changes)
    c.number_format = number_format
    return c


def formatted(spec, value):
    """`value` in the number format `spec`, or None: no format, not a number (booleans are
    not), or a format that does not apply to it (`.2d` of a float), shown as usual then."""
    if spec is None or isinstance(value, bool) or not isinstance(value, numbers.Number):
        return None
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        return None


def _lookup(address):
    c = _cells.get(address)
    if c is None or c.value is _MISSING:
        return None
    return c.value


def _range(start, end):
    # `_cells.keys` is live: a Range kept in a variable sees cells added since.
    return _sheet.Range(start, end, _lookup, _cells.keys)


builtins.__pysheets_range__ = _range


def assigned_name(statement):
    """The name a cell's last statement binds when that makes it the cell's value: a plain
    assignment's value is the cell's value too (`total = A1 + A2`)."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
            and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id
    if isinstance(statement, ast.AnnAssign) and statement.value is not None \
            and isinstance(statement.target, ast.Name):
        return statement.target.id
    return None


def _compile(c):
    filename = f"<cell {c.address}>"
    source = c.source
    transformed = _magics.transform(source)
    _execution._register_source(filename, transformed)
    tree, last = _execution._split_last_expression(ast.parse(transformed, filename, "exec"))
    assigned = None
    if last is not None:
        last = compile(last, filename, "eval")
    elif tree.body:
        assigned = assigned_name(tree.body[-1])
    body = compile(tree, filename, "exec")
    hidden = _execution._ends_with_semicolon(source)
    c.compiled = (body, last, assigned, hidden)
    return c.compiled


def _figures_bundle(report=_display.show_formatter_error):
    """PNG of the figures the cell drew (and closes them), or None."""
    if "matplotlib.pyplot" not in sys.modules:
        return None
    from matplotlib._pylab_helpers import Gcf

    managers = Gcf.get_all_fig_managers()
    if not managers:
        return None
    try:
        return _display.format_bundle(managers[-1].canvas.figure, report=report)
    finally:
        Gcf.destroy_all()


def _publish_value(c, mode, data, metadata):
    _native.publish_value(mode == "update", c.display_id, data, metadata)


def run(c, mode, execution_count, empty, bind):
    """Runs the cell `c`. Returns `(changed, summary, payload, result_text, png, value_type)`,
    or the error dict when it raised (a tuple, not JSON: this is the hot path of re-run
    batches). `bind` is None when the cell's bindings did not change since its last run."""
    for name in empty:
        user_ns[name] = None
    if bind is not None:
        c.bind = bind
    # Each name as the cells before this one left it (Run All's namespace at this cell); a
    # definer that did not bind it leaves it undefined.
    for name, definer in c.bind:
        if definer is None:
            user_ns.pop(name, None)
            continue
        got = definer.defined.get(name, _MISSING)
        if got is not _MISSING:
            user_ns[name] = got
        elif not (definer.dynamic or name in definer.changes):
            # (a dynamic cell is only a guess for the names it may define)
            user_ns.pop(name, None)
    if c.dynamic:
        seen = {name: id(value) for name, value in user_ns.items()}
    _magics.payloads.clear()
    address = c.address
    try:
        body, last, assigned, hidden = c.compiled or _compile(c)
        exec(body, user_ns)
        if last is not None:
            value = eval(last, user_ns)
        elif assigned is not None:
            value = user_ns.get(assigned)
        else:
            value = None
    except BaseException as exc:
        err = _execution.format_exception(exc)
        if _former and isinstance(exc, NameError) and getattr(exc, "name", None) in _former:
            err["evalue"] += f" (it was defined by {_former[exc.name]}, which no longer does)"
        # What it bound before raising stays bound, as in a top-to-bottom run.
        c.defined = _capture(c)
        if c.dynamic:
            _add_dynamic_definitions(c, seen)
        c.value = _MISSING
        user_ns.pop(address, None)
        if mode == "update":
            show_error(c, f"{err['ename']}: {err['evalue']}")
        else:
            _execution.publish_error(err)
        _figures_bundle(None)  # (only closes them: nothing is shown)
        return dict(status="error", **err)
    before = c.defined
    defined = c.defined = {}  # a loop, not a comprehension: no function call per cell
    for name in c.defines:
        got = user_ns.get(name, _MISSING)
        if got is not _MISSING:
            defined[name] = got
    if c.dynamic:
        _add_dynamic_definitions(c, seen)
    if _former:
        for name in defined:
            _former.pop(name, None)
    old = c.value
    if type(old) is type(value) and type(value) in _EXACT:
        changed = old != value  # the common case, without a call
    else:
        changed = old is _MISSING or not _sheet.values_equal(old, value)
    # A cell's definitions are part of what changed: `def price` re-run has the same value
    # (None) and a new function.
    if not changed and (defined or before):
        changed = _definitions_changed(before, defined)
    c.value = value
    user_ns[address] = value
    # A formatter that fails shows its traceback when the cell itself runs; a re-run updates
    # another request's output in place, where a traceback has no place to go.
    report = None if mode == "update" else _display.show_formatter_error
    figures = _figures_bundle(report) if "matplotlib.pyplot" in _modules else None
    png = None  # a small picture of the value, for the grid
    result_text = None  # Out[n] for the history
    plain = formatted(c.number_format, value)  # else repr(value), once: a slow __repr__ runs once
    shown_formatted = plain is not None
    if mode == "result":
        # Line-oriented clients see Out[n] as in IPython (expressions, not assignments) and
        # figures as display data.
        has_display = last is not None and value is not None and not hidden
        drawn = figures is not None and (type(value).__module__ or "").startswith("matplotlib.")
        if has_display and not drawn:
            if shown_formatted:
                data, metadata = {"text/plain": plain}, {}
            else:
                data, metadata = _display.format_bundle(value, report=report)
            result_text = plain = data["text/plain"]
            _native.publish("execute_result", json.dumps(
                {"execution_count": execution_count, "data": data,
                 "metadata": metadata}, default=str))
        if figures is not None:
            _display.publish_display_data(*figures)
        png = _small_png(figures[0] if figures is not None else None)
    else:
        # One output per cell, under the address's display id, so it can be updated in place;
        # a figure the cell drew is its most useful picture.
        has_display = (last is not None or assigned is not None or figures is not None) \
            and not hidden
        if has_display:
            data = None
            if figures is not None:
                data, metadata = figures
            elif value is None:
                data, metadata = {"text/plain": ""}, {}
            elif shown_formatted:
                _native.publish_text_value(mode == "update", c.display_id, plain)
            elif type(value) in _SIMPLE:
                try:
                    plain = repr(value)
                except ValueError:  # an int too long to convert: format_bundle says so
                    pass
                else:
                    _native.publish_text_value(mode == "update", c.display_id, plain)
            if data is None and plain is None:
                data, metadata = _display.format_bundle(value, report=report)
                plain = data["text/plain"]
            if data is not None:
                _publish_value(c, mode, data, metadata)
                png = _small_png(data)
    if shown_formatted:
        summary = plain
        value_type = _sheet.value_type(value)
    elif type(value) in _SIMPLE:
        if plain is None:
            plain = _display.format_bundle(value, report=None)[0]["text/plain"]
        summary = plain
        value_type = type(value).__name__
    else:
        summary = _display.clean_text(_sheet.summarize(value, text=plain))
        value_type = _sheet.value_type(value)
    payloads = _magics.payloads
    return (changed, summary, list(payloads) if payloads else None, result_text, png, value_type)


def _capture(c):
    defined = {}
    for name in c.defines:
        got = user_ns.get(name, _MISSING)
        if got is not _MISSING:
            defined[name] = got
    return defined


def _add_dynamic_definitions(c, seen):
    defined = c.defined
    for name, value in user_ns.items():
        if seen.get(name) != id(value) and not name.startswith("__") and name != c.address:
            defined[name] = value


def _definitions_changed(before, after):
    """Whether a re-run changed what the cell defines. The same mutable object counts as
    changed: the cell may have changed it in place, and nothing cheap can tell."""
    if before.keys() != after.keys():
        return True
    for name, new in after.items():
        old = before[name]
        if old is new:
            if type(new) not in _EXACT and type(new) is not float and type(new) is not tuple:
                return True
        elif type(old) is type(new) and type(new) in _EXACT:
            if old != new:
                return True
        elif not _sheet.values_equal(old, new):
            return True
    return False


# name -> the address of the cell that defined it last, for names no cell defines any more
# (a reader's NameError says where the name went).
_former = {}


def forget(address, names):
    """Names the cell at `address` stopped defining and no other cell defines: they leave
    the namespace, as in a top-to-bottom run of the edited notebook."""
    for name in names:
        user_ns.pop(name, None)
        _former[name] = address


def settle(bindings):
    """After a batch: each name defined by several cells holds its last definer's version,
    the namespace a top-to-bottom run leaves."""
    for name, definer in bindings:
        got = definer.defined.get(name, _MISSING)
        if got is not _MISSING:
            user_ns[name] = got
        elif not (definer.dynamic or name in definer.changes):
            user_ns.pop(name, None)


_PNG_LIMIT = 96 * 1024  # base64 characters; a bigger picture is not "small" in a grid cell


def _small_png(data):
    png = data.get("image/png") if data else None
    return png if isinstance(png, str) and len(png) <= _PNG_LIMIT else None


def show_error(c, text, kind="error"):
    """Replaces a cell's shown value by a message (an error, an upstream error, stale)."""
    import html

    colour = {"error": "#b00020", "stale": "#8a6d00"}.get(kind, "#b00020")
    data = {
        "text/plain": text,
        "text/html": f'<pre style="color:{colour};margin:0">{html.escape(text)}</pre>',
    }
    _publish_value(c, "update", data, {"pysheets": {"state": kind}})


def mark_json(request):
    r = json.loads(request)
    c = _cells.get(r["address"])
    if c is None:
        return "null"
    if r.get("drop_value"):
        c.value = _MISSING
        user_ns.pop(c.address, None)
        # It did not run: what it defined is not current either (a top-to-bottom run that
        # stops at the error never binds it).
        for name in c.defined:
            if name not in c.changes and user_ns.get(name, _MISSING) is c.defined[name]:
                user_ns.pop(name, None)
        c.defined = {}
    if r.get("text"):
        show_error(c, r["text"], r.get("kind", "error"))
    return "null"


def delete_json(request):
    r = json.loads(request)
    address = r["address"]
    c = _cells.pop(address, None)
    if c is not None:
        # Readers still holding it get new bindings from Rust; until then they see nothing.
        c.value = _MISSING
        c.defined = {}
    user_ns.pop(address, None)
    for name in r.get("names", ()):
        user_ns.pop(name, None)
    return "null"
