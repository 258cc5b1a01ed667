"""Sheet cells, the Python side: run a cell at an address, keep its value, show it by display id.

The Rust side decides which cells run and in which order; this module only runs one cell at a
time and reports whether its value changed (early cutoff needs that).
"""

import ast
import builtins
import json
import sys

import _pysheets_native as _native
from pysheets import display as _display
from pysheets import execution as _execution
from pysheets import magics as _magics
from pysheets import sheet as _sheet

user_ns = _execution.user_ns
_MISSING = object()
# A cell's output carries the display id "pysheets-<ADDR>", so re-runs can update it in place.
DISPLAY_ID_PREFIX = "pysheets-"
_SIMPLE = {int, float, bool, type(None)}
# Types whose `!=` is the early-cutoff rule itself (floats need the NaN rule of values_equal).
_EXACT = {int, bool, str, bytes, type(None)}

values = {}  # address -> the cell's value
defined = {}  # address -> {name: value} the cell bound, so each reader sees its own definer
_compiled = {}  # address -> (source, body code, last-expression code, assigned name, hidden)


def _lookup(address):
    value = user_ns.get(address)
    return value if address in values else None


def _range(start, end):
    return _sheet.Range(start, end, _lookup)


builtins.__pysheets_range__ = _range


def _compile(address, source):
    cached = _compiled.get(address)
    if cached is not None and cached[0] == source:
        return cached[1:]
    filename = f"<cell {address}>"
    transformed = _magics.transform(source)
    _execution._register_source(filename, transformed)
    tree = ast.parse(transformed, filename, "exec")
    last = assigned = None
    if tree.body:
        tail = tree.body[-1]
        if isinstance(tail, ast.Expr):
            tree.body.pop()
            last = compile(ast.Expression(tail.value), filename, "eval")
        elif isinstance(tail, ast.Assign) and len(tail.targets) == 1 \
                and isinstance(tail.targets[0], ast.Name):
            assigned = tail.targets[0].id
        elif isinstance(tail, ast.AnnAssign) and tail.value is not None \
                and isinstance(tail.target, ast.Name):
            assigned = tail.target.id
    body = compile(tree, filename, "exec")
    hidden = _execution._ends_with_semicolon(source)
    _compiled[address] = (source, body, last, assigned, hidden)
    return body, last, assigned, hidden


def _figures_bundle():
    """PNG of the figures the cell drew (and closes them), or None."""
    if "matplotlib.pyplot" not in sys.modules:
        return None
    from matplotlib._pylab_helpers import Gcf

    managers = Gcf.get_all_fig_managers()
    if not managers:
        return None
    try:
        return _display.format_bundle(managers[-1].canvas.figure)
    finally:
        Gcf.destroy_all()


def _publish_value(address, mode, data, metadata):
    _native.publish_value(mode == "update", DISPLAY_ID_PREFIX + address, data, metadata)


def run(address, source, mode, execution_count, empty, bind, defines):
    """Runs the cell at `address`. Returns `(changed, summary, payload, result_text)`, or the
    error dict when it raised (a tuple, not JSON: this is the hot path of re-run batches)."""
    for name in empty:
        if name not in values:
            user_ns[name] = None
    for name, definer in bind.items():
        got = defined.get(definer)
        if got is not None and name in got:
            user_ns[name] = got[name]
    _magics.payloads.clear()
    try:
        body, last, assigned, hidden = _compile(address, source)
        exec(body, user_ns)
        if last is not None:
            value = eval(last, user_ns)
        elif assigned is not None:
            value = user_ns.get(assigned)
        else:
            value = None
    except BaseException as exc:
        err = _execution.format_exception(exc)
        values.pop(address, None)
        user_ns.pop(address, None)
        if mode == "update":
            show_error(address, f"{err['ename']}: {err['evalue']}")
        else:
            _execution.publish_error(err)
        _figures_bundle()
        return dict(status="error", **err)
    defined[address] = {n: user_ns[n] for n in defines if n in user_ns}
    old = values.get(address, _MISSING)
    if type(old) is type(value) and type(value) in _EXACT:
        changed = old != value  # the common case, without a call
    else:
        changed = old is _MISSING or not _sheet.values_equal(old, value)
    values[address] = value
    user_ns[address] = value
    figures = _figures_bundle()
    result_text = None  # Out[n] for the history
    plain = None  # repr(value), once
    if mode == "result":
        # Line-oriented clients see Out[n] as in IPython (expressions, not assignments) and
        # figures as display data.
        has_display = last is not None and value is not None and not hidden
        drawn = figures is not None and (type(value).__module__ or "").startswith("matplotlib.")
        if has_display and not drawn:
            data, metadata = _display.format_bundle(value)
            result_text = data["text/plain"]
            _native.publish("execute_result", json.dumps(
                {"execution_count": execution_count, "data": data,
                 "metadata": metadata}, default=str))
        if figures is not None:
            _display.publish_display_data(*figures)
    else:
        # One output per cell, under the address's display id, so it can be updated in place;
        # a figure the cell drew is its most useful picture.
        has_display = (last is not None or assigned is not None or figures is not None) \
            and not hidden
        if has_display:
            if figures is not None:
                data, metadata = figures
            elif value is None:
                data, metadata = {"text/plain": ""}, {}
            elif type(value) in _SIMPLE:
                plain = repr(value)
                data, metadata = {"text/plain": plain}, {}
            else:
                data, metadata = _display.format_bundle(value)
            _publish_value(address, mode, data, metadata)
    if type(value) in _SIMPLE:
        summary = plain if plain is not None else repr(value)
    else:
        summary = _sheet.summarize(value)
    payloads = _magics.payloads
    return (changed, summary, list(payloads) if payloads else None, result_text)


def show_error(address, text, kind="error"):
    """Replaces a cell's shown value by a message (an error, an upstream error, stale)."""
    import html

    colour = {"error": "#b00020", "stale": "#8a6d00"}.get(kind, "#b00020")
    data = {
        "text/plain": text,
        "text/html": f'<pre style="color:{colour};margin:0">{html.escape(text)}</pre>',
    }
    _publish_value(address, "update", data, {"pysheets": {"state": kind}})


def mark_json(request):
    r = json.loads(request)
    if r.get("drop_value"):
        values.pop(r["address"], None)
        user_ns.pop(r["address"], None)
    if r.get("text"):
        show_error(r["address"], r["text"], r.get("kind", "error"))
    return "null"


def delete_json(request):
    r = json.loads(request)
    address = r["address"]
    for table in (values, defined, _compiled):
        table.pop(address, None)
    user_ns.pop(address, None)
    for name in r.get("names", ()):
        user_ns.pop(name, None)
    return "null"
