#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: Debian's
# Prometheus, promtool and Alertmanager, websocketd, nginx and wrk (for the
# benchmark), headless Chromium (report screenshots) and the Go modules.
# Idempotent: it installs only what is missing.
set -euo pipefail

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v websocketd >/dev/null || need+=(websocketd)
command -v chromium >/dev/null || need+=(chromium)
if ((${#need[@]})); then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2068
	$sudo apt-get install -y -qq --no-install-recommends $(printf '%s\n' ${need[@]} | sort -u) >/dev/null
fi
go mod download
