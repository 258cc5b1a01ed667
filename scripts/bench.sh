#!/usr/bin/env bash
# The benchmark in one command: PySheets against ipykernel, ipyflow (reactive mode) and marimo.
# Sets up the project (scripts/setup.sh: kernel, .venv, kernelspecs), makes sure the peers are
# installed from PyPI into .venv, runs bench/bench.py with its defaults (extra arguments are passed
# on) and appends a dated section with the machine and the table to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# requirements-dev.txt lists the peers, so setup.sh normally installed them already; this is for
# a .venv whose stamp predates them.
if ! .venv/bin/python -c 'import ipyflow, marimo' 2>/dev/null \
    || [ ! -f .venv/share/jupyter/kernels/ipyflow/kernel.json ]; then
  echo "[bench] installing the peers (ipyflow, marimo) into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check ipyflow marimo
fi
[ -f .venv/share/jupyter/kernels/ipyflow/kernel.json ] \
  || .venv/bin/python -m ipyflow.kernel.install --sys-prefix >/dev/null

echo "[bench] load: $(cut -d' ' -f1-3 /proc/loadavg) (the numbers are only as quiet as the machine)"
exec .venv/bin/python bench/bench.py --results bench/RESULTS.md "$@"
