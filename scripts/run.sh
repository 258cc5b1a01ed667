#!/usr/bin/env bash
# The main job: set up, then JupyterLab on examples/ with the PySheets kernel. Without a display
# (or in CI) it runs an example notebook headless on the kernel and prints what it produced.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ "${PYSHEETS_LAB:-}" = 1 ] || { [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${CI:-}" ]; }; then
  exec .venv/bin/jupyter lab --notebook-dir examples --ServerApp.ip=127.0.0.1
fi

example=${1:-examples/hello.ipynb}
echo "[run] no display: executing $example on the pysheets kernel"
.venv/bin/jupyter nbconvert --to notebook --execute --stdout \
  --ExecutePreprocessor.kernel_name=pysheets "$example" 2>/dev/null |
  .venv/bin/python -c '
import json, sys
nb = json.load(sys.stdin)
for i, cell in enumerate(nb["cells"]):
    if cell["cell_type"] != "code":
        continue
    count = cell.get("execution_count") or " "
    print(f"In [{count}]:")
    source = cell["source"]
    source = "".join(source) if isinstance(source, list) else source
    for line in source.splitlines():
        print("    " + line)
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            text = out["text"]
        elif kind == "error":
            text = out["ename"] + ": " + out["evalue"]
        else:
            data = out.get("data", {})
            text = data.get("text/plain", "")
            extra = sorted(k for k in data if k != "text/plain")
            if extra:
                text += "   [also: " + ", ".join(extra) + "]"
        text = "".join(text) if isinstance(text, list) else text
        print("  " + kind + ": " + text.rstrip().replace("\n", "\n    "))
    print()
'
