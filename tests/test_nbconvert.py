"""Executing the example notebooks with nbconvert and papermill."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nbformat
import pytest
from conftest import KERNEL_NAME, REPO, clean_env, jupyter_bin, reap_kernels

EXAMPLES = Path(os.environ.get("PYSHEETS_EXAMPLES", REPO / "examples"))
NOTEBOOKS = sorted(p for p in EXAMPLES.glob("*.ipynb") if not p.name.endswith(".out.ipynb"))


def _check_executed(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code_cells, f"{path} has no code cells"
    for cell in code_cells:
        assert cell.get("execution_count") is not None, f"cell not executed: {cell.source[:60]!r}"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"cell {cell.source[:60]!r} raised {errors[0].ename}: {errors[0].evalue}"


def test_there_are_example_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks in {EXAMPLES}"


def run_tool(argv: list[str], runtime_dir: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run a Jupyter tool; stop any kernel it leaves behind if it fails or times out."""
    runtime_dir.mkdir(exist_ok=True)
    try:
        return subprocess.run(
            argv,
            env=clean_env(JUPYTER_RUNTIME_DIR=str(runtime_dir)),
            capture_output=True,
            text=True,
            timeout=280,
            **kw,  # type: ignore[arg-type]
        )
    finally:
        reap_kernels(runtime_dir)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_nbconvert_execute(notebook: Path, tmp_path: Path) -> None:
    res = run_tool(
        [
            jupyter_bin("jupyter"),
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}",
            "--ExecutePreprocessor.timeout=120",
            "--ExecutePreprocessor.startup_timeout=60",
            "--output-dir",
            str(tmp_path),
            "--output",
            "executed",
            str(notebook),
        ],
        tmp_path / "runtime",
        cwd=notebook.parent,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    _check_executed(tmp_path / "executed.ipynb")


@pytest.mark.timeout(300)
def test_papermill(tmp_path: Path) -> None:
    if not NOTEBOOKS:
        pytest.fail(f"no notebooks in {EXAMPLES}")
    preferred = [p for p in NOTEBOOKS if p.stem == "hello"]
    notebook = (preferred or NOTEBOOKS)[0]
    out = tmp_path / "papermill-out.ipynb"
    res = run_tool(
        [
            jupyter_bin("papermill"),
            str(notebook),
            str(out),
            "-k",
            KERNEL_NAME,
            "--cwd",
            str(notebook.parent),
            "--execution-timeout",
            "120",
            "--start-timeout",
            "60",
        ],
        tmp_path / "runtime",
    )
    assert res.returncode == 0, res.stderr[-4000:]
    _check_executed(out)
    nb = nbformat.read(str(out), as_version=4)
    assert nb.metadata["papermill"]["exception"] in (None, False)
