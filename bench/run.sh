#!/bin/sh
# One command for the whole benchmark (as root, from anywhere):
#   bench/run.sh [--quick] [--out BENCHMARKS.md] [pier-bench options]
# Builds the release binaries (Pier's rows say "not built yet" if that
# fails), then runs pier-bench, which starts and stops every daemon it uses.
set -eu
cd "$(dirname "$0")/.."
if ! cargo build --release -p pierd -p pier -p pier-shim; then
    echo "bench/run.sh: building Pier failed; benchmarking the binaries target/release already holds (if any)" >&2
fi
cargo build --release -p pier-bench
exec target/release/pier-bench "$@"
