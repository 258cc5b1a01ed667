#!/usr/bin/env bash
# Every test: set up, then the Rust checks and unit tests, then the black-box tests with real
# Jupyter clients (pytest, tests/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYO3_PYTHON=${PYSHEETS_BUILD_PYTHON:-$(command -v python3)}

echo "[test] cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path kernel/fuzz/Cargo.toml --all -- --check
echo "[test] cargo clippy -D warnings"
cargo clippy --release --all-targets --quiet -- -D warnings
echo "[test] cargo test"
cargo test --release --quiet
echo "[test] fuzz: every target of kernel/fuzz for a short run (installs cargo-fuzz if missing)"
bash scripts/fuzz.sh "${PYSHEETS_FUZZ_SECONDS:-10}"
echo "[test] grid extension: lint (eslint, prettier, stylelint) and unit tests (jest)"
(cd labextension && PATH="$PWD/../.venv/bin:$PATH" jlpm lint:check && PATH="$PWD/../.venv/bin:$PATH" jlpm test)
echo "[test] pytest: the Python runtime's unit tests (beside it, in kernel/src/python/pysheets_kernel)"
# importlib mode: the tests load the modules they test by path, not the installed package.
.venv/bin/python -m pytest -q --import-mode=importlib -p no:cacheprovider kernel/src/python/pysheets_kernel
echo "[test] pytest: black-box tests with real clients (tests/)"
set +e
.venv/bin/python -m pytest tests -v "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "[test] pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
