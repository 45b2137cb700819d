# shellcheck shell=bash
# A two-node cluster in network namespaces for the net tests (source it).
#
#   fabric ns: bridge br0 192.0.2.254 / 2001:db8:0:1::fe (the dev API server
#              listens there), router to the external client 203.0.113.1 /
#              2001:db8:0:3::1, routes LB IPs and externalIPs to a node
#   nodeN ns:  eth0 on br0: 192.0.2.N / 2001:db8:0:1::N (+ 192.0.2.1N, not a
#              NodePort address); pods 198.18.N.0/24 / 2001:db8:1:N::/64 on
#              veths "pod<NAME>"; the other node's pods via the fabric; its
#              own `xlb agent` with pins under /sys/fs/bpf/xlbt-<pid>-nodeN
#   ext ns:    external client 203.0.113.7 (+ .8) / 2001:db8:0:3::7 (+ ::8)
#   pod ns:    one per pod, eth0 198.18.N.I / 2001:db8:1:N::I, default via
#              the node
# Only the address plan's reserved ranges are used (see DESIGN.md). All
# names carry the test's PID; cluster_teardown (an EXIT trap) removes all.
#
# API: cluster_setup; cluster_add_pod NODE NAME INDEX; pod_serve NAME;
# agent_start NODE [FLAGS]; agent_stop NODE; api_apply < YAML;
# api_delete KIND NS NAME; endpoint_slice ...; fabric_route_lb NODE;
# in_ns NS CMD...; bg NAME CMD...; bg_ns NAME NS CMD...; probe NS ARGS...;
# wait_fe NODE ADDR PORT PROTO WANT [cluster|local|gated]; xlb_on NODE CMD...;
# agent_metric NODE REGEX; reading probe output: names, peers, ports,
# others, summary, expect; reporting: t_pass NAME; t_fail NAME WHY;
# t_skip NAME WHY; t_exit.

XLB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
XLB=$XLB_ROOT/build/xlb
NETLIB=$XLB_ROOT/selftests/net/lib
DEVAPI=$XLB_ROOT/tools/devapi/xlb-devapi
export PYTHONDONTWRITEBYTECODE=1	# leave no __pycache__ behind
CL=xt$$
NS_FAB=$CL-fab
NS_EXT=$CL-ext
API_URL=
CL_DIR=
CL_FAILED=0
declare -A CL_PIDS=()	# name -> pid of a background process we started
declare -A CL_NODE_ID=([node1]=1 [node2]=2)
CL_NAMESPACES=()

# ---- results

t_pass() { echo "PASS: $1"; }
t_fail() { echo "FAIL: $1: $2"; CL_FAILED=1; }
t_skip() { echo "SKIP: $1: $2"; }
t_exit() { exit "$CL_FAILED"; }

log() { echo "# $*" >&2; }

# ---- plumbing

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

ns_add() {
	ip netns add "$1" || return 1
	CL_NAMESPACES+=("$1")
	ip -n "$1" link set lo up
	in_ns "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# veth_add NS1 NAME1 NS2 NAME2: a veth pair between two namespaces, both up.
# TX checksumming off: XDP cannot complete a CHECKSUM_PARTIAL packet.
veth_add() {
	ip link add name "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
	in_ns "$1" ethtool -K "$2" tx off >/dev/null 2>&1
	in_ns "$3" ethtool -K "$4" tx off >/dev/null 2>&1
	return 0
}

forwarding_on() {
	in_ns "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# bg NAME CMD...: start the program CMD (not a shell function: $! must be
# the program itself) in the background, remembered for teardown.
bg() {
	local name=$1; shift
	"$@" >>"$CL_DIR/$name.log" 2>&1 &
	CL_PIDS[$name]=$!
}

# bg_ns NAME NS CMD...: bg in namespace NS (ip netns exec execs CMD in place).
bg_ns() {
	local name=$1 ns=$2; shift 2
	bg "$name" ip netns exec "$ns" "$@"
}

bg_stop() {
	local pid=${CL_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "CL_PIDS[$1]"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1)) i; shift
	for ((i = 0; i < 600; i++)); do
		"$@" && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	return 1
}

# ---- the cluster

cluster_require() {
	local why=
	[ "$(id -u)" -eq 0 ] || why="needs root"
	[ -x "$XLB" ] || why="build/xlb missing (run make)"
	for t in ethtool nsenter curl python3; do
		command -v "$t" >/dev/null || why="needs $t"
	done
	python3 -c 'import yaml' 2>/dev/null || why="needs python3-yaml"
	if [ -n "$why" ]; then
		echo "SKIP: $(basename "$0"): $why"
		exit 0
	fi
}

cluster_teardown() {
	local n name pid
	trap - EXIT INT TERM
	for n in node1 node2; do
		agent_stop "$n"
		if [ -d "/sys/fs/bpf/xlbt-$$-$n" ]; then
			nsenter --net="/run/netns/$CL-$n" "$XLB" cleanup --bpffs "/sys/fs/bpf/xlbt-$$-$n" \
				>/dev/null 2>&1 || rm -rf "/sys/fs/bpf/xlbt-$$-$n"
		fi
	done
	for name in "${!CL_PIDS[@]}"; do
		pid=${CL_PIDS[$name]}
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for n in "${CL_NAMESPACES[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	if [ "$CL_FAILED" -ne 0 ] && [ -n "$CL_DIR" ]; then
		for f in "$CL_DIR"/agent-*.log "$CL_DIR"/devapi.log; do
			[ -s "$f" ] && { echo "--- $(basename "$f") (tail)"; tail -n 15 "$f"; }
		done
	fi
	[ -n "$CL_DIR" ] && rm -rf "$CL_DIR"
}

fabric_setup() {
	ns_add "$NS_FAB" || return 1
	forwarding_on "$NS_FAB"
	ip -n "$NS_FAB" link add br0 type bridge
	ip -n "$NS_FAB" link set br0 up
	ip -n "$NS_FAB" addr add 192.0.2.254/24 dev br0
	ip -n "$NS_FAB" addr add 2001:db8:0:1::fe/64 dev br0 nodad
	fabric_route_lb node1
}

# fabric_route_lb NODE: LB IPs and externalIPs are reached through NODE.
fabric_route_lb() {
	local id=${CL_NODE_ID[$1]}
	ip -n "$NS_FAB" route replace 198.51.100.0/24 via "192.0.2.$id"
	ip -n "$NS_FAB" -6 route replace 2001:db8:4::/64 via "2001:db8:0:1::$id"
}

node_setup() {
	local node=$1 id=${CL_NODE_ID[$1]} other ns=$CL-$1
	other=$((3 - id))
	ns_add "$ns" || return 1
	forwarding_on "$ns"
	veth_add "$ns" eth0 "$NS_FAB" "n$id" || return 1
	ip -n "$NS_FAB" link set "n$id" master br0
	# The node's XDP_TX lands in this veth: it needs NAPI (GRO) to deliver.
	in_ns "$NS_FAB" ethtool -K "n$id" gro on >/dev/null
	ip -n "$ns" addr add "192.0.2.$id/24" dev eth0
	ip -n "$ns" addr add "192.0.2.1$id/24" dev eth0
	ip -n "$ns" addr add "2001:db8:0:1::$id/64" dev eth0 nodad
	ip -n "$ns" route add default via 192.0.2.254
	ip -n "$ns" -6 route add default via 2001:db8:0:1::fe
	# LB IPs and externalIPs the node does not serve go nowhere (not back
	# to the fabric, which routes them here).
	ip -n "$ns" route add blackhole 198.51.100.0/24
	ip -n "$ns" -6 route add blackhole 2001:db8:4::/64
	ip -n "$ns" route add "198.18.$other.0/24" via "192.0.2.$other"
	ip -n "$ns" -6 route add "2001:db8:1:$other::/64" via "2001:db8:0:1::$other"
}

ext_setup() {
	ns_add "$NS_EXT" || return 1
	veth_add "$NS_EXT" eth0 "$NS_FAB" ext0 || return 1
	ip -n "$NS_FAB" addr add 203.0.113.1/24 dev ext0
	ip -n "$NS_FAB" addr add 2001:db8:0:3::1/64 dev ext0 nodad
	ip -n "$NS_EXT" addr add 203.0.113.7/24 dev eth0
	ip -n "$NS_EXT" addr add 203.0.113.8/24 dev eth0
	ip -n "$NS_EXT" addr add 2001:db8:0:3::7/64 dev eth0 nodad
	ip -n "$NS_EXT" addr add 2001:db8:0:3::8/64 dev eth0 nodad
	ip -n "$NS_EXT" route add default via 203.0.113.1
	ip -n "$NS_EXT" -6 route add default via 2001:db8:0:3::1
}

node_objects() {
	local node id
	for node in node1 node2; do
		id=${CL_NODE_ID[$node]}
		cat <<-EOF
		---
		apiVersion: v1
		kind: Node
		metadata:
		  name: $node
		  labels:
		    kubernetes.io/hostname: $node
		    topology.kubernetes.io/zone: zone-$id
		spec:
		  podCIDRs: [198.18.$id.0/24, "2001:db8:1:$id::/64"]
		status:
		  addresses:
		  - {type: InternalIP, address: 192.0.2.$id}
		  - {type: InternalIP, address: "2001:db8:0:1::$id"}
		  - {type: Hostname, address: $node}
		EOF
	done
}

devapi_start() {
	mkdir -p "$CL_DIR/manifests"
	node_objects >"$CL_DIR/manifests/nodes.yaml"
	bg_ns devapi "$NS_FAB" "$DEVAPI" --listen 192.0.2.254:0 \
		--port-file "$CL_DIR/api.port" --manifests "$CL_DIR/manifests"
	if ! wait_for 10 test -s "$CL_DIR/api.port"; then
		log "dev API server did not start: $(cat "$CL_DIR/devapi.log")"
		return 1
	fi
	API_URL=http://192.0.2.254:$(cat "$CL_DIR/api.port")
}

# cluster_setup: fabric, two nodes, the external client and the API server
# (no pods, no agents yet).
cluster_setup() {
	cluster_require
	CL_DIR=$(mktemp -d /tmp/xlb-net.XXXXXX)
	trap cluster_teardown EXIT
	trap 'exit 130' INT TERM
	fabric_setup && node_setup node1 && node_setup node2 && ext_setup && devapi_start
}

# cluster_add_pod NODE NAME INDEX: pod NAME at 198.18.N.INDEX and
# 2001:db8:1:N::INDEX, host side "pod<NAME>" in NODE.
cluster_add_pod() {
	local node=$1 name=$2 idx=$3 id=${CL_NODE_ID[$1]} ns=$CL-$2 nodens=$CL-$1
	ns_add "$ns" || return 1
	veth_add "$ns" eth0 "$nodens" "pod$name" || return 1
	ip -n "$ns" addr add "198.18.$id.$idx/32" dev eth0
	ip -n "$ns" addr add "2001:db8:1:$id::$idx/128" dev eth0 nodad
	ip -n "$ns" route add default via "192.0.2.$id" dev eth0 onlink
	ip -n "$nodens" addr add fe80::1/64 dev "pod$name" nodad
	ip -n "$ns" -6 route add default via fe80::1 dev eth0
	ip -n "$nodens" route add "198.18.$id.$idx/32" dev "pod$name"
	ip -n "$nodens" -6 route add "2001:db8:1:$id::$idx/128" dev "pod$name"
}

pod_ns() { echo "$CL-$1"; }

# pod_serve NAME: the echo backend in pod NAME on TCP 8080 and 8081, UDP 5353
# and SCTP 7777.
pod_serve() {
	rm -f "$CL_DIR/ready-$1"
	bg_ns "echo-$1" "$CL-$1" python3 "$NETLIB/echo.py" --name "$1" --tcp 8080 --tcp 8081 \
		--udp 5353 --sctp 7777 --ready "$CL_DIR/ready-$1"
	wait_for 10 test -s "$CL_DIR/ready-$1"
}

# probe NS ARGS...: run probe.py (see there) as a client in namespace NS.
probe() {
	local ns=$1; shift
	in_ns "$ns" python3 "$NETLIB/probe.py" "$@"
}

# ---- API objects

api_apply() { in_ns "$NS_FAB" python3 "$NETLIB/api.py" "$API_URL" apply; }
api_delete() { in_ns "$NS_FAB" python3 "$NETLIB/api.py" "$API_URL" delete "$@"; }

# ---- agents

agent_pin() { echo "/sys/fs/bpf/xlbt-$$-$1"; }

# xlb_on NODE SUBCOMMAND ARGS...: an inspection command on NODE's pins.
xlb_on() {
	local node=$1 cmd=$2; shift 2
	"$XLB" "$cmd" --bpffs "$(agent_pin "$node")" "$@"
}

# XDP mode of the agents. Native XDP_TX out of a veth was measured here to
# leave frames queued until the next frame arrives on that veth (delays of
# 0.5-2 s, TCP retransmits); generic mode delivers at once. Set
# XLB_NET_XDP_MODE=native to test the native path.
CL_XDP_MODE=${XLB_NET_XDP_MODE:-generic}

# agent_start NODE [FLAGS...]: run NODE's agent (only the network namespace
# is entered, so its pins live on the host's bpffs and survive it) and wait
# for its first sync.
agent_start() {
	local node=$1; shift
	bg "agent-$node" nsenter --net="/run/netns/$CL-$node" "$XLB" agent \
		--master "$API_URL" --hostname-override "$node" --bpffs "$(agent_pin "$node")" \
		--devices eth0 --pod-devices 'pod*' --xdp-mode "$CL_XDP_MODE" \
		--cluster-cidr 198.18.0.0/16,2001:db8:1::/48 \
		--service-cidr 198.19.0.0/16,2001:db8:2::/112 "$@"
	if ! wait_for 15 agent_synced "$node"; then
		log "agent on $node did not sync: $(tail -n 20 "$CL_DIR/agent-$node.log")"
		return 1
	fi
}

agent_synced() {
	in_ns "$CL-$1" curl -s -m 1 http://127.0.0.1:10249/metrics 2>/dev/null |
		grep -Eq '^kubeproxy_sync_proxy_rules_last_timestamp_seconds(\{[^}]*\})? [1-9]'
}

agent_stop() { bg_stop "agent-$1"; }

# agent_metric NODE REGEX: the sum of the metric lines matching REGEX.
agent_metric() {
	in_ns "$CL-$1" curl -s -m 2 http://127.0.0.1:10249/metrics |
		awk -v re="$2" '$0 ~ re && !/^#/ { s += $NF } END { print s + 0 }'
}

# fe_state NODE ADDR PORT PROTO [cluster|local|gated]: see fe.py.
fe_state() {
	xlb_on "$1" services -o json 2>/dev/null | python3 "$NETLIB/fe.py" "${@:2}"
}

fe_is() {
	local want=$1; shift
	[ "$(fe_state "$@")" = "$want" ]
}

# wait_fe NODE ADDR PORT PROTO WANT [cluster|local|gated]: poll until the
# frontend selects WANT (backends "ip:port" sorted, space-separated).
wait_fe() {
	local node=$1 addr=$2 port=$3 proto=$4 want=$5 what=${6:-cluster}
	if ! wait_for 10 fe_is "$want" "$node" "$addr" "$port" "$proto" "$what"; then
		log "$node $addr:$port/$proto: want '$want', have '$(fe_state "$node" "$addr" "$port" "$proto" "$what")'"
		return 1
	fi
}

# ---- reading probe output

# names FILE: the sorted set of backend names that answered.
names() { awk '$1 == "OK" { print $2 }' "$1" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
# peers FILE: the sorted set of client addresses the backends saw.
peers() { awk '$1 == "OK" { print $3 }' "$1" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
# ports FILE: the sorted set of backend ports that answered.
ports() { awk '$1 == "OK" { print $4 }' "$1" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
# others FILE: the outcomes that were not answers, with counts.
others() { awk '$1 != "OK" { print $1 }' "$1" | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = " " }'; }
# summary FILE: one line for a failure message.
summary() {
	echo "answered by [$(names "$1")] on [$(ports "$1")] seen as [$(peers "$1")] others [$(others "$1")]"
}

# expect FILE NAMES PEERS: every try answered, by exactly the backends NAMES
# (space-separated, sorted), each seeing the client as one of PEERS ("" = any).
expect() {
	[ -z "$(others "$1")" ] && [ "$(names "$1")" = "$2" ] &&
		{ [ -z "$3" ] || [ "$(peers "$1")" = "$3" ]; }
}

# endpoint_slice NAME SERVICE FAMILY PORTS ENDPOINT...: an EndpointSlice as
# YAML. PORTS: "name:PROTO:port,..."; ENDPOINT: "IP@NODE" (ready), or
# "IP@NODE:terminating" (serving, terminating), "IP@NODE:notready".
endpoint_slice() {
	local name=$1 svc=$2 family=$3 ports=$4 ep ip node cond p pname proto port
	shift 4
	cat <<-EOF
	---
	apiVersion: discovery.k8s.io/v1
	kind: EndpointSlice
	metadata:
	  name: $name
	  namespace: default
	  labels: {kubernetes.io/service-name: $svc}
	addressType: $family
	EOF
	[ $# -eq 0 ] && echo "endpoints: []" || echo "endpoints:"
	for ep in "$@"; do
		ip=${ep%%@*} node=${ep#*@} cond=ready
		case $node in *:*) cond=${node#*:} node=${node%%:*} ;; esac
		case $cond in
		ready) cond="{ready: true, serving: true, terminating: false}" ;;
		terminating) cond="{ready: false, serving: true, terminating: true}" ;;
		notready) cond="{ready: false, serving: false, terminating: false}" ;;
		esac
		echo "- {addresses: [\"$ip\"], conditions: $cond, nodeName: $node}"
	done
	echo "ports:"
	for p in ${ports//,/ }; do
		IFS=: read -r pname proto port <<<"$p"
		echo "- {name: $pname, protocol: $proto, port: $port}"
	done
}

# check_ns NAME CLIENT-NS NAMES PEERS PROBE-ARGS...: every try answered by
# exactly NAMES, each seeing the client as PEERS (probe output in $out).
check_ns() {
	local name=$1 ns=$2 want=$3 peer=$4; shift 4
	probe "$ns" "$@" >"$out"
	expect "$out" "$want" "$peer" && return 0
	t_fail "$name" "${ns#"$CL-"} -> $*: $(summary "$out"); want [$want] seen as [$peer]"
	return 1
}
