"""Shared fixtures and helpers for the PySheets black-box test suite.

Every test talks to a real kernel process through real Jupyter clients
(jupyter_client, raw pyzmq, nbconvert, papermill, jupyter console).

The kernel under test is chosen by kernelspec name: ``pysheets`` by default,
or whatever ``PYSHEETS_KERNEL`` says.  ``PYSHEETS_KERNEL=python3`` runs the
suite against ipykernel, which is how the tests themselves are validated.
Tests of behaviour that only PySheets promises are marked ``pysheets_only``
and are skipped for other kernels.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any, Callable, Iterator

import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
KERNEL_NAME = os.environ.get("PYSHEETS_KERNEL", "pysheets")
# The venv's Python, where setup.sh installed the pysheets-kernel wheel (PYSHEETS_PYTHON
# points tests at another installation of it).
VENV_PYTHON = Path(os.environ.get("PYSHEETS_PYTHON", VENV / "bin" / "python"))
# The kernel's command line, for tests that start it themselves (not through a kernelspec):
# the command the kernelspec runs, and the `pysheets` command is the same program.
KERNEL_CMD = [str(VENV_PYTHON), "-m", "pysheets_kernel"]
IS_PYSHEETS = KERNEL_NAME == "pysheets"

# Generous upper bounds; a healthy kernel answers in milliseconds.
REPLY_TIMEOUT = 20
STARTUP_TIMEOUT = 30


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pysheets_only: behaviour promised by PySheets only (skipped for other kernels)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_PYSHEETS:
        return
    skip = pytest.mark.skip(reason=f"PySheets-only behaviour (PYSHEETS_KERNEL={KERNEL_NAME})")
    for item in items:
        if "pysheets_only" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        where = f"{spec.resource_dir} argv={spec.argv}"
    except NoSuchKernel:
        where = "NOT INSTALLED"
    return f"kernel under test: {KERNEL_NAME} ({where})"


# ---------------------------------------------------------------------------
# Kernel life cycle
# ---------------------------------------------------------------------------


TEST_JOURNAL = Path(tempfile.mkdtemp(prefix="pysheets-tests-")) / "journal.jsonl"
atexit.register(shutil.rmtree, TEST_JOURNAL.parent, True)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a kernel or a Jupyter tool started by a test.

    Without pytest's own variables: a kernel must behave as it does under a
    real front end (ipykernel, for one, stops capturing fd-level output when
    it sees PYTEST_CURRENT_TEST).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # Kernels keep their journal in the test run's temporary folder, not in the repository
    # (tests of where it goes pass their own PYSHEETS_JOURNAL, "" for the default rules).
    env.setdefault("PYSHEETS_JOURNAL", str(TEST_JOURNAL))
    env.update(extra)
    return env


def kernel_spec(name: str = KERNEL_NAME) -> Any:
    try:
        return KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        pytest.fail(
            f"kernelspec {name!r} is not installed for {sys.prefix} "
            f"(run scripts/setup.sh); known: {sorted(KernelSpecManager().find_kernel_specs())}"
        )


def start_kernel(
    name: str = KERNEL_NAME,
    kernel_spec_manager: KernelSpecManager | None = None,
    env: dict[str, str] | None = None,
) -> tuple[KernelManager, Any]:
    """Start a kernel by kernelspec name (with `env` added to its environment) and return
    (manager, ready blocking client)."""
    kwargs: dict[str, Any] = {"kernel_name": name}
    if kernel_spec_manager is not None:
        kwargs["kernel_spec_manager"] = kernel_spec_manager
    km = KernelManager(**kwargs)
    km.ip = "127.0.0.1"
    km.start_kernel(env=clean_env(**(env or {})))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
    except BaseException:
        stop_kernel(km, kc)
        raise
    return km, kc


def stop_kernel(km: KernelManager, kc: Any) -> None:
    try:
        kc.stop_channels()
    finally:
        if km.has_kernel:
            try:
                km.shutdown_kernel(now=False)
            except Exception:
                km.shutdown_kernel(now=True)
        else:
            km.cleanup_resources()


@pytest.fixture(scope="module")
def shared_kernel() -> Iterator[tuple[KernelManager, Any]]:
    """One kernel per test module, for tests that need no fresh state."""
    km, kc = start_kernel()
    yield km, kc
    stop_kernel(km, kc)


@pytest.fixture
def kc(shared_kernel: tuple[KernelManager, Any]) -> Iterator[Any]:
    """A ready client of the module's shared kernel, with its channels drained.

    If a test leaves the shared kernel dead or stuck (say, waiting for input),
    it is restarted so that one failure does not cascade into the next tests.
    """
    km, client = shared_kernel
    if not km.is_alive():
        _revive(km, client)
    flush_channels(client)
    yield client
    if not km.is_alive() or not _answers(client):
        _revive(km, client)


def _answers(kc: Any, timeout: float = 5) -> bool:
    flush_channels(kc)
    msg_id = kc.kernel_info()
    try:
        get_reply(kc, msg_id, timeout=timeout)
    except AssertionError:
        return False
    return True


def _revive(km: KernelManager, kc: Any) -> None:
    km.restart_kernel(now=True)
    kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
    flush_channels(kc)


@pytest.fixture
def fresh_kernel() -> Iterator[tuple[KernelManager, Any]]:
    """A kernel of its own for a test that changes or kills its kernel."""
    km, kc = start_kernel()
    yield km, kc
    stop_kernel(km, kc)


@pytest.fixture
def message_mode_kernel(tmp_path: Path) -> Iterator[tuple[KernelManager, Any]]:
    """A kernel started from a copy of the kernelspec with interrupt_mode "message"."""
    spec = kernel_spec()
    with open(os.path.join(spec.resource_dir, "kernel.json")) as f:
        data = json.load(f)
    data["interrupt_mode"] = "message"
    data["display_name"] = data.get("display_name", KERNEL_NAME) + " (message interrupts)"
    name = f"{KERNEL_NAME}-msg-interrupt"
    kdir = tmp_path / "kernels" / name
    kdir.mkdir(parents=True)
    (kdir / "kernel.json").write_text(json.dumps(data, indent=1))
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    assert ksm.get_kernel_spec(name).interrupt_mode == "message"
    km, kc = start_kernel(name, kernel_spec_manager=ksm)
    yield km, kc
    stop_kernel(km, kc)


# ---------------------------------------------------------------------------
# Message helpers
# ---------------------------------------------------------------------------


def open_grid_comm(kc: Any) -> str:
    """Opens a `pysheets` comm as the grid extension does; returns its id (the kernel answers
    with a snapshot on IOPub)."""
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "pysheets", "data": {}})
    )
    return comm_id


def flush_channels(kc: Any, wait: float = 0.05) -> None:
    for channel in (kc.shell_channel, kc.iopub_channel, kc.stdin_channel, kc.control_channel):
        while True:
            try:
                channel.get_msg(timeout=wait)
            except Empty:
                break


def get_reply(
    kc: Any, msg_id: str, timeout: float = REPLY_TIMEOUT, channel: str = "shell"
) -> dict[str, Any]:
    """Return the reply to ``msg_id`` on ``channel``, skipping unrelated replies."""
    chan = getattr(kc, f"{channel}_channel")
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {channel} reply to {msg_id} within {timeout} s")
        try:
            msg = chan.get_msg(timeout=left)
        except Empty:
            raise AssertionError(f"no {channel} reply to {msg_id} within {timeout} s") from None
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def read_iopub(
    kc: Any,
    until: Callable[[dict[str, Any]], bool] | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    timeout: float = REPLY_TIMEOUT,
) -> list[dict[str, Any]]:
    """Read IOPub for at most ``timeout`` s; return the messages ``keep`` accepts (all if None).

    Stops after the first kept message that ``until`` accepts (with no ``until``, reads for the
    whole ``timeout``). It never fails: whether ``until`` was met is whether the last message
    returned meets it.
    """
    kept: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return kept
        try:
            msg = kc.iopub_channel.get_msg(timeout=left)
        except Empty:
            continue
        if keep is not None and not keep(msg):
            continue
        kept.append(msg)
        if until is not None and until(msg):
            return kept


def child_of(msg_id: str) -> Callable[[dict[str, Any]], bool]:
    """A ``keep`` for :func:`read_iopub`: messages whose parent is ``msg_id``."""
    return lambda msg: msg["parent_header"].get("msg_id") == msg_id


def is_idle(msg: dict[str, Any]) -> bool:
    return msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"


def collect_iopub(kc: Any, msg_id: str, timeout: float = REPLY_TIMEOUT) -> list[dict[str, Any]]:
    """All iopub messages whose parent is ``msg_id``, up to and including status idle."""
    msgs = read_iopub(kc, until=is_idle, keep=child_of(msg_id), timeout=timeout)
    if not msgs or not is_idle(msgs[-1]):
        types = [m["msg_type"] for m in msgs]
        raise AssertionError(f"no idle for {msg_id} within {timeout} s; got {types}")
    return msgs


def execute(
    kc: Any, code: str, timeout: float = REPLY_TIMEOUT, **kwargs: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute ``code``; return (execute_reply, iopub messages from busy to idle)."""
    msg_id = kc.execute(code, **kwargs)
    reply = get_reply(kc, msg_id, timeout=timeout)
    iopub = collect_iopub(kc, msg_id, timeout=timeout)
    return reply, iopub


def outputs(iopub: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The output messages (not status, not execute_input) among ``iopub``."""
    return [m for m in iopub if m["msg_type"] not in ("status", "execute_input")]


def stream_text(iopub: list[dict[str, Any]], name: str = "stdout") -> str:
    return "".join(
        m["content"]["text"]
        for m in iopub
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


def assert_ok(reply: dict[str, Any]) -> None:
    content = reply["content"]
    assert content["status"] == "ok", (
        f"expected status ok, got {content.get('status')}: "
        f"{content.get('ename')}: {content.get('evalue')}\n" + "\n".join(content.get("traceback", []))
    )


def connection_file(tmp_path: Path, **overrides: Any) -> Path:
    """A connection file with free ports on 127.0.0.1, for a kernel a test starts itself."""
    path = tmp_path / "kernel-test.json"
    write_connection_file(str(path), ip="127.0.0.1", key=b"a-test-key", transport="tcp")
    data = json.loads(path.read_text())
    data.update(overrides)
    path.write_text(json.dumps(data))
    return path


def jupyter_bin(name: str) -> str:
    """Path of a Jupyter command from the environment running the tests."""
    exe = Path(sys.executable).parent / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def reap_kernels(runtime_dir: Path) -> None:
    """Stop any kernel a front end (console, nbconvert) left behind in its runtime dir."""
    for cf in runtime_dir.glob("kernel-*.json"):
        kc = BlockingKernelClient()
        try:
            kc.load_connection_file(str(cf))
            kc.start_channels()
            kc.shutdown()
            time.sleep(1)
        except Exception:
            pass
        finally:
            kc.stop_channels()
        for pid in _pids_with_argument(str(cf)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _pids_with_argument(arg: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if arg.encode() in argv:
            pids.append(int(entry.name))
    return pids
