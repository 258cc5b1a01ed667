#!/usr/bin/env bash
# Sets up everything PySheets needs on a fresh machine, and does nothing that is already done:
# the kernel (release build), .venv with requirements-dev.txt, the `pysheets` kernelspec in it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The venv and the kernel must use the same CPython (the kernel links its libpython).
PYTHON=${PYSHEETS_BUILD_PYTHON:-$(command -v python3)}
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
pyver=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
"$PYTHON" -c 'import sysconfig, sys; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' || {
  echo "setup: $PYTHON has no shared libpython; the kernel needs one to embed it" >&2
  exit 1
}

log() { printf '[setup] %s\n' "$*"; }

log "building the kernel (cargo build --release) with $PYTHON"
PYO3_PYTHON=$PYTHON cargo build --release --quiet

if [ -x .venv/bin/python ] && ! grep -q "^version.*= *$pyver\$" .venv/pyvenv.cfg 2>/dev/null; then
  log ".venv was made with another Python; recreating it"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages from requirements-dev.txt"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

log "installing the pysheets kernelspec into .venv"
PATH="$root/.venv/bin:$PATH" VIRTUAL_ENV="$root/.venv" \
  target/release/pysheets-kernel install --sys-prefix --python "$root/.venv/bin/python" >/dev/null
# ipykernel's spec too: the benchmark and the test suite's self-check compare against it.
.venv/bin/python -m ipykernel install --sys-prefix >/dev/null 2>&1 || true
log "ready: $(target/release/pysheets-kernel --version), kernelspecs: $(.venv/bin/jupyter kernelspec list --json | .venv/bin/python -c 'import json,sys; print(", ".join(sorted(json.load(sys.stdin)["kernelspecs"])))')"
