"""One Jupyter client for every kernel the benchmark drives (jupyter_client + pyzmq).

`Kernel` starts a kernel by kernelspec name, timing start -> kernel_info_reply,
and then offers what the cases need: execute requests with a `cellId` in their
metadata (as JupyterLab sends them), pipelined batches of them, silent
`user_expressions` look-ups, comm messages (ipyflow's frontend protocol) and the
resident memory of the kernel's process tree.

IOPub is read by a thread (`IOPub`) that only timestamps raw frames and spots
`status: idle` by a byte search; messages are decoded after the timed part, so
a busy kernel's PUB socket never waits for, or drops messages because of, a
slow Python client (the client's SUB socket has no receive high-water mark).
"""

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import zmq
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

try:
    import psutil
except ImportError:  # optional
    psutil = None


class KernelFailed(Exception):
    """The kernel died, timed out or answered something the benchmark does not accept."""


class TimedOut(KernelFailed):
    """No answer within the time allowed (the benchmark's budget, or --timeout)."""


class Missing(Exception):
    """The kernel (or peer) is not installed."""


def make_context(reconnect_ivl=2):
    """The ZMQ context every client uses.

    RECONNECT_IVL 2 ms: with ZMQ's default of 100 ms a client that connects
    before the kernel has bound its ports waits up to 100 ms before trying
    again, which would hide most of a fast kernel's start time. RCVHWM 0:
    IOPub is never dropped on the client side.
    """
    ctx = zmq.Context()
    ctx.setsockopt(zmq.LINGER, 0)
    ctx.setsockopt(zmq.RCVHWM, 0)
    ctx.setsockopt(zmq.RECONNECT_IVL, reconnect_ivl)
    return ctx


def check_kernelspec(name, ksm=None):
    ksm = ksm or KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec(name)
    except NoSuchKernel:
        raise Missing("no kernelspec named %r in %s (run scripts/setup.sh / scripts/bench.sh)"
                      % (name, sys.prefix)) from None
    exe = spec.argv[0] if spec.argv else ""
    if exe in ("python", "python3"):
        return spec  # jupyter_client runs these with sys.executable
    if exe and not (os.path.isabs(exe) and os.access(exe, os.X_OK)) and not shutil.which(exe):
        raise Missing("kernelspec %r points at %r, which is not an executable" % (name, exe))
    return spec


# --------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------

def tree_rss_mib(pid):
    """RSS of pid plus all its descendants, in MiB (psutil, else /proc)."""
    if psutil is not None:
        proc = psutil.Process(pid)
        total = 0
        for p in [proc] + proc.children(recursive=True):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 1048576.0
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
    total_kib, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/status" % p) as fh:
                total_kib += next((int(line.split()[1]) for line in fh
                                   if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
        todo.extend(children.get(p, []))
    return total_kib / 1024.0


# --------------------------------------------------------------------------
# IOPub
# --------------------------------------------------------------------------

class IOPub:
    """Drains the client's IOPub socket in a thread, decoding nothing while it runs."""

    DELIM = b"<IDS|MSG>"

    def __init__(self, kc):
        self.session = kc.session
        self.socket = kc.iopub_channel.socket
        self._raw = []
        self._idle = {}                 # parent msg_id (bytes) -> receive time
        self._cond = threading.Condition()
        self._stop = threading.Event()
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
        self._thread.join(2.0)

    def wait_idle(self, msg_id, timeout, keep=None, alive=None):
        """Wait for `status: idle` of msg_id; then decode what came until then.

        Returns (receive time of that idle, [messages with that parent whose
        msg_type is in keep]). Everything else received so far is dropped.
        """
        deadline = time.perf_counter() + timeout
        key = msg_id.encode()
        with self._cond:
            while key not in self._idle:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimedOut("no IOPub status: idle for request %s within %.0f s"
                                   % (msg_id, timeout))
                self._cond.wait(min(left, 1.0))
                if alive is not None and key not in self._idle and not alive():
                    raise KernelFailed("kernel died while waiting for status: idle")
            t_idle = self._idle.pop(key)
            raw, self._raw = self._raw, []
        kept = []
        if keep:
            for _, frames in raw:
                _, msg_list = self.session.feed_identities(frames, copy=True)
                msg = self.session.deserialize(msg_list, content=True, copy=True)
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in keep:
                    kept.append(msg)
        return t_idle, kept

    def discard(self, quiet=0.05):
        """Drop whatever has arrived, until nothing comes for `quiet` s."""
        while True:
            time.sleep(quiet)
            with self._cond:
                raw, self._raw = self._raw, []
                self._idle.clear()
            if not raw:
                return


# --------------------------------------------------------------------------
# one kernel
# --------------------------------------------------------------------------

class Kernel:
    """A kernel started by kernelspec name; start -> kernel_info_reply is timed."""

    def __init__(self, name, ctx, timeout=120.0, retry=0.1, kernel_output=False, env=None):
        self.name = name
        self.timeout = timeout
        self.km = KernelManager(kernel_name=name)
        self.kc = None
        self.iopub = None
        self.log = None if kernel_output else tempfile.TemporaryFile(mode="w+b")
        launch = {} if self.log is None else {"stdout": self.log, "stderr": subprocess.STDOUT}
        if env:
            launch["env"] = dict(os.environ, **env)
        try:
            t0 = time.perf_counter()
            self.km.start_kernel(**launch)
            self.launch_ms = (time.perf_counter() - t0) * 1e3
            self.kc = self.km.client(context=ctx)
            self.kc.start_channels()
            self.start_ms, self.implementation = self._await_kernel_info(t0, retry)
            self._await_iopub(t0 + timeout)
            self.iopub = IOPub(self.kc)
            self.iopub.discard()
            self._drain_shell()
        except Exception as exc:
            tail = self.log_tail()
            self.close()
            if isinstance(exc, KernelFailed) and tail:
                raise KernelFailed("%s; kernel output ends with:\n%s" % (exc, tail)) from None
            raise

    # ---- start-up ------------------------------------------------------
    def _await_kernel_info(self, t0, retry):
        """Re-send kernel_info_request every `retry` s (as wait_for_ready does) until a reply."""
        deadline = t0 + self.timeout
        sent, next_send = set(), 0.0
        while True:
            now = time.perf_counter()
            if now >= deadline:
                raise KernelFailed("no kernel_info_reply within %.0f s" % self.timeout)
            if now >= next_send:
                sent.add(self.kc.kernel_info())
                next_send = now + retry
            try:
                msg = self.kc.shell_channel.get_msg(timeout=max(0.0, min(next_send, deadline) - now))
            except queue.Empty:
                if not self.km.is_alive():
                    raise KernelFailed("kernel process exited during start-up")
                continue
            if msg["msg_type"] == "kernel_info_reply" and msg["parent_header"].get("msg_id") in sent:
                content = msg["content"]
                return ((time.perf_counter() - t0) * 1e3,
                        "%s %s" % (content.get("implementation"),
                                   content.get("implementation_version")))

    def _await_iopub(self, deadline):
        """Make sure the IOPub subscription is live (slow joiner), as wait_for_ready does."""
        while True:
            if time.perf_counter() >= deadline:
                raise KernelFailed("IOPub never delivered a message within %.0f s" % self.timeout)
            self.kc.kernel_info()
            try:
                self.kc.iopub_channel.get_msg(timeout=0.2)
                return
            except queue.Empty:
                if not self.km.is_alive():
                    raise KernelFailed("kernel process exited after kernel_info_reply")

    def _drain_shell(self):
        while True:
            try:
                self.kc.shell_channel.get_msg(timeout=0.05)
            except queue.Empty:
                return

    # ---- requests ------------------------------------------------------
    @property
    def pid(self):
        return self.km.provisioner.pid if self.km.provisioner is not None else None

    def rss_mib(self):
        pid = self.pid
        if pid is None:
            raise KernelFailed("cannot find the kernel's process id")
        return tree_rss_mib(pid)

    def alive(self):
        return self.km.is_alive()

    def send(self, code, cell_id=None, silent=False, store_history=True, user_expressions=None):
        content = {
            "code": code, "silent": silent, "store_history": store_history,
            "user_expressions": user_expressions or {}, "allow_stdin": False,
            "stop_on_error": True,
        }
        msg = self.kc.session.msg("execute_request", content)
        if cell_id is not None:
            msg["metadata"]["cellId"] = cell_id
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def send_comm(self, msg_type, content):
        msg = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def reply(self, deadline):
        """Next execute_reply on shell."""
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimedOut("no execute_reply within the time limit")
            try:
                msg = self.kc.shell_channel.get_msg(timeout=min(left, 1.0))
            except queue.Empty:
                if not self.alive():
                    raise KernelFailed("kernel %s died" % self.name)
                continue
            if msg["msg_type"] == "execute_reply":
                return msg

    def wait_idle(self, msg_id, keep=None, timeout=None):
        return self.iopub.wait_idle(msg_id, timeout or self.timeout, keep, self.alive)

    def execute(self, code, cell_id=None, timeout=None, **kwargs):
        """Send one request; wait for its reply and its `status: idle`.

        Returns (reply, ms from send to both received). A reply not `ok` raises.
        """
        t0 = time.perf_counter()
        msg_id = self.send(code, cell_id, **kwargs)
        rep = self.reply(t0 + (timeout or self.timeout))
        if rep["parent_header"].get("msg_id") != msg_id:
            raise KernelFailed("reply to an unexpected request")
        self.wait_idle(msg_id, timeout=timeout)
        elapsed = (time.perf_counter() - t0) * 1e3
        content = rep["content"]
        if content.get("status") != "ok":
            raise KernelFailed("%r failed: %s: %s" % (code[:60], content.get("ename"),
                                                       content.get("evalue")))
        return rep, elapsed

    def run_pipelined(self, cells, window=256, timeout=None):
        """Send every (cell_id, code), keeping up to `window` requests in flight.

        Returns (ms from the first send to the last reply, {msg_id: reply},
        [msg_ids in send order]). A reply not `ok` raises. The window keeps
        below ZMQ's high-water marks (1000): the shell sockets never drop.
        """
        ids, replies = [], {}
        deadline = time.perf_counter() + (timeout or (self.timeout + 0.01 * len(cells)))
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
                raise KernelFailed("no reply for cell %s" % cell_id)
            if rep["content"].get("status") != "ok":
                raise KernelFailed("cell %s (%r) failed: %s: %s" % (
                    cell_id, code[:60], rep["content"].get("ename"), rep["content"].get("evalue")))
        return elapsed, replies, ids

    def evaluate(self, expr):
        """text/plain of expr, through a silent request's user_expressions (not a cell)."""
        rep, _ = self.execute("", silent=True, store_history=False, user_expressions={"v": expr})
        value = rep["content"].get("user_expressions", {}).get("v", {})
        return value.get("data", {}).get("text/plain", value.get("evalue"))

    def log_tail(self):
        if self.log is None:
            return ""
        try:
            self.log.seek(0)
            return self.log.read()[-3000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def close(self):
        if self.iopub is not None:
            self.iopub.close()
            self.iopub = None
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km.has_kernel:
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                self.km.shutdown_kernel(now=True)
        if self.log is not None:
            self.log.close()
            self.log = None
