#!/usr/bin/env bash
# The main job: set up, then JupyterLab on examples/ with the PySheets kernel. Without a display
# (or in CI) it runs the budget example as a sheet with `pysheets run`, then again with its rent
# changed (`--set A1=1500`), and prints both tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ "${PYSHEETS_LAB:-}" = 1 ] || { [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${CI:-}" ]; }; then
  exec .venv/bin/jupyter lab --notebook-dir examples --ServerApp.ip=127.0.0.1
fi

# Headless: the sheet without Jupyter. The budget's values, then the same sheet with the rent
# (A1) raised: the cells that read it, directly or not, change; the others do not.
example=${1:-examples/budget.ipynb}
echo "[run] no display: pysheets run $example (the notebook as a sheet, no Jupyter server)"
.venv/bin/pysheets run "$example"
if [ -z "${1:-}" ]; then
  echo
  echo "[run] the same sheet with the rent raised: pysheets run $example --set A1=1500"
  echo "[run] (B1, B3, B4, the table C1 and the chart C2 read A1, directly or not; A2-A4 and B2 do not)"
  .venv/bin/pysheets run "$example" --set A1=1500
fi
