#!/bin/bash
# External client -> NodePort, LoadBalancer IP and externalIP through the
# agents of a two-node cluster: masquerade with ETP=Cluster, the client
# address kept with ETP=Local, loadBalancerSourceRanges, --nodeport-addresses,
# healthCheckNodePort and the AllowServiceExternalIPs gate.
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
	metadata: {name: np, namespace: default}
	spec:
	  type: NodePort
	  clusterIP: 198.19.0.20
	  clusterIPs: [198.19.0.20, "2001:db8:2::20"]
	  ipFamilies: [IPv4, IPv6]
	  ipFamilyPolicy: RequireDualStack
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30080}
	  - {name: dns, protocol: UDP, port: 53, targetPort: 5353, nodePort: 30053}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: lb, namespace: default}
	spec:
	  type: LoadBalancer
	  clusterIP: 198.19.0.21
	  clusterIPs: [198.19.0.21, "2001:db8:2::21"]
	  ipFamilies: [IPv4, IPv6]
	  ipFamilyPolicy: RequireDualStack
	  loadBalancerSourceRanges: [203.0.113.7/32, " 2001:db8:0:3::7/128 "]
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30081}
	status:
	  loadBalancer:
	    ingress: [{ip: 198.51.100.10}, {ip: "2001:db8:4::10"}]
	---
	apiVersion: v1
	kind: Service
	metadata: {name: local, namespace: default}
	spec:
	  type: LoadBalancer
	  clusterIP: 198.19.0.22
	  clusterIPs: [198.19.0.22]
	  externalTrafficPolicy: Local
	  healthCheckNodePort: 30900
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30082}
	status:
	  loadBalancer:
	    ingress: [{ip: 198.51.100.11}]
	---
	apiVersion: v1
	kind: Service
	metadata: {name: local2, namespace: default}
	spec:
	  type: LoadBalancer
	  clusterIP: 198.19.0.23
	  clusterIPs: [198.19.0.23]
	  externalTrafficPolicy: Local
	  healthCheckNodePort: 30901
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30083}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: eip, namespace: default}
	spec:
	  clusterIP: 198.19.0.24
	  clusterIPs: [198.19.0.24]
	  externalIPs: [198.51.100.20]
	  ports:
	  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
	EOF
	{
		endpoint_slice np-v4 np IPv4 http:TCP:8080,dns:UDP:5353 198.18.1.10@node1 198.18.2.10@node2
		endpoint_slice np-v6 np IPv6 http:TCP:8080,dns:UDP:5353 \
			2001:db8:1:1::10@node1 2001:db8:1:2::10@node2
		endpoint_slice lb-v4 lb IPv4 http:TCP:8080 198.18.1.10@node1 198.18.2.10@node2
		endpoint_slice lb-v6 lb IPv6 http:TCP:8080 2001:db8:1:1::10@node1 2001:db8:1:2::10@node2
		endpoint_slice local-1 local IPv4 http:TCP:8080 198.18.1.10@node1 198.18.1.11@node1 \
			198.18.2.10@node2
		endpoint_slice local2-1 local2 IPv4 http:TCP:8080 198.18.1.10@node1
		endpoint_slice eip-1 eip IPv4 http:TCP:8080 198.18.1.10@node1 198.18.2.10@node2
	} | api_apply || return 1
	agent_start node1 && agent_start node2 || return 1
	wait_fe node1 "*4" 30080 tcp "198.18.1.10:8080 198.18.2.10:8080" &&
		wait_fe node2 "*4" 30080 tcp "198.18.1.10:8080 198.18.2.10:8080" &&
		wait_fe node1 2001:db8:4::10 80 tcp "[2001:db8:1:1::10]:8080 [2001:db8:1:2::10]:8080" &&
		wait_fe node1 "*4" 30082 tcp "198.18.1.10:8080 198.18.1.11:8080" local &&
		wait_fe node2 "*4" 30083 tcp "-" local
}

if ! setup; then
	t_fail external-setup "cluster setup failed"
	t_exit
fi
out=$CL_DIR/out

# silent NAME CLIENT-NS PROBE-ARGS...: no try answered, none refused: dropped.
silent() {
	local name=$1 ns=$2; shift 2
	probe "$ns" "$@" -t 1 >"$out"
	[ -z "$(names "$out")" ] && [[ "$(others "$out")" == TIMEOUT* ]] && return 0
	t_fail "$name" "${ns#"$CL-"} -> $*: $(summary "$out"); want only TIMEOUT"
	return 1
}

# drops NODE REASON: the data path's drop counter for REASON.
drops() {
	xlb_on "$1" stats -o json | python3 -c "import json,sys; print(json.load(sys.stdin)['drops']['$2'])"
}

skips() {
	xlb_on "$1" stats -o json | python3 -c "import json,sys; print(json.load(sys.stdin)['skips']['$2'])"
}

# ETP=Cluster: masqueraded to the node that was addressed, whichever node the
# backend is on (b on node2 answers node1's NodePort, a on node1 node2's).
check_ns external-nodeport "$NS_EXT" "a b" 192.0.2.1 tcp 192.0.2.1 30080 -n 30 &&
	check_ns external-nodeport "$NS_EXT" "a b" 192.0.2.1 udp 192.0.2.1 30053 -n 30 &&
	check_ns external-nodeport "$NS_EXT" "a b" 2001:db8:0:1::1 tcp 2001:db8:0:1::1 30080 -n 30 &&
	t_pass external-nodeport

check_ns external-etp-cluster-snat "$NS_EXT" "a b" 192.0.2.2 tcp 192.0.2.2 30080 -n 30 &&
	check_ns external-etp-cluster-snat "$NS_EXT" "a b" 2001:db8:0:1::2 udp 2001:db8:0:1::2 30053 -n 30 &&
	t_pass external-etp-cluster-snat

# 192.0.2.11 is node1's too, but not a NodePort address ("primary" only):
# xlb leaves it alone and the node's own stack has nothing on the port.
probe "$NS_EXT" tcp 192.0.2.11 30080 -n 3 -t 1 >"$out"
if [ -n "$(names "$out")" ]; then
	t_fail external-nodeport-addresses "ext -> 192.0.2.11:30080: $(summary "$out"); want no backend"
else
	t_pass external-nodeport-addresses
fi

# loadBalancerSourceRanges: .7 allowed, .8 dropped at the LB IP but still
# served on the NodePort of the same Service port.
before=$(drops node1 source_range)
check_ns external-lb-source-ranges "$NS_EXT" "a b" 192.0.2.1 tcp 198.51.100.10 80 -n 30 --src 203.0.113.7 &&
	check_ns external-lb-source-ranges "$NS_EXT" "a b" 2001:db8:0:1::1 tcp 2001:db8:4::10 80 -n 30 \
		--src 2001:db8:0:3::7 &&
	silent external-lb-source-ranges "$NS_EXT" tcp 198.51.100.10 80 -n 2 --src 203.0.113.8 &&
	silent external-lb-source-ranges "$NS_EXT" tcp 2001:db8:4::10 80 -n 2 --src 2001:db8:0:3::8 &&
	check_ns external-lb-source-ranges "$NS_EXT" "a b" 192.0.2.1 tcp 192.0.2.1 30081 -n 30 \
		--src 203.0.113.8 &&
	if [ "$(drops node1 source_range)" -le "$before" ]; then
		t_fail external-lb-source-ranges "blocked, but drops{source_range} stayed at $before"
	else
		t_pass external-lb-source-ranges
	fi

# ETP=Local: external clients reach only the addressed node's endpoints and
# keep their address, through the NodePort and the LB IP (routed to node1).
check_ns external-etp-local "$NS_EXT" "a e" 203.0.113.7 tcp 192.0.2.1 30082 -n 30 &&
	check_ns external-etp-local "$NS_EXT" "b" 203.0.113.7 tcp 192.0.2.2 30082 -n 10 &&
	check_ns external-etp-local "$NS_EXT" "a e" 203.0.113.7 tcp 198.51.100.11 80 -n 30 &&
	t_pass external-etp-local

# ... while pods still get the Cluster set, on the ClusterIP and the NodePort.
check_ns external-etp-local-pods "$(pod_ns c)" "a b e" 198.18.1.20 tcp 198.19.0.22 80 -n 40 &&
	check_ns external-etp-local-pods "$(pod_ns d)" "a b e" 198.18.2.20 tcp 198.19.0.22 80 -n 40 &&
	check_ns external-etp-local-pods "$(pod_ns c)" "a b e" 198.18.1.20 tcp 192.0.2.1 30082 -n 40 &&
	t_pass external-etp-local-pods

# A node without a local endpoint drops external traffic (pods still served).
before=$(drops node2 policy_local_no_endpoint)
silent external-etp-local-no-endpoint "$NS_EXT" tcp 192.0.2.2 30083 -n 2 &&
	check_ns external-etp-local-no-endpoint "$(pod_ns d)" "a" 198.18.2.20 tcp 198.19.0.23 80 -n 5 &&
	if [ "$(drops node2 policy_local_no_endpoint)" -le "$before" ]; then
		t_fail external-etp-local-no-endpoint "dropped, but drops{policy_local_no_endpoint} stayed at $before"
	else
		t_pass external-etp-local-no-endpoint
	fi

# healthCheckNodePort: 200 with local ready endpoints, else 503.
# hc ADDR PORT WANT-CODE WANT-LOCAL-ENDPOINTS
hc() {
	local code body hdrs=$CL_DIR/hc.headers
	body=$(in_ns "$NS_EXT" curl -s -m 3 -D "$hdrs" "http://$1:$2/")
	code=$(awk 'NR == 1 { print $2 }' "$hdrs")
	if [ "$code" != "$3" ] || ! grep -q "\"localEndpoints\": *$4" <<<"$body" ||
		! grep -qi '^X-Content-Type-Options: nosniff' "$hdrs" ||
		! grep -qi '^Content-Type: application/json' "$hdrs"; then
		t_fail external-health-check-node-port "$1:$2: HTTP $code $body; want $3 with localEndpoints $4"
		return 1
	fi
}
hc 192.0.2.1 30900 200 2 && hc 192.0.2.2 30900 200 1 &&
	hc 192.0.2.1 30901 200 1 && hc 192.0.2.2 30901 503 0 &&
	t_pass external-health-check-node-port

# externalIPs, gate off (the default): not served and not rejected, only
# counted; the node's own routing drops the packets (blackhole).
before=$(skips node1 external_ip_gated)
gauge=$(agent_metric node1 '^xlb_external_ips_skipped')
silent external-ip-gate-off "$NS_EXT" tcp 198.51.100.20 80 -n 2 &&
	if [ "$(skips node1 external_ip_gated)" -le "$before" ]; then
		t_fail external-ip-gate-off "not served, but skips{external_ip_gated} stayed at $before"
	elif [ "$gauge" -lt 1 ]; then
		t_fail external-ip-gate-off "xlb_external_ips_skipped is $gauge, want >= 1"
	else
		t_pass external-ip-gate-off
	fi

# Gate on after a restart: served like an LB IP (ETP=Cluster: masqueraded).
agent_stop node1
if ! agent_start node1 --feature-gates=AllowServiceExternalIPs=true ||
	! wait_fe node1 198.51.100.20 80 tcp open gated; then
	t_fail external-ip-gate-on "agent restart with the gate on: frontend not programmed"
else
	check_ns external-ip-gate-on "$NS_EXT" "a b" 192.0.2.1 tcp 198.51.100.20 80 -n 30 &&
		t_pass external-ip-gate-on
fi

t_exit
