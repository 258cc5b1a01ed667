#!/usr/bin/env python3
"""Benchmark reactive recomputation in the PySheets kernel (not a test).

Two sheets are built in a fresh kernel per (case, N), each cell sent as an
execute_request with metadata {"cellId": ...} as JupyterLab does:

  chain    N cells:      c0 = 0;  c1 = c0 + 1;  c2 = c1 + 1; ...  c{N-1} = c{N-2} + 1
  fanout   1 + N cells:  c0 = 0;  d1 = c0 + 1;  d2 = c0 + 2; ...  d{N} = c0 + N

Then the head cell is re-executed with a new value (`c0 = k`, same cellId) and
the time from sending that execute_request to receiving its execute_reply is
measured. PySheets re-runs every downstream cell before it replies, so this is
the time to bring the whole sheet up to date. The reply's
metadata.pysheets.reran must list exactly the downstream cells (N-1 for chain,
N for fanout; the chain in chain order), and IOPub must carry one
update_display_data per re-run cell with the right last value, and
user_expressions must give the last cell's new value; otherwise the run
fails: the benchmark cannot silently measure nothing. --hide-output ends the
downstream cells with `;` (no update_display_data at all), to separate the
engine's cost from IOPub's.

Building a sheet costs up to ~1.5 ms per cell, so the cells are sent pipelined: up
to --window execute_requests are in flight before the client reads a reply.
The build time per cell is printed too.

IOPub: the client's SUB socket has an unlimited receive high-water mark and,
by default (--iopub thread), a thread receives its raw frames as they come
(timestamping them and spotting `status: idle` by a byte search; decoding
happens only after the timing), so the kernel's PUB socket never waits on,
or drops for, a slow client. --iopub after reads them
only after each execute_reply (libzmq's I/O thread still buffers them).

--with-ipykernel runs the same cells on ipykernel (kernelspec python3) and
times re-executing all of them, head included, as a user would after editing
the head: --ipykernel-mode pipelined (default; all requests in flight as
during the build, fairest to ipykernel), sequential (send one, wait for its
reply, send the next), or both; --ipykernel-reps times (default 1) without
warm-up, since ipykernel needs seconds per thousand cells.

    .venv/bin/python bench/sheet_bench.py
    .venv/bin/python bench/sheet_bench.py --sizes 1000,10000 --reps 5 --json sheet.json
    .venv/bin/python bench/sheet_bench.py --with-ipykernel --ipykernel-mode both

Exit status: 0 when everything was measured; 1 when a kernel failed or a
check failed; 2 when a kernelspec is missing; 3 with --check-goals when a
goal was missed.
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
import threading
import time

try:
    import zmq
    from jupyter_client import KernelManager, __version__ as JUPYTER_CLIENT_VERSION
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit("sheet_bench.py needs jupyter_client (pip install jupyter_client): %s" % exc)

CASES = ("chain", "fanout")
GOAL_N = 10000          # the size the absolute goal is about
GOAL_MS = 150.0         # T(GOAL_N) <= GOAL_MS
GOAL_RATIO = 12.0       # T(10000) / T(1000) <= GOAL_RATIO


class BenchFailed(Exception):
    """The kernel died, timed out, or answered something the benchmark does not accept."""


class Missing(Exception):
    """The kernelspec is not installed."""


# --------------------------------------------------------------------------
# the sheets
# --------------------------------------------------------------------------

def sheet_cells(case, n, hide=False):
    """[(cellId, code)] of the sheet; the head is first.

    hide: the downstream cells end with `;`, so they show nothing and a
    re-run publishes no update_display_data.
    """
    end = ";" if hide else ""
    cells = [("%s-head" % case, "c0 = 0")]
    if case == "chain":
        cells += [("chain-%d" % i, "c%d = c%d + 1%s" % (i, i - 1, end)) for i in range(1, n)]
    else:
        cells += [("fanout-%d" % i, "d%d = c0 + %d%s" % (i, i, end)) for i in range(1, n + 1)]
    return cells


def last_name(case, n):
    return "c%d" % (n - 1) if case == "chain" else "d%d" % n


def expected_last_value(case, n, k):
    """Value of the last cell once the head is k."""
    return k + (n - 1 if case == "chain" else n)


# --------------------------------------------------------------------------
# IOPub
# --------------------------------------------------------------------------

class IOPub:
    """Reads the client's IOPub socket, either in a thread or on demand.

    Thread mode: a daemon thread receives the raw frames as they arrive and
    keeps (perf_counter, frames). It decodes nothing; it only spots `status:
    idle` messages by a byte search in their header and content frames and
    notes their parent's msg_id, so the main thread can sleep on a condition
    until the idle it waits for has arrived and decode everything after that,
    outside any timed interval.

    After mode: nothing runs in the background; libzmq's I/O thread buffers
    the messages (the socket's RCVHWM is 0) and wait_idle() reads them.
    """

    DELIM = b"<IDS|MSG>"

    def __init__(self, kc, threaded):
        self.session = kc.session
        self.socket = kc.iopub_channel.socket
        self.threaded = threaded
        self._raw = []
        self._idle = {}                 # parent msg_id (bytes) -> receive time
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = None
        self.received = 0
        if threaded:
            self._thread = threading.Thread(target=self._run, name="iopub-drain", daemon=True)
            self._thread.start()

    @classmethod
    def _idle_parent(cls, frames):
        """msg_id (bytes) of the parent when frames are a `status: idle` message, else None."""
        try:
            i = frames.index(cls.DELIM)
        except ValueError:
            return None
        if len(frames) < i + 6:
            return None
        header, parent, content = frames[i + 2], frames[i + 3], frames[i + 5]
        if b'"status"' not in header or b'"idle"' not in content:
            return None
        j = parent.find(b'"msg_id"')
        if j < 0:
            return None
        j = parent.find(b'"', parent.find(b":", j) + 1)
        return parent[j + 1:parent.find(b'"', j + 1)]

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        while not self._stop.is_set():
            try:
                if not poller.poll(50):
                    continue
                frames = self.socket.recv_multipart(copy=True)
            except zmq.ZMQError:
                return
            t = time.perf_counter()
            idle = self._idle_parent(frames)
            with self._cond:
                self._raw.append((t, frames))
                if idle is not None:
                    self._idle[idle] = t
                    self._cond.notify_all()

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _decode(self, frames):
        _, msg_list = self.session.feed_identities(frames, copy=True)
        return self.session.deserialize(msg_list, content=True, copy=True)

    def wait_idle(self, msg_id, timeout, keep=None):
        """Wait for `status: idle` of msg_id, then decode what came until then.

        Returns (time the idle was received, or None in after mode; [messages
        with that parent whose msg_type is in keep]). Other messages are dropped.
        """
        deadline = time.perf_counter() + timeout
        if self.threaded:
            key = msg_id.encode()
            with self._cond:
                while key not in self._idle:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        raise BenchFailed("no IOPub status: idle for request %s within %.0f s"
                                          % (msg_id, timeout))
                    self._cond.wait(min(left, 1.0))
                t_idle = self._idle.pop(key)
                raw, self._raw = self._raw, []
            return t_idle, self._select(raw, msg_id, keep)
        kept = []
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BenchFailed("no IOPub status: idle for request %s within %.0f s"
                                  % (msg_id, timeout))
            if not self.socket.poll(int(min(left, 1.0) * 1000)):
                continue
            frames = self.socket.recv_multipart(copy=True)
            kept += self._select([(None, frames)], msg_id, keep)
            if self._idle_parent(frames) == msg_id.encode():
                return None, kept

    def _select(self, raw, msg_id, keep):
        kept = []
        for _, frames in raw:
            self.received += 1
            if not keep:
                continue
            msg = self._decode(frames)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in keep:
                kept.append(msg)
        return kept

    def discard(self, quiet=0.05):
        """Drop whatever has arrived, until nothing comes for `quiet` s."""
        while True:
            if self.threaded:
                time.sleep(quiet)
                with self._cond:
                    raw, self._raw = self._raw, []
                    self._idle.clear()
                if not raw:
                    return
            else:
                if not self.socket.poll(int(quiet * 1000)):
                    return
                while True:
                    try:
                        self.socket.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break


# --------------------------------------------------------------------------
# one kernel
# --------------------------------------------------------------------------

class Kernel:
    def __init__(self, name, args, ctx):
        self.name = name
        self.args = args
        self.km = KernelManager(kernel_name=name)
        self.kc = None
        self.iopub = None
        self.log = None if args.kernel_output else tempfile.TemporaryFile(mode="w+b")
        launch = {} if self.log is None else {"stdout": self.log, "stderr": subprocess.STDOUT}
        self.km.start_kernel(**launch)
        try:
            self.kc = self.km.client(context=ctx)
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=args.timeout)
            # wait_for_ready has seen IOPub deliver; throw away what is there
            self.iopub = IOPub(self.kc, threaded=(args.iopub == "thread"))
            self.iopub.discard()
            while True:
                try:
                    self.kc.shell_channel.get_msg(timeout=0.05)
                except queue.Empty:
                    break
        except Exception:
            self.close()
            raise

    def alive(self):
        return self.km.is_alive()

    def send(self, code, cell_id):
        content = {
            "code": code, "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
        }
        msg = self.kc.session.msg("execute_request", content)
        msg["metadata"]["cellId"] = cell_id
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def reply(self, deadline):
        """Next execute_reply on shell."""
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BenchFailed("no execute_reply within %.0f s" % self.args.timeout)
            try:
                msg = self.kc.shell_channel.get_msg(timeout=min(left, 1.0))
            except queue.Empty:
                if not self.alive():
                    raise BenchFailed("kernel %s died" % self.name)
                continue
            if msg["msg_type"] == "execute_reply":
                return msg

    def run_pipelined(self, cells, window):
        """Send every cell keeping up to `window` requests in flight; collect every reply.

        Returns (elapsed ms from the first send to the last reply, {msg_id: reply},
        [msg_ids in send order]). Replies not `ok` raise.
        """
        ids = []
        replies = {}
        deadline = time.perf_counter() + self.args.timeout + 0.01 * len(cells)
        t0 = time.perf_counter()
        pending = 0
        for cell_id, code in cells:
            while pending >= window:
                rep = self.reply(deadline)
                replies[rep["parent_header"]["msg_id"]] = rep
                pending -= 1
            ids.append(self.send(code, cell_id))
            pending += 1
        while pending:
            rep = self.reply(deadline)
            replies[rep["parent_header"]["msg_id"]] = rep
            pending -= 1
        elapsed = (time.perf_counter() - t0) * 1e3
        for (cell_id, code), msg_id in zip(cells, ids):
            rep = replies.get(msg_id)
            if rep is None:
                raise BenchFailed("no reply for cell %s" % cell_id)
            if rep["content"].get("status") != "ok":
                raise BenchFailed("cell %s (%r) failed: %s: %s" % (
                    cell_id, code, rep["content"].get("ename"), rep["content"].get("evalue")))
        return elapsed, replies, ids

    def evaluate(self, expr):
        """text/plain of expr, through a silent request's user_expressions (not a cell)."""
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={"v": expr})
        reply = self.reply(time.perf_counter() + self.args.timeout)
        if reply["parent_header"].get("msg_id") != msg_id:
            raise BenchFailed("reply to an unexpected request")
        self.iopub.wait_idle(msg_id, self.args.timeout)
        value = reply["content"].get("user_expressions", {}).get("v", {})
        return value.get("data", {}).get("text/plain", value.get("evalue"))

    def run_sequential(self, cells):
        """Send one cell, wait for its reply, send the next. Returns (elapsed ms, last msg_id)."""
        t0 = time.perf_counter()
        msg_id = None
        for cell_id, code in cells:
            msg_id = self.send(code, cell_id)
            rep = self.reply(time.perf_counter() + self.args.timeout)
            if rep["parent_header"].get("msg_id") != msg_id:
                raise BenchFailed("reply to an unexpected request")
            if rep["content"].get("status") != "ok":
                raise BenchFailed("cell %s failed: %s" % (cell_id, rep["content"]))
        return (time.perf_counter() - t0) * 1e3, msg_id

    def log_tail(self):
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read()[-3000:].decode("utf-8", "replace").strip()

    def close(self):
        if self.iopub is not None:
            self.iopub.close()
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km.has_kernel:
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                self.km.shutdown_kernel(now=True)
        if self.log is not None:
            self.log.close()
            self.log = None


# --------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------

def build(kernel, cells, args):
    elapsed, replies, ids = kernel.run_pipelined(cells, args.window)
    # the build's IOPub traffic: wait for the last idle, then drop it all
    kernel.iopub.wait_idle(ids[-1], args.timeout)
    kernel.iopub.discard()
    return elapsed, replies, ids


def measure_pysheets(case, n, args, ctx):
    cells = sheet_cells(case, n, args.hide_output)
    kernel = Kernel(args.kernel, args, ctx)
    try:
        build_ms, replies, ids = build(kernel, cells, args)
        address = {}
        for (cell_id, _), msg_id in zip(cells, ids):
            meta = replies[msg_id].get("metadata", {}).get("pysheets")
            if not meta or not meta.get("address"):
                raise BenchFailed("execute_reply without metadata.pysheets.address "
                                  "(is %r the PySheets kernel?)" % args.kernel)
            address[cell_id] = meta["address"]
        head_id = cells[0][0]
        downstream = [address[cid] for cid, _ in cells[1:]]
        last_addr = downstream[-1]
        samples, idle_samples = [], []
        for rep in range(args.warmup + args.reps):
            k = 1000 + rep          # always a new value, so nothing is cut off early
            t0 = time.perf_counter()
            msg_id = kernel.send("c0 = %d" % k, head_id)
            reply = kernel.reply(t0 + args.timeout)
            t1 = time.perf_counter()
            if reply["parent_header"].get("msg_id") != msg_id:
                raise BenchFailed("reply to an unexpected request")
            content = reply["content"]
            if content.get("status") != "ok":
                raise BenchFailed("head change failed: %s: %s"
                                  % (content.get("ename"), content.get("evalue")))
            meta = reply.get("metadata", {}).get("pysheets", {})
            reran = meta.get("reran") or []
            if len(reran) != len(downstream):
                raise BenchFailed("%s N=%d: the reply lists %d re-run cells, expected %d"
                                  % (case, n, len(reran), len(downstream)))
            if case == "chain" and reran != downstream:
                raise BenchFailed("chain N=%d: cells re-run out of chain order" % n)
            if case == "fanout" and set(reran) != set(downstream):
                raise BenchFailed("fanout N=%d: the wrong cells were re-run" % n)
            if meta.get("errors") or meta.get("stale"):
                raise BenchFailed("%s N=%d: errors %s, stale %s after the change"
                                  % (case, n, meta.get("errors"), meta.get("stale")))
            t_idle, updates = kernel.iopub.wait_idle(msg_id, args.timeout,
                                                     keep=("update_display_data",))
            want = str(expected_last_value(case, n, k))
            n_updates = 0 if args.hide_output else len(downstream)
            if len(updates) != n_updates:
                raise BenchFailed("%s N=%d: %d update_display_data on IOPub, expected %d"
                                  % (case, n, len(updates), n_updates))
            if n_updates:
                last = [u for u in updates if u["content"].get("transient", {})
                        .get("display_id") == "pysheets-" + last_addr]
                got = last[-1]["content"]["data"].get("text/plain") if last else None
                if got != want:
                    raise BenchFailed("%s N=%d: last cell %s shows %r, expected %r"
                                      % (case, n, last_addr, got, want))
            got = kernel.evaluate(last_name(case, n))
            if got != want:
                raise BenchFailed("%s N=%d: %s is %r, expected %r"
                                  % (case, n, last_name(case, n), got, want))
            if rep >= args.warmup:
                samples.append((t1 - t0) * 1e3)
                if t_idle is not None:
                    idle_samples.append((t_idle - t0) * 1e3)
        return {
            "kernel": args.kernel, "case": case, "n": n, "hide_output": args.hide_output,
            "cells": len(cells), "rerun_cells": len(downstream),
            "build_ms": build_ms, "build_ms_per_cell": build_ms / len(cells),
            "samples_ms": samples, "idle_samples_ms": idle_samples,
            "median_ms": statistics.median(samples),
            "median_idle_ms": statistics.median(idle_samples) if idle_samples else None,
            "ms_per_cell": statistics.median(samples) / len(downstream),
        }
    except BenchFailed as exc:
        tail = kernel.log_tail()
        raise BenchFailed("%s%s" % (exc, "; kernel output ends with:\n" + tail if tail else "")) from None
    finally:
        kernel.close()


def measure_ipykernel(case, n, mode, args, ctx):
    cells = sheet_cells(case, n, args.hide_output)
    kernel = Kernel(args.ipykernel, args, ctx)
    try:
        build_ms, _, _ = build(kernel, cells, args)
        samples, idle_samples = [], []
        for rep in range(args.ipykernel_reps):
            k = 1000 + rep
            edited = [(cells[0][0], "c0 = %d" % k)] + cells[1:]
            t0 = time.perf_counter()
            if mode == "pipelined":
                elapsed, _, ids = kernel.run_pipelined(edited, args.window)
                last_id = ids[-1]
            else:
                elapsed, last_id = kernel.run_sequential(edited)
            t_idle, _ = kernel.iopub.wait_idle(last_id, args.timeout)
            # check the cells really were recomputed
            got = kernel.evaluate(last_name(case, n))
            if got != str(expected_last_value(case, n, k)):
                raise BenchFailed("ipykernel %s N=%d: %s is %r after re-running"
                                  % (case, n, last_name(case, n), got))
            samples.append(elapsed)
            if t_idle is not None:
                idle_samples.append((t_idle - t0) * 1e3)
        return {
            "kernel": args.ipykernel, "mode": mode, "case": case, "n": n,
            "hide_output": args.hide_output,
            "cells": len(cells), "rerun_cells": len(cells),
            "build_ms": build_ms, "build_ms_per_cell": build_ms / len(cells),
            "samples_ms": samples, "idle_samples_ms": idle_samples,
            "median_ms": statistics.median(samples),
            "median_idle_ms": statistics.median(idle_samples) if idle_samples else None,
            "ms_per_cell": statistics.median(samples) / len(cells),
        }
    except BenchFailed as exc:
        tail = kernel.log_tail()
        raise BenchFailed("%s%s" % (exc, "; kernel output ends with:\n" + tail if tail else "")) from None
    finally:
        kernel.close()


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def fmt_ms(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def print_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def summarise(results, sizes):
    """Goals per case: T(10000) <= 150 ms and T(10000)/T(1000) <= 12 (pysheets only)."""
    summary = {}
    for case in CASES:
        by_n = {r["n"]: r for r in results if r["case"] == case}
        if not by_n:
            continue
        s = {"median_ms": {n: r["median_ms"] for n, r in sorted(by_n.items())}}
        lo, hi = min(by_n), max(by_n)
        if hi > lo:
            s["ratio"] = {"from": lo, "to": hi, "value": by_n[hi]["median_ms"] / by_n[lo]["median_ms"]}
            if (lo, hi) == (1000, 10000):
                s["ratio"]["goal"] = GOAL_RATIO
                s["ratio"]["ok"] = s["ratio"]["value"] <= GOAL_RATIO
        if GOAL_N in by_n:
            s["time_goal"] = {"n": GOAL_N, "goal_ms": GOAL_MS,
                              "ok": by_n[GOAL_N]["median_ms"] <= GOAL_MS}
        summary[case] = s
    return summary


def report(results, ipy_results, summary, args):
    print()
    print("median of %d repetition(s) after %d warm-up; time = send `c0 = k` -> execute_reply%s"
          % (args.reps, args.warmup,
             "; cells end with ';' (no update_display_data)" if args.hide_output else ""))
    rows = [["case", "N", "re-run", "median ms", "ms/cell", "to idle ms", "build ms/cell", "goal"]]
    for r in results:
        goal = ""
        if r["n"] == GOAL_N:
            goal = "<= %g ms %s" % (GOAL_MS, "ok" if r["median_ms"] <= GOAL_MS else "MISSED")
        rows.append([r["case"], str(r["n"]), str(r["rerun_cells"]), fmt_ms(r["median_ms"]),
                     "%.4f" % r["ms_per_cell"], fmt_ms(r["median_idle_ms"]),
                     "%.3f" % r["build_ms_per_cell"], goal])
    print_table(rows)
    print()
    for case, s in summary.items():
        if "ratio" in s:
            ra = s["ratio"]
            text = "%s: T(%d)/T(%d) = %.2f" % (case, ra["to"], ra["from"], ra["value"])
            if "goal" in ra:
                text += " (goal <= %g: %s)" % (ra["goal"], "ok" if ra["ok"] else "MISSED")
            print(text)
    if ipy_results:
        print()
        print("ipykernel: re-executing every cell (head included), median of %d; "
              "time = first send -> last execute_reply" % args.ipykernel_reps)
        rows = [["case", "N", "mode", "cells", "median ms", "ms/cell", "to idle ms",
                 "pysheets ms", "ipykernel/pysheets"]]
        mine = {(r["case"], r["n"]): r for r in results}
        for r in ipy_results:
            p = mine.get((r["case"], r["n"]))
            rows.append([r["case"], str(r["n"]), r["mode"], str(r["rerun_cells"]),
                         fmt_ms(r["median_ms"]), "%.4f" % r["ms_per_cell"],
                         fmt_ms(r["median_idle_ms"]),
                         fmt_ms(p["median_ms"]) if p else "-",
                         "%.1f" % (r["median_ms"] / p["median_ms"]) if p else "-"])
        print_table(rows)


def check_spec(name, ksm):
    try:
        spec = ksm.get_kernel_spec(name)
    except NoSuchKernel:
        raise Missing("no kernelspec named %r in %s" % (name, sys.prefix))
    exe = spec.argv[0] if spec.argv else ""
    if exe and not (os.path.isabs(exe) and os.access(exe, os.X_OK)) and not shutil.which(exe):
        raise Missing("kernelspec %r points at %r, which is not an executable" % (name, exe))


def main(argv=None):
    p = argparse.ArgumentParser(description="Benchmark PySheets' reactive recomputation "
                                            "(chain and fan-out sheets).")
    p.add_argument("--sizes", default="1000,10000",
                   help="comma-separated N (default 1000,10000)")
    p.add_argument("--cases", default="chain,fanout", help="chain, fanout or both (default)")
    p.add_argument("--reps", type=int, default=5, help="timed head changes per sheet (default 5); "
                                                       "the median is reported")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed head changes before those (default 1)")
    p.add_argument("--window", type=int, default=256,
                   help="execute_requests in flight while building a sheet (default 256)")
    p.add_argument("--iopub", choices=("thread", "after"), default="thread",
                   help="drain IOPub in a thread (default; also gives the time to idle) "
                        "or read it after each execute_reply")
    p.add_argument("--hide-output", action="store_true",
                   help="end the downstream cells with ';': no update_display_data is "
                        "published, which separates the engine's cost from IOPub's")
    p.add_argument("--kernel", default="pysheets", help="kernelspec of PySheets (default pysheets)")
    p.add_argument("--with-ipykernel", action="store_true",
                   help="also time ipykernel re-executing the same cells")
    p.add_argument("--ipykernel", default="python3", help="kernelspec of ipykernel (default python3)")
    p.add_argument("--ipykernel-mode", choices=("pipelined", "sequential", "both"),
                   default="pipelined", help="how ipykernel's cells are re-sent (default pipelined)")
    p.add_argument("--ipykernel-reps", type=int, default=1,
                   help="timed re-runs per sheet on ipykernel, no warm-up (default 1: "
                        "ipykernel takes seconds per thousand cells)")
    p.add_argument("--json", metavar="FILE", help="write all samples and the summary to FILE")
    p.add_argument("--check-goals", action="store_true", help="exit 3 when a goal is missed")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds to wait for a reply (default 120)")
    p.add_argument("--kernel-output", action="store_true",
                   help="let the kernels print to the terminal")
    args = p.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        p.error("--sizes expects comma-separated integers")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not sizes or min(sizes) < 2 or args.reps < 1 or args.window < 1 or args.ipykernel_reps < 1 \
            or any(c not in CASES for c in cases):
        p.error("need sizes >= 2, --reps >= 1, --window >= 1, cases among %s" % ", ".join(CASES))

    ksm = KernelSpecManager()
    try:
        check_spec(args.kernel, ksm)
        if args.with_ipykernel:
            check_spec(args.ipykernel, ksm)
    except Missing as exc:
        print("not available: %s" % exc, file=sys.stderr)
        return 2

    if args.iopub == "thread":
        # the drain thread must hand the GIL back at once when a reply wakes the main thread
        sys.setswitchinterval(0.0002)
    ctx = zmq.Context()
    ctx.setsockopt(zmq.LINGER, 0)
    ctx.setsockopt(zmq.RCVHWM, 0)   # never drop IOPub on the client side
    ctx.setsockopt(zmq.RECONNECT_IVL, 2)

    print("python %s, jupyter_client %s, %s, %d cpu(s); iopub: %s; build window %d"
          % (platform.python_version(), JUPYTER_CLIENT_VERSION, platform.platform(),
             os.cpu_count() or 0, args.iopub, args.window))
    results, ipy_results, failed = [], [], []
    modes = ["pipelined", "sequential"] if args.ipykernel_mode == "both" else [args.ipykernel_mode]
    try:
        for case in cases:
            for n in sizes:
                try:
                    r = measure_pysheets(case, n, args, ctx)
                except BenchFailed as exc:
                    failed.append("pysheets %s N=%d: %s" % (case, n, exc))
                    print("FAILED: " + failed[-1], file=sys.stderr)
                    continue
                results.append(r)
                print("pysheets  %-6s N=%-6d build %.1f s (%.3f ms/cell)  re-run %s ms  "
                      "[%s]" % (case, n, r["build_ms"] / 1e3, r["build_ms_per_cell"],
                                fmt_ms(r["median_ms"]),
                                " ".join(fmt_ms(s) for s in r["samples_ms"])), flush=True)
                if not args.with_ipykernel:
                    continue
                for mode in modes:
                    try:
                        q = measure_ipykernel(case, n, mode, args, ctx)
                    except BenchFailed as exc:
                        failed.append("ipykernel %s %s N=%d: %s" % (mode, case, n, exc))
                        print("FAILED: " + failed[-1], file=sys.stderr)
                        continue
                    ipy_results.append(q)
                    print("ipykernel %-6s N=%-6d build %.1f s (%.3f ms/cell)  re-run all %s ms "
                          "(%s)  [%s]" % (case, n, q["build_ms"] / 1e3, q["build_ms_per_cell"],
                                          fmt_ms(q["median_ms"]), mode,
                                          " ".join(fmt_ms(s) for s in q["samples_ms"])),
                          flush=True)
    except KeyboardInterrupt:
        print("interrupted; reporting what was measured", file=sys.stderr)
    finally:
        ctx.term()

    summary = summarise(results, sizes)
    if results:
        report(results, ipy_results, summary, args)
    if args.json:
        doc = {
            "meta": {
                "python": platform.python_version(),
                "jupyter_client": JUPYTER_CLIENT_VERSION,
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "args": vars(args),
                "goals": {"n": GOAL_N, "ms": GOAL_MS, "ratio_10000_over_1000": GOAL_RATIO},
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            "pysheets": results,
            "ipykernel": ipy_results,
            "summary": {c: {**s, "median_ms": {str(k): v for k, v in s["median_ms"].items()}}
                        for c, s in summary.items()},
            "failed": failed,
        }
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=1)
        print("wrote", args.json)

    if failed:
        return 1
    if args.check_goals:
        missed = any(s.get("time_goal", {}).get("ok") is False
                     or s.get("ratio", {}).get("ok") is False for s in summary.values())
        if missed:
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
