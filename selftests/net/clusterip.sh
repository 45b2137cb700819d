#!/bin/bash
# Pod -> ClusterIP through the agents of a two-node cluster: TCP, UDP, SCTP
# and IPv6 to backends on both nodes, a named targetPort, hairpin, and the
# verdicts for no endpoints, an unknown port and an unallocated address.
source "$(dirname "$0")/lib/cluster.sh"

setup() {
	cluster_setup || return 1
	cluster_add_pod node1 a 10 && cluster_add_pod node2 b 10 &&
		cluster_add_pod node1 c 20 && cluster_add_pod node2 d 20 || return 1
	pod_serve a && pod_serve b || return 1
	api_apply <<-EOF || return 1
	apiVersion: v1
	kind: Service
	metadata: {name: web, namespace: default}
	spec:
	  type: ClusterIP
	  clusterIP: 198.19.0.10
	  clusterIPs: [198.19.0.10, "2001:db8:2::10"]
	  ipFamilies: [IPv4, IPv6]
	  ipFamilyPolicy: RequireDualStack
	  ports:
	  # TCP, UDP and SCTP on one port number: three frontends
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	  - {name: dns, protocol: UDP, port: 80, targetPort: 5353}
	  - {name: assoc, protocol: SCTP, port: 80, targetPort: 7777}
	  - {name: alt, protocol: TCP, port: 81, targetPort: web-alt}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: solo, namespace: default}
	spec:
	  clusterIP: 198.19.0.11
	  clusterIPs: [198.19.0.11]
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: empty, namespace: default}
	spec:
	  clusterIP: 198.19.0.12
	  clusterIPs: [198.19.0.12]
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	  - {name: dns, protocol: UDP, port: 53, targetPort: 5353}
	EOF
	{
		endpoint_slice web-v4 web IPv4 http:TCP:8080,dns:UDP:5353,assoc:SCTP:7777,alt:TCP:8081 \
			198.18.1.10@node1 198.18.2.10@node2
		endpoint_slice web-v6 web IPv6 http:TCP:8080,dns:UDP:5353,assoc:SCTP:7777,alt:TCP:8081 \
			2001:db8:1:1::10@node1 2001:db8:1:2::10@node2
		endpoint_slice solo-1 solo IPv4 http:TCP:8080 198.18.1.10@node1
		endpoint_slice empty-1 empty IPv4 http:TCP:8080,dns:UDP:5353
	} | api_apply || return 1
	agent_start node1 && agent_start node2 || return 1
	wait_fe node1 198.19.0.10 80 tcp "198.18.1.10:8080 198.18.2.10:8080" &&
		wait_fe node2 198.19.0.10 80 tcp "198.18.1.10:8080 198.18.2.10:8080" &&
		wait_fe node1 2001:db8:2::10 80 udp "[2001:db8:1:1::10]:5353 [2001:db8:1:2::10]:5353" &&
		wait_fe node1 198.19.0.11 80 tcp "198.18.1.10:8080" &&
		wait_fe node1 198.19.0.12 80 tcp "-"
}

if ! setup; then
	t_fail clusterip-setup "cluster setup failed"
	t_exit
fi
out=$CL_DIR/out

# check NAME CLIENT-POD NAMES PEERS PORTS PROBE-ARGS...: the tries all
# answered by exactly NAMES on PORTS, each seeing the client as PEERS.
check() {
	local name=$1 client=$2 want=$3 peer=$4 port=$5; shift 5
	probe "$(pod_ns "$client")" "$@" >"$out"
	if expect "$out" "$want" "$peer" && [ "$(ports "$out")" = "$port" ]; then
		return 0
	fi
	t_fail "$name" "$client -> $*: $(summary "$out"); want [$want] on [$port] seen as [$peer]"
	return 1
}

check clusterip-tcp c "a b" 198.18.1.20 8080 tcp 198.19.0.10 80 -n 30 &&
	check clusterip-tcp d "a b" 198.18.2.20 8080 tcp 198.19.0.10 80 -n 30 &&
	t_pass clusterip-tcp

check clusterip-udp c "a b" 198.18.1.20 5353 udp 198.19.0.10 80 -n 30 &&
	check clusterip-udp d "a b" 198.18.2.20 5353 udp 198.19.0.10 80 -n 30 &&
	t_pass clusterip-udp

check clusterip-sctp c "a b" 198.18.1.20 7777 sctp 198.19.0.10 80 -n 30 &&
	t_pass clusterip-sctp

check clusterip-ipv6 c "a b" 2001:db8:1:1::20 8080 tcp 2001:db8:2::10 80 -n 30 &&
	check clusterip-ipv6 d "a b" 2001:db8:1:2::20 5353 udp 2001:db8:2::10 80 -n 30 &&
	check clusterip-ipv6 c "a b" 2001:db8:1:1::20 7777 sctp 2001:db8:2::10 80 -n 30 &&
	t_pass clusterip-ipv6

# targetPort "web-alt" is never read: the slice's port named "alt" (8081) is.
check clusterip-named-port c "a b" 198.18.1.20 8081 tcp 198.19.0.10 81 -n 30 &&
	t_pass clusterip-named-port

# An endpoint reaching itself through the Service is masqueraded to its node.
check clusterip-hairpin a a 192.0.2.1 8080 tcp 198.19.0.11 80 -n 10 &&
	check clusterip-hairpin c a 198.18.1.20 8080 tcp 198.19.0.11 80 -n 5 &&
	t_pass clusterip-hairpin

# refused NAME PROBE-ARGS...: every try refused (not timed out) at once.
refused() {
	local name=$1 start; shift
	start=$(date +%s%N)
	probe "$(pod_ns c)" "$@" -n 3 -t 3 >"$out"
	if [ "$(others "$out")" != "REFUSED x3" ]; then
		t_fail "$name" "c -> $*: $(summary "$out"); want REFUSED x3"
		return 1
	fi
	if [ $(($(date +%s%N) - start)) -gt 2000000000 ]; then
		t_fail "$name" "c -> $*: refused, but slowly (a retransmission?)"
		return 1
	fi
}

refused clusterip-no-endpoints tcp 198.19.0.12 80 &&
	refused clusterip-no-endpoints udp 198.19.0.12 53 &&
	t_pass clusterip-no-endpoints

refused clusterip-wrong-port tcp 198.19.0.10 99 &&
	refused clusterip-wrong-port udp 198.19.0.10 99 &&
	t_pass clusterip-wrong-port

before=$(xlb_on node1 stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["unallocated_cluster_ip"])')
probe "$(pod_ns c)" tcp 198.19.0.99 80 -n 2 -t 1 >"$out"
after=$(xlb_on node1 stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"]["unallocated_cluster_ip"])')
if [ "$(others "$out")" != "TIMEOUT x2" ]; then
	t_fail clusterip-unallocated "c -> 198.19.0.99:80: $(summary "$out"); want TIMEOUT x2"
elif [ "$after" -le "$before" ]; then
	t_fail clusterip-unallocated "timed out but drops{unallocated_cluster_ip} stayed at $before"
else
	t_pass clusterip-unallocated
fi

t_exit
