#!/usr/bin/env bash
# Builds every cargo-fuzz target once, then runs each for N seconds
# (default 20), two at a time, and fails if any of them finds a crash,
# a timeout or a memory blow-up. The seed corpora (fuzz/corpus/<target>)
# are read, never written: what a run adds goes to fuzz/target/corpus.
#
#   fuzz/run.sh [seconds] [target...]
#
# Environment: FUZZ_JOBS (targets run at once, default 2), FUZZ_PROFILE
# (release (default) or dev: an unoptimized build, a third of the build's
# CPU time and slower runs; what CI uses for its short smoke), FUZZ_SANITIZER
# (cargo fuzz's -s: address (default) or none), FUZZ_TARGET_DIR (default
# fuzz/target; a directory kept between runs makes the build incremental).
# The build: release with debug assertions and overflow checks (-O -a),
# 16 codegen units (cargo fuzz's default of 1 triples the build time).
# Needs a nightly toolchain and cargo-fuzz; installs them when missing and
# possible, and falls back to the stable toolchain with RUSTC_BOOTSTRAP=1
# (what cargo fuzz needs of nightly is -Z flags the stable compiler has).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"
shift || true
jobs="${FUZZ_JOBS:-2}"
sanitizer="${FUZZ_SANITIZER:-address}"
export CARGO_TERM_COLOR=never

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
toolchain=(+nightly)
if ! cargo +nightly --version >/dev/null 2>&1; then
  if rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
    echo "fuzz: installed the nightly toolchain"
  else
    echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1"
    toolchain=()
    export RUSTC_BOOTSTRAP=1
  fi
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi

tdir="${FUZZ_TARGET_DIR:-target}"
start=$(date +%s)
if [ "${FUZZ_PROFILE:-release}" = dev ]; then
  cargo "${toolchain[@]}" fuzz build --dev -a -s "$sanitizer" --target-dir "$tdir"
  bin="$tdir/x86_64-unknown-linux-gnu/debug"
else
  cargo "${toolchain[@]}" fuzz build -O -a --codegen-units 16 -s "$sanitizer" --target-dir "$tdir"
  bin="$tdir/x86_64-unknown-linux-gnu/release"
fi
built=$(date +%s)
echo "fuzz: built ${#targets[@]} targets in $((built - start)) s"

out="$tdir/fuzz-run"
rm -rf "$out"
mkdir -p "$out" artifacts
run_one() {
  local t=$1
  mkdir -p "$tdir/corpus/$t" "artifacts/$t"
  set +e
  "$bin/$t" "$tdir/corpus/$t" "corpus/$t" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" >"$out/$t.log" 2>&1
  echo $? >"$out/$t.rc"
}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
  run_one "$t" &
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
  rc=$(cat "$out/$t.rc" 2>/dev/null || echo 99)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$out/$t.log" | tail -1 || true)
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    echo "fuzz: $t ok (${runs:-?} runs, ${cov:-cov: ?})"
  else
    failed=$((failed + 1))
    echo "fuzz: $t FAILED (exit $rc); the input is in fuzz/artifacts/$t/:"
    # The panic (or sanitizer report) and where the input went.
    grep -v -E '^(#|INFO:|MS:|stat::|    #[0-9]+ 0x)' "$out/$t.log" | grep -v '^$' | tail -25
  fi
done
echo "fuzz: $((passed + failed)) targets in $(($(date +%s) - start)) s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
