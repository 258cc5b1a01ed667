"""How each kernel (or peer) is driven through a sheet, and what is timed.

Every driver builds a sheet (`build`) and then, for a new head value k,
brings the whole sheet up to date (`recompute`), returning the time in ms and
checking the result (the sheet's check expression must give the expected
value), so a run can never silently measure nothing.

  pysheets   re-executes the head cell (same cellId, new code); the kernel
             re-runs every downstream cell before its execute_reply. Timed:
             send -> that execute_reply. The reply's metadata.pysheets.reran
             must list every downstream cell (in chain order for the chain),
             with no errors nor stale cells. Its journal is on (a file of its
             own per kernel); the bytes it grew by per re-run cell are kept.
  pysheets-nojournal
             the same with PYSHEETS_JOURNAL=off: what the journal costs.
  ipykernel  no reactivity: the user re-executes the head and every cell after
             it. Timed: first send -> last execute_reply, all requests
             pipelined (in flight together, the fairest to ipykernel).
  ipyflow    reactive batch mode (`%flow mode reactive`), driven as its
             JupyterLab extension drives it: after the build a
             `compute_exec_schedule` comm request returns the cell graph; a
             change of the head executes the head and its transitive closure
             of children (pipelined, as the extension does), then asks for the
             schedule again (which is when the extension's batch ends; the next
             edit needs the graph it returns). Timed: first send -> that
             schedule reply. `rerun_ms` (to the last execute_reply) is kept too.
  marimo     not a Jupyter kernel: `python notebook.py` of a generated marimo
             notebook of the same cells (with the new head value) plus one
             check cell. Timed: spawn -> exit; nothing subtracted (it includes
             starting Python, importing marimo and running every cell).
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

from client import Kernel, KernelFailed, Missing, TimedOut, check_kernelspec
import workloads


class Driver:
    label = "?"
    jupyter = True          # a Jupyter kernel: start, round trip and RSS apply
    spec = None
    timeout = 600.0         # s, for one script run (marimo)

    def __init__(self, spec=None):
        if spec:
            self.spec = spec

    def check_installed(self):
        check_kernelspec(self.spec)

    def start(self, ctx, args):
        return Kernel(self.spec, ctx, timeout=args.timeout, retry=args.retry,
                      kernel_output=args.kernel_output)

    def setup(self, kernel):
        """Whatever a front end does once before the user's cells (untimed)."""

    def build(self, kernel, sheet, window):
        cells = workloads.setup_cells(sheet) + sheet.cells
        elapsed, replies, ids = kernel.run_pipelined(cells, window)
        kernel.wait_idle(ids[-1])
        kernel.iopub.discard()
        return elapsed, {"replies": replies, "ids": ids, "cells": cells}

    def verify(self, kernel, sheet, k):
        got = kernel.evaluate(sheet.check)
        want = sheet.expected(k)
        if got != want:
            raise KernelFailed("%s %s: %s is %r after the change, expected %r"
                               % (self.label, sheet.case, sheet.check[:40], got, want))

    def close(self, state):
        pass


class PySheets(Driver):
    label = "pysheets"
    spec = "pysheets"
    journal = True

    def start(self, ctx, args):
        if self.journal:
            if getattr(self, "journal_dir", None) is None:
                self.journal_dir = tempfile.mkdtemp(prefix="pysheets-bench-journal-")
                atexit.register(shutil.rmtree, self.journal_dir, True)
            self.journal_path = os.path.join(self.journal_dir, "%d.jsonl" % time.monotonic_ns())
            env = {"PYSHEETS_JOURNAL": self.journal_path}
        else:
            env = {"PYSHEETS_JOURNAL": "off"}
        return Kernel(self.spec, ctx, timeout=args.timeout, retry=args.retry,
                      kernel_output=args.kernel_output, env=env)

    def journal_bytes(self):
        try:
            return os.path.getsize(self.journal_path) if self.journal else 0
        except (OSError, AttributeError):
            return 0

    def build(self, kernel, sheet, window):
        elapsed, state = super().build(kernel, sheet, window)
        address = {}
        for (cell_id, _), msg_id in zip(state["cells"], state["ids"]):
            meta = state["replies"][msg_id].get("metadata", {}).get("pysheets")
            if not meta or not meta.get("address"):
                raise KernelFailed("execute_reply without metadata.pysheets.address "
                                   "(is %r the PySheets kernel?)" % self.spec)
            address[cell_id] = meta["address"]
        state = {"downstream": [address[cid] for cid, _ in sheet.cells[1:]]}
        return elapsed, state

    def recompute(self, kernel, sheet, state, k):
        downstream = state["downstream"]
        before = self.journal_bytes()
        t0 = time.perf_counter()
        msg_id = kernel.send(sheet.change(k), sheet.head_id)
        reply = kernel.reply(t0 + kernel.timeout)
        t1 = time.perf_counter()
        if reply["parent_header"].get("msg_id") != msg_id:
            raise KernelFailed("reply to an unexpected request")
        content = reply["content"]
        if content.get("status") != "ok":
            raise KernelFailed("head change failed: %s: %s"
                               % (content.get("ename"), content.get("evalue")))
        meta = reply.get("metadata", {}).get("pysheets", {})
        reran = meta.get("reran") or []
        where = "%s N=%d" % (sheet.case, sheet.n)
        if len(reran) != len(downstream) or set(reran) != set(downstream):
            raise KernelFailed("%s: the reply lists %d re-run cells, expected %d"
                               % (where, len(reran), len(downstream)))
        if sheet.case == "chain" and reran != downstream:
            raise KernelFailed("%s: cells re-run out of chain order" % where)
        if meta.get("errors") or meta.get("stale"):
            raise KernelFailed("%s: errors %s, stale %s after the change"
                               % (where, meta.get("errors"), meta.get("stale")))
        _, updates = kernel.wait_idle(msg_id, keep=("update_display_data",))
        if sheet.case in ("chain", "fanout") and len(updates) != len(downstream):
            raise KernelFailed("%s: %d update_display_data on IOPub, expected %d"
                               % (where, len(updates), len(downstream)))
        self.verify(kernel, sheet, k)
        extra = {}
        if self.journal:
            # The change's records (the edit and one recompute record), per re-run cell; the
            # verify request above is silent, so it adds nothing.
            extra["journal_bytes_per_cell"] = (self.journal_bytes() - before) / max(
                1, len(downstream))
        return (t1 - t0) * 1e3, extra


class PySheetsNoJournal(PySheets):
    label = "pysheets-nojournal"
    journal = False


class Ipykernel(Driver):
    label = "ipykernel"
    spec = "python3"

    def recompute(self, kernel, sheet, state, k):
        edited = [(sheet.head_id, sheet.change(k))] + sheet.cells[1:]
        elapsed, _, ids = kernel.run_pipelined(edited)
        kernel.wait_idle(ids[-1])
        self.verify(kernel, sheet, k)
        return elapsed, {}


class Ipyflow(Driver):
    label = "ipyflow"
    spec = "ipyflow"
    COMM_ID = "pysheets-bench-ipyflow"

    def _cell_metadata(self, cells):
        return {cid: {"index": i, "content": code, "type": "code"}
                for i, (cid, code) in enumerate(cells)}

    def _request(self, kernel, data, want, msg_type="comm_msg"):
        """Send a comm message; return ipyflow's answer of type `want` (it comes on IOPub)."""
        content = {"comm_id": self.COMM_ID, "data": data}
        if msg_type == "comm_open":
            content["target_name"] = "ipyflow"
        msg_id = kernel.send_comm(msg_type, content)
        _, msgs = kernel.wait_idle(msg_id, keep=("comm_msg",))
        for m in msgs:
            d = m["content"].get("data", {})
            if m["content"].get("comm_id") == self.COMM_ID and d.get("type") == want:
                if not d.get("success", True):
                    raise KernelFailed("ipyflow %s failed: %s" % (want, d.get("error")))
                return d
        raise KernelFailed("ipyflow sent no %r answer" % want)

    def setup(self, kernel):
        # as jupyterlab-ipyflow does: open the comm, then (after `establish`) the mode magic
        self._request(kernel, {"interface": "jupyterlab", "cell_metadata_by_id": {},
                               "cell_parents": {}, "cell_children": {}},
                      "establish", msg_type="comm_open")
        kernel.execute("%flow mode reactive", store_history=False)
        kernel.iopub.discard()

    def schedule(self, kernel, cells):
        return self._request(kernel, {"type": "compute_exec_schedule",
                                      "cell_metadata_by_id": self._cell_metadata(cells),
                                      "is_reactively_executing": False},
                             "compute_exec_schedule")

    def build(self, kernel, sheet, window):
        elapsed, state = super().build(kernel, sheet, window)
        t0 = time.perf_counter()
        sched = self.schedule(kernel, state["cells"])
        elapsed += (time.perf_counter() - t0) * 1e3
        if sched.get("exec_mode") != "reactive":
            raise KernelFailed("ipyflow is in %r mode, not reactive" % sched.get("exec_mode"))
        return elapsed, {"children": sched.get("cell_children", {}),
                         "setup": workloads.setup_cells(sheet)}

    def recompute(self, kernel, sheet, state, k):
        children = state["children"]
        order = {cid: i for i, (cid, _) in enumerate(sheet.cells)}
        closure, todo = {sheet.head_id}, [sheet.head_id]
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in closure:
                    closure.add(child)
                    todo.append(child)
        if len(closure) - 1 != sheet.downstream:
            raise KernelFailed("ipyflow %s N=%d: its graph has %d cells downstream of the head, "
                               "expected %d" % (sheet.case, sheet.n, len(closure) - 1,
                                                sheet.downstream))
        edited = [(sheet.head_id, sheet.change(k))] + sheet.cells[1:]
        batch = [cell for cell in edited if cell[0] in closure]
        batch.sort(key=lambda cell: order[cell[0]])
        t0 = time.perf_counter()
        rerun_ms, _, ids = kernel.run_pipelined(batch)
        kernel.wait_idle(ids[-1])
        sched = self.schedule(kernel, state["setup"] + edited)
        elapsed = (time.perf_counter() - t0) * 1e3
        state["children"] = sched.get("cell_children", children)
        self.verify(kernel, sheet, k)
        return elapsed, {"rerun_ms": rerun_ms}


class Marimo(Driver):
    label = "marimo"
    jupyter = False

    def check_installed(self):
        try:
            subprocess.run([sys.executable, "-c", "import marimo"], check=True,
                           capture_output=True, timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            raise Missing("marimo is not importable by %s (run scripts/bench.sh)"
                          % sys.executable) from None

    def build(self, kernel, sheet, window):
        tmp = tempfile.mkdtemp(prefix="pysheets-bench-marimo-")
        return 0.0, {"dir": tmp, "files": {}}

    def recompute(self, kernel, sheet, state, k):
        path = state["files"].get(k)
        if path is None:
            path = os.path.join(state["dir"], "%s_%d_%d.py" % (sheet.case, sheet.n, k))
            with open(path, "w") as fh:
                fh.write(workloads.marimo_notebook(sheet, k))
            state["files"][k] = path
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, path], capture_output=True, text=True,
                                  timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise TimedOut("marimo %s N=%d: the script ran longer than %.0f s"
                               % (sheet.case, sheet.n, self.timeout)) from None
        elapsed = (time.perf_counter() - t0) * 1e3
        want = "CHECK %r" % sheet.expected(k)
        if proc.returncode != 0 or want not in proc.stdout:
            raise KernelFailed("marimo %s N=%d: exit %d, expected %r in its output; stderr ends "
                               "with:\n%s" % (sheet.case, sheet.n, proc.returncode, want,
                                              proc.stderr[-1500:]))
        return elapsed, {}

    def close(self, state):
        for path in state.get("files", {}).values():
            try:
                os.remove(path)
            except OSError:
                pass
        try:
            os.rmdir(state["dir"])
        except (OSError, KeyError):
            pass


DRIVERS = {"pysheets": PySheets, "pysheets-nojournal": PySheetsNoJournal,
           "ipykernel": Ipykernel, "ipyflow": Ipyflow, "marimo": Marimo}
