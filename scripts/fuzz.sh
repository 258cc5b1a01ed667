#!/usr/bin/env bash
# Runs every fuzz target of kernel/fuzz (those `cargo fuzz list` names, i.e. the [[bin]]s of
# kernel/fuzz/Cargo.toml) for a while each: `bash scripts/fuzz.sh [seconds-per-target]`
# (default 10). The committed seeds in kernel/fuzz/corpus/<target>/ are read, never written;
# what a run finds goes to kernel/fuzz/target/corpus/<target>/ (git-ignored) and is reused by
# the next run. A crash stops the script with its input in kernel/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../kernel/fuzz"
seconds=${1:-10}

# cargo-fuzz needs nightly-only compiler flags (sanitizer coverage); RUSTC_BOOTSTRAP lets the
# stable toolchain accept them, so no second toolchain is needed.
export RUSTC_BOOTSTRAP=1
export PYO3_PYTHON=${PYO3_PYTHON:-${PYSHEETS_BUILD_PYTHON:-$(command -v python3)}}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz (a few minutes, once)"
  cargo install cargo-fuzz --locked --quiet
fi

# Release with debug assertions, address sanitizer (cargo fuzz's defaults but -O).
cargo fuzz build -O
for target in $(cargo fuzz list); do
  work=target/corpus/$target
  mkdir -p "$work" "corpus/$target"
  echo "[fuzz] $target for ${seconds}s"
  # grep hides libFuzzer's progress lines; the status that counts is cargo fuzz's (read
  # right after the pipeline: `|| true` there would make PIPESTATUS true's, and hide a crash).
  set +e
  cargo fuzz run -O "$target" "$work" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 2>&1 \
    | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done)|panicked|ERROR'
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" = 0 ] || { echo "[fuzz] $target failed" >&2; exit 1; }
done
