#!/bin/sh
# Benchmark of the transcription generator (issue 4 "Targets"):
# 1,000 concurrent real-time streams held 60 s, then batch uploads at 200/s.
# Prints CPU and memory per stream, frame pacing lag (p99), CPU per upload.
# Usage: bench/transcription/run.sh [-streams N] [-hold 60s] [-batch-rate 200] ...
set -eu
cd "$(dirname "$0")/../.."
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/loadd" ./cmd/loadd
go build -o "$bin/bench" ./bench/transcription
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$bin/bench" -loadd "$bin/loadd" "$@"
