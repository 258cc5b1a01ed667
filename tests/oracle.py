"""The Run-All oracle (issue 9): does a reactive re-run leave the sheet as Run All would?

The contract: for a notebook without labels whose cells were run once in order (each
execute_request carrying ``metadata.cellId``, as JupyterLab sends it), after an edit of one
cell and executing only that cell, every cell's value and every top-level name must equal what
a fresh ipykernel (the ``python3`` kernelspec) gets by running the edited notebook top to
bottom.

This module has no tests (``tests/test_oracle.py`` has them); it holds

- ``run_all(kernels, sources)``: the oracle. A fresh ipykernel runs the cells in order; right
  after each cell a *silent* request records that cell's value (the value PySheets gives a
  cell, see below); at the end, a silent request reads the top-level names.
- ``run_pysheets(kernels, case)``: a fresh PySheets kernel runs the original cells in order
  with cellIds, then executes only the edited (or inserted) cell; then ``%sheet`` gives each
  cell's address and state and a silent request reads each cell's value by its address
  (PySheets binds a cell's value to its address name) and the same top-level names.
- ``compare(expected, got)``: the list of differences, cell by cell and name by name.
- ``check_case(kernels, case)``: all three.

What a cell's value is (``kernel/src/python/pysheets_kernel/cells.py``): the value of the last statement
when it is an expression; else, when the last statement is ``name = ...`` (one plain name
target) or ``name: T = ...``, the value of that name after the cell; else None. On the
ipykernel side the last expression's value is captured by an IPython AST transformer that wraps
it in a call to a recorder kept in ``builtins`` (IPython still displays it, ``Out`` and ``_``
work as usual, and the user namespace gets no extra name).

Values are compared as "stable text": ``repr`` for plain values (both kernels run the same
CPython), containers recursively, sets sorted, DataFrames/Series/arrays as their data, modules,
functions, classes and matplotlib objects by kind and name only, seeded generators by their
state, objects whose repr shows a memory address by their type and ``vars()``. Cell values are
read at the end on both sides, as live objects (PySheets binds each cell's value to its address
name; the oracle keeps a reference to each cell's value): a value mutated in place by a later
cell is compared as it is at the end, in both kernels. A cell that
raised is ``!error <ExceptionType>``; PySheets' "upstream error" matches any error in Run All
(neither has a value), and "stale" or a missing cell matches nothing.

The names compared are those the notebook (original and edited) binds at top level, found with
``symtable`` (assignments, imports, defs, classes, loop and ``except`` targets, and names
declared ``global`` and assigned in functions or class bodies), plus a case's own ``names``
(for definitions no analysis can see: ``globals()[...]``, ``exec``, star imports).

Script mode: ``.venv/bin/python tests/oracle.py [-v] [NAME ...]`` prints pass/fail per case
and the totals (main corpus and insert cases separately); ``--fresh`` instead runs each
edited notebook top to bottom in PySheets (a check of the harness itself).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import symtable
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import (  # noqa: E402  (tests/ is not a package; pytest puts it on sys.path)
    STARTUP_TIMEOUT,
    collect_iopub,
    flush_channels,
    get_reply,
    open_grid_comm,
    start_kernel,
    stop_kernel,
)

ORACLE_KERNEL = "python3"
SHEET_KERNEL = "pysheets"
TIMEOUT = 60
MISSING = "<missing>"
SHEET_MIME = "application/vnd.pysheets.sheet+json"

# ---------------------------------------------------------------------------
# Code run inside the kernels (always in a private globals dict: no user-visible name)
# ---------------------------------------------------------------------------

_IN_KERNEL = r'''
import builtins, json, sys, types, functools, re, zlib

MISSING = "<missing>"
_ADDR = re.compile(r"0x[0-9a-fA-F]{5,}")


def stable(o, depth=0):
    t = type(o)
    if depth > 8:
        return "<" + t.__name__ + ">"
    d = depth + 1
    if o is None or t in (bool, int, float, complex, str, bytes):
        return repr(o)
    if t is list:
        return "[" + ", ".join(stable(v, d) for v in o) + "]"
    if t is tuple:
        return "(" + ", ".join(stable(v, d) for v in o) + ("," if len(o) == 1 else "") + ")"
    if isinstance(o, (set, frozenset)):
        return t.__name__ + "{" + ", ".join(sorted(stable(v, d) for v in o)) + "}"
    if isinstance(o, dict):
        inner = ", ".join(stable(k, d) + ": " + stable(v, d) for k, v in o.items())
        return ("" if t is dict else t.__name__) + "{" + inner + "}"
    if isinstance(o, BaseException):
        return "<exception " + t.__name__ + ": " + str(o) + ">"
    if isinstance(o, types.ModuleType):
        return "<module " + o.__name__ + ">"
    if isinstance(o, type):
        return "<class " + o.__qualname__ + ">"
    if isinstance(o, (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                      functools.partial)):
        return "<function " + getattr(o, "__qualname__", getattr(o, "__name__", "?")) + ">"
    mod = getattr(t, "__module__", "") or ""
    pd = sys.modules.get("pandas")
    if pd is not None and mod.startswith("pandas"):
        if isinstance(o, pd.DataFrame):
            return ("DataFrame(" + stable(o.to_dict("list"), d) + ", index="
                    + stable(o.index.tolist(), d) + ", dtypes="
                    + stable([str(x) for x in o.dtypes], d) + ")")
        if isinstance(o, pd.Series):
            return ("Series(" + stable(o.tolist(), d) + ", index=" + stable(o.index.tolist(), d)
                    + ", name=" + stable(o.name, d) + ", dtype=" + str(o.dtype) + ")")
        if isinstance(o, pd.Index):
            return "Index(" + stable(o.tolist(), d) + ")"
    np = sys.modules.get("numpy")
    if np is not None and mod.startswith("numpy"):
        if isinstance(o, np.ndarray):
            return "ndarray(" + stable(o.tolist(), d) + ", " + str(o.dtype) + ")"
        if isinstance(o, np.random.Generator):
            return "Generator(" + repr(o.bit_generator.state) + ")"
        if isinstance(o, np.random.RandomState):
            st = o.get_state()
            return "RandomState(pos=%d, crc=%d)" % (st[2], zlib.crc32(st[1].tobytes()))
        if isinstance(o, np.generic):
            return repr(o)
    if mod.startswith("matplotlib"):
        return "<" + t.__name__ + ">"
    rnd = sys.modules.get("random")
    if rnd is not None and isinstance(o, rnd.Random):
        return "Random(crc=%d)" % zlib.crc32(repr(o.getstate()).encode())
    try:
        r = repr(o)
    except Exception as exc:
        return "<" + t.__qualname__ + " repr failed: " + type(exc).__name__ + ">"
    if _ADDR.search(r):
        if hasattr(o, "__dict__"):
            return "<" + t.__qualname__ + " " + stable(dict(vars(o)), d) + ">"
        return "<" + t.__qualname__ + ">"
    return r


def setup():
    # ipykernel: record the value of a cell's last expression (IPython still displays it).
    import ast
    state = builtins.__dict__
    state["__oracle_values__"] = {}
    state["__oracle_last__"] = None

    def record(value):
        builtins.__oracle_last__ = value
        return value

    state["__oracle_record__"] = record

    class RecordLast(ast.NodeTransformer):
        def visit_Module(self, node):
            if node.body and isinstance(node.body[-1], ast.Expr):
                last = node.body[-1]
                call = ast.Call(func=ast.Name(id="__oracle_record__", ctx=ast.Load()),
                                args=[last.value], keywords=[])
                last.value = ast.copy_location(call, last.value)
                ast.fix_missing_locations(node)
            return node

    IP.ast_transformers.append(RecordLast())


def record_cell():
    # ipykernel, right after cell i ran without error.
    kind = ARGS["kind"]
    if kind == "expr":
        value = builtins.__oracle_last__
    elif kind == "name":
        value = NS.get(ARGS["name"])
    else:
        value = None
    # The object itself: like PySheets' address binding, it is read at the end (live).
    builtins.__oracle_values__[ARGS["index"]] = value
    builtins.__oracle_last__ = None


def dump():
    out = {"names": {n: (stable(NS[n]) if n in NS else MISSING) for n in ARGS["names"]}}
    addrs = ARGS.get("addresses")
    if addrs is None:
        values = builtins.__dict__.get("__oracle_values__", {})
        out["cells"] = {i: stable(v) for i, v in values.items()}
    else:
        out["cells"] = {i: (stable(NS[a]) if a in NS else MISSING) for i, a in addrs.items()}
    with open(ARGS["path"], "w") as f:
        json.dump(out, f)


{"setup": setup, "record": record_cell, "dump": dump}[ARGS["action"]]()
'''


def _silent(kc: Any, args: dict[str, Any], extra: str = "") -> None:
    code = (
        "if True:\n"
        f"    exec(compile({_IN_KERNEL!r}, '<oracle>', 'exec'), "
        f"{{'NS': globals(), 'ARGS': __import__('json').loads({json.dumps(args)!r}){extra}}})\n"
    )
    reply, _ = _execute(kc, code, silent=True)
    c = reply["content"]
    if c["status"] != "ok":
        raise RuntimeError(
            f"oracle's own silent request failed ({args['action']}): {c.get('ename')}: "
            f"{c.get('evalue')}\n" + "\n".join(c.get("traceback", []))
        )


def _execute(
    kc: Any, code: str, cell_id: str | None = None, silent: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    content = {
        "code": code,
        "silent": silent,
        "store_history": not silent,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": False,
    }
    md = {"cellId": cell_id} if cell_id is not None else {}
    msg = kc.session.msg("execute_request", content, metadata=md)
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    reply = get_reply(kc, msg_id, timeout=TIMEOUT)
    iopub = collect_iopub(kc, msg_id, timeout=TIMEOUT)
    return reply, iopub


def _error_of(reply: dict[str, Any]) -> str | None:
    c = reply["content"]
    if c["status"] == "ok":
        return None
    return f"!error {c.get('ename') or c['status']}"


# ---------------------------------------------------------------------------
# Static facts about a notebook: each cell's kind of value, the names it binds
# ---------------------------------------------------------------------------


def value_kind(source: str) -> tuple[str, str | None]:
    """("expr", None), ("name", assigned name) or ("none", None), as cells.py decides."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "none", None
    if not tree.body:
        return "none", None
    tail = tree.body[-1]
    if isinstance(tail, ast.Expr):
        return "expr", None
    if isinstance(tail, ast.Assign) and len(tail.targets) == 1 and isinstance(
        tail.targets[0], ast.Name
    ):
        return "name", tail.targets[0].id
    if isinstance(tail, ast.AnnAssign) and tail.value is not None and isinstance(
        tail.target, ast.Name
    ):
        return "name", tail.target.id
    return "none", None


def defined_names(source: str) -> set[str]:
    """Names a cell binds in the module namespace (symtable: Python's own scoping rules)."""
    try:
        top = symtable.symtable(source, "<cell>", "exec")
    except SyntaxError:
        return set()
    out = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}

    def walk(table: symtable.SymbolTable) -> None:
        for child in table.get_children():
            for s in child.get_symbols():
                if s.is_declared_global() and s.is_assigned():
                    out.add(s.get_name())
            walk(child)

    walk(top)
    return {n for n in out if not (n.startswith("__") and n.endswith("__"))}


def case_names(case: dict[str, Any]) -> list[str]:
    sources = list(case["cells"]) + edited_cells(case)
    names: set[str] = set(case.get("names", ()))
    for s in sources:
        names |= defined_names(s)
    return sorted(names)


def edited_cells(case: dict[str, Any]) -> list[str]:
    """The notebook after the edit (or the insertion), in notebook order."""
    cells = list(case["cells"])
    if "insert_at" in case:
        cells.insert(case["insert_at"], case["new"])
    else:
        cells[case["edit"]] = case["new"]
    return cells


# ---------------------------------------------------------------------------
# Kernels: one of each kind, restarted between cases
# ---------------------------------------------------------------------------


class Kernels:
    """One ipykernel and one PySheets kernel, each restarted before it is used again."""

    def __init__(self) -> None:
        self._kernels: dict[str, tuple[Any, Any]] = {}
        self._used: set[str] = set()

    def fresh(self, name: str) -> Any:
        if name not in self._kernels:
            self._kernels[name] = start_kernel(name)
        elif name in self._used:
            km, kc = self._kernels[name]
            km.restart_kernel(now=True)
            kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
            flush_channels(kc)
        self._used.add(name)
        return self._kernels[name][1]

    def close(self) -> None:
        for km, kc in self._kernels.values():
            try:
                stop_kernel(km, kc)
            except Exception:
                pass
        self._kernels.clear()

    def __enter__(self) -> "Kernels":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _dump_path() -> str:
    return os.path.join(tempfile.gettempdir(), f"pysheets-oracle-{os.getpid()}-{uuid.uuid4().hex}.json")


def _read_dump(path: str) -> dict[str, Any]:
    try:
        with open(path) as f:
            return json.load(f)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------


def run_all(kernels: Kernels, sources: list[str], names: list[str]) -> dict[str, Any]:
    """The oracle: a fresh ipykernel runs `sources` top to bottom."""
    kc = kernels.fresh(ORACLE_KERNEL)
    _silent(kc, {"action": "setup"}, extra=", 'IP': get_ipython()")
    errors: dict[int, str] = {}
    for i, src in enumerate(sources):
        reply, _ = _execute(kc, src, cell_id=f"oracle-{i}")
        err = _error_of(reply)
        if err:
            errors[i] = err
        else:
            kind, name = value_kind(src)
            _silent(kc, {"action": "record", "index": str(i), "kind": kind, "name": name})
    path = _dump_path()
    _silent(kc, {"action": "dump", "names": names, "path": path})
    dumped = _read_dump(path)
    cells = [errors.get(i) or dumped["cells"].get(str(i), MISSING) for i in range(len(sources))]
    return {"cells": cells, "names": dumped["names"]}


def _sheet_json(kc: Any) -> dict[str, Any]:
    reply, iopub = _execute(kc, "%sheet")
    for m in iopub:
        if m["msg_type"] in ("execute_result", "display_data"):
            data = m["content"]["data"].get(SHEET_MIME)
            if data is not None:
                return json.loads(data) if isinstance(data, str) else data
    raise RuntimeError(f"%sheet gave no {SHEET_MIME}: {reply['content']}")


_ENAME = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


def _send_order(kc: Any, comm_id: str, ids: list[str]) -> None:
    """The message the grid extension sends when the notebook's cells change: their ids in
    notebook order (shell messages are handled in order, so the next execute sees it)."""
    data = {"type": "order", "cells": ids}
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))


def run_pysheets(
    kernels: Kernels, case: dict[str, Any], names: list[str], edit: bool = True
) -> dict[str, Any]:
    """A fresh PySheets kernel runs the original notebook in order with cellIds, then executes
    only the edited (or inserted) cell. With edit=False it runs the edited notebook in order."""
    kc = kernels.fresh(SHEET_KERNEL)
    ids = [f"cell-{i}" for i in range(len(case["cells"]))]
    last_error: dict[str, str | None] = {}
    if edit:
        # As the grid extension does: the kernel is told the notebook's order, and again
        # whenever cells are added or moved.
        grid = open_grid_comm(kc)
        _send_order(kc, grid, ids)
        for cid, src in zip(ids, case["cells"]):
            reply, _ = _execute(kc, src, cell_id=cid)
            last_error[cid] = _error_of(reply)
        if "insert_at" in case:
            cid = "cell-inserted"
            ids.insert(case["insert_at"], cid)
            _send_order(kc, grid, ids)
        else:
            cid = ids[case["edit"]]
        reply, _ = _execute(kc, case["new"], cell_id=cid)
        last_error[cid] = _error_of(reply)
    else:
        sources = edited_cells(case)
        ids = [f"cell-{i}" for i in range(len(sources))]
        for cid, src in zip(ids, sources):
            reply, _ = _execute(kc, src, cell_id=cid)
            last_error[cid] = _error_of(reply)
    sheet = _sheet_json(kc)
    by_id = {c.get("cellId"): c for c in sheet.get("cells", []) if c.get("cellId")}
    addresses = {str(i): by_id[cid]["address"] for i, cid in enumerate(ids) if cid in by_id}
    path = _dump_path()
    _silent(kc, {"action": "dump", "names": names, "path": path, "addresses": addresses})
    dumped = _read_dump(path)
    cells = []
    for i, cid in enumerate(ids):
        c = by_id.get(cid)
        if c is None:  # refused (never entered the sheet)
            cells.append(last_error.get(cid) or "<no cell in %sheet>")
            continue
        state = c.get("state")
        if state == "ok":
            cells.append(dumped["cells"].get(str(i), MISSING))
        elif state == "error":
            m = _ENAME.match(c.get("error") or "")
            cells.append(f"!error {m.group(1) if m else 'Cycle'}")
        elif state == "upstream-error":
            cells.append("!upstream-error")
        else:
            cells.append(f"!{state}")
    return {"cells": cells, "names": dumped["names"], "sheet": sheet}


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same_value(expected: str, got: str) -> bool:
    if expected == got:
        return True
    # An upstream error has no value, nor has a cell that raised in Run All.
    return got == "!upstream-error" and expected.startswith("!error")


def compare(
    expected: dict[str, Any], got: dict[str, Any], sources: list[str] | None = None
) -> list[str]:
    """The differences between Run All (`expected`) and PySheets (`got`), one line each."""
    diffs = []
    n = max(len(expected["cells"]), len(got["cells"]))
    for i in range(n):
        e = expected["cells"][i] if i < len(expected["cells"]) else MISSING
        g = got["cells"][i] if i < len(got["cells"]) else MISSING
        if not same_value(e, g):
            where = f"cell {i + 1}"
            if sources and i < len(sources):
                where += f" `{_short(sources[i].replace(chr(10), ' | '), 50)}`"
            diffs.append(f"{where}: Run All {_short(e)} | PySheets {_short(g)}")
    for name in sorted(set(expected["names"]) | set(got["names"])):
        e = expected["names"].get(name, MISSING)
        g = got["names"].get(name, MISSING)
        if e != g:
            diffs.append(f"name {name}: Run All {_short(e)} | PySheets {_short(g)}")
    return diffs


def check_case(kernels: Kernels, case: dict[str, Any]) -> tuple[list[str], dict, dict]:
    """(differences, Run All's result, PySheets' result) for one case."""
    names = case_names(case)
    sources = edited_cells(case)
    expected = run_all(kernels, sources, names)
    got = run_pysheets(kernels, case, names)
    return compare(expected, got, sources), expected, got


def format_failure(case: dict[str, Any], diffs: list[str]) -> str:
    sources = edited_cells(case)
    lines = [f"{case['name']}: {case.get('why', '')}", "notebook after the edit:"]
    edited = case.get("insert_at", case.get("edit"))
    for i, s in enumerate(sources):
        mark = "*" if i == edited else " "
        lines.append(f" {mark}[{i + 1}] " + s.replace("\n", "\n       "))
    lines.append(f"{len(diffs)} difference(s), Run All (expected) vs PySheets (got):")
    lines += ["  " + d for d in diffs]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Script mode
# ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    from oracle_corpus import CORPUS, INSERT_CASES

    verbose = "-v" in argv
    fresh = "--fresh" in argv
    only = {a for a in argv if not a.startswith("-")}
    t0 = time.monotonic()
    totals = {}
    with Kernels() as kernels:
        for label, cases in (("main corpus", CORPUS), ("insert cases", INSERT_CASES)):
            passed = failed = 0
            print(f"== {label} ({len(cases)} cases)")
            for case in cases:
                if only and case["name"] not in only:
                    continue
                try:
                    if fresh:
                        names = case_names(case)
                        sources = edited_cells(case)
                        diffs = compare(
                            run_all(kernels, sources, names),
                            run_pysheets(kernels, case, names, edit=False),
                            sources,
                        )
                    else:
                        diffs = check_case(kernels, case)[0]
                except Exception as exc:  # a harness failure is a failure, loudly
                    diffs = [f"harness error: {type(exc).__name__}: {exc}"]
                if diffs:
                    failed += 1
                    print(f"FAIL {case['name']}  ({case.get('why', '')})")
                    for d in diffs if verbose else diffs[:3]:
                        print(f"     {d}")
                    if not verbose and len(diffs) > 3:
                        print(f"     ... {len(diffs) - 3} more")
                else:
                    passed += 1
                    print(f"pass {case['name']}")
            totals[label] = (passed, passed + failed)
    print()
    for label, (p, n) in totals.items():
        print(f"{label}: {p}/{n} pass, {n - p} fail")
    print(f"({time.monotonic() - t0:.0f} s)")
    return 0 if all(p == n for p, n in totals.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
