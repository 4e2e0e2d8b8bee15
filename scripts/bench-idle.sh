#!/usr/bin/env bash
# Holds N idle keep-alive connections (default 10,000) open against our server (Benchmarks' CaaSPeer)
# and reports the server's extra resident memory and its thread count, then checks it still answers.
# Usage: scripts/bench-idle.sh [connections=10000]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
(cd Benchmarks && swift build -c release --product CaaSPeer >/dev/null)
ulimit -n "$(ulimit -Hn)"  # each side needs N descriptors
port=18190
Benchmarks/.build/release/CaaSPeer "$port" >/dev/null 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/ping" >/dev/null && break; sleep 0.1; done
python3 - "$pid" "$port" "$n" <<'PY'
import socket, sys, time, resource
pid, port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def status():
    fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])
rss0, threads0 = status()
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    # One request per connection first, so each is a real keep-alive connection, then idle.
    s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    conns.append(s)
for s in conns:
    data = b""
    while b'{"ok":true}' not in data:
        data += s.recv(4096)
time.sleep(1)
rss1, threads1 = status()
probe = socket.create_connection(("127.0.0.1", port))
probe.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
answered = b'{"ok":true}' in probe.recv(4096)
print(f"idle keep-alive connections: {n}")
print(f"server RSS: {rss0/1024:.1f} MiB before, {rss1/1024:.1f} MiB with them: +{(rss1-rss0)/1024:.1f} MiB ({(rss1-rss0)*1024/n:.0f} bytes each)")
print(f"server threads: {threads0} before, {threads1} with them")
print(f"a new request still answered: {answered}")
sys.exit(0 if answered else 1)
PY
