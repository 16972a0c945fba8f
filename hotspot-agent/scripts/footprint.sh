#!/usr/bin/env bash
# Resident memory and idle CPU of `hotspot-agent run` (release build) with a full report queue.
#
#   hotspot-agent/scripts/footprint.sh [IDLE_SECONDS]     (default 60)
#
# Sets up a hotspot in a temporary directory (Semtech radio on a free loopback port, an oracle
# address nobody answers, i.e. an outage), fills its durable queue to the default bound
# (16 MiB / 100,000 reports) with signed witness reports, starts the daemon, lets it settle for
# 10 s, then samples utime+stime from /proc/PID/stat over IDLE_SECONDS and reads VmRSS/VmHWM
# from /proc/PID/status. Linux only. Uses CARGO_TARGET_DIR if set.
set -euo pipefail
idle=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cd "$root"
cargo build -q --release -p hotspot-agent --bin hotspot-agent --example fill_queue
bin=$target/release/hotspot-agent
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Any valid key (the public key of seed [1; 32]): nobody answers at the oracle address anyway.
oracle_key=AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9
"$bin" init --dir "$work" --oracle "127.0.0.1:$(free_port)" --oracle-key "$oracle_key" --region US915 >/dev/null 2>&1
sed -i 's/^kind = "simulated"/kind = "semtech"/; s/^listen = .*/listen = "127.0.0.1:'"$(free_port)"'"/' "$work/settings.toml"

echo "filling the queue..."
"$target/release/examples/fill_queue" "$work/settings.toml"
ls -l "$work/data/outbox.log" | awk '{printf "queue file: %.1f MiB\n", $5/1048576}'

RUST_LOG=warn "$bin" run --settings "$work/settings.toml" 2>"$work/agent.log" &
pid=$!
sleep 10
kill -0 "$pid" || { cat "$work/agent.log"; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); sleep "$idle"; t1=$(ticks)
grep -E 'VmRSS|VmHWM' "/proc/$pid/status"
awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$idle" 'BEGIN { printf "idle CPU: %.3f%% of one core over %d s (%d ticks)\n", 100 * d / hz / s, s, d }'
"$bin" status --settings "$work/settings.toml" | sed -n '1,8p' || true
