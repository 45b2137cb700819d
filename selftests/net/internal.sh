#!/bin/bash
# Traffic from inside the cluster through the agents of a two-node cluster:
# internalTrafficPolicy Local, terminating endpoints, session affinity, and
# node-originated traffic to ClusterIPs and NodePorts.
source "$(dirname "$0")/lib/cluster.sh"

setup() {
	cluster_setup || return 1
	cluster_add_pod node1 a 10 && cluster_add_pod node2 b 10 &&
		cluster_add_pod node1 e 11 && cluster_add_pod node1 c 20 &&
		cluster_add_pod node2 d 20 || return 1
	pod_serve a && pod_serve b && pod_serve e || return 1
	api_apply <<-EOF || return 1
	apiVersion: v1
	kind: Service
	metadata: {name: itp, namespace: default}
	spec:
	  clusterIP: 198.19.0.30
	  clusterIPs: [198.19.0.30]
	  internalTrafficPolicy: Local
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: itp2, namespace: default}
	spec:
	  clusterIP: 198.19.0.33
	  clusterIPs: [198.19.0.33]
	  internalTrafficPolicy: Local
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: term, namespace: default}
	spec:
	  clusterIP: 198.19.0.31
	  clusterIPs: [198.19.0.31]
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: aff, namespace: default}
	spec:
	  type: NodePort
	  clusterIP: 198.19.0.32
	  clusterIPs: [198.19.0.32]
	  sessionAffinity: ClientIP
	  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30032}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: aff1, namespace: default}
	spec:
	  clusterIP: 198.19.0.35
	  clusterIPs: [198.19.0.35]
	  sessionAffinity: ClientIP
	  sessionAffinityConfig: {clientIP: {timeoutSeconds: 1}}
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: web, namespace: default}
	spec:
	  type: NodePort
	  clusterIP: 198.19.0.34
	  clusterIPs: [198.19.0.34, "2001:db8:2::34"]
	  ipFamilies: [IPv4, IPv6]
	  ipFamilyPolicy: RequireDualStack
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30034}
	EOF
	{
		endpoint_slice itp-1 itp IPv4 http:TCP:8080 198.18.1.10@node1 198.18.2.10@node2
		endpoint_slice itp2-1 itp2 IPv4 http:TCP:8080 198.18.1.10@node1
		endpoint_slice term-1 term IPv4 http:TCP:8080 198.18.1.10@node1 \
			198.18.2.10@node2:terminating
		endpoint_slice aff-1 aff IPv4 http:TCP:8080 198.18.1.10@node1 198.18.1.11@node1 \
			198.18.2.10@node2
		endpoint_slice aff1-1 aff1 IPv4 http:TCP:8080 198.18.1.10@node1 198.18.1.11@node1 \
			198.18.2.10@node2
		endpoint_slice web-v4 web IPv4 http:TCP:8080 198.18.1.10@node1 198.18.2.10@node2
		endpoint_slice web-v6 web IPv6 http:TCP:8080 2001:db8:1:1::10@node1 2001:db8:1:2::10@node2
	} | api_apply || return 1
	agent_start node1 && agent_start node2 || return 1
	wait_fe node1 198.19.0.30 80 tcp "198.18.1.10:8080" local &&
		wait_fe node2 198.19.0.30 80 tcp "198.18.2.10:8080" local &&
		wait_fe node2 198.19.0.33 80 tcp "-" local &&
		wait_fe node1 198.19.0.31 80 tcp "198.18.1.10:8080" &&
		wait_fe node1 198.19.0.32 80 tcp "198.18.1.10:8080 198.18.1.11:8080 198.18.2.10:8080" &&
		wait_fe node2 198.19.0.32 80 tcp "198.18.1.10:8080 198.18.1.11:8080 198.18.2.10:8080" &&
		wait_fe node1 198.19.0.35 80 tcp "198.18.1.10:8080 198.18.1.11:8080 198.18.2.10:8080" &&
		wait_fe node1 2001:db8:2::34 80 tcp "[2001:db8:1:1::10]:8080 [2001:db8:1:2::10]:8080"
}

if ! setup; then
	t_fail internal-setup "cluster setup failed"
	t_exit
fi
out=$CL_DIR/out

# ITP=Local: each node's pods reach only that node's endpoints (no SNAT);
# a node without one drops.
check_ns internal-itp-local "$(pod_ns c)" "a" 198.18.1.20 tcp 198.19.0.30 80 -n 20 &&
	check_ns internal-itp-local "$(pod_ns d)" "b" 198.18.2.20 tcp 198.19.0.30 80 -n 20 &&
	check_ns internal-itp-local "$(pod_ns c)" "a" 198.18.1.20 tcp 198.19.0.33 80 -n 5 &&
	probe "$(pod_ns d)" tcp 198.19.0.33 80 -n 2 -t 1 >"$out" &&
	if [ "$(others "$out")" != "TIMEOUT x2" ]; then
		t_fail internal-itp-local "d -> 198.19.0.33:80 (no endpoint on node2): $(summary "$out"); want TIMEOUT x2"
	else
		t_pass internal-itp-local
	fi

# Terminating (serving) endpoints serve only while no endpoint is ready.
term_step() {
	local want=$1 fe=$2; shift 2
	endpoint_slice term-1 term IPv4 http:TCP:8080 "$@" | api_apply &&
		wait_fe node1 198.19.0.31 80 tcp "$fe" &&
		check_ns internal-terminating "$(pod_ns c)" "$want" 198.18.1.20 tcp 198.19.0.31 80 -n 30
}
check_ns internal-terminating "$(pod_ns c)" "a" 198.18.1.20 tcp 198.19.0.31 80 -n 30 &&
	term_step "a b" "198.18.1.10:8080 198.18.2.10:8080" \
		198.18.1.10@node1:terminating 198.18.2.10@node2:terminating &&
	term_step "b" "198.18.2.10:8080" 198.18.1.10@node1:notready 198.18.2.10@node2:terminating &&
	term_step "a" "198.18.1.10:8080" 198.18.1.10@node1 198.18.2.10@node2:terminating &&
	t_pass internal-terminating

# sessionAffinity ClientIP: every new connection of a client lands on the
# same endpoint, through the ClusterIP and the NodePort alike.
one_backend() {
	local n
	n=$(names "$out")
	[ -z "$(others "$out")" ] && [ -n "$n" ] && [ "${n// /}" = "$n" ] && return 0
	t_fail internal-session-affinity "$1: $(summary "$out"); want one backend throughout"
	return 1
}
probe "$(pod_ns c)" tcp 198.19.0.32 80 -n 20 >"$out" && one_backend "c -> ClusterIP" &&
	first=$(names "$out") &&
	probe "$(pod_ns c)" tcp 192.0.2.1 30032 -n 10 >"$out" && one_backend "c -> NodePort" &&
	if [ "$(names "$out")" != "$first" ]; then
		t_fail internal-session-affinity "c: ClusterIP stuck to $first, the NodePort to $(names "$out")"
	else
		probe "$(pod_ns d)" tcp 198.19.0.32 80 -n 20 >"$out" && one_backend "d -> ClusterIP" &&
			probe "$NS_EXT" tcp 192.0.2.2 30032 -n 20 >"$out" && one_backend "ext -> NodePort" &&
			t_pass internal-session-affinity
	fi

# After timeoutSeconds (1 s here) without a new connection the client may
# move: connections 1.5 s apart are balanced afresh each time, so 8 of them
# over 3 endpoints stay on one only if affinity never expires (p = 1/2187).
probe "$(pod_ns c)" tcp 198.19.0.35 80 -n 10 >"$out" && one_backend "c -> aff1 within 1 s" &&
	probe "$(pod_ns c)" tcp 198.19.0.35 80 -n 8 --interval 1.5 >"$out" &&
	if [ -n "$(others "$out")" ] || [ "$(names "$out" | wc -w)" -lt 2 ]; then
		t_fail internal-session-affinity-timeout "after the timeout: $(summary "$out"); want a move"
	else
		t_pass internal-session-affinity-timeout
	fi

# Node-originated traffic (a process in the node's own network namespace):
# the socket hooks send it to a backend, which sees the node's address (what
# masquerading gives under kube-proxy).
node_check() {
	local name=$1 want=$2 peer=$3; shift 3
	probe "$CL-node1" "$@" >"$out"
	expect "$out" "$want" "$peer" && return 0
	t_fail "$name" "node1 -> $*: $(summary "$out"); want [$want] seen as [$peer]"
	return 1
}
node_check internal-node-clusterip "a b" 192.0.2.1 tcp 198.19.0.34 80 -n 30 &&
	node_check internal-node-clusterip "a b" 2001:db8:0:1::1 tcp 2001:db8:2::34 80 -n 30 &&
	t_pass internal-node-clusterip
node_check internal-node-nodeport "a b" 192.0.2.1 tcp 192.0.2.1 30034 -n 30 &&
	node_check internal-node-nodeport "a b" 192.0.2.2 tcp 192.0.2.2 30034 -n 30 &&
	t_pass internal-node-nodeport

t_exit
