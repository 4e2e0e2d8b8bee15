#!/usr/bin/env bash
# Our HTTP server against a minimal Hummingbird 2 server, side by side under wrk.
# Both serve GET /ping -> {"ok":true} and GET /items -> 50 JSON objects encoded per request.
# Usage: scripts/bench-http.sh [rounds=3] [duration=10s]
# Prints req/s, p50 and p99 per peer and round, then the median ratio ours / Hummingbird.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-10s}
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
# One product per build: with two --product flags swift build links only the last one.
(cd Benchmarks && swift build -c release --product CaaSPeer && swift build -c release --product HummingbirdPeer)
bin=Benchmarks/.build/release
ours_port=18180
hb_port=18181
"$bin/CaaSPeer" "$ours_port" >/dev/null 2>&1 & ours_pid=$!
"$bin/HummingbirdPeer" "$hb_port" >/dev/null 2>&1 & hb_pid=$!
trap 'kill $ours_pid $hb_pid 2>/dev/null || true' EXIT
for port in $ours_port $hb_port; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/ping" >/dev/null && break; sleep 0.1; done
done

results=$(mktemp)
run() { # peer port path connections
  local out rps p50 p99
  local threads=2; (( $4 < 2 )) && threads=1
  out=$(wrk -t"$threads" -c"$4" -d"$duration" --latency "http://127.0.0.1:$2$3")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-12s %-7s c=%-3s %12s req/s  p50 %-9s p99 %s\n' "$1" "$3" "$4" "$rps" "$p50" "$p99"
  echo "$1 $3 $4 $rps $p50 $p99" >>"$results"
}
for round in $(seq "$rounds"); do
  echo "round $round"
  for path in /ping /items; do
    for c in 64 1; do
      # Alternate which peer goes first, so neither always meets a warmer machine.
      if (( round % 2 )); then run ours $ours_port $path $c; run hummingbird $hb_port $path $c
      else run hummingbird $hb_port $path $c; run ours $ours_port $path $c; fi
    done
  done
done
echo
echo "median over $rounds rounds (ratio = ours / hummingbird req/s)"
python3 - "$results" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
def us(t):
    for unit, f in (("us", 1), ("ms", 1000), ("s", 1e6)):
        if t.endswith(unit): return float(t[:-len(unit)]) * f
    return float(t)
keys = sorted({(r[1], r[2]) for r in rows}, key=lambda k: (k[0], -int(k[1])))
print(f"{'endpoint':8} {'conns':>5} {'ours req/s':>12} {'hb req/s':>12} {'ratio':>6} {'ours p50':>9} {'hb p50':>9} {'ours p99':>9} {'hb p99':>9}")
for path, c in keys:
    o = [r for r in rows if r[0] == "ours" and (r[1], r[2]) == (path, c)]
    h = [r for r in rows if r[0] == "hummingbird" and (r[1], r[2]) == (path, c)]
    orps = statistics.median(float(r[3]) for r in o); hrps = statistics.median(float(r[3]) for r in h)
    med = lambda rs, i: statistics.median(us(r[i]) for r in rs)
    print(f"{path:8} {c:>5} {orps:>12.0f} {hrps:>12.0f} {orps/hrps:>6.2f} {med(o,4):>7.0f}us {med(h,4):>7.0f}us {med(o,5):>7.0f}us {med(h,5):>7.0f}us")
PY
