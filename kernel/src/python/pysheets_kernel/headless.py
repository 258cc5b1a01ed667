"""`pysheets run` and `pysheets export`: a notebook evaluated as a sheet in this process, by the
kernel's own engine (`_native.Model`), without Jupyter.

`run` prints the cells' values as a table (text, JSON or CSV) and can write the notebook with
its outputs; `--set A1=1500` gives an input cell another literal before it runs. `export`
writes a standalone script, the cells in dependency order, that plain `python` runs to the
same values (see `export.py`).

Exit statuses: 0 all cells ok, 1 a cell failed (named on stderr, with the cause), 2 a bad
command line (unreadable notebook, unknown address, a `--set` on a formula, a bad literal).
"""

import csv
import io
import json
import os
import sys
import types

from pysheets_kernel import inputs as _inputs


class UsageError(Exception):
    """A bad command line: exit status 2."""


def _fail(message, status):
    print(f"pysheets: {message}", file=sys.__stderr__)
    return status


def read_notebook(path):
    """The notebook as JSON, and its code cells as (index in `cells`, code, cellId, address
    from the metadata or None)."""
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not a notebook (not JSON: {e})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise UsageError(f"{path} is not a notebook (no list of cells)")
    code_cells = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str):
            raise UsageError(f"{path}: cell {i + 1} has no text source")
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        address = (meta.get("pysheets") or {}).get("address") if isinstance(
            meta.get("pysheets"), dict) else None
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
        code_cells.append((i, source, cell_id, address))
    return nb, code_cells


def fresh_main():
    """Cells run in `__main__`, as in a kernel: it must be a module of their own, not the
    `pysheets` script's (nor this package's launcher)."""
    sys.modules["__main__"] = types.ModuleType("__main__")


def keep_stdout(binary=False):
    """A handle on fd 1 for the result, and fd 1 pointed at stderr: what cells print (from
    Python, C code or subprocesses) must not mix with the result."""
    sys.stdout.flush()
    result = os.fdopen(os.dup(1), "wb") if binary else \
        os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.set_inheritable(result.fileno(), False)
    os.dup2(2, 1)
    return result


class Sheet:
    """The notebook's code cells in a `_native.Model`, executed in notebook order."""

    def __init__(self, code_cells, record=False, echo=True):
        from pysheets_kernel import _native

        self.model = _native.Model()
        self.model.echo(echo)
        self.model.record(record)
        self.ids = self.model.set_order([cid for _, _, cid, _ in code_cells])
        self.code_cells = code_cells
        # Per code cell: (kind, address, error) from `Model.execute`, and what it published.
        self.steps = []
        self.outputs = []

    def run(self, replace=None):
        """Executes every cell in order; `replace` maps an address to the code it runs
        instead (applied when the cell's label or metadata says it is that address)."""
        replace = dict(replace or {})
        applied = set()
        for (_, code, _, address), cell_id in zip(self.code_cells, self.ids):
            target = label_address(code) or address
            if target in replace:
                code = replace[target]
                applied.add(target)
            self.steps.append(self.model.execute(code, cell_id, address))
            self.outputs.append(self.model.take_outputs())
        return applied

    def cell(self, address):
        text = self.model.cell(address)
        return None if text is None else json.loads(text)

    def shown_addresses(self):
        """The addresses of the notebook's cells, in notebook order, each once."""
        seen = []
        for kind, address, _ in self.steps:
            if address and address not in seen and (kind != "cell" or self.cell(address)):
                seen.append(address)
        return seen

    def entry(self, address):
        """{address, title, state, value, error?} of a cell, refused and not-run ones too."""
        c = self.cell(address)
        if c is not None:
            out = {"address": address, "title": c.get("title", ""), "state": c["state"],
                   "value": c.get("value", "")}
            if "error" in c:
                out["error"] = c["error"]
            return out
        for kind, a, error in self.steps:
            if a == address:
                if kind == "refused":
                    return {"address": address, "title": "", "state": "error", "value": "",
                            "error": error}
                return {"address": address, "title": "", "state": "stale", "value": ""}
        return None


def dependency_order(rank, after):
    """The nodes of `rank` (node -> tie-break rank) in an order where each node comes before
    the nodes `after[node]` names, ties by rank (Kahn's algorithm with a heap); the nodes on
    a cycle are left out, so a shorter list means there was one."""
    import heapq

    indegree = dict.fromkeys(rank, 0)
    for succ in after.values():
        for b in succ:
            indegree[b] += 1
    ready = [(rank[a], a) for a, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, a = heapq.heappop(ready)
        order.append(a)
        for b in after[a]:
            indegree[b] -= 1
            if indegree[b] == 0:
                heapq.heappush(ready, (rank[b], b))
    return order


def resolution_order(items, after=None):
    """The addresses of `items` ((address, Cell), in their order so far), reordered so that
    a run from top to bottom, in which a name is the nearest definition above its reader,
    gives every reader the definer the sheet bound it to (`Cell.bind`): the definer before
    its reader, every other definer of the name before the definer or after the reader. Also
    each address before those `after[address]` names. Ties keep the order so far. Shorter
    than `items` when no order fits (a cycle)."""
    rank = {a: i for i, (a, _) in enumerate(items)}
    after = {a: set((after or {}).get(a, ())) for a in rank}
    definers = {}
    for a, c in items:
        for name in c.defines:
            definers.setdefault(name, []).append(a)
    for reader, c in items:
        for name, definer in c.bind:
            d = getattr(definer, "address", None)
            if d is None or d not in rank or d == reader:
                continue
            after[d].add(reader)
            for other in definers.get(name, ()):
                if other in (d, reader):
                    continue
                if rank[other] < rank[d]:
                    after[other].add(d)
                else:
                    after[reader].add(other)
    return dependency_order(rank, after)


def label_address(code):
    """The address a cell's label (`# @B3 title` on its first line) gives it, or None: the
    kernel's own grammar."""
    from pysheets_kernel import _native

    return _native.label_address(code)


def _python_value(address):
    """The cell's value when JSON can carry it as it is (numbers, strings, booleans, None)."""
    from pysheets_kernel import cells

    c = cells._cells.get(address)
    v = None if c is None else c.value
    if isinstance(v, (bool, int, str, type(None))) or (isinstance(v, float) and v == v
                                                        and abs(v) != float("inf")):
        return True, v
    return False, None


def _table(entries, fmt):
    if fmt == "json":
        doc = {}
        for e in entries:
            d = {k: e[k] for k in ("title", "state", "value") if k in e}
            ok, v = _python_value(e["address"])
            if ok and e["state"] == "ok":
                d["python"] = v
            if "error" in e:
                d["error"] = e["error"]
            doc[e["address"]] = d
        return json.dumps({"cells": doc}, indent=1, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["address", "title", "state", "value", "error"])
        for e in entries:
            w.writerow([e["address"], e["title"], e["state"], e["value"], e.get("error", "")])
        return buf.getvalue()
    rows = [("address", "title", "state", "value")]
    for e in entries:
        value = e["value"] if e["state"] == "ok" else (e.get("error") or e["value"])
        rows.append((e["address"], e["title"], e["state"], value.replace("\n", " ")))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _parse_sets(pairs):
    sets = {}
    for pair in pairs:
        address, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--set {pair!r}: expected ADDRESS=LITERAL, like A1=1500")
        try:
            address = _inputs.check_address(address)
            _, source = _inputs.literal(value)
        except ValueError as e:
            raise UsageError(f"--set {pair!r}: {e}") from None
        sets[address] = source
    return sets


def _replacements(code_cells, sets):
    """The code each --set address runs instead, for the cells whose label or metadata gives
    their address; UsageError for one that is not an input."""
    out = {}
    for _, code, _, address in code_cells:
        target = label_address(code) or address
        if target in sets and target not in out:
            try:
                out[target] = _inputs.with_value(code, sets[target], target)
            except _inputs.NotAnInput as e:
                raise UsageError(f"--set {target}: {e}") from None
    return out


def run(args):
    nb, code_cells = read_notebook(args["notebook"])
    sets = _parse_sets(args["set"])
    show = []
    for a in args["show"]:
        try:
            show.append(_inputs.check_address(a))
        except ValueError as e:
            raise UsageError(f"--show: {e}") from None
    replace = _replacements(code_cells, sets)
    result = keep_stdout()
    fresh_main()
    sheet = Sheet(code_cells, record=bool(args["out"]))
    applied = sheet.run(replace)
    # A --set on a cell without a label: its address is known only now; it gets the value
    # the same way a live sheet would (the cell's new code, then what is downstream).
    late = []
    for address, source in sets.items():
        if address in applied:
            continue
        c = sheet.cell(address)
        if c is None:
            return _fail(f"--set {address}: no cell at {address} in {args['notebook']}", 2)
        try:
            late.append((address, _inputs.with_value(c["code"], source, address)))
        except _inputs.NotAnInput as e:
            return _fail(f"--set {address}: {e}", 2)
    if late:
        sheet.model.set(late)
    addresses = sheet.shown_addresses()
    for a in show:
        if a not in addresses:
            return _fail(f"--show {a}: no cell at {a} in {args['notebook']}", 2)
    entries = {a: sheet.entry(a) for a in addresses}
    result.write(_table([entries[a] for a in (show or addresses)], args["format"]))
    result.flush()
    if args["out"]:
        from pysheets_kernel import notebook_out

        notebook_out.write(args["out"], nb, sheet)
    failed = [e for e in entries.values() if e["state"] in ("error", "upstream-error")]
    for e in failed:
        print(f"pysheets run: {e['address']} failed: {e.get('error', '')}", file=sys.__stderr__)
    for kind, address, error in sheet.steps:
        if kind == "refused" and address is None:
            print(f"pysheets run: a cell was not evaluated: {error}", file=sys.__stderr__)
            failed.append(error)
    if sheet.model.interrupted():
        print("pysheets run: interrupted", file=sys.__stderr__)
        return 1
    return 1 if failed else 0


def export(args):
    _, code_cells = read_notebook(args["notebook"])
    from pysheets_kernel import export as _export

    result = keep_stdout()
    fresh_main()
    try:
        script = _export.script(code_cells, args["notebook"])
    except _export.ExportError as e:
        return _fail(f"export: {e}", 1)
    if args["output"]:
        try:
            with open(args["output"], "w", encoding="utf-8") as f:
                f.write(script)
        except OSError as e:
            return _fail(f"export: cannot write {args['output']}: {e.strerror}", 1)
    else:
        result.write(script)
        result.flush()
    return 0


def main(args_json):
    args = json.loads(args_json)
    # Cells may change directory (`%cd`, `os.chdir`): paths are the command line's.
    for key in ("notebook", "out", "output"):
        if args.get(key):
            args[key] = os.path.abspath(args[key])
    try:
        if args["command"] == "run":
            return run(args)
        return export(args)
    except UsageError as e:
        return _fail(e, 2)
