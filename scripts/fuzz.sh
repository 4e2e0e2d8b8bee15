#!/usr/bin/env bash
# Builds the fuzz targets (the Fuzz/ package: libFuzzer with AddressSanitizer) and runs each for a
# bounded time on a corpus seeded from Fuzz/corpus/<target> (the compose target also from the
# compose test fixtures). Prints the executions run; fails on any crash, leak or hang, keeping
# the input that caused it. Usage: scripts/fuzz.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${CAAS_FUZZ_SECONDS:-60}}
# Optimized (with testing enabled, for the targets' @testable imports): twice the executions of a
# debug build, and the time an input takes is the parser's, not the unoptimized code's.
(cd Fuzz && swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing 2>&1 \
   | grep -E "error|warning: unre|Build complete" || true)
work=$(mktemp -d -t caas-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
for target in FuzzRequestParser FuzzResponseParser FuzzCompose; do
  binary=.build-fuzz/release/$target
  [ -x "$binary" ] || { echo "fuzz: $binary was not built"; exit 1; }
  corpus="$work/$target"
  mkdir -p "$corpus"
  cp Fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  if [ "$target" = FuzzCompose ]; then
    find Tests/CaaSComposeTests/Fixtures -name '*.yml' | while read -r f; do cp "$f" "$corpus/$(echo "$f" | tr / _)"; done
  fi
  log="$work/$target.log"
  # A hang is an input over 25 s: the slowest legitimate inputs (200,000 nodes, the expansion
  # bound, through merge keys) take about 2 s here with the sanitizers, and CI machines are slower.
  if ! "$binary" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$work/$target-" "$corpus" >"$log" 2>&1; then
    tail -60 "$log"
    trap - EXIT
    echo "fuzz: $target failed; the input and the log are in $work"
    exit 1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  echo "fuzz: $target: $runs executions in $seconds s, 0 crashes"
done
