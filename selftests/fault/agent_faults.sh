#!/bin/bash
# API faults injected through xlb-devapi's control endpoint while a real agent
# programs real pinned maps: a watch closed mid-event, events split into
# 1-byte chunks, 410 Expired -> relist, a 500 storm, the API server down for
# 30 s with changes made meanwhile. After each fault the maps equal the
# desired state, and while it lasts nothing programmed before vanishes.
set -u
cd "$(dirname "$0")/../.."
. selftests/lib/agent.sh
ag_init fault

api_start --manifests tools/devapi/examples/node.yaml || ag_skip_all "xlb-devapi does not start"
agent_start
agent_wait_synced || { fail "agent starts and syncs"; exit 1; }

# "keep" is never touched: every check below also asserts that it stays
# exactly as programmed, and that web's frontends never vanish.
apply "$(svc keep 198.19.0.99 http:TCP:80:8080:30099,dns:UDP:53:5353 '"type": "NodePort"')"
apply "$(slice keep-1 keep http:TCP:8080,dns:UDP:5353 198.18.9.1/node1/rs 198.18.9.2/node2/rs)"
apply "$(svc web 198.19.0.10 http:TCP:80:8080)"
apply "$(slice web-1 web http:TCP:8080 198.18.1.1/node1/rs)"
expect "baseline programmed" \
	"cl('198.19.0.99', 80) == ['198.18.9.1:8080', '198.18.9.2:8080'] and
	 cl('*', 30099) == ['198.18.9.1:8080', '198.18.9.2:8080'] and
	 cl('198.19.0.99', 53, 'UDP') == ['198.18.9.1:5353', '198.18.9.2:5353'] and
	 cl('198.19.0.10', 80) == ['198.18.1.1:8080']" || exit 1

snapshot "$AG_TMP/base.json"
GUARD_PY='
base = json.load(open(sys.argv[3]))["S"]
def same(e, f):
    return {k: v for k, v in e.items() if k != "cluster"} == \
        {k: v for k, v in f.items() if k != "cluster"} and \
        sorted(e["cluster"]) == sorted(f["cluster"])
lost = []
for g in base:
    e = fe(g["address"], g["port"], g["protocol"], g["kind"])
    if e is None or (g["address"] in ("198.19.0.99", "*") and not same(e, g)):
        lost.append((g["kind"], g["address"], g["port"], g["protocol"], e))
if lost:
    print("lost or changed:", lost)
sys.exit(1 if lost else 0)
'
GUARD_BAD=0

# guard_ok: the snapshot in $AG_TMP/snap.json still holds "keep" unchanged
# and all of web's frontends; a violation is remembered in GUARD_BAD.
guard_ok() {
	if ! python3 -c "$AG_PY$GUARD_PY" "$AG_TMP/snap.json" "" "$AG_TMP/base.json" \
		>>"$AG_TMP/guard.log" 2>&1; then
		GUARD_BAD=$((GUARD_BAD + 1))
		return 1
	fi
}

holds_guarded() {
	local r
	holds "$CONVERGE_EXPR"
	r=$?
	guard_ok
	return $r
}

# faults_spent: every injected fault has fired as often as it may.
faults_spent() {
	[ "$(api_stats 'all(f.get("count", 1) == 0 for f in d["faults"])')" = True ]
}

# converge NAME EXPR [SECONDS]: expect() that also guards every poll.
converge() {
	GUARD_BAD=0
	: >"$AG_TMP/guard.log"
	CONVERGE_EXPR=$2
	if poll "${3:-20}" holds_guarded; then
		pass "$1"
	else
		expect "$1" "$2" 0
	fi
	guard_report "$1"
}

guard_report() {
	if [ "$GUARD_BAD" -eq 0 ] && agent_alive; then
		pass "$1: nothing programmed vanished meanwhile"
	else
		fail "$1: nothing programmed vanished meanwhile" \
			"$GUARD_BAD bad polls, agent alive: $(agent_alive && echo yes || echo no); $(head -c 600 "$AG_TMP/guard.log")"
	fi
}

# lists RESOURCE: how often the agent has listed RESOURCE.
lists() { grep -c "watch $1: listed .* objects" "$AGENT_LOG"; }

# ---- watch closed mid-event ---------------------------------------------------
fault '{"action": "close-watches", "mode": "mid-event"}'
apply "$(slice web-1 web http:TCP:8080 198.18.1.1/node1/rs 198.18.1.2/node2/rs)"
apply "$(svc tmp1 198.19.0.21 http:TCP:80:8080)"
converge "watch closed mid-event: later changes arrive" \
	"cl('198.19.0.10', 80) == ['198.18.1.1:8080', '198.18.1.2:8080'] and
	 fe('198.19.0.21', 80) is not None"
# A real event cut in half: the "packed" chunking holds a pending event for
# 1 s, and the mid-event close within that second sends half of it.
fault '{"action": "watch-chunking", "mode": "packed", "hold": 1, "path": "/endpointslices"}'
fault '{"action": "close-watches", "mode": "end", "resource": "endpointslices"}'
poll 10 faults_spent
partial0=$(grep -c "partial event discarded" "$AGENT_LOG")
apply "$(slice web-1 web http:TCP:8080 198.18.1.2/node2/rs 198.18.1.3/node1/rs)"
fault '{"action": "close-watches", "mode": "mid-event", "resource": "endpointslices"}'
# (A later close of the same watch would override the mode: abort another.)
fault '{"action": "close-watches", "mode": "abort", "resource": "services"}'
remove svc tmp1
if poll 5 eval '[ "$(grep -c "partial event discarded" "$AGENT_LOG")" -gt "$partial0" ]'; then
	pass "watch closed mid-event: the agent saw half an event"
else
	fail "watch closed mid-event: the agent saw half an event" "$(tail -n 3 "$AGENT_LOG")"
fi
converge "watch closed mid-event and aborted: changes arrive in full" \
	"cl('198.19.0.10', 80) == ['198.18.1.2:8080', '198.18.1.3:8080'] and
	 fe('198.19.0.21', 80) is None and
	 not any(b['address'] == '198.18.1.1:8080' for b in B)"

# ---- events split into 1-byte chunks ----------------------------------------------
fault '{"action": "watch-chunking", "mode": "tiny", "count": 3, "byte_delay": 0.0005}'
fault '{"action": "close-watches", "mode": "end"}'
rewatched() { faults_spent && [ "$(api_stats 'd["open_watches"]')" = 3 ]; }
if poll 10 rewatched; then
	pass "tiny chunks: the agent re-watched through the fault"
else
	fail "tiny chunks: the agent re-watched through the fault" "$(api_stats 'd["faults"], d["open_watches"]')"
fi
apply "$(slice web-1 web http:TCP:8080 198.18.1.2/node2/rs 198.18.1.3/node1/rs 198.18.1.4/node1/rs)"
apply "$(svc tmp2 198.19.0.22 http:TCP:80:8080,dns:UDP:53:53)"
apply "$(slice tmp2-1 tmp2 http:TCP:8080,dns:UDP:53 198.18.2.1/node1/rs)"
converge "tiny chunks: events split across reads are applied" \
	"cl('198.19.0.10', 80) == ['198.18.1.2:8080', '198.18.1.3:8080', '198.18.1.4:8080'] and
	 cl('198.19.0.22', 53, 'UDP') == ['198.18.2.1:53']" 30

# ---- compaction: 410 Expired -> relist ------------------------------------------
# The re-watch waits 2 s and then gets 410: the changes made meanwhile (a
# deletion among them) reach the agent only through the relist.
l0=$(lists services) l1=$(lists endpointslices) l2=$(lists nodes)
for r in services endpointslices nodes; do
	fault '{"action": "delay", "seconds": 2, "verbs": ["watch"], "path": "/'$r'"}'
	fault '{"action": "expire-watch", "path": "/'$r'"}'
done
fault '{"action": "compact"}'
fault '{"action": "close-watches", "mode": "end"}'
remove svc tmp2
remove slice tmp2-1
apply "$(slice web-1 web http:TCP:8080 198.18.1.5/node1/rs)"
apply "$(svc tmp3 198.19.0.23 http:TCP:80:8080)"
converge "410: relist brings the maps to the desired state" \
	"cl('198.19.0.10', 80) == ['198.18.1.5:8080'] and lo('198.19.0.10', 80) == ['198.18.1.5:8080'] and
	 fe('198.19.0.22', 80) is None and fe('198.19.0.22', 53, 'UDP') is None and
	 fe('198.19.0.23', 80) is not None and
	 sorted(b['address'] for b in B) == sorted(['198.18.1.5:8080', '198.18.9.1:8080',
	   '198.18.9.2:8080', '198.18.9.1:5353', '198.18.9.2:5353'])" 20
if [ "$(lists services)" -gt "$l0" ] && [ "$(lists endpointslices)" -gt "$l1" ] &&
   [ "$(lists nodes)" -gt "$l2" ]; then
	pass "410: every watch relisted"
else
	fail "410: every watch relisted" "lists: services $l0 -> $(lists services)," \
		"endpointslices $l1 -> $(lists endpointslices), nodes $l2 -> $(lists nodes)"
fi

# ---- a storm of 500s ---------------------------------------------------------------
fault '{"action": "error", "code": 500, "count": 6, "verbs": ["list", "watch"]}'
fault '{"action": "close-watches", "mode": "end"}'
apply "$(slice web-1 web http:TCP:8080 198.18.1.5/node1/rs 198.18.1.6/node2/rs)"
remove svc tmp3
apply "$(svc tmp4 198.19.0.24 http:TCP:80:8080)"
converge "500 storm: the maps reach the desired state" \
	"cl('198.19.0.10', 80) == ['198.18.1.5:8080', '198.18.1.6:8080'] and
	 fe('198.19.0.23', 80) is None and fe('198.19.0.24', 80) is not None" 45
if faults_spent; then
	pass "500 storm: all 6 errors were served"
else
	fail "500 storm: all 6 errors were served" "$(api_stats 'd["faults"]')"
fi

# ---- the API server down for 30 s ------------------------------------------------
api_stop
# Changes "made while it was down": edit the saved state and move the
# resourceVersion on, so that the agent's watches get 410 and relist.
python3 - "$AG_TMP/api.state" <<'EOF'
import json, sys
p = sys.argv[1]
st = json.load(open(p))
rv = st["resourceVersion"] + 10
objs = []
for o in st["objects"]:
    name = o["metadata"]["name"]
    if name in ("tmp4",):
        continue
    if name == "web-1":
        o["endpoints"] = [{"addresses": ["198.18.1.7"], "nodeName": "node2",
                           "conditions": {"ready": True, "serving": True, "terminating": False}}]
        o["metadata"]["resourceVersion"] = str(rv)
    objs.append(o)
st["objects"], st["resourceVersion"] = objs, rv
json.dump(st, open(p, "w"))
EOF
GUARD_BAD=0
: >"$AG_TMP/guard.log"
down_end=$((SECONDS + 30))
polls=0
while [ "$SECONDS" -lt "$down_end" ]; do
	snapshot "$AG_TMP/snap.json" && guard_ok
	polls=$((polls + 1))
	sleep 1
done
guard_report "API down 30 s ($polls polls)"
api_start || { fail "API server restarts on the same port"; exit 1; }
apply "$(svc tmp5 198.19.0.25 http:TCP:80:8080)"
apply "$(slice tmp5-1 tmp5 http:TCP:8080 198.18.5.1/node1/rs)"
converge "API back: changes made while down and after are applied" \
	"cl('198.19.0.10', 80) == ['198.18.1.7:8080'] and lo('198.19.0.10', 80) == [] and
	 fe('198.19.0.24', 80) is None and cl('198.19.0.25', 80) == ['198.18.5.1:8080'] and
	 sorted(b['address'] for b in B) == sorted(['198.18.1.7:8080', '198.18.5.1:8080',
	   '198.18.9.1:8080', '198.18.9.2:8080', '198.18.9.1:5353', '198.18.9.2:5353'])" 60

# ---- a bad update, then a relist --------------------------------------------------
# The invalid version of "keep" is rejected on the watch and again in the
# relist: the last good version must stay programmed through both.
api PUT /api/v1/namespaces/default/services/keep \
	"$(svc keep 198.19.0.99 http:TCP:99999:8080:30099,dns:UDP:53:5353 '"type": "NodePort"')" >/dev/null
l0=$(lists services)
fault '{"action": "expire-watch", "path": "/services"}'
fault '{"action": "close-watches", "mode": "end", "resource": "services"}'
apply "$(svc tmp6 198.19.0.26 http:TCP:80:8080)"
converge "bad update then relist: the last good version stays" \
	"fe('198.19.0.26', 80) is not None and fe('198.19.0.99', 80) is not None" 20
if [ "$(lists services)" -gt "$l0" ]; then
	pass "bad update then relist: services relisted"
else
	fail "bad update then relist: services relisted" "$(tail -n 3 "$AGENT_LOG")"
fi

if agent_stop; then
	pass "agent exits 0 on SIGTERM after the faults"
else
	fail "agent exits 0 on SIGTERM after the faults" "$(tail -n 5 "$AGENT_LOG")"
fi
ag_finish
