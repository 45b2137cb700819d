#!/bin/bash
# make demo: a two-node cluster in network namespaces, the dev API server,
# one xlb agent per node, real traffic for every kind of Service, and a short
# report. KEEP=1 leaves the cluster up and prints how to take it down.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../selftests/net/lib/cluster.sh
. "$ROOT/selftests/net/lib/cluster.sh"
# shellcheck source=demo/manifests.sh
. "$ROOT/tools/demo/manifests.sh"

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

# tally FILE: "web-a x7, web-c x6; refused x2" from probe output.
tally() {
	awk '$1 == "OK" { ok[$2]++; next } { bad[$1]++ }
	     END { for (n in ok) { printf "%s%s x%d", sep, n, ok[n]; sep = ", " }
		   if (!sep) printf "no answer"
		   for (b in bad) printf "; %s x%d", tolower(b), bad[b] }' "$1"
}

# run NAME NS PROTO ADDR PORT TRIES [probe flags]: probe and print one line.
run() {
	local name=$1 ns=$2 out=$CL_DIR/probe-$1.txt
	shift 2
	probe "$ns" "$@" >"$out" 2>&1
	printf '  %-44s %s\n' "$name" "$(tally "$out")"
	[ -n "$(peers "$out")" ] && printf '  %-44s backends saw the client as %s\n' "" "$(peers "$out")"
}

look() { # TITLE CMD...: run CMD, show its first lines
	local title=$1; shift
	say "  \$ $title"
	"$@" 2>&1 | head -n 4 | sed 's/^/    /'
}

counters() { # NODE: the drop and skip reasons that moved
	xlb_on "$1" stats -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
moved = [f"{k}={v}" for part in ("drops", "skips") for k, v in s[part].items()
         if v and k not in ("not_service", "local_delivery")]
print("  " + sys.argv[1] + ": " + (", ".join(moved) or "none"))' "$1"
}

# The commands cluster_teardown would run, for KEEP=1.
cluster_teardown_script() {
	local n
	echo "kill ${CL_PIDS[*]} 2>/dev/null"
	for n in node1 node2; do
		echo "nsenter --net=/run/netns/$CL-$n $XLB cleanup --bpffs $(agent_pin "$n")"
	done
	for n in "${CL_NAMESPACES[@]}"; do
		echo "ip netns del $n"
	done
	echo "rm -rf $CL_DIR"
}

main() {
	say "xlb demo: building a two-node cluster in network namespaces..."
	cluster_setup || { say "cluster set-up failed"; exit 1; }
	cluster_add_pod node1 web-a 10 && cluster_add_pod node1 web-b 11 &&
		cluster_add_pod node2 web-c 10 && cluster_add_pod node1 client 50 || exit 1
	for p in web-a web-b web-c; do pod_serve "$p" || exit 1; done
	demo_objects | api_apply >/dev/null || { say "loading the manifests failed"; exit 1; }
	agent_start node1 && agent_start node2 || { say "an agent did not start"; exit 1; }

	section "Services (node1's maps: xlb services)"
	xlb_on node1 services | sort -k2,2 -k3,3 | sed 's/^/  /'

	section "Traffic (new connections; 20 each where an answer is expected)"
	run "pod -> web ClusterIP 198.19.0.10:80" "$(pod_ns client)" tcp 198.19.0.10 80 -n 20 -t 1
	run "external -> web NodePort 192.0.2.1:30080" "$NS_EXT" tcp 192.0.2.1 30080 -n 20 -t 1
	run "node2 -> web NodePort 192.0.2.1:30080" "$CL-node2" tcp 192.0.2.1 30080 -n 20 -t 1
	run "allowed 203.0.113.7 -> shop LB 198.51.100.10" "$NS_EXT" tcp 198.51.100.10 80 -n 20 \
		-t 1 --src 203.0.113.7
	run "blocked 203.0.113.8 -> shop LB (source ranges)" "$NS_EXT" tcp 198.51.100.10 80 -n 3 \
		-t 1 --src 203.0.113.8
	run "external -> local LB 198.51.100.11 (ETP Local)" "$NS_EXT" tcp 198.51.100.11 80 -n 20 -t 1
	run "pod -> empty ClusterIP (no endpoints)" "$(pod_ns client)" tcp 198.19.0.14 80 -n 3 -t 1
	run "external -> legacy externalIP 198.51.100.20" "$NS_EXT" tcp 198.51.100.20 80 -n 3 -t 1

	section "healthCheckNodePort 30090 of 'local' (ETP Local)"
	for n in node1 node2; do
		printf '  %s: HTTP %s\n' "$n" "$(in_ns "$NS_EXT" curl -s -o /dev/null -w '%{http_code}' \
			-m 2 "http://192.0.2.${CL_NODE_ID[$n]}:30090/")"
	done

	section "Dropped, refused or left alone, by reason (xlb stats)"
	counters node1
	counters node2
	say "  externalIPs left out by the AllowServiceExternalIPs gate (node1):" \
		"$(agent_metric node1 '^xlb_external_ips_skipped ')"

	section "Look inside (the first lines of each)"
	look "build/xlb backends -o json --bpffs $(agent_pin node1)" xlb_on node1 backends -o json
	look "build/xlb conntrack --bpffs $(agent_pin node1)" xlb_on node1 conntrack
	look "build/xlb stats --bpffs $(agent_pin node1)" xlb_on node1 stats
	look "bpftool map dump pinned $(agent_pin node1)/services" \
		bpftool map dump pinned "$(agent_pin node1)/services"
	[ "${KEEP:-0}" = 1 ] || say "  (KEEP=1 make demo keeps the cluster up to try these yourself)"
	if [ "${KEEP:-0}" = 1 ]; then
		trap - EXIT
		cluster_teardown_script >"$CL_DIR/teardown.sh"
		section "KEEP=1: the cluster stays up; take it down with: bash $CL_DIR/teardown.sh"
	fi
}

main
