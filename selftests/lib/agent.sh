# Shared helpers for tests that run a real xlb agent against the dev API server
# (tools/devapi/xlb-devapi) inside a private network namespace, with its maps
# pinned under the host's bpffs. Source it from a test script run from the
# repository root:
#
#	. selftests/lib/agent.sh
#	ag_init sync            # netns, veth, temp dir, trap
#	api_start --manifests tools/devapi/examples
#	agent_start && agent_wait_synced
#	expect "web has two endpoints" 'cl("198.19.0.10", 80) == [...]'
#	ag_finish               # exit status: non-zero if a check failed
#
# Every process started here is remembered by PID and ended by the EXIT trap,
# which also runs `xlb cleanup` on the pin directory and deletes the netns.
# The trap kills only those PIDs. AG_KEEP=1 keeps the temp dir (logs).

XLB=${XLB:-build/xlb}
DEVAPI=${DEVAPI:-tools/devapi/xlb-devapi}
METRICS_PORT=10249
HEALTHZ_PORT=10256
AG_FAILURES=0
AG_PIDS=()
AGENT_PID=
API_PID=
API_PORT=
AGENT_RUNS=0

pass() { echo "PASS: $AG_SUITE: $1"; }
fail() {
	echo "FAIL: $AG_SUITE: $1${2:+: $2}"
	AG_FAILURES=$((AG_FAILURES + 1))
}
skip() { echo "SKIP: $AG_SUITE: $1: $2"; }

# ag_skip_all WHY: the environment cannot run these tests at all.
ag_skip_all() {
	echo "SKIP: $AG_SUITE: $1"
	exit 0
}

ag_cleanup() {
	local pid
	for pid in "${AG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${AG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [ -n "${AG_PIN:-}" ] && [ -d "$AG_PIN" ]; then
		ag_in "$XLB" cleanup --bpffs "$AG_PIN" >/dev/null 2>&1
	fi
	[ -n "${AG_NS:-}" ] && ip netns del "$AG_NS" 2>/dev/null
	if [ -n "${AG_KEEP:-}" ]; then
		echo "logs kept in $AG_TMP" >&2
	elif [ -n "${AG_TMP:-}" ]; then
		rm -rf "$AG_TMP"
	fi
}

# ag_init SUITE: checks the prerequisites, creates the netns "xlbt-PID-SUITE"
# with eth0 (192.0.2.1/24, one end of a veth pair) and lo up, a temp dir, and
# installs the cleanup trap. The pin directory is /sys/fs/bpf/xlbt-PID-SUITE.
ag_init() {
	AG_SUITE=$1
	[ "$(id -u)" -eq 0 ] || ag_skip_all "needs root (netns, BPF)"
	[ -x "$XLB" ] || ag_skip_all "$XLB not built"
	command -v nsenter >/dev/null || ag_skip_all "nsenter missing"
	command -v curl >/dev/null || ag_skip_all "curl missing"
	[ -d /sys/fs/bpf ] || ag_skip_all "no bpffs at /sys/fs/bpf"
	AG_NS=xlbt-$$-$AG_SUITE
	AG_PIN=/sys/fs/bpf/xlbt-$$-$AG_SUITE
	AG_TMP=$(mktemp -d "/tmp/xlbt-$AG_SUITE.XXXXXX")
	trap ag_cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$AG_NS" || ag_skip_all "cannot create a network namespace"
	ip -n "$AG_NS" link add eth0 type veth peer name eth0p &&
	ip -n "$AG_NS" link set lo up &&
	ip -n "$AG_NS" link set eth0 up &&
	ip -n "$AG_NS" link set eth0p up &&
	ip -n "$AG_NS" addr add 192.0.2.1/24 dev eth0 || ag_skip_all "cannot set up the netns"
}

# ag_finish: the script's exit status.
ag_finish() {
	[ "$AG_FAILURES" -eq 0 ]
}

# ag_in CMD...: run CMD in the test netns only (the mount namespace, and so
# the host's bpffs, stay shared; see DESIGN.md). Background processes call
# nsenter directly instead, so that $! is their PID (nsenter execs CMD).
ag_in() {
	nsenter --net="/run/netns/$AG_NS" "$@"
}

# poll SECONDS CMD...: run CMD every 0.1 s until it succeeds or SECONDS pass.
poll() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# ---- the dev API server -----------------------------------------------------

api_up() { [ -s "$AG_TMP/api.port" ] || ! kill -0 "$API_PID" 2>/dev/null; }

# api_start [ARGS...]: start xlb-devapi in the netns, keeping its objects in
# $AG_TMP/api.state across restarts; the first start picks a free port, later
# ones reuse it. Sets API_PID, API_PORT.
api_start() {
	local listen=127.0.0.1:${API_PORT:-0}
	rm -f "$AG_TMP/api.port"
	nsenter --net="/run/netns/$AG_NS" "$DEVAPI" --listen "$listen" --port-file "$AG_TMP/api.port" \
		--state "$AG_TMP/api.state" "$@" >>"$AG_TMP/api.log" 2>&1 &
	API_PID=$!
	AG_PIDS+=("$API_PID")
	if ! poll 15 api_up || [ ! -s "$AG_TMP/api.port" ]; then
		echo "xlb-devapi did not start:" >&2
		tail -n 20 "$AG_TMP/api.log" >&2
		return 1
	fi
	API_PORT=$(cat "$AG_TMP/api.port")
}

# api_stop: SIGTERM the dev API server (it saves its state) and wait for it.
api_stop() {
	kill -TERM "$API_PID" 2>/dev/null
	wait "$API_PID" 2>/dev/null
	API_PID=
}

# api METHOD PATH [BODY]: one request; prints the body, fails on HTTP >= 400.
api() {
	local out code
	out=$(ag_in curl -sS --max-time 10 -X "$1" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} -w '\n%{http_code}' "http://127.0.0.1:$API_PORT$2")
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	printf '%s\n' "$out"
	[ "$code" -ge 200 ] && [ "$code" -lt 400 ]
}

# fault JSON: inject a fault through the control endpoint.
fault() {
	api POST /_devapi/fault "$1" >/dev/null
}

# api_stats EXPR: a Python expression over the stats document d.
api_stats() {
	api GET /_devapi/stats | python3 -c \
		'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# apply JSON: create the Service or EndpointSlice, or replace it if it exists.
apply() {
	local path
	path=$(printf '%s' "$1" | python3 -c '
import json, sys
o = json.load(sys.stdin)
ns = o["metadata"].get("namespace", "default")
base = {"Service": "/api/v1", "EndpointSlice": "/apis/discovery.k8s.io/v1",
	"Node": "/api/v1"}[o["kind"]]
plural = o["kind"].lower() + "s"
print(base + ("" if o["kind"] == "Node" else "/namespaces/" + ns) + "/" + plural,
      o["metadata"]["name"])')
	local coll=${path% *} name=${path#* }
	if api GET "$coll/$name" >/dev/null 2>&1; then
		api PUT "$coll/$name" "$1" >/dev/null
	else
		api POST "$coll" "$1" >/dev/null
	fi
}

# remove KIND NAME: delete a Service or EndpointSlice of namespace default.
remove() {
	case $1 in
	svc) api DELETE "/api/v1/namespaces/default/services/$2" >/dev/null ;;
	slice) api DELETE "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/$2" \
		>/dev/null ;;
	esac
}

# svc NAME CLUSTERIP PORTS [SPEC_JSON_FIELDS]: a Service of namespace default.
# PORTS is "name:PROTO:port:targetPort[:nodePort],...", the last argument
# extra spec fields as JSON object members, e.g. '"type": "NodePort"'.
svc() {
	python3 - "$@" <<'EOF'
import json, sys
name, cip, ports = sys.argv[1:4]
extra = json.loads("{" + (sys.argv[4] if len(sys.argv) > 4 else "") + "}")
plist = []
for p in ports.split(","):
    f = p.split(":")
    d = {"name": f[0], "protocol": f[1], "port": int(f[2]), "targetPort": int(f[3])}
    if len(f) > 4:
        d["nodePort"] = int(f[4])
    plist.append(d)
spec = {"type": "ClusterIP", "clusterIP": cip, "clusterIPs": [cip],
        "ipFamilies": ["IPv4"], "ports": plist, "selector": {"app": name}}
status = extra.pop("status", None)
spec.update(extra)
o = {"apiVersion": "v1", "kind": "Service",
     "metadata": {"name": name, "namespace": "default"}, "spec": spec}
if status is not None:
    o["status"] = status
print(json.dumps(o))
EOF
}

# slice NAME SERVICE PORTS EP...: an EndpointSlice. PORTS is
# "name:PROTO:port,..."; each EP is "ip/node/conds" where conds has r (ready),
# s (serving), t (terminating), e.g. "198.18.1.10/node1/rs".
slice() {
	python3 - "$@" <<'EOF'
import json, sys
name, svc, ports = sys.argv[1:4]
eps = []
for e in sys.argv[4:]:
    ip, node, conds = e.split("/")
    eps.append({"addresses": [ip], "nodeName": node,
                "conditions": {"ready": "r" in conds, "serving": "s" in conds,
                               "terminating": "t" in conds}})
plist = [{"name": f[0], "protocol": f[1], "port": int(f[2])}
         for f in (p.split(":") for p in ports.split(","))]
print(json.dumps({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
    "metadata": {"name": name, "namespace": "default",
                 "labels": {"kubernetes.io/service-name": svc}},
    "addressType": "IPv4", "endpoints": eps, "ports": plist}))
EOF
}

# node_json NAME IP: a Node with one InternalIP.
node_json() {
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"kubernetes.io/hostname":"%s"}},"status":{"addresses":[{"type":"InternalIP","address":"%s"}]}}' \
		"$1" "$1" "$2"
}

# ---- the agent --------------------------------------------------------------

# agent_start [FLAGS...]: start `xlb agent` as node1 in the netns. Sets AGENT_PID.
agent_start() {
	AGENT_RUNS=$((AGENT_RUNS + 1))
	AGENT_LOG=$AG_TMP/agent.$AGENT_RUNS.log
	nsenter --net="/run/netns/$AG_NS" "$XLB" agent --master "http://127.0.0.1:$API_PORT" --hostname-override node1 \
		--bpffs "$AG_PIN" --devices eth0 --xdp-mode generic \
		--cluster-cidr 198.18.0.0/16 --service-cidr 198.19.0.0/16 \
		--healthz-bind-address "127.0.0.1:$HEALTHZ_PORT" \
		--metrics-bind-address "127.0.0.1:$METRICS_PORT" "$@" >"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	AG_PIDS+=("$AGENT_PID")
}

agent_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# agent_stop: SIGTERM the agent; fails if it does not exit within 10 s.
agent_stop() {
	local rc
	kill -TERM "$AGENT_PID" 2>/dev/null
	if ! poll 10 eval '! kill -0 "$AGENT_PID" 2>/dev/null'; then
		kill -KILL "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
		AGENT_PID=
		return 1
	fi
	wait "$AGENT_PID"
	rc=$?
	AGENT_PID=
	return "$rc"
}

# metrics: the agent's /metrics text.
metrics() {
	ag_in curl -sS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics"
}

# metric NAME{LABELS}: one sample's value ("" if absent).
metric() {
	metrics 2>/dev/null | awk -v m="$1" '$1 == m { print $2; exit }'
}

synced() {
	local t
	t=$(metric 'kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}')
	[ -n "$t" ] && [ "${t%%.*}" != 0 ]
}

# agent_wait_synced: wait (20 s at most) for the first sync.
agent_wait_synced() {
	if poll 20 synced; then
		return 0
	fi
	echo "agent did not sync; its log:" >&2
	tail -n 30 "$AGENT_LOG" >&2
	return 1
}

# ---- map state --------------------------------------------------------------

services_json() { "$XLB" services -o json --bpffs "$AG_PIN"; }
backends_json() { "$XLB" backends -o json --bpffs "$AG_PIN"; }

# snapshot FILE: services and backends as one JSON document {S, B}.
snapshot() {
	local s b
	s=$(services_json) && b=$(backends_json) || return 1
	printf '{"S": %s, "B": %s}\n' "$s" "$b" >"$1"
}

# The Python that evaluates a check over a snapshot: S is the frontend list,
# B the backend list, and
#   fe(addr, port, proto="TCP", kind=None) the frontend entry or None,
#   cl(...) / lo(...) its sorted distinct cluster / local backends,
#   keys() the set of (kind, address, port, protocol) of all frontends.
AG_PY='
import json, sys
d = json.load(open(sys.argv[1]))
S, B = d["S"], d["B"]
def fe(addr, port, proto="TCP", kind=None):
    for e in S:
        if e["address"] == addr and e["port"] == port and e["protocol"] == proto \
           and (kind is None or e["kind"] == kind):
            return e
    return None
def cl(*a, **k):
    e = fe(*a, **k)
    return None if e is None else sorted(set(e["cluster"]))
def lo(*a, **k):
    e = fe(*a, **k)
    return None if e is None else sorted(set(e["local"]))
def keys():
    return {(e["kind"], e["address"], e["port"], e["protocol"]) for e in S}
'

# check_snap FILE EXPR: true if EXPR holds over the snapshot in FILE.
check_snap() {
	python3 -c "$AG_PY"'
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$1" "$2" 2>"$AG_TMP/check.err"
}

holds() { snapshot "$AG_TMP/snap.json" && check_snap "$AG_TMP/snap.json" "$1"; }

# expect NAME EXPR [SECONDS]: PASS once EXPR holds over the maps (polled for
# SECONDS, default 10), else FAIL with the maps as they were.
expect() {
	if poll "${3:-10}" holds "$2"; then
		pass "$1"
		return 0
	fi
	fail "$1" "not true: $2"
	{
		cat "$AG_TMP/check.err"
		python3 -c "$AG_PY"'
for e in sorted(S, key=lambda e: (e["address"], e["port"])):
    print(" ", e["kind"], e["address"], e["port"], e["protocol"], "svc", e["svc_id"],
          "gated" if e["gated"] else "", "cluster", e.get("cluster"), "local", e.get("local"))
' "$AG_TMP/snap.json"
		echo "  agent log tail:"
		tail -n 8 "$AGENT_LOG"
	} >&2
	return 1
}

# keys_now: the frontend keys and each one's sorted cluster list, one a line.
keys_now() {
	snapshot "$AG_TMP/keys.json" || return 1
	python3 -c "$AG_PY"'
for e in sorted(S, key=lambda e: (e["kind"], e["address"], e["port"], e["protocol"])):
    print(e["kind"], e["address"], e["port"], e["protocol"], sorted(set(e.get("cluster", []))))
' "$AG_TMP/keys.json"
}

# same_snap A B [FIELD...]: the snapshots are equal (order aside) once FIELDs
# are dropped from every frontend; prints the differences on stderr.
same_snap() {
	python3 - "$@" <<'EOF'
import json, sys
drop = sys.argv[3:]
def norm(f):
    d = json.load(open(f))
    fes = {}
    for e in d["S"]:
        for k in drop:
            e.pop(k, None)
        fes[(e["kind"], e["address"], e["port"], e["protocol"])] = e
    return fes, {b["id"]: b for b in d["B"]}
(fa, ba), (fb, bb) = norm(sys.argv[1]), norm(sys.argv[2])
for k in sorted(set(fa) | set(fb), key=str):
    if fa.get(k) != fb.get(k):
        print("frontend", k, ":", fa.get(k), "->", fb.get(k), file=sys.stderr)
for k in sorted(set(ba) | set(bb)):
    if ba.get(k) != bb.get(k):
        print("backend", k, ":", ba.get(k), "->", bb.get(k), file=sys.stderr)
sys.exit(fa != fb or ba != bb)
EOF
}
