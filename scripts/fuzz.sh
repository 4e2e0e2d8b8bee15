#!/usr/bin/env bash
# Builds the fuzz targets (the Fuzz/ package: libFuzzer with AddressSanitizer) and runs each for a
# bounded time on a corpus seeded from Fuzz/corpus/<target> (the compose target also from the
# compose test fixtures). Prints the executions run; fails on any crash, leak or hang, keeping
# the input that caused it. Usage: scripts/fuzz.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${CAAS_FUZZ_SECONDS:-60}}
(cd Fuzz && swift build --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -E "error|warning: unre|Build complete" || true)
work=$(mktemp -d -t caas-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
for target in FuzzRequestParser FuzzResponseParser FuzzCompose; do
  binary=.build-fuzz/debug/$target
  [ -x "$binary" ] || { echo "fuzz: $binary was not built"; exit 1; }
  corpus="$work/$target"
  mkdir -p "$corpus"
  cp Fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  if [ "$target" = FuzzCompose ]; then
    find Tests/CaaSComposeTests/Fixtures -name '*.yml' | while read -r f; do cp "$f" "$corpus/$(echo "$f" | tr / _)"; done
  fi
  log="$work/$target.log"
  if ! "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$work/$target-" "$corpus" >"$log" 2>&1; then
    tail -60 "$log"
    trap - EXIT
    echo "fuzz: $target failed; the input and the log are in $work"
    exit 1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  echo "fuzz: $target: $runs executions in $seconds s, 0 crashes"
done
