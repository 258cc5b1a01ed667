#!/usr/bin/env bash
# Sets up everything PySheets needs on a fresh machine, and does nothing that is already done:
# .venv with requirements-dev.txt, the grid extension built, the `pysheets-kernel` wheel built
# (scripts/build-wheel.sh) and installed into .venv as a user installs it, which brings the
# `pysheets` kernelspec and the grid extension with it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The Python of .venv; `cargo test` also embeds it (PYO3_PYTHON), so it needs a shared libpython.
PYTHON=${PYSHEETS_BUILD_PYTHON:-$(command -v python3)}
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
pyver=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "setup: $PYTHON is Python $pyver; PySheets needs CPython 3.11 or later" >&2
  exit 1
}
"$PYTHON" -c 'import sysconfig, sys; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' || {
  echo "setup: $PYTHON has no shared libpython; the Rust unit tests embed it" >&2
  exit 1
}

log() { printf '[setup] %s\n' "$*"; }

# Debian packages: install those that dpkg does not know, with one `apt-get update` first.
apt_updated=0
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    $sudo apt-get update -qq
    apt_updated=1
  fi
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# What building the kernel and running its tests needs (a C toolchain for crates' build scripts).
ensure_build_packages() {
  ensure_debian_packages build-essential pkg-config
}

# For tests/test_wheel.py: a venv of Debian's own Python, "the user's other Python" that the
# wheel must work in.
ensure_other_python_packages() {
  ensure_debian_packages python3 python3-venv
}

# For the browser test of the JupyterLab UI (tests/test_browser.py): Debian's headless Chromium,
# driven by playwright-core (which cannot download a browser of its own here), and a font for it.
ensure_chromium_packages() {
  [ -x /usr/bin/chromium ] && return 0
  ensure_debian_packages chromium fonts-dejavu-core
}

# The Node packages of tests/browser/ (playwright-core): `npm ci` when node_modules is missing or
# package-lock.json changed since the last install.
ensure_browser_test_node_packages() {
  local dir=tests/browser stamp=tests/browser/node_modules/.package-lock.sha256 want
  command -v npm >/dev/null || { log "npm not found: skipping tests/browser/ (the browser test will be skipped)"; return 0; }
  if [ -f "$dir/package-lock.json" ]; then
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  else
    want=$(sha256sum "$dir/package.json" | cut -d' ' -f1)
  fi
  [ -d "$dir/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  if [ -f "$dir/package-lock.json" ]; then
    log "installing Node packages for the browser test (npm ci in $dir)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  else
    log "installing Node packages for the browser test (npm install in $dir)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
  echo "$want" > "$stamp"
}

# The grid view extension (labextension/): its Node packages (`jlpm install`, stamped on the
# yarn.lock hash) and the prebuilt extension (`jlpm build:prod`), which the wheel ships; each
# step is skipped when its inputs did not change.
ensure_grid_extension() {
  local dir=labextension jlpm="$root/.venv/bin/jlpm" want sources
  command -v node >/dev/null || ensure_debian_packages nodejs npm
  want=$(cat "$dir/package.json" "$dir/yarn.lock" | sha256sum | cut -d' ' -f1)
  if [ ! -d "$dir/node_modules" ] || [ "$(cat "$dir/node_modules/.yarn-lock.sha256" 2>/dev/null)" != "$want" ]; then
    log "installing Node packages for the grid extension (jlpm install in $dir)"
    (cd "$dir" && PATH="$root/.venv/bin:$PATH" "$jlpm" install --immutable >/dev/null)
    echo "$want" > "$dir/node_modules/.yarn-lock.sha256"
  fi
  sources=$(cd "$dir" && find src style jupyterlab_pysheets -type f -not -path 'jupyterlab_pysheets/labextension/*' \
              -not -name '_version.py' -not -path '*/__pycache__/*' | sort \
            | xargs cat package.json yarn.lock tsconfig.json pyproject.toml install.json | sha256sum | cut -d' ' -f1)
  # The stamp sits in node_modules: the built folder goes into the wheel as it is.
  if [ "$(cat "$dir/node_modules/.grid-build.sha256" 2>/dev/null)" = "$sources" ] \
     && [ -f "$dir/jupyterlab_pysheets/labextension/package.json" ]; then
    return 0
  fi
  log "building the grid extension (jlpm build:prod in $dir)"
  (cd "$dir" && PATH="$root/.venv/bin:$PATH" "$jlpm" build:prod >/dev/null 2>&1) || {
    echo "setup: jlpm build:prod failed in $dir (run it there to see why)" >&2
    exit 1
  }
  echo "$sources" > "$dir/node_modules/.grid-build.sha256"
}

# The wheel, built by scripts/build-wheel.sh and installed into .venv as `pip install` would
# for a user; reinstalled only when the wheel changed (cargo and maturin rebuild nothing then).
ensure_kernel_wheel() {
  local wheel stamp=.venv/.wheel.sha256 want
  log "building the pysheets-kernel wheel (scripts/build-wheel.sh)"
  wheel=$(bash scripts/build-wheel.sh)
  want=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && .venv/bin/python -c 'import pysheets_kernel._native' 2>/dev/null; then
    return 0
  fi
  # The grid extension used to be a package of its own: the wheel now ships the same files.
  .venv/bin/python -m pip uninstall --quiet --yes jupyterlab_pysheets >/dev/null 2>&1 || true
  log "installing $wheel into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
  echo "$want" > "$stamp"
}

ensure_build_packages

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

# ipyflow, a benchmark peer, ships a JupyterLab extension that throws on notebooks of other
# kernels; the JupyterLab of the main job and of the browser tests should not load it.
.venv/bin/jupyter labextension disable --level=sys_prefix jupyterlab-ipyflow >/dev/null 2>&1 || true

ensure_chromium_packages
ensure_other_python_packages
ensure_browser_test_node_packages
ensure_grid_extension
ensure_kernel_wheel
[ -f .venv/share/jupyter/kernels/pysheets/kernel.json ] || {
  echo "setup: installing the wheel put no kernelspec at .venv/share/jupyter/kernels/pysheets/kernel.json" >&2
  exit 1
}

# ipykernel's spec too: the benchmark and the test suite's self-check compare against it.
.venv/bin/python -m ipykernel install --sys-prefix >/dev/null 2>&1 || true
log "ready: $(.venv/bin/pysheets --version), kernelspecs: $(.venv/bin/jupyter kernelspec list --json | .venv/bin/python -c 'import json,sys; print(", ".join(sorted(json.load(sys.stdin)["kernelspecs"])))')"
