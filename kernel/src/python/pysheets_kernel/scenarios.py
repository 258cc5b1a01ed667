"""What-if tables and goal seek: the sheet evaluated on other inputs, in copies.

`sheet.what_if({"A1": [1000, 1500], "B2": [3000, 4000]}, outputs=["B3", "B4"])` gives a
pandas DataFrame with one row per combination of the inputs (Excel's Data Table), and
`sheet.goal_seek("B3", target=0, by="A1", bounds=(0, 10_000))` the input value that makes B3
reach the target. `%whatif` and `%goalseek` show the same.

Nothing here touches the live sheet: the cells' code is copied (from the kernel's cell
objects, ordered so that each name resolves as in the live sheet) into worker processes, `python -m pysheets_kernel
scenario-worker`, each holding its own sheet (`_native.Model`). A worker reads the notebook's
cells without running them, keeps only those the outputs need and runs them once, then for each scenario gives the input cells their
new literals and recomputes only what is downstream of them. Workers run side by side (as many
as cores by default), on this machine, or wherever a `concurrent.futures` executor or a
`dask.distributed` Client sends them: the function they run (`run_chunk`) starts the worker
with that machine's own Python.
"""

import ast
import itertools
import json
import math
import os
import pickle
import re
import subprocess
import sys
import threading

from pysheets_kernel import inputs as _inputs

_IN_WORKER = "PYSHEETS_SCENARIO_WORKER"
_RANGE_CALL = re.compile(r'__pysheets_range__\("([A-Z]{1,3}[1-9][0-9]*)", "([A-Z]{1,3}[1-9][0-9]*)"\)')
# Cells that ask the journal or evaluate scenarios themselves: in a copy they would only fail,
# or recurse.
_NOT_COPIED = re.compile(r"^\s*%(history|explain|asof|diff|sheet|whatif|goalseek)\b"
                         r"|\bsheet\s*\.\s*(what_if|goal_seek|asof|history|explain|diff|verify)\b",
                         re.M)


class ScenarioError(Exception):
    """A what-if or goal seek that cannot be done (bad input, no solution, a worker failed)."""


class Failed:
    """An output that failed in a scenario: shown in the table instead of a value."""

    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error

    def __repr__(self):
        return f"#ERROR({self.error})"

    def __eq__(self, other):
        return isinstance(other, Failed) and other.error == self.error

    def __hash__(self):
        return hash(self.error)


# --- the live sheet's cells ---------------------------------------------------------------


def _source(code):
    """The code as the user wrote it: the kernel's cell objects hold it with ranges rewritten
    into calls, which a copy would not see as ranges again."""
    if "__pysheets_range__" not in code:
        return code
    return _RANGE_CALL.sub(lambda m: f"{m.group(1)}:{m.group(2)}", code)


def live_cells():
    """The live sheet's cells, [{"address", "code"}], in an order where each name resolves to
    the definer the live sheet chose (see `_resolution_order`)."""
    from pysheets_kernel import cells

    items = [(a, c) for a, c in cells._cells.items()
             if c.source is not None and not _NOT_COPIED.search(c.source)]
    return [{"address": a, "code": _source(c.source)} for a, c in _resolution_order(items)]


def _resolution_order(items):
    """`items` ((address, Cell), in the order they first ran) reordered so that a copy, which
    resolves a name to the nearest definer above the reader in its order, gives each reader
    the definer the live sheet bound it to (the live sheet resolves in the notebook's order,
    which the first-run order is not when cells ran out of order). Without a consistent
    order, the first-run order."""
    from pysheets_kernel.headless import resolution_order

    order = resolution_order(items)
    if len(order) < len(items):
        return items
    by_address = dict(items)
    return [(a, by_address[a]) for a in order]


def _check(document, inputs, outputs):
    codes = {c["address"]: c["code"] for c in document}
    for a in outputs:
        if a not in codes:
            raise ScenarioError(f"no cell at {a} (an output)")
    for a in inputs:
        if a not in codes:
            raise ScenarioError(f"no cell at {a} (an input)")
        if not _inputs.is_input(codes[a]):
            raise ScenarioError(f"{a} is not an input cell: its code is a formula, not one "
                                f"literal (give the inputs of the model, like A1 = 1200)")


def _literal_source(value, address):
    text = repr(value)
    try:
        ok = ast.literal_eval(text) == value or (isinstance(value, float) and math.isnan(value))
    except (ValueError, SyntaxError):
        ok = False
    if not ok:
        raise ScenarioError(f"the values for {address} must be Python literals (numbers, "
                            f"strings, …): {value!r} is not")
    return text


# --- where workers run --------------------------------------------------------------------


def _worker_env():
    env = dict(os.environ, PYSHEETS_JOURNAL="off", PYSHEETS_REPLAY="1")
    env[_IN_WORKER] = "1"
    env.pop("JPY_PARENT_PID", None)
    return env


_live = set()  # worker processes of this process, killed on interrupt
_live_lock = threading.Lock()


def run_chunk(payload, python=None):
    """Runs one worker on `payload` (pickled) and returns its answer. Module-level, so an
    executor on another machine can run it: there it starts that machine's own Python."""
    cmd = [python or sys.executable, "-m", "pysheets_kernel", "scenario-worker"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_worker_env())
    with _live_lock:
        _live.add(proc)
    try:
        out, err = proc.communicate(payload)
    finally:
        with _live_lock:
            _live.discard(proc)
    if proc.returncode != 0:
        tail = " ".join(err.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise ScenarioError(f"a what-if worker failed (exit {proc.returncode}): {tail}")
    answer = pickle.loads(out)
    if "error" in answer:
        raise ScenarioError(answer["error"])
    return answer


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _executor_size(executor):
    info = getattr(executor, "scheduler_info", None)
    if callable(info):  # a dask.distributed Client
        try:
            return max(1, sum(w.get("nthreads", 1) for w in info()["workers"].values()))
        except Exception:
            return _cores()
    return getattr(executor, "_max_workers", None) or _cores()


def _map(payloads, executor, workers):
    """Each payload's answer, in order, run `workers` at a time (or on `executor`)."""
    from concurrent.futures import ThreadPoolExecutor

    # Threads only wait: each one's worker is a process of its own.
    pool = ThreadPoolExecutor(max_workers=workers) if executor is None else None
    futures = [(executor or pool).submit(run_chunk, p) for p in payloads]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        with _live_lock:
            for proc in list(_live):
                proc.kill()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _refuse_in_worker():
    if os.environ.get(_IN_WORKER):
        raise ScenarioError("what-if tables and goal seek are not available inside a scenario")


# --- what-if --------------------------------------------------------------------------------


def what_if(inputs, outputs, executor=None, workers=None, cells=None):
    """One row per combination of `inputs` ({address: [values]}, in the order given), with
    the inputs' values then the `outputs`' values: a pandas DataFrame (Excel's Data Table).

    Each scenario recomputes, in a worker's copy of the sheet, only what is downstream of the
    inputs it changes; the live sheet does not change. `workers` processes run side by side
    (default: as many as cores); `executor` (a `concurrent.futures` executor or a
    `dask.distributed` Client) runs them elsewhere instead. An output that fails in a scenario
    shows as `#ERROR(…)`."""
    _refuse_in_worker()
    import time

    started = time.perf_counter()
    if isinstance(outputs, str):
        outputs = [outputs]
    if not isinstance(inputs, dict) or not inputs:
        raise ScenarioError("inputs must be a dict {address: [values]}, like {'A1': [1, 2]}")
    try:
        in_addresses = [_inputs.check_address(a) for a in inputs]
        out_addresses = [_inputs.check_address(a) for a in outputs]
    except ValueError as e:
        raise ScenarioError(str(e)) from None
    values = []
    for a, vs in zip(in_addresses, inputs.values()):
        vs = list(vs) if not isinstance(vs, (str, bytes)) else [vs]
        if not vs:
            raise ScenarioError(f"no values for {a}")
        values.append([(v, _literal_source(v, a)) for v in vs])
    document = live_cells() if cells is None else cells
    _check(document, in_addresses, out_addresses)
    scenarios = list(itertools.product(*values))
    n = workers or (_executor_size(executor) if executor is not None else _cores())
    n = max(1, min(int(n), len(scenarios)))
    size = math.ceil(len(scenarios) / n)
    chunks = [scenarios[i:i + size] for i in range(0, len(scenarios), size)]
    payloads = [pickle.dumps({"cells": document, "inputs": in_addresses,
                              "outputs": out_addresses,
                              "scenarios": [[src for _, src in s] for s in chunk]})
                for chunk in chunks]
    answers = _map(payloads, executor, n)
    rows = []
    for chunk, answer in zip(chunks, answers):
        for scenario, got in zip(chunk, answer["rows"]):
            rows.append([v for v, _ in scenario] + list(got))
    import pandas as pd

    frame = pd.DataFrame(rows, columns=in_addresses + out_addresses)
    frame.attrs["pysheets"] = {
        "scenarios": len(scenarios), "workers": len(chunks),
        "seconds": round(time.perf_counter() - started, 3),
        "base_seconds": [a["base_seconds"] for a in answers],
        "scenario_seconds": [a["scenario_seconds"] for a in answers],
        # The process that started each chunk's worker (this one, or an executor's worker).
        "started_by": [a["started_by"] for a in answers],
    }
    return frame


# --- goal seek ----------------------------------------------------------------------------


class GoalSeek(float):
    """The input value goal seek found (a float), with how: `evaluations`, `reached` (the
    output's value there), and the question (`output`, `target`, `by`)."""

    def __new__(cls, value, **info):
        self = super().__new__(cls, value)
        self.__dict__.update(info)
        return self

    def __repr__(self):
        return (f"{self.by} = {float(self)!r} makes {self.output} = {self.reached!r} "
                f"(target {self.target!r}; {self.evaluations} evaluations)")

    def __reduce__(self):
        return (float, (float(self),))


def goal_seek(output, target, by, bounds, tolerance=None, max_evaluations=100, cells=None,
              python=None):
    """The value of the input cell `by`, within `bounds` (low, high), that makes `output`
    equal `target`, found by a bracketing method (Illinois regula falsi) in a worker's copy
    of the sheet; the live sheet does not change. ScenarioError when the output does not
    depend on the input, is not a number, or does not cross the target within the bounds."""
    _refuse_in_worker()
    try:
        output = _inputs.check_address(output)
        by = _inputs.check_address(by)
    except ValueError as e:
        raise ScenarioError(str(e)) from None
    try:
        lo, hi = (float(b) for b in bounds)
        target = float(target)
    except (TypeError, ValueError):
        raise ScenarioError("bounds must be two numbers (low, high) and target a number") \
            from None
    if not lo < hi:
        raise ScenarioError(f"bounds must be (low, high) with low < high, not {bounds!r}")
    document = live_cells() if cells is None else cells
    _check(document, [by], [output])
    payload = pickle.dumps({"cells": document, "goal": {
        "output": output, "target": target, "by": by, "bounds": (lo, hi),
        "tolerance": tolerance, "max_evaluations": int(max_evaluations)}})
    answer = run_chunk(payload, python)
    return GoalSeek(answer["value"], output=output, target=target, by=by,
                    reached=answer["reached"], evaluations=answer["evaluations"])


# --- magics -------------------------------------------------------------------------------


def magic_whatif(args):
    """`%whatif A1=1000,1500,2000 B2=3000,4000 -> B3 B4`"""
    left, arrow, right = args.partition("->")
    if not arrow or not right.split():
        raise ScenarioError("usage: %whatif A1=1000,1500 B2=3000,4000 -> B3 B4")
    inputs = {}
    for word in re.findall(r"(\S+?)=(\S+)", left):
        address, values = word
        try:
            inputs[address] = ast.literal_eval(f"[{values}]")
        except (ValueError, SyntaxError):
            raise ScenarioError(f"%whatif {address}={values}: the values must be Python "
                                f"literals separated by commas") from None
    if not inputs:
        raise ScenarioError("usage: %whatif A1=1000,1500 B2=3000,4000 -> B3 B4")
    return what_if(inputs, right.split())


def magic_goalseek(args):
    """`%goalseek B3=0 by A1 in 0:10000`"""
    m = re.fullmatch(r"\s*(\S+)\s*=\s*(\S+)\s+by\s+(\S+)\s+in\s+(\S+?)\s*:\s*(\S+)\s*", args)
    if not m:
        raise ScenarioError("usage: %goalseek B3=0 by A1 in 0:10000")
    output, target, by, lo, hi = m.groups()
    try:
        target, lo, hi = (ast.literal_eval(x) for x in (target, lo, hi))
    except (ValueError, SyntaxError):
        raise ScenarioError("%goalseek: the target and the bounds must be numbers") from None
    return goal_seek(output, target, by, (lo, hi))


# --- the worker -----------------------------------------------------------------------------


def _value(model, cells, address):
    c = json.loads(model.cell(address) or "null")
    if c is None:
        return Failed(f"no cell at {address}")
    if c["state"] != "ok":
        return Failed(c.get("error") or c["state"])
    py = cells._cells.get(address)
    return None if py is None or py.value is cells._MISSING else py.value


def _picklable(value, model, address):
    try:
        pickle.dumps(value)
        return value
    except Exception:
        c = json.loads(model.cell(address) or "{}")
        return c.get("value", repr(value))


def _load(payload, keep):
    """The payload's sheet, with only the cells `keep` (addresses) needs, run once."""
    from pysheets_kernel import headless

    headless.fresh_main()
    document = payload["cells"]
    code_cells = [(i, c["code"], None, c["address"]) for i, c in enumerate(document)]
    sheet = headless.Sheet(code_cells, echo=False)
    sheet.model.defer(True)
    sheet.run()
    sheet.model.keep_upstream_of(keep)
    sheet.model.defer(False)
    return sheet, {c["address"]: c["code"] for c in document}


def _scenarios(payload):
    import time

    from pysheets_kernel import cells

    started = time.perf_counter()
    ins, outs = payload["inputs"], payload["outputs"]
    sheet, codes = _load(payload, outs + ins)
    model = sheet.model
    base = time.perf_counter() - started
    rows = []
    for scenario in payload["scenarios"]:
        model.set([(a, _inputs.with_value(codes[a], src, a)) for a, src in zip(ins, scenario)])
        if model.interrupted():
            raise KeyboardInterrupt
        rows.append([_picklable(_value(model, cells, o), model, o) for o in outs])
    return {"rows": rows, "started_by": os.getppid(), "base_seconds": round(base, 4),
            "scenario_seconds": round(time.perf_counter() - started - base, 4)}


def _goal(payload):
    from pysheets_kernel import cells

    g = payload["goal"]
    out, by, target = g["output"], g["by"], g["target"]
    sheet, codes = _load(payload, [out, by])
    model = sheet.model
    if by not in model.upstream_of([out]):
        raise ScenarioError(f"{out} does not depend on {by}: no value of {by} changes it")
    evaluations = 0

    def f(x):
        nonlocal evaluations
        evaluations += 1
        model.set([(by, _inputs.with_value(codes[by], repr(float(x)), by))])
        v = _value(model, cells, out)
        if isinstance(v, Failed):
            raise ScenarioError(f"{out} fails at {by} = {x!r}: {v.error}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ScenarioError(f"{out} is not a number ({type(v).__name__}): goal seek "
                                    f"needs a numeric output") from None
        return float(v) - target

    lo, hi = g["bounds"]
    flo, fhi = f(lo), f(hi)
    tol = g["tolerance"] if g["tolerance"] is not None else 1e-9 * max(1.0, abs(target))
    xtol = 1e-12 * max(1.0, abs(lo), abs(hi))
    if abs(flo) <= tol:
        return {"value": lo, "reached": flo + target, "evaluations": evaluations}
    if abs(fhi) <= tol:
        return {"value": hi, "reached": fhi + target, "evaluations": evaluations}
    if (flo > 0) == (fhi > 0):
        raise ScenarioError(
            f"no solution in the bounds: {out} is {flo + target:g} at {by} = {lo:g} and "
            f"{fhi + target:g} at {by} = {hi:g}, both {'above' if flo > 0 else 'below'} "
            f"the target {target:g}")
    side = 0
    x, fx = lo, flo
    while evaluations < g["max_evaluations"]:
        # Illinois: regula falsi, halving the weight of an end that stays put twice.
        x = (lo * fhi - hi * flo) / (fhi - flo)
        fx = f(x)
        if abs(fx) <= tol or hi - lo <= xtol:
            break
        if (fx > 0) == (fhi > 0):
            hi, fhi = x, fx
            if side == -1:
                flo /= 2
            side = -1
        else:
            lo, flo = x, fx
            if side == 1:
                fhi /= 2
            side = 1
    else:
        raise ScenarioError(f"goal seek did not converge in {g['max_evaluations']} "
                            f"evaluations (last: {by} = {x!r} gives {out} = {fx + target!r})")
    return {"value": x, "reached": fx + target, "evaluations": evaluations}


def worker(args=None):
    """`python -m pysheets_kernel scenario-worker`: a pickled payload on stdin, a pickled
    answer on stdout ({"error": …} for a bad question; exit 1 if the worker itself fails)."""
    from pysheets_kernel import headless

    payload = pickle.load(sys.stdin.buffer)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    result = headless.keep_stdout(binary=True)
    try:
        answer = _goal(payload) if "goal" in payload else _scenarios(payload)
    except ScenarioError as e:
        answer = {"error": str(e)}
    pickle.dump(answer, result)
    result.flush()
    return 0


def main(args_json):
    return worker(json.loads(args_json))
