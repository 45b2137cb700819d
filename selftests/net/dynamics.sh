#!/bin/bash
# Changes under traffic through the agents of a two-node cluster: scaling a
# Service down while TCP connections are open, and restarting an agent while
# a stream of requests flows.
source "$(dirname "$0")/lib/cluster.sh"

setup() {
	cluster_setup || return 1
	cluster_add_pod node1 a 10 && cluster_add_pod node2 b 10 &&
		cluster_add_pod node1 e 11 && cluster_add_pod node1 c 20 || return 1
	pod_serve a && pod_serve b && pod_serve e || return 1
	api_apply <<-EOF || return 1
	apiVersion: v1
	kind: Service
	metadata: {name: scale, namespace: default}
	spec:
	  clusterIP: 198.19.0.40
	  clusterIPs: [198.19.0.40]
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: steady, namespace: default}
	spec:
	  clusterIP: 198.19.0.41
	  clusterIPs: [198.19.0.41]
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	  - {name: dns, protocol: UDP, port: 53, targetPort: 5353}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: flush, namespace: default}
	spec:
	  clusterIP: 198.19.0.42
	  clusterIPs: [198.19.0.42]
	  ports:
	  - {name: dns, protocol: UDP, port: 53, targetPort: 5353}
	EOF
	{
		endpoint_slice scale-1 scale IPv4 http:TCP:8080 198.18.1.10@node1 198.18.2.10@node2 \
			198.18.1.11@node1
		endpoint_slice steady-1 steady IPv4 http:TCP:8080,dns:UDP:5353 198.18.1.10@node1 \
			198.18.2.10@node2
		endpoint_slice flush-1 flush IPv4 dns:UDP:5353 198.18.1.10@node1 198.18.1.11@node1
	} | api_apply || return 1
	agent_start node1 && agent_start node2 || return 1
	wait_fe node1 198.19.0.40 80 tcp "198.18.1.10:8080 198.18.1.11:8080 198.18.2.10:8080" &&
		wait_fe node1 198.19.0.41 53 udp "198.18.1.10:5353 198.18.2.10:5353"
}

if ! setup; then
	t_fail dynamics-setup "cluster setup failed"
	t_exit
fi
out=$CL_DIR/out
hold=$CL_DIR/hold
stream=$CL_DIR/stream

lines() { cat "$2" 2>/dev/null | grep -c "$1"; }
# has_lines PATTERN FILE N: FILE has at least N lines matching PATTERN.
has_lines() { [ "$(lines "$1" "$2")" -ge "$3" ]; }

# hold_start ADDR CONNS SECONDS: long TCP connections from pod c, in the
# background; waits until each has answered once.
hold_start() {
	bg_ns hold "$(pod_ns c)" python3 "$NETLIB/probe.py" hold "$1" 80 -c "$2" \
		--duration "$3" --interval 0.1
	wait_for 10 has_lines '^OPEN' "$CL_DIR/hold.log" "$2"
}

# hold_check NAME [KEEP-NAMES]: after the hold ended, no connection switched
# backend, and those to KEEP-NAMES (default: all) never failed.
hold_check() {
	local name=$1 keep=${2:-} bad
	wait "${CL_PIDS[hold]}" 2>/dev/null
	unset "CL_PIDS[hold]"
	bad=$(awk -v keep=" $keep " '$1 == "HOLD" && ($6 != "switched=0" ||
		((keep == "  " || index(keep, " " $3 " ")) && $5 != "errors=0"))' "$CL_DIR/hold.log")
	if [ "$(lines '^HOLD' "$CL_DIR/hold.log")" -eq 0 ] || [ -n "$bad" ]; then
		t_fail "$name" "long connections disturbed: $(echo $bad) ($(grep -c . "$CL_DIR/hold.log") lines)"
		return 1
	fi
	mv "$CL_DIR/hold.log" "$hold.$name"
}

# Scale 3 -> 2 with connections open to all three: the survivors' connections
# are undisturbed, and within 1 s of the update no new connection reaches the
# removed endpoint e.
scale_down() {
	local t0 late
	hold_start 198.19.0.40 20 6 || { t_fail dynamics-scale-down "long connections did not open"; return 1; }
	if [ "$(awk '$1 == "OPEN" { print $3 }' "$CL_DIR/hold.log" | sort -u | tr '\n' ' ')" != "a b e " ]; then
		t_fail dynamics-scale-down "20 connections did not reach all of a, b, e: $(cat "$CL_DIR/hold.log")"
		return 1
	fi
	t0=$(date +%s.%N)
	endpoint_slice scale-1 scale IPv4 http:TCP:8080 198.18.1.10@node1 198.18.2.10@node2 | api_apply
	probe "$(pod_ns c)" tcp 198.19.0.40 80 -n 60 --interval 0.05 --stamp >"$out"
	late=$(awk -v t0="$t0" '$3 == "e" && $1 > t0 + 1.0' "$out" | head -n 3)
	if [ -n "$late" ]; then
		t_fail dynamics-scale-down "new connections still reached e more than 1 s after the update: $(echo $late)"
		return 1
	fi
	awk '{ $1 = ""; print substr($0, 2) }' "$out" >"$out.plain"
	if [ -n "$(others "$out.plain")" ]; then
		t_fail dynamics-scale-down "new connections failed during the change: $(summary "$out.plain")"
		return 1
	fi
	tail -n 30 "$out.plain" >"$out.tail"
	if [ "$(names "$out.tail")" != "a b" ]; then
		t_fail dynamics-scale-down "after the change: $(summary "$out.tail"); want [a b]"
		return 1
	fi
	hold_check dynamics-scale-down "a b"
}
scale_down && t_pass dynamics-scale-down

# Restart node1's agent (SIGTERM, start again) while pod c sends a stream of
# TCP and UDP requests and holds connections: no request fails.
agent_restart() {
	local n
	hold_start 198.19.0.41 4 8 || { t_fail dynamics-agent-restart "long connections did not open"; return 1; }
	bg_ns stream-tcp "$(pod_ns c)" python3 "$NETLIB/probe.py" tcp 198.19.0.41 80 \
		-n 300 --interval 0.02
	bg_ns stream-udp "$(pod_ns c)" python3 "$NETLIB/probe.py" udp 198.19.0.41 53 \
		-n 300 --interval 0.02
	wait_for 10 has_lines . "$CL_DIR/stream-tcp.log" 20
	agent_stop node1
	agent_start node1 || { t_fail dynamics-agent-restart "the agent did not come back"; return 1; }
	n=$(lines . "$CL_DIR/stream-tcp.log")
	wait "${CL_PIDS[stream-tcp]}" "${CL_PIDS[stream-udp]}" 2>/dev/null
	unset "CL_PIDS[stream-tcp]" "CL_PIDS[stream-udp]"
	if [ "$n" -ge 300 ]; then
		t_fail dynamics-agent-restart "the stream ended before the agent was back ($n requests)"
		return 1
	fi
	for proto in tcp udp; do
		if ! expect "$CL_DIR/stream-$proto.log" "a b" 198.18.1.20; then
			t_fail dynamics-agent-restart "$proto stream: $(summary "$CL_DIR/stream-$proto.log")"
			return 1
		fi
	done
	hold_check dynamics-agent-restart
}
agent_restart && t_pass dynamics-agent-restart

# UDP from one socket (one source port) keeps its backend while the backend
# serves; when the backend leaves the Service its flows are flushed and the
# same socket's next datagrams reach another one (the old pod still
# answers, so without the flush they would not move).
udp_same_socket() { # COUNT: one name per answered datagram
	in_ns "$(pod_ns c)" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.1.20", 40999))
s.settimeout(1)
for _ in range(int(sys.argv[1])):
    s.sendto(b"q", ("198.19.0.42", 53))
    try:
        print(s.recv(2048).decode().split()[0])
    except socket.timeout:
        print("TIMEOUT")' "$1"
}
udp_flush() {
	local first names other ip
	names=$(udp_same_socket 5 | sort -u)
	if [ "$(wc -w <<<"$names")" != 1 ] || [ "$names" = TIMEOUT ]; then
		t_fail dynamics-udp-flush "one socket before the change: [$names], want one backend"
		return 1
	fi
	first=$names
	# keep the other endpoint: a is 198.18.1.10, e 198.18.1.11
	other=e ip=198.18.1.11
	[ "$first" = e ] && other=a ip=198.18.1.10
	endpoint_slice flush-1 flush IPv4 dns:UDP:5353 "$ip@node1" | api_apply >/dev/null &&
		wait_fe node1 198.19.0.42 53 udp "$ip:5353" || return 1
	names=$(udp_same_socket 5 | sort -u)
	if [ "$names" != "$other" ]; then
		t_fail dynamics-udp-flush "the same socket after $first left: [$names], want [$other]"
		return 1
	fi
}
udp_flush && t_pass dynamics-udp-flush

t_exit
