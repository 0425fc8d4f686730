#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: Debian's
# Prometheus, promtool and Alertmanager, websocketd, nginx and wrk (for the
# benchmark), headless Chromium (report screenshots), systemd-analyze and
# kubectl or kustomize (deploy/ tests) and the Go modules.
# Idempotent: it installs only what is missing.
set -euo pipefail

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v websocketd >/dev/null || need+=(websocketd)
command -v chromium >/dev/null || need+=(chromium)
# deploy/ tests: systemd-analyze verifies the unit file.
command -v systemd-analyze >/dev/null || need+=(systemd)
if ((${#need[@]})); then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2068
	$sudo apt-get install -y -qq --no-install-recommends $(printf '%s\n' ${need[@]} | sort -u) >/dev/null
fi
go mod download
# deploy/ tests render deploy/kubernetes with `kubectl kustomize`, or with a
# standalone kustomize where kubectl is missing (v5.8.3 needs a newer Go).
if ! command -v kubectl >/dev/null && ! command -v kustomize >/dev/null; then
	GOBIN=/usr/local/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.2
fi
