"""Explaining a number: `sheet.history`, `sheet.explain`, `sheet.asof`, `sheet.diff` and
`sheet.verify` (the `sheet` builtin is this module), and the magics `%history`, `%explain`,
`%asof`, `%diff` and `%sheet verify`, all answered from the journal (`pysheets_kernel.journal`).
`sheet.what_if` and `sheet.goal_seek` are here too, from `pysheets_kernel.scenarios`.

`asof` evaluates the sheet as its code stood at a time in a separate process (the kernel's
`replay` command), so the live sheet's namespace, modules and outputs do not change.
"""

import html
import json
import os
import re
import shlex
import subprocess

from pysheets_kernel import journal as _journal
from pysheets_kernel.journal import JournalError, format_time, parse_time

_config = {"journal": None, "python": None, "notebook": None}
_ADDRESS = re.compile(r"^[A-Za-z]{1,3}[1-9][0-9]{0,6}$")
# Cells that ask the journal (they would only fail, or recurse, in a replay).
_AUDIT_CODE = re.compile(r"^\s*%(history|explain|asof|diff|sheet)\b", re.M)


def configure(journal=None, python=None, notebook=None):
    """Called by the kernel when it opens the journal."""
    _config.update(journal=journal, python=python, notebook=notebook)


def journal_path():
    """The journal's file, or None when this kernel keeps none."""
    return _config["journal"]


def _load(whole=False):
    """This notebook's records, or the `whole` file's (verification covers every record)."""
    path = _config["journal"]
    if not path:
        raise JournalError("this kernel keeps no journal (PYSHEETS_JOURNAL is off)")
    j = _journal.read(path)
    return j if whole else j.only(_config["notebook"])


def _address(text):
    a = str(text).strip()
    if not _ADDRESS.match(a):
        raise ValueError(f"{text!r} is not a cell address (like B7)")
    return a.upper()


def _live_value(address):
    """The cell's value now, summarized, when it has one in the namespace."""
    from pysheets_kernel import execution, sheet

    ns = execution.user_ns
    if address not in ns:
        return None
    return sheet.summarize(ns[address], 60)


def _e(text):
    return html.escape("" if text is None else str(text))


def _when(t):
    return format_time(parse_time(t)) if t else "?"


def _table(headers, rows):
    """Plain text columns."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(headers)] + [line(r) for r in rows])


def _one_line(code, n=60):
    text = " ⏎ ".join(l for l in (code or "").splitlines() if l.strip())
    return text if len(text) <= n else text[: n - 1] + "…"


# --- verify ------------------------------------------------------------------------------

class Verification:
    def __init__(self, j):
        self.path = j.path
        self.ok = j.ok
        self.records = len(j.records)
        self.head = j.head
        self.first_bad = j.bad
        self.torn = list(j.torn)

    def _lines(self):
        out = [f"journal: {self.path}", f"records: {self.records}"]
        if self.ok:
            out.append("chain: valid")
        else:
            b = self.first_bad
            out.append(f"chain: BROKEN at line {b['line']} (record {b['seq']}): {b['reason']}")
        for line in self.torn:
            out.append(f"line {line}: not a whole record (a write cut short); skipped")
        out.append(f"head: {self.head}")
        out.append("(keep the head hash elsewhere: a journal rewritten since then will not "
                   "end with it)")
        return out

    def __repr__(self):
        return "\n".join(self._lines())

    def _repr_html_(self):
        colour = "#1a7f37" if self.ok else "#cf222e"
        lines = self._lines()
        return (f"<div class='pysheets-verify' style='border-left:4px solid {colour};"
                f"padding-left:8px'><pre>{_e(chr(10).join(lines))}</pre></div>")


def verify():
    """Checks the journal's hash chain: the first bad record (edited, removed, reordered),
    lines cut short, and the head hash to keep elsewhere."""
    return Verification(_load(whole=True))


def verify_bundle():
    try:
        v = verify()
    except JournalError as e:
        return {"text/plain": f"JournalError: {e}"}
    return {"text/plain": repr(v), "text/html": v._repr_html_(),
            "application/json": {"ok": v.ok, "records": v.records, "head": v.head,
                                 "first_bad": v.first_bad, "torn": v.torn}}


# --- history -----------------------------------------------------------------------------

class History(list):
    """Every version of a cell's code and value, oldest first (a list of dicts)."""

    def __init__(self, address, entries):
        super().__init__(entries)
        self.address = address

    def _rows(self):
        rows = []
        for e in self:
            if e["kind"] == "delete":
                what = "deleted"
            elif e.get("status") not in (None, "ok"):
                what = f"{e['status']}: {e.get('error') or ''}".strip()
            else:
                what = e.get("value") or ""
            how = e["kind"] if not e.get("cause") else f"{e['kind']} ({e['cause']})"
            rows.append((_when(e["time"]), e.get("user") or "?", how,
                         _one_line(e.get("code")) if e.get("code") is not None else "", what))
        return rows

    def __repr__(self):
        if not self:
            return f"{self.address}: no history in the journal"
        return f"history of {self.address}\n" + _table(
            ("when", "who", "what", "code", "value"), self._rows())

    def _repr_html_(self):
        if not self:
            return f"<p>{_e(self.address)}: no history in the journal</p>"
        body = "".join(
            "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row[:3])
            + f"<td><code>{_e(row[3])}</code></td><td>{_e(row[4])}</td></tr>"
            for row in self._rows())
        return (f"<table class='pysheets-history'><caption>history of {_e(self.address)}"
                "</caption><tr><th>when</th><th>who</th><th>what</th><th>code</th>"
                f"<th>value</th></tr>{body}</table>")


def history(address):
    """Every version of the cell's code and value, with who and when."""
    a = _address(address)
    j = _load()
    entries = _journal.entries_for(j, a)
    if not entries:
        raise KeyError(f"{a} has no record in the journal {j.path}")
    return History(a, entries)


# --- explain -----------------------------------------------------------------------------

class Explanation:
    """The upstream tree of a cell: `tree` is `{address, title, code, value, status, editor,
    edited, runs, ms, children: [...], repeated}`."""

    def __init__(self, address, tree):
        self.address = address
        self.tree = tree

    @staticmethod
    def _label(n):
        title = f" {n['title']}" if n.get("title") else ""
        if n.get("status") not in (None, "ok"):
            value = f"{n['status']}" + (f": {n['error']}" if n.get("error") else "")
        else:
            value = n.get("value") if n.get("value") is not None else "?"
        return f"{n['address']}{title} = {value}"

    @staticmethod
    def _detail(n):
        ms = f"{n['ms']:.3g} ms" if isinstance(n.get("ms"), (int, float)) else "?"
        return (f"edited by {n.get('editor') or '?'} at {_when(n.get('edited'))}; "
                f"ran {n.get('runs', 0)}×, last run {ms}")

    def __repr__(self):
        out = []

        def walk(n, prefix, last, top):
            branch = "" if top else ("└── " if last else "├── ")
            more = " (see above)" if n.get("repeated") else ""
            out.append(f"{prefix}{branch}{self._label(n)}{more}")
            pad = prefix + ("" if top else ("    " if last else "│   "))
            if n.get("repeated"):
                return
            out.append(f"{pad}    {_one_line(n.get('code'), 70)}")
            out.append(f"{pad}    {self._detail(n)}")
            kids = n.get("children", [])
            for i, k in enumerate(kids):
                walk(k, pad, i == len(kids) - 1, False)

        walk(self.tree, "", True, True)
        return "\n".join(out)

    def _repr_html_(self):
        def node(n):
            label = _e(self._label(n))
            if n.get("repeated"):
                return f"<li><span class='pysheets-explain-ref'>{label} (see above)</span></li>"
            kids = "".join(node(k) for k in n.get("children", []))
            kids = f"<ul>{kids}</ul>" if kids else ""
            return (f"<li><details open><summary><b>{label}</b></summary>"
                    f"<pre>{_e(n.get('code'))}</pre><div>{_e(self._detail(n))}</div>"
                    f"{kids}</details></li>")

        return (f"<div class='pysheets-explain'><ul style='list-style:none;padding-left:1em'>"
                f"{node(self.tree)}</ul></div>")


def _tree(cells, address, seen, live=True):
    state = cells[address]
    n = state.as_dict()
    n.pop("first_seq", None)
    if live:
        value = _live_value(address)
        if value is not None and state.status in (None, "ok", "stale"):
            n["value"] = value
    if address in seen:
        n["repeated"] = True
        return n
    seen.add(address)
    n["children"] = [_tree(cells, r, seen, live) for r in state.reads if r in cells]
    n["missing"] = [r for r in state.reads if r not in cells]
    return n


def explain(address):
    """The full upstream tree of the cell: each cell's address, title, code, current value,
    last editor and time, how many times it ran and how long its last run took."""
    a = _address(address)
    j = _load()
    cells = _journal.sheet_at(j)
    if a not in cells:
        raise KeyError(f"no cell at {a} in the journal {j.path}")
    return Explanation(a, _tree(cells, a, set()))


def explain_for_grid(address):
    try:
        e = explain(address)
    except (JournalError, KeyError, ValueError) as err:
        return {"error": str(err.args[0] if isinstance(err, KeyError) else err)}
    return {"html": e._repr_html_(), "text": repr(e)}


# --- asof --------------------------------------------------------------------------------

def _upstream(cells, address):
    seen, todo = [], [address]
    while todo:
        a = todo.pop()
        if a in seen or a not in cells:
            continue
        seen.append(a)
        todo.extend(cells[a].reads)
    return seen


def _replay(cells):
    """Evaluates `cells` (CellStates, in order) in a separate kernel process."""
    if os.environ.get("PYSHEETS_REPLAY"):
        raise JournalError("asof is not available inside a replay")
    python = _config["python"]
    if not python:
        raise JournalError("this kernel cannot start a replay (no journal is open)")
    payload = {"cells": [{"address": c.address, "code": c.code, "cellId": c.cell}
                         for c in cells if not _AUDIT_CODE.search(c.code or "")]}
    env = dict(os.environ, PYSHEETS_JOURNAL="off", PYSHEETS_REPLAY="1")
    proc = subprocess.run([python, "-m", "pysheets_kernel", "replay"], input=json.dumps(payload),
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise JournalError(f"the replay failed (exit {proc.returncode}): {' '.join(tail)}")
    return json.loads(proc.stdout)["cells"]


def _combine(formulas, inputs):
    """Formulas of one time on the inputs (cells that read no other cell) of another."""
    out = {}
    for a, state in formulas.items():
        other = inputs.get(a)
        out[a] = other if state.is_input() and other is not None and other.is_input() else state
    return out


class AsOf:
    """The sheet evaluated as its code stood at `time` (on the inputs of `inputs_time`, when
    back-testing): `then` maps each address to `{state, value, error?}`, `now` to the live
    value, and `code_changed` lists the cells (upstream of `address`, when given) whose code
    differs from now's."""

    def __init__(self, time, inputs_time, address, then, now, code_changed):
        self.time, self.inputs_time, self.address = time, inputs_time, address
        self.then, self.now, self.code_changed = then, now, code_changed

    def value(self, address=None):
        """The value (summary) the cell had then."""
        a = _address(address or self.address)
        got = self.then.get(a)
        if got is None:
            raise KeyError(f"no cell at {a} at {format_time(self.time)}")
        return got.get("value") if got.get("state") == "ok" else got.get("error")

    def _title(self):
        t = f"as of {format_time(self.time)}"
        if self.inputs_time is not None:
            t += f", on the inputs of {format_time(self.inputs_time)}"
        return t

    def _rows(self):
        shown = [self.address] if self.address else list(self.then)
        rows = []
        for a in shown:
            got = self.then.get(a, {})
            then = got.get("value") if got.get("state") == "ok" else \
                f"{got.get('state', 'absent')}: {got.get('error', '')}".rstrip(": ")
            rows.append((a, then, self.now.get(a, "absent")))
        return rows

    def __repr__(self):
        text = f"{self._title()}\n" + _table(("cell", "then", "now"), self._rows())
        if self.code_changed:
            text += "\ncode that differs from now: " + ", ".join(
                f"{c['address']} ({c['change']}, by {c['by']} at {_when(c['at'])})"
                for c in self.code_changed)
        else:
            text += "\nno upstream cell's code differs from now"
        return text

    def _repr_html_(self):
        rows = "".join(f"<tr><td>{_e(a)}</td><td>{_e(t)}</td><td>{_e(n)}</td></tr>"
                       for a, t, n in self._rows())
        changed = "".join(
            f"<li><b>{_e(c['address'])}</b> {_e(c['change'])} by {_e(c['by'])} at "
            f"{_e(_when(c['at']))}: <code>{_e(_one_line(c['then']))}</code> → "
            f"<code>{_e(_one_line(c['now']))}</code></li>" for c in self.code_changed)
        changed = f"<p>code that differs from now:</p><ul>{changed}</ul>" if changed else \
            "<p>no upstream cell's code differs from now</p>"
        return (f"<div class='pysheets-asof'><table><caption>{_e(self._title())}</caption>"
                f"<tr><th>cell</th><th>then</th><th>now</th></tr>{rows}</table>{changed}</div>")


def _code_changes(old, new, addresses):
    out = []
    for a in addresses:
        o, n = old.get(a), new.get(a)
        if o is not None and n is not None and o.code == n.code:
            continue
        change = "added" if o is None else "removed" if n is None else "changed"
        by, at = (n.editor, n.edited) if n is not None else (None, None)
        out.append({"address": a, "change": change, "by": by or "?", "at": at,
                    "then": o.code if o else None, "now": n.code if n else None})
    return out


def _at(j, when):
    t = parse_time(when)
    start = j.start()
    if start is None:
        raise JournalError(f"the journal {j.path} is empty")
    if t < start:
        raise JournalError(f"{format_time(t)} is before the journal starts "
                           f"({format_time(start)})")
    return t


def asof(when, address=None, inputs=None):
    """The sheet as its code stood at `when`, evaluated in a separate process; with
    `inputs="now"`, those formulas on today's inputs; with `asof("now", inputs=T)`, today's
    formulas on T's inputs. Shows `address`'s value then and now and which upstream cells'
    code differs."""
    j = _load()
    j.require_valid()
    a = _address(address) if address else None
    t = _at(j, when)
    formulas = _journal.sheet_at(j, t)
    ti = None
    cells = formulas
    if inputs is not None:
        ti = _at(j, inputs)
        cells = _combine(formulas, _journal.sheet_at(j, ti))
    if a is not None and a not in cells:
        raise KeyError(f"no cell at {a} at {format_time(t)}")
    ordered = sorted(cells.values(), key=lambda s: s.first_seq)
    then = _replay(ordered)
    current = _journal.sheet_at(j)
    now_values = {}
    for addr in set(then) | set(current):
        live = _live_value(addr)
        now_values[addr] = live if live is not None else (
            current[addr].value if addr in current else "absent")
    scope = _upstream(cells, a) + [x for x in _upstream(current, a) if x not in cells] \
        if a else sorted(set(cells) | set(current))
    return AsOf(t, ti, a, then, now_values, _code_changes(cells, current, scope))


# --- diff --------------------------------------------------------------------------------

class Diff:
    """`code`: cells whose code changed between the two times (added, removed, changed), by
    whom and when; `values`: cells whose values differ."""

    def __init__(self, t1, t2, code, values):
        self.t1, self.t2, self.code, self.values = t1, t2, code, values

    def __repr__(self):
        head = f"from {format_time(self.t1)} to {format_time(self.t2)}"
        parts = [head]
        if self.code:
            parts.append("code changed:\n" + _table(
                ("cell", "change", "by", "when", "then", "now"),
                [(c["address"], c["change"], c["by"], _when(c["at"]), _one_line(c["then"], 30),
                  _one_line(c["now"], 30)) for c in self.code]))
        else:
            parts.append("no cell's code changed")
        if self.values:
            parts.append("values differ:\n" + _table(
                ("cell", "then", "now"), [(v["address"], v["then"], v["now"])
                                          for v in self.values]))
        else:
            parts.append("no value differs")
        return "\n".join(parts)

    def _repr_html_(self):
        return f"<pre class='pysheets-diff'>{_e(repr(self))}</pre>"


def _shown(state):
    """A cell's value as the journal has it (its status when it did not come out ok)."""
    if state is None:
        return None
    return state.value if state.status in (None, "ok") else state.status


def diff(t1, t2="now"):
    """Which cells' code changed between two times, by whom, and whose values differ."""
    j = _load()
    j.require_valid()
    a, b = _at(j, t1), _at(j, t2)
    old, new = _journal.sheet_at(j, a), _journal.sheet_at(j, b)
    addresses = sorted(set(old) | set(new), key=lambda x: (len(x), x))
    code = _code_changes(old, new, addresses)
    values = []
    for x in addresses:
        ov, nv = _shown(old.get(x)), _shown(new.get(x))
        if ov != nv:
            values.append({"address": x, "then": ov if ov is not None else "absent",
                           "now": nv if nv is not None else "absent"})
    return Diff(a, b, code, values)


# --- magics ------------------------------------------------------------------------------

def _split_address(words):
    if words and _ADDRESS.match(words[-1]):
        return words[:-1], words[-1]
    return words, None


def magic_history(args):
    return history(args.strip())


def magic_explain(args):
    return explain(args.strip())


def magic_asof(args):
    """`%asof TIME [ADDRESS] [--inputs TIME]`"""
    words = shlex.split(args)
    inputs = None
    if "--inputs" in words:
        i = words.index("--inputs")
        inputs = " ".join(words[i + 1:])
        words = words[:i]
        if not inputs:
            raise ValueError("%asof … --inputs needs a time (now, or when)")
    words, address = _split_address(words)
    if not words:
        raise ValueError("usage: %asof TIME [ADDRESS] [--inputs now|TIME]")
    return asof(" ".join(words), address, inputs)


def magic_diff(args):
    """`%diff T1 T2` (quote times with spaces, or they are split where both parse)."""
    words = shlex.split(args)
    if len(words) == 1:
        return diff(words[0])
    if len(words) == 2:
        return diff(words[0], words[1])
    for cut in range(1, len(words)):
        left, right = " ".join(words[:cut]), " ".join(words[cut:])
        try:
            parse_time(left), parse_time(right)
        except ValueError:
            continue
        return diff(left, right)
    raise ValueError("usage: %diff T1 [T2] (times: RFC 3339, a date, now, yesterday, '2h ago')")


def what_if(inputs, outputs, executor=None, workers=None):
    """See `pysheets_kernel.scenarios.what_if`."""
    from pysheets_kernel import scenarios

    return scenarios.what_if(inputs, outputs, executor=executor, workers=workers)


def goal_seek(output, target, by, bounds, tolerance=None, max_evaluations=100):
    """See `pysheets_kernel.scenarios.goal_seek`."""
    from pysheets_kernel import scenarios

    return scenarios.goal_seek(output, target, by, bounds, tolerance=tolerance,
                               max_evaluations=max_evaluations)
