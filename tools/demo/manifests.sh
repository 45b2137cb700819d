# shellcheck shell=bash
# The demo's Services and EndpointSlices (sourced by tools/demo.sh after
# selftests/net/lib/cluster.sh). Pods: web-a and web-b on node1, web-c on
# node2, all serving TCP 8080.

service() { # NAME TYPE CLUSTER_IP PORT NODEPORT [EXTRA YAML LINES]
	cat <<-EOF
	---
	apiVersion: v1
	kind: Service
	metadata: {name: $1, namespace: default}
	spec:
	  type: $2
	  clusterIP: $3
	  clusterIPs: [$3]
	  ipFamilies: [IPv4]
	  ports:
	  - {name: http, protocol: TCP, port: $4, targetPort: 8080$([ "$5" != 0 ] && echo ", nodePort: $5")}
	EOF
	shift 5
	for line in "$@"; do echo "  $line"; done
}

lb_status() { # IP
	cat <<-EOF
	status:
	  loadBalancer:
	    ingress: [{ip: $1}]
	EOF
}

demo_objects() {
	service web NodePort 198.19.0.10 80 30080
	endpoint_slice web-1 web IPv4 http:TCP:8080 198.18.1.10@node1 198.18.1.11@node1 198.18.2.10@node2
	service shop LoadBalancer 198.19.0.11 80 30081 \
		"loadBalancerSourceRanges: [203.0.113.7/32]"
	lb_status 198.51.100.10
	endpoint_slice shop-1 shop IPv4 http:TCP:8080 198.18.1.10@node1 198.18.2.10@node2
	service local LoadBalancer 198.19.0.12 80 30082 \
		"externalTrafficPolicy: Local" "healthCheckNodePort: 30090"
	lb_status 198.51.100.11
	endpoint_slice local-1 local IPv4 http:TCP:8080 198.18.1.10@node1 198.18.1.11@node1
	service legacy ClusterIP 198.19.0.13 80 0 "externalIPs: [198.51.100.20]"
	endpoint_slice legacy-1 legacy IPv4 http:TCP:8080 198.18.2.10@node2
	service empty ClusterIP 198.19.0.14 80 0
	endpoint_slice empty-1 empty IPv4 http:TCP:8080
}
