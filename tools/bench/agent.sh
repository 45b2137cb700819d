#!/bin/bash
# make bench-agent: the agent's control-plane cost against the dev API server.
# For each size, RUNS times, in a throw-away network namespace: start
# xlb-devapi with N Services x 10 endpoints, start the agent, time it to its
# first full sync, then write 100 EndpointSlice changes per second and time
# each from its watch event being written to the selection table naming it.
# tools/bench/README.md ("Agent benchmark") explains every number.
#
# Environment: BENCH_SIZES ("1000 10000 100000"), BENCH_RUNS (3),
# BENCH_CHURN_RATE (100 per second), BENCH_CHURN_SECONDS (10), BENCH_KEEP=1
# keeps the logs of every run (devapi, agent, event log, probe) in /tmp.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
XLB=$ROOT/build/xlb
DEVAPI=$ROOT/tools/devapi/xlb-devapi
TOOL=$ROOT/tools/bench/agent_bench.py
OUT=$ROOT/build/bench
PROBE=$OUT/agent_probe
SIZES=${BENCH_SIZES:-1000 10000 100000}
RUNS=${BENCH_RUNS:-3}
RATE=${BENCH_CHURN_RATE:-100}
CHURN_S=${BENCH_CHURN_SECONDS:-10}
METRICS=127.0.0.1:10249

WORK=$(mktemp -d /tmp/xlb-bench-agent.XXXXXX)
NS="" PINS="" CGROUP="" PIDS=()

die() { echo "bench-agent: $*" >&2; exit 1; }

# Ends what this script started, by PID, then the netns, pins and cgroup.
teardown_run() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
	if [ -n "$PINS" ] && [ -d "$PINS" ]; then
		nsenter --net="/run/netns/$NS" "$XLB" cleanup --bpffs "$PINS" >/dev/null 2>&1 || true
		rm -rf "$PINS"
	fi
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null || true
	[ -n "$CGROUP" ] && rmdir "$CGROUP" 2>/dev/null || true
	NS="" PINS="" CGROUP=""
}

cleanup() {
	teardown_run
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench-agent: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: poll CMD every 20 ms until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}

alive() { kill -0 "$1" 2>/dev/null; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
first_sync_logged() { alive "$AGENT" && grep -qs "first sync done" "$AGENT_LOG"; }
probe_ready() { alive "$PROBE_PID" && grep -qs '^ready$' "$W/probe.out"; }
capturing() { alive "$PCAP_PID" && grep -qs 'listening on' "$W/tcpdump.err"; }
captured_all() { [ "$("$TOOL" pcap-events "$W/churn.pcap")" -ge "$CHANGES" ]; }

metric() {
	ip netns exec "$NS" curl -sf "http://$METRICS/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

build_probe() {
	mkdir -p "$OUT"
	cc -O2 -std=gnu11 -Wall -Wextra -Werror -I"$ROOT/bpf" \
		"$ROOT/tools/bench/agent_probe.c" -lbpf -o "$PROBE"
}

# objects N: the JSON List for N Services, made once per generator version.
objects() {
	local f=$OUT/agent-objects-$1.json
	if [ ! -s "$f" ] || [ "$TOOL" -nt "$f" ]; then
		echo "generating $1 Services + EndpointSlices..." >&2
		"$TOOL" objects "$1" "$f.tmp" && mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# Start the agent against devapi on port $1, logging to $2 (sets AGENT).
start_agent() {
	AGENT_LOG=$2
	nsenter --net="/run/netns/$NS" "$XLB" agent --master "http://127.0.0.1:$1" \
		--hostname-override node1 --bpffs "$PINS" --cgroup-root "$CGROUP" \
		--devices eth0 --xdp-mode generic \
		--cluster-cidr 198.18.0.0/16 --service-cidr 198.19.0.0/16 \
		--healthz-bind-address 127.0.0.1:0 --metrics-bind-address "$METRICS" \
		--max-services 262144 --max-frontends 262144 \
		--max-backends 2097152 --max-slots 2097152 >"$AGENT_LOG" 2>&1 &
	AGENT=$!
	PIDS+=($AGENT)
}

run_one() {
	local n=$1 r=$2 objs=$3 port t_start t0 hwm_prog hwm_end svcs t_restart
	W=$WORK/$n-$r
	mkdir -p "$W"
	NS=xlbbench-$$-$n-$r
	PINS=/sys/fs/bpf/$NS
	CGROUP=$CGROUP2/$NS
	mkdir "$CGROUP"
	ip netns add "$NS"
	ip -n "$NS" link add eth0 type veth peer name eth0p
	ip -n "$NS" link set lo up
	ip -n "$NS" link set eth0 up
	ip -n "$NS" link set eth0p up
	ip -n "$NS" addr add 192.0.2.1/24 dev eth0

	ip netns exec "$NS" "$DEVAPI" --listen 127.0.0.1:0 --port-file "$W/port" \
		--manifests "$objs" --event-log "$W/events" >"$W/api.log" 2>&1 &
	PIDS+=($!)
	wait_for 900 test -s "$W/port" || die "devapi did not start: $(tail -3 "$W/api.log")"
	port=$(cat "$W/port")

	t_start=$(date +%s%N)
	start_agent "$port" "$W/agent.log"
	wait_for 600 first_sync_logged || die "$n Services: no first sync: $(tail -3 "$W/agent.log")"
	hwm_prog=$(hwm_kib "$AGENT")
	svcs=$(metric 'xlb_map_entries{map="services"}')
	[ "$svcs" = "$n" ] || die "$n Services: the services map holds $svcs entries"

	# The kernel's timestamps of the API server's packets say when each
	# watch event was written; Python's own clock reading can lag the write.
	ip netns exec "$NS" tcpdump -i lo -nn -U -s 0 -B 16384 --immediate-mode \
		--time-stamp-precision=nano -w "$W/churn.pcap" \
		"tcp src port $port and tcp[tcpflags] & tcp-push != 0" 2>"$W/tcpdump.err" &
	PCAP_PID=$!
	PIDS+=($PCAP_PID)
	wait_for 10 capturing || die "tcpdump: $(cat "$W/tcpdump.err")"
	t0=$(( $(date +%s%N) + 2000000000 ))
	"$PROBE" "$PINS" "$PLAN" "$t0" "$RATE" 5 >"$W/probe.out" 2>"$W/probe.err" &
	PROBE_PID=$!
	PIDS+=($PROBE_PID)
	wait_for 2 probe_ready || die "probe not ready in time: $(cat "$W/probe.err")"
	ip netns exec "$NS" "$TOOL" churn "http://127.0.0.1:$port" "$PLAN" "$RATE" "$t0" \
		>"$W/churn.log"
	wait "$PROBE_PID" || die "probe failed: $(cat "$W/probe.err")"
	alive "$AGENT" || die "agent exited during the churn: $(tail -3 "$W/agent.log")"
	wait_for 10 captured_all || echo "  tcpdump missed events: $(tail -1 "$W/tcpdump.err")"
	kill "$PCAP_PID"
	wait "$PCAP_PID" || true
	hwm_end=$(hwm_kib "$AGENT")

	# A restart (a DaemonSet rollout): SIGTERM leaves the pins, the next
	# agent adopts them and should find nothing to write.
	kill -TERM "$AGENT"
	wait "$AGENT" || die "agent exited non-zero on SIGTERM: $(tail -3 "$W/agent.log")"
	t_restart=$(date +%s%N)
	start_agent "$port" "$W/agent-restart.log"
	wait_for 600 first_sync_logged || die "$n Services: no first sync after the restart"

	"$TOOL" report "$n" "$t_start" "$W/agent.log" "$W/events" "$W/churn.pcap" "$PLAN" \
		"$W/probe.out" "$hwm_prog" "$hwm_end" \
		"$t_restart" "$W/agent-restart.log" "$(hwm_kib "$AGENT")" >>"$RESULTS"
	echo "  run $r: $(tail -1 "$RESULTS")"
	echo "         $(cat "$W/churn.log")"
	teardown_run
}

[ -x "$XLB" ] || die "$XLB missing: run make"
[ "$(id -u)" = 0 ] || die "needs root (netns, bpffs)"
CGROUP2=$(findmnt -t cgroup2 -no TARGET | head -1)
[ -n "$CGROUP2" ] || die "no cgroup2 mount"
build_probe
RESULTS=$OUT/agent-results.jsonl
: >"$RESULTS"
for n in $SIZES; do
	objs=$(objects "$n")
	PLAN=$WORK/plan-$n
	CHANGES=$((RATE * CHURN_S))
	"$TOOL" plan "$n" "$CHANGES" "$PLAN"
	echo "$n Services x 10 endpoints:"
	for r in $(seq "$RUNS"); do
		run_one "$n" "$r" "$objs"
	done
done
echo
echo "median [min-max] of $RUNS runs; change latency under $RATE EndpointSlice changes/s for ${CHURN_S} s:"
"$TOOL" table "$RESULTS" | tee "$OUT/agent-results.md"
