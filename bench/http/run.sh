#!/usr/bin/env bash
# HTTP benchmark: loadd against wrk and fortio, side by side in one run.
#
# Target: Debian nginx, one worker, access_log off, a tiny fixed response,
# pinned to CPU 1. Every generator is pinned to CPU 0. Requests are counted
# by the target (nginx stub_status), not by the tools. CPU is user+sys from
# /proc/PID/stat over the measured window (warm-up excluded).
#
# The machines are shared and noisy (the same binary varies by ±25 % from
# one 10 s window to the next), so every measurement is repeated ROUNDS
# times, the tools interleaved within each round, and the tables show
# medians. The ratios are given twice: of the medians, and round by round
# (each round's loadd figure over the peer's from the same round).
#
# Fixed rates are compared with fortio in both of its pacings:
#   -uniform        each connection's requests spread evenly over time,
#                   as loadd's open model spreads arrivals: the comparison
#                   the headline ratio uses (and the pacing of the issue's
#                   peer figures: 208/57/36/31 µs per request at 1k/5k/10k/
#                   20k/s, against 199/53/42/33 measured here);
#   -uniform=false  fortio's default: all connections fire at the same
#                   instant, so 1k/s is 20 bursts of 50 a second: cheaper
#                   wake-ups, but not an even arrival rate.
#
# Usage: bench/http/run.sh [seconds-per-step]    (default 10)
#   BENCH_ROUNDS=3             repetitions of every step (0: only accuracy and latency)
#   BENCH_RATES="1000 … 20000" the fixed rates ("": only the maximum rates)
#   BENCH_ACCURACY_SECONDS=60  length of the 20k/s accuracy run (default: the step)
#   BENCH_MAX_IN_FLIGHT=N      max_in_flight of the fixed rates (default: loadd's;
#                              the stall step always uses 1000)
#   BENCH_MAX_TURNS=5          turns of the maximum-rate step (see max_round)
#   BENCH_MAX_SEPARATE=1       the maximum rates in separate windows, one tool
#                              after another (the protocol up to run 24)
#   BENCH_ALLOW_BUSY=1         measure even when CPUs 0 and 1 are not idle
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${1:-10}
ROUNDS=${BENCH_ROUNDS:-3}
ACC_SECS=${BENCH_ACCURACY_SECONDS:-$SECS}
CONNS=50
read -r -a RATES <<<"${BENCH_RATES-1000 5000 10000 20000}"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
	# Under set -e, a failing command here would end the cleanup early
	# (a process already gone fails kill) and turn the exit status to 1.
	set +e
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

for tool in nginx wrk taskset; do
	command -v "$tool" >/dev/null || { echo "need $tool: apt-get install -y nginx-light wrk util-linux" >&2; exit 1; }
done
ncpu=$(nproc)
if [ "$ncpu" -lt 2 ]; then echo "need 2 CPUs (target on CPU 1, generator on CPU 0)" >&2; exit 1; fi

# Another process on the two CPUs makes every figure meaningless (a
# stray generator left running once cut wrk from 75k to 27k requests/s),
# so check they are idle first.
cpu_snap() { awk '/^cpu[01] / {busy = $2 + $3 + $4 + $7 + $8 + $9; print $1, busy, busy + $5 + $6}' /proc/stat; }
before=$(cpu_snap); sleep 1; after=$(cpu_snap)
busy=$(paste -d' ' <(echo "$before") <(echo "$after") | awk '{p = ($6 - $3) ? 100 * ($5 - $2) / ($6 - $3) : 0; if (p > 15) printf "%s %.0f%% busy; ", $1, p}')
if [ -n "$busy" ]; then
	echo "CPUs 0 and 1 are not idle ($busy), the busiest processes:" >&2
	ps -eo pid,pcpu,args --sort=-pcpu | head -6 >&2
	if [ -z "${BENCH_ALLOW_BUSY:-}" ]; then
		echo "stop them, or set BENCH_ALLOW_BUSY=1 to measure anyway" >&2
		exit 1
	fi
fi

echo "building loadd and fetching fortio (go install fortio.org/fortio@v1.66.5 into a temp dir)…"
go build -o "$WORK/loadd" ./cmd/loadd
GOBIN="$WORK/bin" go install fortio.org/fortio@v1.66.5 >/dev/null 2>&1 || { echo "cannot install fortio" >&2; exit 1; }
FORTIO="$WORK/bin/fortio"
CLK=$(getconf CLK_TCK)

freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(freeport)
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
load_echo=""; slow_location=""
if [ -f "$echo_module" ]; then
	load_echo="load_module $echo_module;"
	slow_location='location = /slow { echo_sleep 0.05; echo ok; }'
fi
cat >"$WORK/nginx.conf" <<EOF
$load_echo
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location = /status { stub_status; }
    $slow_location
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
EOF
taskset -c 1 nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break; sleep 0.1; done
URL="http://127.0.0.1:$port/"
NGINX_WORKER=$(pgrep -P "${PIDS[0]}" | head -n1)

served() { curl -fs "http://127.0.0.1:$port/status" | awk 'NR==3 {print $3}'; }
cputicks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# sleeps PID: how often the process has gone to sleep (voluntary context
# switches). nginx's count tells the maximum rate's two modes apart: in
# the slow one it sleeps between requests, and every request has to wake it.
sleeps() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# snap PID: "requests time cpu_ticks nginx_ticks nginx_sleeps" at this
# moment: nginx's count so far, the clock, PID's and nginx's CPU, and how
# often nginx has slept.
snap() { echo "$(served) $(date +%s.%N) $(cputicks "$1") $(cputicks "$NGINX_WORKER") $(sleeps "$NGINX_WORKER")"; }

# measure PID SECONDS [METRICS-URL]: prints "requests cpu_seconds
# peak_rss_kb window_seconds warm-up_drops window_drops nginx_cpu_seconds
# nginx_sleeps window_late" (the drops and late starts from loadd's
# METRICS-URL, 0 without it); the requests exclude the status requests
# themselves (2 per window).
# The window is timed, not assumed: the status requests and /proc reads add
# to the sleep, and a rate divided by SECS would read high.
measure() {
	local pid=$1 secs=$2 metrics=${3:-}
	sleep 2 # warm-up: connections, JIT-free but page cache and buffers
	local r0 c0 r1 c1 hwm t0 t1 d0=0 d1=0 l0=0 l1=0 n0 n1 s0 s1
	[ -n "$metrics" ] && read -r d0 l0 < <(dropped_late "$metrics")
	read -r r0 t0 c0 n0 s0 < <(snap "$pid")
	sleep "$secs"
	read -r r1 t1 c1 n1 s1 < <(snap "$pid"); hwm=$(hwm_kb "$pid")
	[ -n "$metrics" ] && read -r d1 l1 < <(dropped_late "$metrics")
	echo "$((r1 - r0 - 1)) $(echo "scale=4; ($c1 - $c0) / $CLK" | bc) $hwm $(echo "$t1 - $t0" | bc) $d0 $((d1 - d0)) $(echo "scale=4; ($n1 - $n0) / $CLK" | bc) $((s1 - s0)) $((l1 - l0))"
}

# dropped_late URL: "dropped late", the dropped iterations and the arrivals
# that started over 50 ms after their intended time (a stall of loadd or
# of the VM shows there), read from loadd's /metrics in one scrape.
dropped_late() {
	curl -fs "$1" | awk '/^loadd_iterations_dropped_total\{/ {d+=$2}
		/^loadd_schedule_lag_seconds_bucket\{/ && /le="0.05"/ {b+=$2}
		/^loadd_schedule_lag_seconds_count\{/ {c+=$2}
		END {printf "%d %d\n", d, c - b}'
}

loadd_config() { # rate-or-empty
	local shape
	if [ -n "$1" ]; then
		shape="rate: $1/s"
		[ -n "${BENCH_MAX_IN_FLIGHT:-}" ] && shape="$shape
    max_in_flight: $BENCH_MAX_IN_FLIGHT"
		[ -n "${BENCH_MAX_CONNECTIONS:-}" ] && shape="$shape
    max_connections: $BENCH_MAX_CONNECTIONS"
	else
		shape="users: $CONNS
    spawn_rate: 10000/s
    think_time: 0s"
	fi
	cat <<EOF
targets:
  nginx: {base_url: "http://127.0.0.1:$port"}
scenarios:
  bench:
    kind: http
    target: nginx
    $shape
    timeout: ${BENCH_TIMEOUT:-5s}
    tasks:
      - {name: get, weight: 1, get: ${BENCH_PATH:-/}}
EOF
}


# start_loadd CONFIG CPUS: starts loadd pinned to CPUS and waits until it
# serves; sets LOADD_PID and LOADD_METRICS (its /metrics URL).
start_loadd() {
	local mport
	mport=$(freeport)
	taskset -c "$2" "$WORK/loadd" run --config.file="$1" --web.listen-address="127.0.0.1:$mport" --log.level=warn &
	LOADD_PID=$!
	PIDS+=($LOADD_PID)
	LOADD_METRICS="http://127.0.0.1:$mport/metrics"
	WaitListen "127.0.0.1:$mport"
}

# stop_loadd: stops the loadd start_loadd started, letting it finish.
stop_loadd() { kill -TERM "$LOADD_PID"; wait "$LOADD_PID" 2>/dev/null || true; }

# run_loadd RATE-or-empty SECS: prints the measure line.
run_loadd() {
	loadd_config "$1" >"$WORK/loadd.yaml"
	start_loadd "$WORK/loadd.yaml" 0
	local out
	out=$(measure "$LOADD_PID" "$2" "$LOADD_METRICS")
	stop_loadd
	echo "$out"
}

# WaitListen ADDR: until loadd's web server answers (at most 10 s).
WaitListen() { for _ in $(seq 200); do curl -fs "http://$1/-/healthy" >/dev/null 2>&1 && return; sleep 0.05; done; }

run_fortio() { # qps(0=max) secs uniform(true|false)
	taskset -c 0 "$FORTIO" load -quiet -qps "$1" -c "$CONNS" -t $(($2 + 4))s -uniform="$3" "$URL" >/dev/null 2>&1 &
	local pid=$!
	PIDS+=($pid)
	local out
	out=$(measure "$pid" "$2")
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	echo "$out"
}

run_wrk() { # secs
	taskset -c 0 wrk -t1 -c"$CONNS" -d$(($1 + 4))s "$URL" >/dev/null 2>&1 &
	local pid=$!
	PIDS+=($pid)
	local out
	out=$(measure "$pid" "$1")
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	echo "$out"
}

# Results go to $WORK/res/NAME, one "requests cpu_s rss_kb window_s" line a round.
mkdir -p "$WORK/res"
record() { echo "$2" >>"$WORK/res/$1"; }
# figures NAME FIELD: NAME's figure of each round, in round order: req/s
# (rps), µs CPU per request (us) or peak RSS in MB (mb).
figures() {
	awk -v f="$2" '{ if (f == "rps") v = $1 / $4; else if (f == "us") v = $2 * 1e6 / $1; else v = $3 / 1024; print v }' "$WORK/res/$1"
}
# median NAME FIELD: over rounds, the median req/s (rps) or µs CPU per
# request (us); for peak RSS in MB (mb), the largest.
median() {
	figures "$1" "$2" |
		sort -g | awk -v f="$2" '{ a[NR] = $1 } END { if (f == "mb") printf "%.0f", a[NR]; else if (f == "rps") printf "%.0f", a[int((NR + 1) / 2)]; else printf "%.1f", a[int((NR + 1) / 2)] }'
}
spread() { # NAME: lowest–highest µs per request over rounds
	figures "$1" us | sort -g | awk '{ a[NR] = $1 } END { printf "%.1f–%.1f", a[1], a[NR] }'
}
ratio() { echo "scale=2; $1 / $2" | bc; }
# paired NUM DEN FIELD: NUM's figure (rps or us) over DEN's, round by
# round (the two were measured seconds apart, in the same state of the
# machine), as "median (lowest–highest)". A slow spell of this VM lasts
# minutes, so it can make one tool's median round and not the other's;
# within one round it mostly touches both.
paired() {
	paste -d' ' <(figures "$1" "$3") <(figures "$2" "$3") | awk '{ print $1 / $2 }' |
		sort -g | awk '{ a[NR] = $1 } END { printf "%.2f (%.2f–%.2f)", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

# step NAME [RATE]: one measured step, its line recorded under NAME.
step() {
	case $1 in
	wrk) record wrk "$(run_wrk "$SECS")" ;;
	fortio) record fortio "$(run_fortio 0 "$SECS" false)" ;;
	fortio-u-*) record "$1" "$(run_fortio "$2" "$SECS" true)" ;;
	fortio-b-*) record "$1" "$(run_fortio "$2" "$SECS" false)" ;;
	loadd*) record "$1" "$(run_loadd "${2:-}" "$SECS")" ;;
	esac
	show "$1"
}

# show NAME: prints NAME's last recorded line.
show() {
	tail -n1 "$WORK/res/$1" | awk -v n="$1" '{ printf "  %-14s %8.0f req/s %6.1f µs/req   nginx %5.1f µs/req, %4.0f sleeps per 1,000\n", n, $1 / $4, $2 * 1e6 / $1, $7 * 1e6 / $1, $8 * 1000 / $1 }'
}

# max_round R: one round of the maximum rates, the three tools measured in
# turns. All three run at once, each stopped (SIGSTOP) while another is
# measured: TURNS turns each of SECS/TURNS seconds, after half a second
# for the resumed tool to settle, in an order rotated by R. A slow or fast
# spell of the machine lasts from seconds to minutes, so in separate
# windows of 10 s it often fell on one tool and not the others (the same
# binary varied by 25 % from one window to the next); in turns of 2 s it
# falls on all three alike. Timeouts are a minute, so that the requests a
# tool has in flight when it is stopped do not time out while it waits.
max_round() {
	local r=$1 turns=${BENCH_MAX_TURNS:-5}
	# wrk and fortio run past the round: three tools, each SECS in turns
	# plus a settling second (at most) a turn, and the warm-up.
	local run=$((3 * (SECS + turns) + 30))
	local secs
	secs=$(echo "scale=3; $SECS / $turns" | bc)
	taskset -c 0 wrk -t1 -c"$CONNS" -d"${run}s" --timeout 60s "$URL" >/dev/null 2>&1 &
	local -A pid=([wrk]=$!)
	PIDS+=("${pid[wrk]}")
	taskset -c 0 "$FORTIO" load -quiet -qps 0 -c "$CONNS" -t "${run}s" -timeout 60s "$URL" >/dev/null 2>&1 &
	pid[fortio]=$!
	PIDS+=("${pid[fortio]}")
	BENCH_TIMEOUT=60s loadd_config "" >"$WORK/loadd.yaml"
	start_loadd "$WORK/loadd.yaml" 0
	pid[loadd]=$LOADD_PID
	sleep 2 # warm-up: connections, all three sharing CPU 0
	kill -STOP "${pid[wrk]}" "${pid[fortio]}" "${pid[loadd]}"
	local -A req=() cpu=() win=() ncpu=() nsl=()
	local t tool r0 r1 c0 c1 n0 n1 s0 s1 t0 t1
	for t in $(seq "$turns"); do
		for tool in $(rotated "$((r + t))" wrk fortio loadd); do
			kill -CONT "${pid[$tool]}"
			sleep 0.5
			read -r r0 t0 c0 n0 s0 < <(snap "${pid[$tool]}")
			sleep "$secs"
			read -r r1 t1 c1 n1 s1 < <(snap "${pid[$tool]}")
			kill -STOP "${pid[$tool]}"
			req[$tool]=$((${req[$tool]:-0} + r1 - r0 - 1))
			cpu[$tool]=$((${cpu[$tool]:-0} + c1 - c0))
			ncpu[$tool]=$((${ncpu[$tool]:-0} + n1 - n0))
			nsl[$tool]=$((${nsl[$tool]:-0} + s1 - s0))
			win[$tool]=$(echo "${win[$tool]:-0} + $t1 - $t0" | bc)
		done
	done
	local hwm
	for tool in wrk fortio loadd; do
		hwm=$(hwm_kb "${pid[$tool]}")
		kill -CONT "${pid[$tool]}"
		kill -TERM "${pid[$tool]}" 2>/dev/null
		wait "${pid[$tool]}" 2>/dev/null || true
		record "$tool" "${req[$tool]} $(echo "scale=4; ${cpu[$tool]} / $CLK" | bc) $hwm ${win[$tool]} 0 0 $(echo "scale=4; ${ncpu[$tool]} / $CLK" | bc) ${nsl[$tool]} 0"
		show "$tool"
	done
}

# rotated R STEP...: the steps in an order rotated by R, so that no tool
# always runs first or last in a round (a drift within rounds, such as a
# neighbour's periodic load, would otherwise favour one tool every time).
rotated() {
	local r=$1
	shift
	local steps=("$@") n=$#
	for i in $(seq 0 $((n - 1))); do echo "${steps[$(((i + r) % n))]}"; done
}

echo "$ROUNDS rounds of ${SECS}s steps, the tools interleaved within each round in an order that rotates…"
for round in $(seq "$ROUNDS"); do
	echo "round $round/$ROUNDS"
	if [ -n "${BENCH_MAX_SEPARATE:-}" ]; then
		for s in $(rotated "$round" wrk fortio loadd); do step "$s"; done
	else
		max_round "$round"
	fi
	for rate in "${RATES[@]}"; do
		for s in $(rotated "$round" "loadd-$rate" "fortio-u-$rate" "fortio-b-$rate"); do step "$s" "$rate"; done
	done
done

if [ "$ROUNDS" -gt 0 ]; then # BENCH_ROUNDS=0: only the accuracy and latency steps
printf '\n== maximum requests/s on one core, %d connections, counted by nginx (median of %d) ==\n' "$CONNS" "$ROUNDS"
printf '%-8s %10s %12s %10s\n' tool req/s "cpu µs/req" "peak MB"
for t in wrk fortio loadd; do
	printf '%-8s %10s %12s %10s\n' "$t" "$(median "$t" rps)" "$(median "$t" us)" "$(median "$t" mb)"
done
printf 'ratio loadd/fortio max req/s: %s   loadd/wrk: %s   (targets: ≥ 1, ≥ 0.85), of the medians\n' \
	"$(ratio "$(median loadd rps)" "$(median fortio rps)")" "$(ratio "$(median loadd rps)" "$(median wrk rps)")"
printf '  round by round: loadd/fortio %s   loadd/wrk %s   (median, lowest–highest)\n' \
	"$(paired loadd fortio rps)" "$(paired loadd wrk rps)"

if [ "${#RATES[@]}" -gt 0 ]; then
printf '\n== fixed rates: CPU µs per request (user+sys), achieved rate counted by nginx (median of %d) ==\n' "$ROUNDS"
printf '%-7s %11s %12s %15s %15s %9s %12s %9s\n' rate "loadd req/s" "loadd µs/req" "fortio-u µs/req" "fortio-b µs/req" "ratio-u" "(ratio-b)" "loadd MB"
for rate in "${RATES[@]}"; do
	lu=$(median "loadd-$rate" us); fu=$(median "fortio-u-$rate" us); fb=$(median "fortio-b-$rate" us)
	printf '%-7s %11s %12s %15s %15s %9s %12s %9s\n' "$rate" "$(median "loadd-$rate" rps)" "$lu" "$fu" "$fb" \
		"$(ratio "$lu" "$fu")" "($(ratio "$lu" "$fb"))" "$(median "loadd-$rate" mb)"
done
echo "ratio-u = loadd ÷ fortio -uniform (targets: ≤ 0.5 at 1k/s, ≤ 0.8 above); ratio-b = loadd ÷ fortio's bursty default; of the medians"
printf 'ratio-u round by round (median, lowest–highest):'
for rate in "${RATES[@]}"; do printf ' %s: %s' "$rate" "$(paired "loadd-$rate" "fortio-u-$rate" us)"; done
echo
printf 'spread of loadd µs/req over rounds:'
for rate in "${RATES[@]}"; do printf ' %s: %s' "$rate" "$(spread "loadd-$rate")"; done
echo
fi
fi

printf '\n== accuracy: loadd at 20000/s for %ds, counted by nginx ==\n' "$ACC_SECS"
# Twice: with loadd's defaults (max_in_flight a quarter second of the rate,
# 5,000 here, and a connection per request in flight), and with
# max_connections: 128, which keeps a stall of the target (or of this VM)
# from turning into a storm of new connections. The fixed-rate steps above
# run with the defaults too.
for conns in "" 128; do
	read -r a b c d warm window _ _ late < <(BENCH_MAX_CONNECTIONS=$conns run_loadd 20000 "$ACC_SECS")
	acc=$(echo "scale=1; $a / $d" | bc)
	printf '%-20s achieved %s req/s (%+.2f %% of 20000; target within 0.5 %%); dropped iterations: %s in the window (target 0), %s in the 2 s warm-up; started over 50 ms late: %s; peak RSS %d MB (target < 64)\n' \
		"max_connections ${conns:-default}:" "$acc" "$(echo "($acc - 20000) / 200" | bc -l)" "$window" "$warm" "$late" $((c / 1024))
done

printf '\n== stall recovery: loadd at 20000/s, stopped (SIGSTOP) for 20 ms (and the time sleep takes to start) five times, 1 s apart ==\n'
# A stop of 20 ms leaves 400 arrivals late, under max_in_flight: a runner
# that recovers without making things worse drops none of them. Starting
# sleep adds a few ms (the stops measured here lasted 26–34 ms), and a stop
# of 50 ms fills max_in_flight: 1000 by itself, so the longest is printed.
# Pinned to CPU 0 as above, and on CPUs 0 and 1, sharing CPU 1 with nginx.
BENCH_MAX_IN_FLIGHT=1000 loadd_config 20000 >"$WORK/stall.yaml"
for cpus in 0 0,1; do
	start_loadd "$WORK/stall.yaml" "$cpus"
	sleep 3
	read -r d0 l0 < <(dropped_late "$LOADD_METRICS")
	longest=0 # µs
	for _ in 1 2 3 4 5; do
		t0=${EPOCHREALTIME/./}
		kill -STOP "$LOADD_PID"; sleep 0.02; kill -CONT "$LOADD_PID"
		t1=${EPOCHREALTIME/./}
		longest=$((t1 - t0 > longest ? t1 - t0 : longest))
		sleep 1
	done
	read -r d1 l1 < <(dropped_late "$LOADD_METRICS")
	stop_loadd
	printf 'loadd on CPU %-4s dropped iterations: %d (target 0); the longest stop lasted %d ms; started over 50 ms late: %d\n' "$cpus" $((d1 - d0)) $((longest / 1000)) $((l1 - l0))
done

if [ -n "$slow_location" ]; then
	printf '\n== latency accuracy: nginx answers /slow after a fixed 50 ms; loadd at 1000/s for %ds ==\n' "$SECS"
	BENCH_PATH=/slow BENCH_MAX_IN_FLIGHT=1000 loadd_config 1000 >"$WORK/slow.yaml"
	start_loadd "$WORK/slow.yaml" 0
	sleep "$((SECS + 2))"
	curl -fs "$LOADD_METRICS" >"$WORK/slow.prom"
	stop_loadd
	awk '/^loadd_request_duration_seconds_sum\{/ {s=$2} /^loadd_request_duration_seconds_count\{/ {c=$2}
		/^loadd_schedule_lag_seconds_sum\{/ {ls=$2} /^loadd_schedule_lag_seconds_count\{/ {lc=$2}
		END { if (c > 0) printf "requests %d, mean latency %.2f ms (target 50 ms: off by %+.2f ms), mean schedule lag %.3f ms\n", c, s/c*1000, s/c*1000-50, (lc>0 ? ls/lc*1000 : 0) }' "$WORK/slow.prom"
fi
