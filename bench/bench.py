#!/usr/bin/env python3
"""Benchmark PySheets against ipykernel, side by side, with one jupyter_client.

For every repetition each kernel is started fresh (the order alternates from
one repetition to the next) and measured on:

  start   wall time from KernelManager.start_kernel() to receiving the
          kernel_info_reply; the client re-sends kernel_info_request while it
          waits, as jupyter_client's wait_for_ready does.
  exec    round trip of a trivial execute_request (default code: `pass`), from
          sending it to having received both the execute_reply and the
          status: idle on IOPub; median over --executes runs after --warmup.
  rss     resident memory of the kernel process (and any children) once it is
          up and idle, before the first execute (psutil if installed, else
          /proc/<pid>/status VmRSS).

It prints a table of medians and the ratio first/second kernel (by default
pysheets/ipykernel) and, with --json, writes every sample to a file.

    .venv/bin/python bench/bench.py                       # pysheets vs python3
    .venv/bin/python bench/bench.py --kernels python3     # ipykernel only
    .venv/bin/python bench/bench.py --reps 9 --json bench.json

Exit status: 0 when all requested kernels were measured; 2 when a requested
kernel is not installed (unless --allow-missing); 1 when a kernel failed
while being measured; 3 with --check-goals when a goal was missed.
"""

import argparse
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import zmq
    from jupyter_client import KernelManager, __version__ as JUPYTER_CLIENT_VERSION
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit("bench.py needs jupyter_client (pip install jupyter_client ipykernel): %s" % exc)

try:
    import psutil
except ImportError:  # optional
    psutil = None

# Label shown for a kernelspec name in the table.
LABELS = {"python3": "ipykernel", "pysheets": "pysheets"}

# Default goals for the ratio first/second kernel (smaller is better for all).
DEFAULT_GOALS = {"start": 0.125}

METRICS = [
    # key, title, unit, formatter
    ("start", "start -> kernel_info_reply", "ms"),
    ("exec", "execute round trip", "ms"),
    ("rss", "idle RSS", "MiB"),
]


class KernelFailed(Exception):
    """The kernel died, timed out or answered wrongly while being measured."""


class Missing(Exception):
    """The kernel is not installed (no kernelspec or no executable)."""


def label(name):
    return LABELS.get(name, name)


# --------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------

def _proc_children(pid):
    """Direct children of pid from /proc (no psutil)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def _proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_mib(pid):
    """RSS of pid plus all its descendants, in MiB."""
    if psutil is not None:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / (1024.0 * 1024.0)
    total_kib = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            total_kib += _proc_rss_kib(p)
        except OSError:
            continue
        todo.extend(_proc_children(p))
    return total_kib / 1024.0


# --------------------------------------------------------------------------
# one kernel session
# --------------------------------------------------------------------------

def check_available(name, ksm):
    try:
        spec = ksm.get_kernel_spec(name)
    except NoSuchKernel:
        hint = ""
        if name == "pysheets":
            hint = (" (build it with `cargo build --release`, then install the spec with"
                    " `target/release/pysheets-kernel install --sys-prefix`)")
        raise Missing("no kernelspec named %r in %s%s" % (name, sys.prefix, hint))
    exe = spec.argv[0] if spec.argv else ""
    if exe and not (os.path.isabs(exe) and os.access(exe, os.X_OK)) and not shutil.which(exe):
        raise Missing("kernelspec %r points at %r, which is not an executable" % (name, exe))
    return spec


def _wait_reply(channel, msg_id, deadline, km, what):
    """Next message on channel whose parent is msg_id; None on timeout."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        try:
            msg = channel.get_msg(timeout=min(left, 1.0))
        except queue.Empty:
            if not km.is_alive():
                raise KernelFailed("kernel died while waiting for %s" % what)
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def _drain(channel, quiet=0.05):
    while True:
        try:
            channel.get_msg(timeout=quiet)
        except queue.Empty:
            return


def run_once(name, args, ctx):
    """Start kernel `name`, measure it, shut it down. Returns a dict of samples."""
    km = KernelManager(kernel_name=name)
    kc = None
    result = {}
    # The kernel's own stdout/stderr go to a log file, shown when it fails.
    log = None if args.kernel_output else tempfile.TemporaryFile(mode="w+b")
    launch = {} if log is None else {"stdout": log, "stderr": subprocess.STDOUT}
    try:
        # ---- (a) start -> kernel_info_reply -------------------------------
        t0 = time.perf_counter()
        km.start_kernel(**launch)
        result["launch_ms"] = (time.perf_counter() - t0) * 1e3  # start_kernel() alone
        kc = km.client(context=ctx)
        kc.start_channels()
        deadline = t0 + args.timeout
        sent = set()
        reply = None
        next_send = 0.0
        while reply is None:
            now = time.perf_counter()
            if now >= deadline:
                raise KernelFailed("no kernel_info_reply within %.0f s" % args.timeout)
            if now >= next_send:
                sent.add(kc.kernel_info())
                next_send = now + args.retry
            try:
                msg = kc.shell_channel.get_msg(timeout=max(0.0, min(next_send, deadline) - now))
            except queue.Empty:
                if not km.is_alive():
                    raise KernelFailed("kernel process exited during start-up")
                continue
            if (msg["msg_type"] == "kernel_info_reply"
                    and msg["parent_header"].get("msg_id") in sent):
                reply = msg
        t_info = time.perf_counter()
        result["start_ms"] = (t_info - t0) * 1e3
        result["kernel_info_requests"] = len(sent)
        content = reply["content"]
        result["implementation"] = "%s %s" % (content.get("implementation"),
                                              content.get("implementation_version"))
        result["language_version"] = content.get("language_info", {}).get("version")

        # ---- make sure IOPub is subscribed (slow joiner), as wait_for_ready -
        while True:
            if time.perf_counter() >= deadline:
                raise KernelFailed("IOPub never delivered a message within %.0f s" % args.timeout)
            kc.kernel_info()
            try:
                kc.iopub_channel.get_msg(timeout=0.2)
                break
            except queue.Empty:
                if not km.is_alive():
                    raise KernelFailed("kernel process exited after kernel_info_reply")
        result["iopub_ready_ms"] = (time.perf_counter() - t0) * 1e3
        _drain(kc.shell_channel)
        _drain(kc.iopub_channel)

        # ---- (c) idle RSS --------------------------------------------------
        time.sleep(args.settle)
        pid = km.provisioner.pid if km.provisioner is not None else None
        if pid is None:
            raise KernelFailed("cannot find the kernel's process id")
        result["pid"] = pid
        result["rss_mib"] = tree_rss_mib(pid)

        # ---- (b) execute round trip ----------------------------------------
        samples = []
        for i in range(args.warmup + args.executes):
            t1 = time.perf_counter()
            msg_id = kc.execute(args.code, store_history=False)
            limit = t1 + args.timeout
            rep = _wait_reply(kc.shell_channel, msg_id, limit, km, "execute_reply")
            if rep is None:
                raise KernelFailed("no execute_reply within %.0f s" % args.timeout)
            if rep["content"].get("status") != "ok":
                raise KernelFailed("execute of %r failed: %s" % (args.code, rep["content"]))
            while True:
                st = _wait_reply(kc.iopub_channel, msg_id, limit, km, "status: idle")
                if st is None:
                    raise KernelFailed("no status: idle within %.0f s" % args.timeout)
                if st["msg_type"] == "status" and st["content"].get("execution_state") == "idle":
                    break
            t2 = time.perf_counter()
            if i >= args.warmup:
                samples.append((t2 - t1) * 1e3)
        result["exec_samples_ms"] = samples
        result["exec_ms"] = statistics.median(samples)
        result["rss_after_exec_mib"] = tree_rss_mib(pid)
        return result
    except KernelFailed as exc:
        if log is not None:
            log.seek(0)
            tail = log.read()[-3000:].decode("utf-8", "replace").strip()
            if tail:
                raise KernelFailed("%s; kernel output ends with:\n%s" % (exc, tail)) from None
        raise
    finally:
        if kc is not None:
            kc.stop_channels()
        if km.has_kernel:
            try:
                km.shutdown_kernel(now=False)
            except Exception:
                km.shutdown_kernel(now=True)
        if log is not None:
            log.close()


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def fmt_value(value, unit):
    if value is None:
        return "-"
    if unit == "ms":
        if value >= 100:
            return "%.0f ms" % value
        if value >= 10:
            return "%.1f ms" % value
        return "%.2f ms" % value
    return "%.1f %s" % (value, unit)


def summarise(kernels, runs, goals):
    """Medians per kernel and metric, plus ratio of first over second kernel."""
    summary = {}
    for key, title, unit in METRICS:
        row = {"title": title, "unit": unit, "median": {}, "min": {}, "max": {}}
        for name in kernels:
            field = key + ("_ms" if unit == "ms" else "_mib")
            if key == "exec":
                # pool every sample of every repetition
                values = [s for r in runs[name] for s in r["exec_samples_ms"]]
            else:
                values = [r[field] for r in runs[name]]
            if values:
                row["median"][name] = statistics.median(values)
                row["min"][name] = min(values)
                row["max"][name] = max(values)
        if len(kernels) >= 2 and all(k in row["median"] for k in kernels[:2]):
            a, b = (row["median"][k] for k in kernels[:2])
            row["ratio"] = a / b if b else None
            row["goal"] = goals.get(key)
            if row["ratio"] is not None and row["goal"] is not None:
                row["ok"] = row["ratio"] <= row["goal"]
        summary[key] = row
    return summary


def print_report(kernels, summary, reps, args):
    measured = [k for k in kernels if any(k in row["median"] for row in summary.values())]
    if not measured:
        return
    print()
    print("medians over %d repetition(s); exec: %d executes of %r per repetition after %d warm-up"
          % (reps, args.executes, args.code, args.warmup))
    headers = ["metric"] + [label(k) for k in measured]
    two = len(measured) >= 2 and measured[:2] == kernels[:2]
    if two:
        headers += ["ratio %s/%s" % (label(measured[0]), label(measured[1])), "goal"]
    table = [headers]
    for key, title, unit in METRICS:
        row = summary[key]
        line = [title] + [fmt_value(row["median"].get(k), unit) for k in measured]
        if two:
            ratio = row.get("ratio")
            line.append("-" if ratio is None else "%.3f" % ratio)
            goal = row.get("goal")
            if goal is None:
                line.append("")
            else:
                line.append("<= %g %s" % (goal, "ok" if row.get("ok") else "MISSED"))
        table.append(line)
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    for n, r in enumerate(table):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(r, widths))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for key, title, unit in METRICS:
        row = summary[key]
        parts = ["%s %s" % (label(k), fmt_value(row["median"].get(k), unit)) for k in measured]
        text = "%s: %s" % (key, ", ".join(parts))
        if two and row.get("ratio") is not None:
            text += ", ratio %.3f" % row["ratio"]
            if row.get("goal") is not None:
                text += " (goal <= %g: %s)" % (row["goal"], "ok" if row["ok"] else "MISSED")
        print(text)
    print()
    for k in measured:
        spread = ", ".join(
            "%s %s..%s" % (key, fmt_value(summary[key]["min"].get(k), unit),
                           fmt_value(summary[key]["max"].get(k), unit))
            for key, _, unit in METRICS)
        print("range %s: %s" % (label(k), spread))


def parse_goals(items):
    goals = dict(DEFAULT_GOALS)
    for item in items or []:
        key, _, value = item.partition("=")
        if key not in {m[0] for m in METRICS} or not value:
            raise SystemExit("--goal expects METRIC=RATIO with METRIC one of start, exec, rss")
        goals[key] = None if value.lower() == "none" else float(value)
    return goals


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Benchmark PySheets against ipykernel (start, execute round trip, idle RSS).")
    parser.add_argument("--kernels", default="pysheets,python3",
                        help="comma-separated kernelspec names; ratios are first/second "
                             "(default: pysheets,python3)")
    parser.add_argument("--reps", type=int, default=5,
                        help="fresh starts per kernel, alternating kernels (default 5)")
    parser.add_argument("--executes", type=int, default=200,
                        help="timed executes per repetition (default 200)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="untimed executes before the timed ones (default 20)")
    parser.add_argument("--code", default="pass", help="code of the trivial execute (default: pass)")
    parser.add_argument("--json", metavar="FILE", help="write all samples and the summary to FILE")
    parser.add_argument("--allow-missing", action="store_true",
                        help="skip kernels that are not installed and exit 0")
    parser.add_argument("--check-goals", action="store_true",
                        help="exit 3 when a ratio misses its goal")
    parser.add_argument("--goal", action="append", metavar="METRIC=RATIO",
                        help="goal for ratio first/second, e.g. exec=0.5 (default: start=0.125); "
                             "'none' removes one")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for any one reply (default 60)")
    parser.add_argument("--retry", type=float, default=0.1,
                        help="seconds between kernel_info_request re-sends while starting (default 0.1)")
    parser.add_argument("--settle", type=float, default=0.2,
                        help="seconds to wait after start before reading RSS (default 0.2)")
    parser.add_argument("--reconnect-ivl", type=int, default=2,
                        help="ZMQ reconnect interval of the client sockets in ms (default 2; "
                             "ZMQ's own default of 100 would add up to 100 ms to the start time "
                             "of a kernel that binds its ports after the client connects)")
    parser.add_argument("--kernel-output", action="store_true",
                        help="let the kernels print to this terminal (default: keep their "
                             "output and show it only when a kernel fails)")
    args = parser.parse_args(argv)
    goals = parse_goals(args.goal)

    kernels = [k.strip() for k in args.kernels.split(",") if k.strip()]
    if not kernels or args.reps < 1 or args.executes < 1:
        parser.error("need at least one kernel, --reps >= 1 and --executes >= 1")

    ksm = KernelSpecManager()
    missing = {}
    for name in kernels:
        try:
            check_available(name, ksm)
        except Missing as exc:
            missing[name] = str(exc)
            print("%s: not available: %s -- skipping it" % (label(name), exc), file=sys.stderr)
    present = [k for k in kernels if k not in missing]

    ctx = zmq.Context()
    ctx.setsockopt(zmq.RECONNECT_IVL, args.reconnect_ivl)
    ctx.setsockopt(zmq.LINGER, 0)

    runs = {k: [] for k in kernels}
    failed = {}
    print("python %s, jupyter_client %s, %s; rss via %s"
          % (platform.python_version(), JUPYTER_CLIENT_VERSION, platform.platform(),
             "psutil" if psutil else "/proc"))
    try:
        for rep in range(args.reps):
            order = present if rep % 2 == 0 else list(reversed(present))
            for name in order:
                if name in failed:
                    continue
                try:
                    r = run_once(name, args, ctx)
                except KernelFailed as exc:
                    failed[name] = str(exc)
                    print("%s: FAILED in repetition %d: %s" % (label(name), rep + 1, exc),
                          file=sys.stderr)
                    continue
                runs[name].append(r)
                print("rep %d %-10s start %s (launch %s)  exec %s  rss %s  (%s)"
                      % (rep + 1, label(name), fmt_value(r["start_ms"], "ms"),
                         fmt_value(r["launch_ms"], "ms"),
                         fmt_value(r["exec_ms"], "ms"), fmt_value(r["rss_mib"], "MiB"),
                         r["implementation"]), flush=True)
    except KeyboardInterrupt:
        print("interrupted; reporting what was measured", file=sys.stderr)
    finally:
        ctx.term()

    summary = summarise(kernels, runs, goals)
    print_report(kernels, summary, min((len(v) for v in runs.values() if v), default=0), args)

    if args.json:
        doc = {
            "meta": {
                "python": platform.python_version(),
                "jupyter_client": JUPYTER_CLIENT_VERSION,
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "rss_source": "psutil" if psutil else "/proc",
                "args": vars(args),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            "kernels": kernels,
            "missing": missing,
            "failed": failed,
            "runs": runs,
            "summary": summary,
        }
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1)
        print("wrote", args.json)

    if failed:
        return 1
    if missing and not args.allow_missing:
        print("missing kernel(s): %s (use --allow-missing to exit 0 anyway)"
              % ", ".join(missing), file=sys.stderr)
        return 2
    if args.check_goals and any(row.get("ok") is False for row in summary.values()):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
