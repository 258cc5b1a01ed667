"""`pip install pysheets-kernel` as a user does it: the wheel (dist/, built by setup.sh) installed
into a fresh venv of *another* Python installation (Debian's /usr/bin/python3.11 beside the
pyenv Python that built it), in a directory whose path has a space, used with that venv alone:
no Rust, no node and no source tree on PATH, run from outside the repository.

The figures (wheel size, `pip install` to the kernel's first reply) go to
tests/artifacts/wheel.json and are printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

pytestmark = [pytest.mark.pysheets_only, pytest.mark.timeout(900)]

ARTIFACTS = REPO / "tests" / "artifacts"
# What Jupyter users have beside a kernel, and what the budget example imports.
USER_PACKAGES = ["jupyterlab", "nbclient", "nbformat", "pandas", "matplotlib"]


def other_python() -> Path:
    """A CPython of another installation than the one running the tests (and building)."""
    wanted = os.environ.get("PYSHEETS_OTHER_PYTHON")
    candidates = [Path(wanted)] if wanted else [Path("/usr/bin/python3.11"), Path("/usr/bin/python3")]
    mine = os.path.realpath(sys.base_prefix)
    for python in candidates:
        if not python.exists():
            continue
        out = subprocess.run(
            [str(python), "-c", "import sys, venv; print(sys.base_prefix); print(sys.version_info >= (3, 11))"],
            capture_output=True, text=True,
        )
        lines = out.stdout.split()
        if out.returncode == 0 and lines[1] == "True" and os.path.realpath(lines[0]) != mine:
            return python
    pytest.fail(f"no other CPython >= 3.11 with venv among {candidates} (setup.sh installs "
                "Debian's python3-venv); set PYSHEETS_OTHER_PYTHON")


def the_wheel() -> Path:
    wheels = sorted((REPO / "dist").glob("pysheets_kernel-*.whl"))
    if len(wheels) != 1:
        pytest.fail(f"expected one wheel in dist/, found {wheels}: run scripts/setup.sh")
    return wheels[0]


class Venv:
    def __init__(self, root: Path, home: Path):
        self.root = root
        self.bin = root / "bin"
        self.python = self.bin / "python"
        self.home = home

    def env(self, **extra: str) -> dict[str, str]:
        # The venv alone: no cargo, no node, no .venv of the repository, no PYTHONPATH.
        env = {
            "PATH": str(self.bin),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "VIRTUAL_ENV": str(self.root),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYSHEETS_JOURNAL": "off",
        }
        env.update(extra)
        return env

    def run(self, *argv: str, timeout: float = 300, check: bool = True, **extra: str
            ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                             cwd=self.home, env=self.env(**extra), stdin=subprocess.DEVNULL)
        if check and res.returncode != 0:
            pytest.fail(f"{argv} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res


# Runs in the fresh venv: starts a kernel through the venv's kernelspec (jupyter_client puts
# the venv's python in place of the spec's "python"), times the first reply, runs the budget
# cells as JupyterLab sends them (with cellIds), edits A1 and collects what was updated.
DRIVER = textwrap.dedent('''
    import json, sys, time
    import nbformat
    from jupyter_client import KernelManager

    t0 = float(sys.argv[2])
    nb = nbformat.read(sys.argv[1], as_version=4)
    km = KernelManager(kernel_name="pysheets")
    t1 = time.time()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    msg_id = kc.kernel_info()
    while True:
        msg = kc.get_shell_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id:
            break
    first_reply, start_to_reply = time.time() - t0, time.time() - t1
    info = msg["content"]

    def run(code, cell_id):
        # execute_request with metadata.cellId, as JupyterLab sends it.
        content = {"code": code, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        msg = kc.session.msg("execute_request", content, metadata={"cellId": cell_id})
        kc.shell_channel.send(msg)
        updates = {}
        while True:
            m = kc.get_iopub_msg(timeout=60)
            if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            if m["msg_type"] == "update_display_data":
                updates[m["content"]["transient"]["display_id"]] = m["content"]["data"].get("text/plain")
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
        while True:
            reply = kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply["content"], updates

    def budget_then_edit():
        for cell in nb.cells:
            if cell.cell_type == "code":
                content, _ = run(cell.source, cell.id)
                assert content["status"] == "ok", content
        a1 = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# @A1"))
        _, updates = run(a1.source.replace("1200", "1500"), a1.id)
        values = {}
        for address in ("B1", "B3"):
            got = []
            hook = lambda m: got.append(m["content"]["data"]["text/plain"]) \
                if m["msg_type"] == "execute_result" else None
            kc.execute_interactive(address, timeout=30, output_hook=hook, store_history=False)
            values[address] = got[0] if got else None
        return {"first_reply_s": first_reply, "start_to_reply_s": start_to_reply,
                "kernel_info": info,
                "updates": sorted(v for v in updates.values() if v), "values": values}

    try:
        print(json.dumps(budget_then_edit()))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
''')


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("wheel")
    root = base / "user env with space"
    home = base / "home"
    home.mkdir()
    python = other_python()
    subprocess.run([str(python), "-m", "venv", str(root)], check=True, timeout=120)
    v = Venv(root, home)
    # What a Jupyter user already has; from the package registry (or pip's cache).
    v.run(str(v.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          *USER_PACKAGES, timeout=600)
    wheel = the_wheel()
    t0 = time.time()
    v.run(str(v.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel))
    pip_s = time.time() - t0
    driver = base / "driver.py"
    driver.write_text(DRIVER)
    res = v.run(str(v.python), str(driver), str(REPO / "examples" / "budget.ipynb"), str(t0))
    v.drive = json.loads(res.stdout.strip().splitlines()[-1])
    v.figures = {
        "wheel": wheel.name,
        "wheel_bytes": wheel.stat().st_size,
        "pip_install_s": round(pip_s, 2),
        "pip_install_to_first_reply_s": round(v.drive["first_reply_s"], 2),
        # Of which: the first start of the new kernel, to its kernel_info_reply.
        "kernel_start_to_reply_s": round(v.drive["start_to_reply_s"], 3),
        "python": str(python),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "wheel.json").write_text(json.dumps(v.figures, indent=2))
    print("\nwheel figures:", json.dumps(v.figures))
    yield v
    shutil.rmtree(base, ignore_errors=True)


def test_the_venv_is_another_python_alone(venv: Venv) -> None:
    env = venv.env()
    for tool in ("cargo", "rustc", "node"):
        assert shutil.which(tool, path=env["PATH"]) is None, tool
    res = venv.run(str(venv.python), "-c",
                   "import sys, pysheets_kernel._native as n; print(sys.base_prefix); print(n.__file__)")
    base, native = res.stdout.split("\n")[:2]
    assert os.path.realpath(base) != os.path.realpath(sys.base_prefix)
    assert native.startswith(str(venv.root)), native
    # Links no libpython: the venv's interpreter provides Python.
    ldd = subprocess.run(["ldd", native], capture_output=True, text=True).stdout
    assert "libpython" not in ldd, ldd


def test_kernelspec_list_shows_pysheets_in_the_venv(venv: Venv) -> None:
    res = venv.run(str(venv.bin / "jupyter"), "kernelspec", "list", "--json")
    specs = json.loads(res.stdout)["kernelspecs"]
    assert "pysheets" in specs, specs
    assert specs["pysheets"]["resource_dir"].startswith(str(venv.root)), specs["pysheets"]


def budget_inputs() -> dict[str, int]:
    """The budget example's input cells (`# @A1 rent` / `1200`), by address."""
    nb = json.loads((REPO / "examples" / "budget.ipynb").read_text())
    inputs = {}
    for cell in nb["cells"]:
        first, _, code = "".join(cell["source"]).partition("\n")
        if cell["cell_type"] == "code" and code.strip().isdigit():
            inputs[first.split()[1].lstrip("@")] = int(code)
    return inputs


def test_nbclient_runs_the_budget_example_with_the_right_values(venv: Venv) -> None:
    out = venv.home / "budget-out.ipynb"
    venv.run(str(venv.python), "-c", textwrap.dedent(f"""
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(REPO / "examples" / "budget.ipynb")!r}, as_version=4)
        NotebookClient(nb, kernel_name="pysheets", timeout=120).execute()
        nbformat.write(nb, {str(out)!r})
    """))
    nb = json.loads(out.read_text())
    cells = {}
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code":
            continue
        address = source.split()[1].lstrip("@")
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], (address, cell["outputs"])
        data = {}
        for o in cell["outputs"]:
            data.update(o.get("data", {}))
        cells[address] = (source.split("\n", 1)[1], data)
    inputs = budget_inputs()
    assert set(inputs) == {"A1", "A2", "A3", "A4", "B2"}, inputs
    total = sum(inputs[a] for a in ("A1", "A2", "A3", "A4"))
    text = {a: "".join(d.get("text/plain", "")) for a, (_, d) in cells.items()}
    assert text["B1"] == str(total)
    assert text["B3"] == str(inputs["B2"] - total)
    assert float(text["B4"]) == pytest.approx((inputs["B2"] - total) / inputs["B2"])
    assert "text/html" in cells["C1"][1]  # pandas imported in this venv
    assert "image/png" in cells["C2"][1]  # and matplotlib drew the chart


def test_a_reactive_edit_re_runs_the_dependents(venv: Venv) -> None:
    got = venv.drive
    assert got["kernel_info"]["implementation"] == "pysheets"
    inputs = budget_inputs()
    assert inputs["A1"] == 1200  # the driver edits it to 1500
    total = 1500 + inputs["A2"] + inputs["A3"] + inputs["A4"]
    savings = inputs["B2"] - total
    assert got["values"] == {"B1": str(total), "B3": str(savings)}, got
    assert str(total) in got["updates"] and str(savings) in got["updates"], got["updates"]


def test_the_versions_agree(venv: Venv) -> None:
    res = venv.run(str(venv.bin / "pysheets"), "--version")
    meta = venv.run(str(venv.python), "-c",
                    "import importlib.metadata as m; print(m.version('pysheets-kernel'))")
    version = meta.stdout.strip()
    assert res.stdout.split() == ["pysheets", version]
    assert venv.drive["kernel_info"]["implementation_version"] == version
    assert f"pysheets_kernel-{version}-" in venv.figures["wheel"]


def test_labextension_list_shows_the_grid_extension_enabled(venv: Venv) -> None:
    res = venv.run(str(venv.bin / "jupyter"), "labextension", "list")
    listing = res.stdout + res.stderr
    line = next((l for l in listing.splitlines() if "jupyterlab-pysheets" in l), "")
    assert "enabled" in line and "OK" in line, listing


def test_pysheets_install_user_into_a_temporary_home(venv: Venv, tmp_path: Path) -> None:
    home = tmp_path / "a home"
    home.mkdir()
    venv.run(str(venv.bin / "pysheets"), "install", "--user", "--name", "pysheets-user",
             HOME=str(home))
    spec_dir = home / ".local" / "share" / "jupyter" / "kernels" / "pysheets-user"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"] == [str(venv.python), "-m", "pysheets_kernel", "-f", "{connection_file}"]
    listed = json.loads(venv.run(str(venv.bin / "jupyter"), "kernelspec", "list", "--json",
                                 HOME=str(home)).stdout)["kernelspecs"]
    assert os.path.realpath(listed["pysheets-user"]["resource_dir"]) == os.path.realpath(spec_dir)


def test_another_python_version_is_refused_at_install(venv: Venv, tmp_path: Path) -> None:
    res = venv.run(str(venv.python), "-m", "pip", "install", "--dry-run", "--no-deps",
                   "--only-binary=:all:", "--python-version", "3.10", "--target", str(tmp_path / "t"),
                   str(the_wheel()), check=False)
    assert res.returncode != 0
    assert "is not a supported wheel on this platform" in res.stderr, res.stderr


def test_uninstall_removes_the_kernelspec_and_the_extension(venv: Venv) -> None:
    share = venv.root / "share" / "jupyter"
    assert (share / "kernels" / "pysheets" / "kernel.json").exists()
    venv.run(str(venv.python), "-m", "pip", "uninstall", "--yes", "pysheets-kernel")
    assert not (share / "kernels" / "pysheets").exists()
    assert not (share / "labextensions" / "jupyterlab-pysheets").exists()
    specs = json.loads(venv.run(str(venv.bin / "jupyter"), "kernelspec", "list", "--json")
                       .stdout)["kernelspecs"]
    assert "pysheets" not in specs
