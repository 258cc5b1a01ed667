#!/usr/bin/env python3
"""PySheets against ipykernel, ipyflow and marimo, side by side, in one run.

Every case runs on every kernel in this one process, with the same
jupyter_client client, the kernels alternating (the order flips from one
repetition to the next), and the table gives medians and ratios to ipykernel
(and to ipyflow where it has the case). See bench/README.md for what exactly is
timed; drivers.py for how each kernel is driven through a sheet.

Cases (rows of the table):
  start      KernelManager.start_kernel() -> kernel_info_reply (fresh kernel each rep)
  exec       trivial execute round trip (`pass`): send -> reply and status: idle
  rss        idle RSS of the kernel's process tree after start
  chain/N    N cells c_i = c_{i-1} + 1; change the head, time until all is up to date
  fanout/N   one head cell with N direct dependents; the same
  sheet      a 100,000-row pandas DataFrame, an input, 50 summaries and a chart;
             change the input
  rss/sheet  idle RSS after the largest chain (the 10,000-cell sheet by default)

    .venv/bin/python bench/bench.py                                # everything, defaults
    .venv/bin/python bench/bench.py --kernels pysheets,ipykernel --cases start,exec,rss
    .venv/bin/python bench/bench.py --sizes 10,100 --reps 3 --json out.json
    .venv/bin/python bench/bench.py --results bench/RESULTS.md     # append a dated section

Exit status: 0 all measured (skips within the time budget are not failures);
1 a kernel failed or a check failed; 2 a requested kernel is not installed
(unless --allow-missing); 3 with --check-goals when a goal was missed.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from client import KernelFailed, Missing, TimedOut, make_context, psutil  # noqa: E402
from drivers import DRIVERS  # noqa: E402
import workloads  # noqa: E402

try:
    from jupyter_client import __version__ as JUPYTER_CLIENT_VERSION
except ImportError:  # pragma: no cover
    JUPYTER_CLIENT_VERSION = "?"

ALL_KERNELS = ["pysheets", "pysheets-nojournal", "ipykernel", "ipyflow", "marimo"]
ALL_CASES = ["start", "exec", "rss", "chain", "fanout", "sheet"]
BASE, PEER = "ipykernel", "ipyflow"
NOJOURNAL = "pysheets-nojournal"
GOAL_JOURNAL_COST = 1.10        # pysheets / pysheets-nojournal, chain and fan-out at GOAL_N
GOAL_JOURNAL_BYTES = 150.0      # journal growth per re-run cell
GOAL_N = 10000
GOAL_MS = 150.0
GOAL_GROWTH = 12.0


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------

class Row:
    def __init__(self, key, title, unit):
        self.key, self.title, self.unit = key, title, unit
        self.samples = {}       # label -> [values]
        self.extra = {}         # label -> {name: [values]}
        self.notes = {}         # label -> why there is no number
        self.build_ms = {}      # label -> ms to build the sheet

    def add(self, label, value, **extra):
        self.samples.setdefault(label, []).append(value)
        for name, v in extra.items():
            self.extra.setdefault(label, {}).setdefault(name, []).append(v)

    def median(self, label):
        values = self.samples.get(label)
        return statistics.median(values) if values else None

    def ratio(self, a, b):
        x, y = self.median(a), self.median(b)
        return x / y if x is not None and y else None

    def to_json(self):
        return {
            "key": self.key, "title": self.title, "unit": self.unit,
            "median": {k: self.median(k) for k in self.samples},
            "samples": self.samples, "extra": self.extra, "notes": self.notes,
            "build_ms": self.build_ms,
        }


class Results:
    def __init__(self):
        self.rows = {}
        self.failed = []
        self.versions = {}

    def row(self, key, title, unit):
        if key not in self.rows:
            self.rows[key] = Row(key, title, unit)
        return self.rows[key]


def fail(results, row, label, exc):
    text = str(exc).strip()
    row.notes[label] = "failed: " + text.splitlines()[0][:160]
    results.failed.append("%s %s: %s" % (label, row.key, text))
    print("FAILED %s %s: %s" % (label, row.key, text), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# start, round trip, idle RSS
# --------------------------------------------------------------------------

def measure_basics(drivers, cases, args, ctx, results):
    rows = {
        "start": results.row("start", "start -> kernel_info_reply", "ms"),
        "exec": results.row("exec", "execute round trip (%s)" % args.code, "ms"),
        "rss": results.row("rss", "idle RSS after start", "MiB"),
    }
    jupyter = [d for d in drivers if d.jupyter]
    for d in drivers:
        if not d.jupyter:
            for key in rows:
                rows[key].notes[d.label] = "n/a"
    broken = set()
    for rep in range(args.reps):
        order = jupyter if rep % 2 == 0 else jupyter[::-1]
        for d in order:
            if d.label in broken:
                continue
            kernel = None
            try:
                kernel = d.start(ctx, args)
                rows["start"].add(d.label, kernel.start_ms, launch_ms=kernel.launch_ms)
                results.versions.setdefault(d.label, kernel.implementation)
                time.sleep(args.settle)
                rows["rss"].add(d.label, kernel.rss_mib())
                samples = []
                if "exec" in cases:
                    d.setup(kernel)
                    for i in range(args.warmup + args.executes):
                        _, ms = kernel.execute(args.code, store_history=False)
                        if i >= args.warmup:
                            samples.append(ms)
                    for ms in samples:
                        rows["exec"].add(d.label, ms)
                print("rep %d %-9s start %7.1f ms  rss %6.1f MiB%s" % (
                    rep + 1, d.label, kernel.start_ms, rows["rss"].samples[d.label][-1],
                    "  exec %.2f ms" % statistics.median(samples) if samples else ""), flush=True)
            except KernelFailed as exc:
                broken.add(d.label)
                fail(results, rows["start"], d.label, exc)
            finally:
                if kernel is not None:
                    kernel.close()
    for key in ("start", "exec", "rss"):
        if key not in cases:
            del results.rows[key]


# --------------------------------------------------------------------------
# sheets
# --------------------------------------------------------------------------

class Budget:
    """Cost of build + one re-run per (kernel, case), to skip sizes that cannot fit."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.history = {}       # (label, case) -> [(n, seconds)]
        self.stopped = {}       # (label, case) -> N at which one operation ran out of time

    def record(self, label, case, n, build_s, run_s):
        self.history.setdefault((label, case), []).append((n, build_s + run_s))

    def estimate(self, label, case, n):
        points = self.history.get((label, case), [])
        if not points:
            return None, None
        n1, c1 = points[-1]
        alpha = 1.0
        if len(points) >= 2:
            n0, c0 = points[-2]
            if c0 > 0 and c1 > 0 and n1 > n0:
                alpha = min(2.5, max(1.0, math.log(c1 / c0) / math.log(n1 / n0)))
        return c1 * (float(n) / n1) ** alpha, n1


class Active:
    def __init__(self, driver, kernel, state, build_ms, warmup):
        self.driver, self.kernel, self.state = driver, kernel, state
        self.build_ms = build_ms
        self.warmup = warmup
        self.spent = build_ms / 1e3
        self.runs = 0
        self.first_run_s = None
        self.done = False


def measure_sheet(case, n, drivers, args, ctx, results, budget, flip, rss_row=None):
    sheet = workloads.make(case, n)
    key = case if case == "sheet" else "%s/%d" % (case, n)
    if case == "sheet":
        title = "sheet: %d-row DataFrame, change input (%d cells)" % (n, sheet.downstream)
    elif case == "chain":
        title = "chain of %d cells, change head" % n
    else:
        title = "fan-out to %d cells, change head" % n
    row = results.row(key, title, "ms")
    # one operation (a build, a run) may take the budget (plus 10 ms a cell) before it is stopped
    op_limit = min(args.timeout, budget.seconds)
    active = []
    order = drivers[::-1] if flip else drivers
    for d in drivers:
        d.timeout = op_limit + 0.01 * len(sheet.cells)     # a marimo script run
    try:
        for d in order:
            est, base_n = budget.estimate(d.label, case, n)
            if (d.label, case) in budget.stopped:
                row.notes[d.label] = "skipped: N=%d already ran out of time" % (
                    budget.stopped[(d.label, case)])
                print("%-9s %-11s %s" % (d.label, key, row.notes[d.label]), flush=True)
                continue
            if est is not None and est > 3 * budget.seconds:
                row.notes[d.label] = ("skipped: about %.0f s estimated from N=%d for the build and "
                                      "one run > 3 times the budget of %.0f s"
                                      % (est, base_n, budget.seconds))
                print("%-9s %-11s %s" % (d.label, key, row.notes[d.label]), flush=True)
                continue
            kernel = None
            try:
                if d.jupyter:
                    kernel = d.start(ctx, args)
                    d.setup(kernel)
                    kernel.timeout = op_limit
                build_ms, state = d.build(kernel, sheet, args.window)
            except TimedOut as exc:
                if kernel is not None:
                    kernel.close()
                stop(budget, row, d.label, case, n, "the build", op_limit, exc)
                continue
            except KernelFailed as exc:
                if kernel is not None:
                    kernel.close()
                fail(results, row, d.label, exc)
                continue
            row.build_ms[d.label] = build_ms
            # a kernel whose build alone takes a quarter of the budget gets no warm-up run
            warmup = args.sheet_warmup if build_ms / 1e3 <= budget.seconds / 4 else 0
            active.append(Active(d, kernel, state, build_ms, warmup))
        for rep in range(args.sheet_warmup + args.reps):
            k = 1000 + rep if case != "sheet" else 11 + rep % 30
            for a in (active if rep % 2 == 0 else active[::-1]):
                if a.done:
                    continue
                try:
                    ms, extra = a.driver.recompute(a.kernel, sheet, a.state, k)
                except TimedOut as exc:
                    a.done = True
                    stop(budget, row, a.driver.label, case, n, "one run", op_limit, exc)
                    if a.kernel is not None:    # it is still busy: no use for it any more
                        a.kernel.close()
                        a.kernel = None
                    continue
                except KernelFailed as exc:
                    a.done = True
                    fail(results, row, a.driver.label, exc)
                    continue
                a.spent += ms / 1e3
                a.runs += 1
                if a.first_run_s is None:
                    a.first_run_s = ms / 1e3
                if a.runs > a.warmup:
                    row.add(a.driver.label, ms, **extra)
                    if len(row.samples[a.driver.label]) >= args.reps:
                        a.done = True
                if a.spent > budget.seconds and a.driver.label in row.samples:
                    a.done = True
                    if len(row.samples[a.driver.label]) < args.reps:
                        row.notes[a.driver.label] = "%d of %d rep(s) within the budget of %.0f s" % (
                            len(row.samples[a.driver.label]), args.reps, budget.seconds)
        for a in active:
            if a.first_run_s is not None:
                budget.record(a.driver.label, case, n, a.build_ms / 1e3, a.first_run_s)
            m = row.median(a.driver.label)
            print("%-9s %-11s build %7.2f s  median %s ms  [%s]" % (
                a.driver.label, key, a.build_ms / 1e3, fmt_num(m),
                " ".join(fmt_num(s) for s in row.samples.get(a.driver.label, []))), flush=True)
        if rss_row is not None:
            time.sleep(args.settle)
            for a in active:
                if a.kernel is not None and a.driver.label in row.samples:
                    rss_row.add(a.driver.label, a.kernel.rss_mib())
            for d in drivers:
                if d.label not in rss_row.samples:
                    rss_row.notes[d.label] = ("n/a" if not d.jupyter else
                                              row.notes.get(d.label, "not measured"))
    finally:
        for a in active:
            if a.kernel is not None:
                a.kernel.close()
            a.driver.close(a.state)


def stop(budget, row, label, case, n, what, limit, exc):
    """An operation ran out of time: no number, not a failure; larger N are skipped."""
    budget.stopped[(label, case)] = n
    done = len(row.samples.get(label, []))
    row.notes[label] = "stopped%s: %s took over %.0f s (the budget, plus 10 ms a cell)" % (
        " after %d rep(s)" % done if done else "", what, limit)
    print("%-9s %-11s %s [%s]" % (label, row.key, row.notes[label], str(exc).splitlines()[0]),
          file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def fmt_num(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_ratio(r):
    if r is None:
        return ""
    return "%.3f" % r if r < 1 else "%.2f" % r if r < 100 else "%.0f" % r


def ratio_columns(labels):
    cols = [(k, BASE) for k in labels if k not in (BASE, NOJOURNAL) and BASE in labels]
    if PEER in labels:
        cols += [(k, PEER) for k in ("pysheets",) if k in labels]
    if NOJOURNAL in labels and "pysheets" in labels:
        cols.append(("pysheets", NOJOURNAL))
    return cols


def render_table(results, labels):
    """The table (list of lines) and its footnotes."""
    ratios = ratio_columns(labels)
    header = ["case"] + labels + ["%s/%s" % (a, b) for a, b in ratios]
    lines, notes = [header], []
    for row in results.rows.values():
        line = ["%s (%s)" % (row.title, row.unit)]
        for label in labels:
            m = row.median(label)
            if m is not None:
                cell = fmt_num(m)
                if label in row.notes:
                    notes.append(row.notes[label] + " (%s, %s)" % (label, row.key))
                    cell += " [%d]" % len(notes)
            elif row.notes.get(label) == "n/a":
                cell = "n/a"
            else:
                notes.append(row.notes.get(label, "not measured") + " (%s, %s)" % (label, row.key))
                cell = "— [%d]" % len(notes)
            line.append(cell)
        for a, b in ratios:
            line.append(fmt_ratio(row.ratio(a, b)))
        lines.append(line)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    out = []
    for i, r in enumerate(lines):
        out.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                             for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return out, ["[%d] %s" % (i + 1, n) for i, n in enumerate(notes)]


def evaluate_goals(results):
    rows = results.rows
    goals = []

    def ratio_goal(key, limit, text):
        row = rows.get(key)
        r = row.ratio("pysheets", BASE) if row else None
        goals.append({"goal": text, "value": None if r is None else "%.3f" % r,
                      "ok": None if r is None else r <= limit})

    ratio_goal("start", 1 / 8.0, "start <= 1/8 of ipykernel's")
    ratio_goal("exec", 1 / 3.0, "round trip <= 1/3 of ipykernel's")
    for case in ("chain", "fanout"):
        row = rows.get("%s/%d" % (case, GOAL_N))
        m = row.median("pysheets") if row else None
        goals.append({"goal": "%s N=%d <= %.0f ms (pysheets)" % (case, GOAL_N, GOAL_MS),
                      "value": None if m is None else "%.1f ms" % m,
                      "ok": None if m is None else m <= GOAL_MS})
        lo = rows.get("%s/%d" % (case, GOAL_N // 10))
        r = None
        if row is not None and lo is not None and m is not None and lo.median("pysheets"):
            r = m / lo.median("pysheets")
        goals.append({"goal": "%s T(%d)/T(%d) <= %g (pysheets)" % (case, GOAL_N, GOAL_N // 10,
                                                                   GOAL_GROWTH),
                      "value": None if r is None else "%.2f" % r,
                      "ok": None if r is None else r <= GOAL_GROWTH})
    ratio_goal("rss", 0.5, "idle RSS <= 1/2 of ipykernel's")
    for case in ("chain", "fanout"):
        row = rows.get("%s/%d" % (case, GOAL_N))
        r = row.ratio("pysheets", NOJOURNAL) if row else None
        goals.append({"goal": "%s N=%d journal on/off <= %.2f" % (case, GOAL_N, GOAL_JOURNAL_COST),
                      "value": None if r is None else "%.3f" % r,
                      "ok": None if r is None else r <= GOAL_JOURNAL_COST})
        per_cell = (row.extra.get("pysheets", {}).get("journal_bytes_per_cell")
                    if row else None)
        b = statistics.median(per_cell) if per_cell else None
        goals.append({"goal": "%s N=%d journal bytes/cell <= %.0f" % (case, GOAL_N,
                                                                     GOAL_JOURNAL_BYTES),
                      "value": None if b is None else "%.1f B" % b,
                      "ok": None if b is None else b <= GOAL_JOURNAL_BYTES})
    return goals


def goal_lines(goals):
    out = []
    for g in goals:
        state = {True: "met", False: "MISSED", None: "not measured"}[g["ok"]]
        out.append("%-40s %-14s %s" % (g["goal"], g["value"] or "-", state))
    return out


def package_versions():
    from importlib import metadata
    out = {}
    for pkg in ("ipykernel", "ipyflow", "marimo", "jupyter_client", "pandas", "numpy",
                "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def machine():
    cpu, mem = platform.processor() or "?", "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
        with open("/proc/meminfo") as fh:
            kib = next(int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal"))
            mem = "%.1f GiB" % (kib / 1048576.0)
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "platform": platform.platform(),
            "python": platform.python_version(), "load_at_start": os.getloadavg()}


def append_results(path, doc, table, footnotes, goals):
    m = doc["meta"]["machine"]
    v = doc["meta"]["versions"]
    lines = [
        "",
        "## %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(doc["meta"]["started"])),
        "",
        "Machine: %s, %d CPU(s), %s RAM, %s; Python %s; load average %s at the start, "
        "%s at the end."
        % (m["cpu"], m["cpus"], m["memory"], m["platform"], m["python"],
           " ".join("%.2f" % x for x in m["load_at_start"]),
           " ".join("%.2f" % x for x in doc["meta"]["load_at_end"])),
        "Kernels: %s." % ", ".join("%s (%s)" % kv for kv in sorted(doc["implementations"].items())),
        "Packages: %s." % ", ".join("%s %s" % (k, v[k]) for k in sorted(v) if v[k]),
        "Command: `%s` (%.0f s)." % (doc["meta"]["command"], doc["meta"]["seconds"]),
        "",
        "```text",
    ] + table + ([""] + footnotes if footnotes else []) + ["```", "", "Goals:", ""]
    for g in goals:
        if g["ok"] is None:
            lines.append("- %s: not measured" % g["goal"])
        else:
            lines.append("- %s: %s — %s" % (g["goal"], g["value"],
                                             "met" if g["ok"] else "**missed**"))
    if doc["failed"]:
        lines += ["", "Failures:", ""] + ["- " + f.splitlines()[0][:300] for f in doc["failed"]]
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="PySheets vs ipykernel, ipyflow and marimo.")
    p.add_argument("--kernels", default=",".join(ALL_KERNELS),
                   help="which of %s (default: all)" % ", ".join(ALL_KERNELS))
    p.add_argument("--cases", default=",".join(ALL_CASES),
                   help="which of %s (default: all)" % ", ".join(ALL_CASES))
    p.add_argument("--sizes", default="10,100,1000,10000",
                   help="N of the chain and fan-out sheets (default 10,100,1000,10000; the "
                        "small ones also tell how a slow kernel's time grows with N)")
    p.add_argument("--rows", type=int, default=workloads.DEFAULT_ROWS,
                   help="rows of the realistic sheet's DataFrame (default 100000)")
    p.add_argument("--reps", type=int, default=5,
                   help="repetitions per case and kernel (default 5); medians are reported")
    p.add_argument("--sheet-warmup", type=int, default=1,
                   help="untimed changes of the head after building a sheet (default 1; none "
                        "for a kernel whose build took over a quarter of --budget)")
    p.add_argument("--executes", type=int, default=200,
                   help="timed round trips per start (default 200)")
    p.add_argument("--warmup", type=int, default=20,
                   help="untimed round trips before those (default 20)")
    p.add_argument("--code", default="pass", help="code of the round trip (default: pass)")
    p.add_argument("--budget", type=float, default=150.0,
                   help="seconds per kernel, case and N for build plus re-runs (default 150): "
                        "a slower kernel gets fewer reps (at least one), and a larger N is "
                        "skipped ('—') when the smaller ones say its build and one run would "
                        "take more than 3 times this")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds to wait for any one reply or script run (default 300)")
    p.add_argument("--window", type=int, default=256,
                   help="execute_requests in flight while building a sheet (default 256)")
    p.add_argument("--spec", action="append", default=[], metavar="LABEL=KERNELSPEC",
                   help="kernelspec of a kernel (defaults: pysheets=pysheets, ipykernel=python3, "
                        "ipyflow=ipyflow)")
    p.add_argument("--retry", type=float, default=0.1,
                   help="seconds between kernel_info_request re-sends while starting (default 0.1)")
    p.add_argument("--settle", type=float, default=0.2,
                   help="seconds to wait before reading an idle RSS (default 0.2)")
    p.add_argument("--json", metavar="FILE", help="write every sample, the goals and versions")
    p.add_argument("--results", metavar="FILE",
                   help="append a dated section with the machine, table and goals to FILE "
                        "(scripts/bench.sh passes bench/RESULTS.md)")
    p.add_argument("--allow-missing", action="store_true",
                   help="a kernel that is not installed is reported, exit status 0")
    p.add_argument("--check-goals", action="store_true", help="exit 3 when a goal is missed")
    p.add_argument("--kernel-output", action="store_true",
                   help="let the kernels print to this terminal")
    args = p.parse_args(argv)
    args.kernel_list = [k.strip() for k in args.kernels.split(",") if k.strip()]
    args.case_list = [c.strip() for c in args.cases.split(",") if c.strip()]
    try:
        args.size_list = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        p.error("--sizes expects comma-separated integers")
    bad = [k for k in args.kernel_list if k not in ALL_KERNELS] + \
          [c for c in args.case_list if c not in ALL_CASES]
    if bad or not args.kernel_list or args.reps < 1 or args.executes < 1 or not args.size_list \
            or min(args.size_list) < 2 or args.rows < 100:
        p.error("unknown kernel or case %s, or --reps/--executes < 1, --sizes < 2, --rows < 100"
                % bad)
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    specs = dict(s.split("=", 1) for s in args.spec)
    drivers, missing = [], {}
    for label in args.kernel_list:
        d = DRIVERS[label](specs.get(label))
        d.timeout = args.timeout
        try:
            d.check_installed()
        except Missing as exc:
            missing[label] = str(exc)
            print("%s: not available: %s" % (label, exc), file=sys.stderr)
            continue
        drivers.append(d)
    labels = args.kernel_list
    results = Results()
    m = machine()
    print("%s, %d cpu(s), %s; python %s, jupyter_client %s; load %s" % (
        m["cpu"], m["cpus"], m["memory"], m["python"], JUPYTER_CLIENT_VERSION,
        " ".join("%.2f" % x for x in m["load_at_start"])), flush=True)
    if args.case_list and any(c in ("chain", "fanout", "sheet") for c in args.case_list):
        sys.setswitchinterval(0.0002)   # the IOPub thread hands the GIL back at once
    ctx = make_context()
    interrupted = False
    try:
        basics = [c for c in ("start", "exec", "rss") if c in args.case_list]
        if basics:
            measure_basics(drivers, basics, args, ctx, results)
        budget = Budget(args.budget)
        flip = False
        rss_row = None
        for case in ("chain", "fanout"):
            if case not in args.case_list:
                continue
            for n in args.size_list:
                want_rss = case == "chain" and n == args.size_list[-1] and "rss" in args.case_list
                if want_rss:
                    rss_row = Row("rss/sheet", "idle RSS after the %d-cell chain" % n, "MiB")
                measure_sheet(case, n, drivers, args, ctx, results, budget, flip,
                              rss_row if want_rss else None)
                flip = not flip
        if "sheet" in args.case_list:
            measure_sheet("sheet", args.rows, drivers, args, ctx, results, budget, flip)
        if rss_row is not None:
            results.rows[rss_row.key] = rss_row
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted; reporting what was measured", file=sys.stderr)
    finally:
        ctx.term()

    for label, why in missing.items():
        for row in results.rows.values():
            row.notes.setdefault(label, "not installed")
    table, footnotes = render_table(results, labels)
    goals = evaluate_goals(results)
    print()
    print("medians of %d rep(s) (fewer where a footnote says so); ms unless marked; "
          "ratios of medians" % args.reps)
    print("\n".join(table))
    if footnotes:
        print()
        print("\n".join(footnotes))
    print()
    print("goals (pysheets):")
    print("\n".join(goal_lines(goals)))

    doc = {
        "meta": {"machine": m, "versions": package_versions(),
                 "jupyter_client": JUPYTER_CLIENT_VERSION,
                 "rss_source": "psutil" if psutil else "/proc",
                 "args": {k: v for k, v in vars(args).items()},
                 "command": " ".join(["bench/bench.py"] + list(sys.argv[1:] if argv is None
                                                                else argv)),
                 "started": started, "seconds": time.time() - started,
                 "load_at_end": os.getloadavg()},
        "kernels": labels,
        "implementations": results.versions,
        "missing": missing,
        "rows": {k: r.to_json() for k, r in results.rows.items()},
        "table": table,
        "footnotes": footnotes,
        "goals": goals,
        "failed": results.failed,
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1)
        print("wrote", args.json)
    if args.results:
        append_results(args.results, doc, table, footnotes, goals)
        print("appended to", args.results)

    if interrupted:
        return 130
    if results.failed:
        return 1
    if missing and not args.allow_missing:
        return 2
    if args.check_goals and any(g["ok"] is False for g in goals):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
