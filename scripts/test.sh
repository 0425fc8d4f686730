#!/usr/bin/env bash
# Runs loadd's whole test suite: unit tests, fuzz seeds, promtool rule
# tests and end-to-end tests against real Prometheus, Alertmanager and
# WebSocket servers, all with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
# Every external tool is installed now: a test that cannot find one must
# fail, not skip (internal/tooltest reads CI).
export CI=${CI:-true}
# WebSocket tests hold thousands of sockets: use the whole descriptor allowance.
ulimit -n "$(ulimit -Hn)" || true
test -z "$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
go vet ./...
go test -race -count=1 -timeout 25m "$@" ./...
# Timing tests skip themselves under the race detector (it slows every
# request); run them once without it so they check something in CI too.
go test -count=1 -run 'TestLatencyAccuracy' ./generators/httpload/
# Two scheduler tests are built only without -race (the race runtime
# crashes on them, golang/go#78156): run the package without it.
go test -count=1 ./schedule/
