#!/usr/bin/env bash
# WebSocket benchmark: the real loadd binary holding populations of sessions
# against demo targets (`loadd target`) on loopback, one message per session
# every 5 s. Prints resident memory per session (RSS delta over the idle
# process / sessions), Go heap per session, goroutines per session, connect
# rate, message RTT p50/p99 (from the native histogram) and CPU while
# holding. loadd processes are pinned to CPU 0, targets to CPU 1.
#
# Usage: bench/ws/run.sh [step…]   steps: 10k (default), 18k, 50k
#   10k  10,000 sessions, one loadd process, one target, ramp 2000/s
#   18k  18,000 sessions, one loadd process, one target (the fd-limit case)
#   50k  50,000 sessions, three loadd processes (--shard i/3), three targets,
#        source addresses 127.0.0.2-127.0.0.7
# Env: WSBENCH_LOADD (use a built binary), HOLD (default 30s), SETTLE (10s).
set -euo pipefail
cd "$(dirname "$0")/../.."

STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(10k)
HOLD=${HOLD:-30s}
SETTLE=${SETTLE:-10s}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "file descriptors: soft $(ulimit -Sn), hard $(ulimit -Hn)"
BIN=${WSBENCH_LOADD:-}
if [ -z "$BIN" ]; then
	echo "building loadd…"
	go build -o "$WORK/loadd" ./cmd/loadd
	BIN="$WORK/loadd"
fi
go build -o "$WORK/wsbench" ./bench/ws

for step in "${STEPS[@]}"; do
	echo
	echo "=== $step ==="
	case "$step" in
	10k) "$WORK/wsbench" -loadd "$BIN" -sessions 10000 -procs 1 -ramp 2000/s -hold "$HOLD" -settle "$SETTLE" -sources "" ;;
	18k) "$WORK/wsbench" -loadd "$BIN" -sessions 18000 -procs 1 -ramp 2000/s -hold "$HOLD" -settle "$SETTLE" -sources 127.0.0.2-127.0.0.7 ;;
	50k) "$WORK/wsbench" -loadd "$BIN" -sessions 50000 -procs 3 -targets 3 -ramp 2000/s -hold "$HOLD" -settle "$SETTLE" -sources 127.0.0.2-127.0.0.7 ;;
	*) echo "unknown step $step (want 10k, 18k or 50k)" >&2; exit 2 ;;
	esac
done
