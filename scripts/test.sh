#!/usr/bin/env bash
# Run Pier's whole test suite: unit tests, the shim and daemon integration
# tests and the root-only end-to-end suite (real runc containers, the pier CLI
# and the real docker CLI). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --workspace --bins
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
