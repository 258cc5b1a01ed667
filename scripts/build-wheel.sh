#!/usr/bin/env bash
# Builds the `pysheets-kernel` wheel into dist/: the extension module (maturin, release), the
# Python package kernel/python/pysheets_kernel, and as data files the kernelspec and the
# prebuilt grid extension. Needs cargo, a Python with maturin (PYSHEETS_WHEEL_PYTHON, default
# .venv/bin/python, which scripts/setup.sh makes) and the grid extension built (setup.sh runs
# `jlpm build:prod`). Prints the wheel's path.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYSHEETS_WHEEL_PYTHON:-.venv/bin/python}
lab=labextension/jupyterlab_pysheets/labextension
if [ ! -f "$lab/package.json" ] || [ ! -d "$lab/static" ]; then
  echo "build-wheel: the grid extension is not built ($lab): run scripts/setup.sh, or jlpm build:prod in labextension/" >&2
  exit 1
fi

# pyproject.toml's [tool.maturin] data: installed relative to the environment's prefix.
stage=target/wheel-data/data/share/jupyter
rm -rf target/wheel-data
mkdir -p "$stage/kernels/pysheets" "$stage/labextensions"
cp kernelspec/kernel.json kernelspec/logo-32x32.png kernelspec/logo-64x64.png "$stage/kernels/pysheets/"
cp -r "$lab" "$stage/labextensions/jupyterlab-pysheets"
cp labextension/install.json "$stage/labextensions/jupyterlab-pysheets/"

# A target directory of its own: maturin builds with PYO3_BUILD_EXTENSION_MODULE set, and
# sharing target/ with `cargo test` would rebuild pyo3 and the kernel at every switch.
rm -f dist/pysheets_kernel-*.whl
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/wheel} \
  "$python" -m maturin build --release --quiet --out dist --interpreter "$python" >&2
ls dist/pysheets_kernel-*.whl
