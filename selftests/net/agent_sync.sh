#!/bin/bash
# A real agent against the dev API server, maps checked through
# `xlb services|backends -o json` after every step: ClusterIP create/update/
# delete, NodePort, LoadBalancer, traffic policies, session affinity, the
# externalIPs gate across restarts, restart adoption, bad input, /metrics
# and the health endpoints.
set -u
cd "$(dirname "$0")/../.."
. selftests/lib/agent.sh
ag_init sync

api_start --manifests tools/devapi/examples/node.yaml || ag_skip_all "xlb-devapi does not start"
agent_start
agent_wait_synced || { fail "agent starts and syncs"; exit 1; }
pass "agent starts and syncs"

CIP=198.19.0.10
PORTS=http:TCP:8080,dns:UDP:5353
E1=198.18.1.10 E2=198.18.2.10 E3=198.18.3.10

# ---- ClusterIP: create, update, delete ---------------------------------------
apply "$(svc web $CIP http:TCP:80:8080,dns:UDP:53:5353)"
apply "$(slice web-1 web $PORTS $E1/node1/rs $E2/node2/rs)"
expect "clusterip: frontends and ready endpoints" \
	"cl('$CIP', 80) == ['$E1:8080', '$E2:8080'] and
	 cl('$CIP', 53, 'UDP') == ['$E1:5353', '$E2:5353'] and
	 lo('$CIP', 80) == ['$E1:8080'] and
	 fe('$CIP', 0, 'any', 'ClusterIP-any-port') is not None and
	 fe('$CIP', 80)['kind'] == 'ClusterIP' and
	 sorted(b['address'] for b in B) ==
	   sorted(['$E1:8080', '$E2:8080', '$E1:5353', '$E2:5353'])"

apply "$(slice web-1 web $PORTS $E1/node1/rs $E3/node2/rs)"
expect "clusterip: endpoint added and removed" \
	"cl('$CIP', 80) == ['$E1:8080', '$E3:8080'] and
	 cl('$CIP', 53, 'UDP') == ['$E1:5353', '$E3:5353'] and
	 not any(b['address'].startswith('$E2:') for b in B)"

apply "$(slice web-1 web $PORTS $E1/node1/ $E3/node2/rs)"
expect "clusterip: not-ready endpoint leaves" \
	"cl('$CIP', 80) == ['$E3:8080'] and lo('$CIP', 80) == []"

apply "$(slice web-1 web $PORTS $E1/node1/st $E3/node2/st)"
expect "clusterip: terminating fallback" \
	"cl('$CIP', 80) == ['$E1:8080', '$E3:8080'] and lo('$CIP', 80) == ['$E1:8080']"

apply "$(slice web-1 web $PORTS $E1/node1/t $E3/node2/rs)"
expect "clusterip: ready beats terminating, non-serving terminating ignored" \
	"cl('$CIP', 80) == ['$E3:8080'] and lo('$CIP', 80) == []"

apply "$(svc web $CIP http:TCP:80:8080)"
expect "clusterip: port removed, the other and the VIP marker stay" \
	"fe('$CIP', 53, 'UDP') is None and cl('$CIP', 80) == ['$E3:8080'] and
	 fe('$CIP', 0, 'any', 'ClusterIP-any-port') is not None and
	 not any(b['address'].endswith(':5353') for b in B)"

remove slice web-1
expect "clusterip: no endpoints -> empty table (REJECT)" \
	"fe('$CIP', 80) is not None and cl('$CIP', 80) == [] and lo('$CIP', 80) == [] and
	 fe('$CIP', 0, 'any') is not None and B == []"

remove svc web
expect "clusterip: service deleted -> frontends gone" \
	"not any(e['address'] == '$CIP' for e in S) and B == []"

# ---- NodePort, LoadBalancer, policies, affinity -------------------------------
apply "$(svc np 198.19.0.20 http:TCP:80:8080:30080 '"type": "NodePort", "externalTrafficPolicy": "Local"')"
apply "$(slice np-1 np http:TCP:8080 198.18.1.20/node1/rs 198.18.2.20/node2/rs)"
expect "nodeport: '*' entry, etp_local, local set" \
	"fe('*', 30080, kind='NodePort') is not None and
	 fe('*', 30080)['etp_local'] and not fe('*', 30080)['itp_local'] and
	 cl('*', 30080) == ['198.18.1.20:8080', '198.18.2.20:8080'] and
	 lo('*', 30080) == ['198.18.1.20:8080'] and
	 fe('198.19.0.20', 80, kind='ClusterIP') is not None"

apply "$(svc lb 198.19.0.30 http:TCP:80:8080:30081 '"type": "LoadBalancer", "internalTrafficPolicy": "Local",
	"sessionAffinity": "ClientIP", "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}')"
api PUT /api/v1/namespaces/default/services/lb/status \
	"$(svc lb 198.19.0.30 http:TCP:80:8080:30081 '"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}')" >/dev/null
apply "$(slice lb-1 lb http:TCP:8080 198.18.1.30/node1/rs 198.18.2.30/node2/rs)"
expect "loadbalancer: ingress ip, nodeport, itp_local, affinity" \
	"fe('203.0.113.5', 80, kind='LoadBalancer') is not None and
	 fe('*', 30081, kind='NodePort') is not None and
	 all(fe(a, p)['itp_local'] and fe(a, p)['affinity'] and not fe(a, p)['etp_local']
	     for a, p in (('203.0.113.5', 80), ('198.19.0.30', 80), ('*', 30081))) and
	 cl('203.0.113.5', 80) == ['198.18.1.30:8080', '198.18.2.30:8080'] and
	 lo('198.19.0.30', 80) == ['198.18.1.30:8080']"

# ---- externalIPs and the feature gate ----------------------------------------
apply "$(svc ext 198.19.0.40 http:TCP:80:8080 '"externalIPs": ["203.0.113.7", "203.0.113.8"]')"
apply "$(slice ext-1 ext http:TCP:8080 198.18.1.40/node1/rs)"
expect "externalips: gate off -> gated frontends" \
	"fe('203.0.113.7', 80, kind='ExternalIP')['gated'] and fe('203.0.113.8', 80)['gated'] and
	 not fe('198.19.0.40', 80)['gated'] and cl('198.19.0.40', 80) == ['198.18.1.40:8080']"
if poll 5 eval '[ "$(metric xlb_external_ips_skipped)" = 2 ]'; then
	pass "externalips: xlb_external_ips_skipped = 2"
else
	fail "externalips: xlb_external_ips_skipped = 2" "got '$(metric xlb_external_ips_skipped)'"
fi

# restart FLAGS...: stop the agent, check the maps survive, start it again.
restart() {
	snapshot "$AG_TMP/before.json"
	if ! agent_stop; then
		fail "restart: agent exits on SIGTERM" "$(tail -n 5 "$AGENT_LOG")"
		return 1
	fi
	snapshot "$AG_TMP/stopped.json"
	agent_start "$@"
	agent_wait_synced
}

snapshot "$AG_TMP/gate_off.json"
restart --feature-gates=AllowServiceExternalIPs=true
expect "externalips: gate on -> not gated" \
	"not fe('203.0.113.7', 80, kind='ExternalIP')['gated'] and not fe('203.0.113.8', 80)['gated']"
snapshot "$AG_TMP/gate_on.json"
if same_snap "$AG_TMP/gate_off.json" "$AG_TMP/gate_on.json" gated 2>"$AG_TMP/diff"; then
	pass "externalips: gate on changes nothing else"
else
	fail "externalips: gate on changes nothing else" "$(head -c 2000 "$AG_TMP/diff")"
fi
if poll 5 eval '[ "$(metric xlb_external_ips_skipped)" = 0 ]'; then
	pass "externalips: gate on -> xlb_external_ips_skipped = 0"
else
	fail "externalips: gate on -> xlb_external_ips_skipped = 0" "got '$(metric xlb_external_ips_skipped)'"
fi
restart
expect "externalips: gate off again -> gated" \
	"fe('203.0.113.7', 80, kind='ExternalIP')['gated'] and fe('203.0.113.8', 80)['gated']"
snapshot "$AG_TMP/gate_off2.json"
if same_snap "$AG_TMP/gate_off.json" "$AG_TMP/gate_off2.json" 2>"$AG_TMP/diff"; then
	pass "externalips: gate off again restores the maps exactly"
else
	fail "externalips: gate off again restores the maps exactly" "$(head -c 2000 "$AG_TMP/diff")"
fi

# ---- restart adoption ----------------------------------------------------------
restart
expect "restart: VIP markers survive a restart" \
	"all(fe(a, 0, 'any', 'ClusterIP-any-port') is not None
	     for a in ('198.19.0.20', '198.19.0.30', '198.19.0.40'))"
# The first sync must not run before this Node is known: it would reprogram
# the node-wide maps (NodePort addresses, SNAT source) without its addresses.
if grep -q "no address known yet" "$AGENT_LOG"; then
	fail "restart: first sync waits for the Node" "$(grep -m1 "no address known" "$AGENT_LOG")"
else
	pass "restart: first sync waits for the Node"
fi
if same_snap "$AG_TMP/before.json" "$AG_TMP/stopped.json" 2>"$AG_TMP/diff"; then
	pass "restart: maps stay while no agent runs"
else
	fail "restart: maps stay while no agent runs" "$(head -c 2000 "$AG_TMP/diff")"
fi
snapshot "$AG_TMP/after.json"
if same_snap "$AG_TMP/before.json" "$AG_TMP/after.json" 2>"$AG_TMP/diff"; then
	pass "restart: adopted without change (ids, generations, tables)"
else
	fail "restart: adopted without change (ids, generations, tables)" \
		"$(head -c 2000 "$AG_TMP/diff")"
fi

# A change made while no agent runs is picked up by the next one.
agent_stop
remove svc np
apply "$(slice ext-1 ext http:TCP:8080 198.18.1.40/node1/rs 198.18.2.40/node2/rs)"
apply "$(svc lb 198.19.0.31 http:TCP:80:8080:30081 '"type": "LoadBalancer", "internalTrafficPolicy": "Local",
	"sessionAffinity": "ClientIP"')"
agent_start
agent_wait_synced
expect "restart: changes made while stopped are applied" \
	"fe('198.19.0.20', 80) is None and fe('*', 30080) is None and
	 fe('198.19.0.20', 0, 'any') is None and
	 fe('198.19.0.30', 80) is None and fe('198.19.0.30', 0, 'any') is None and
	 cl('198.19.0.31', 80) == ['198.18.1.30:8080', '198.18.2.30:8080'] and
	 fe('198.19.0.31', 0, 'any', 'ClusterIP-any-port') is not None and
	 cl('198.19.0.40', 80) == ['198.18.1.40:8080', '198.18.2.40:8080'] and
	 not any(b['address'].startswith('198.18.1.20:') for b in B) and
	 fe('203.0.113.5', 80) is not None"

# ---- bad input -------------------------------------------------------------------
rejected() {
	metrics | awk '/^xlb_objects_rejected_total\{kind="Service"/ { n += $2 } END { print n + 0 }'
}
r0=$(rejected)
snapshot "$AG_TMP/good.json"
api POST /api/v1/namespaces/default/services \
	'{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad","namespace":"default"},
	  "spec":{"type":"ClusterIP","clusterIP":"198.19.0.999","ports":[{"protocol":"TCP","port":80}]}}' \
	>/dev/null
if poll 5 eval '[ "$(rejected)" -gt "$r0" ]'; then
	pass "bad input: invalid clusterIP -> xlb_objects_rejected_total{kind=\"Service\"} rises"
else
	fail "bad input: invalid clusterIP -> xlb_objects_rejected_total{kind=\"Service\"} rises" \
		"$r0 -> $(rejected)"
fi
r1=$(rejected)
api PUT /api/v1/namespaces/default/services/ext \
	"$(svc ext 198.19.0.40 http:TCP:99999:8080 '"externalIPs": ["203.0.113.7", "203.0.113.8"]')" \
	>/dev/null
if poll 5 eval '[ "$(rejected)" -gt "$r1" ]'; then
	pass "bad input: bad update (port 99999) rejected"
else
	fail "bad input: bad update (port 99999) rejected" "$r1 -> $(rejected)"
fi
apply "$(svc other 198.19.0.50 http:TCP:80:8080)"
expect "bad input: later services still programmed" "fe('198.19.0.50', 80) is not None"
remove svc other
expect "bad input: last good versions kept" "fe('198.19.0.50', 80) is None"
snapshot "$AG_TMP/good2.json"
if agent_alive && same_snap "$AG_TMP/good.json" "$AG_TMP/good2.json" 2>"$AG_TMP/diff"; then
	pass "bad input: agent runs, maps as before the bad objects"
else
	fail "bad input: agent runs, maps as before the bad objects" "$(head -c 2000 "$AG_TMP/diff")"
fi
# Fixing the bad update applies it.
apply "$(svc ext 198.19.0.40 http:TCP:81:8080 '"externalIPs": ["203.0.113.7", "203.0.113.8"]')"
expect "bad input: corrected update applies" \
	"fe('198.19.0.40', 81) is not None and fe('198.19.0.40', 80) is None and
	 fe('203.0.113.7', 81)['gated']"

# ---- metrics and health endpoints -------------------------------------------------
metrics >"$AG_TMP/metrics.txt"
if ! command -v promtool >/dev/null; then
	skip "metrics: promtool check metrics" "promtool not installed"
elif promtool check metrics <"$AG_TMP/metrics.txt" >"$AG_TMP/promtool.out" 2>&1; then
	pass "metrics: promtool check metrics"
else
	fail "metrics: promtool check metrics" "$(head -c 1500 "$AG_TMP/promtool.out")"
fi

health_ok() {
	local out code
	out=$(ag_in curl -sS --max-time 5 -w '\n%{http_code}' "http://127.0.0.1:$HEALTHZ_PORT$1")
	code=${out##*$'\n'}
	[ "$code" = 200 ] || { echo "HTTP $code: ${out%$'\n'*}"; return 1; }
	printf '%s' "${out%$'\n'*}" | python3 -c '
import json, sys
d = json.load(sys.stdin)
need = sys.argv[1].split(",") if sys.argv[1] else []
miss = [k for k in need if k not in d]
if miss or (need and d.get("healthy") is not True) or (need and d.get("nodeEligible") is not True):
    print("fields missing or false:", miss, d)
    sys.exit(1)' "$2"
}
if out=$(health_ok /healthz lastUpdated,currentTime,nodeEligible,healthy); then
	pass "health: /healthz 200 with lastUpdated, currentTime, nodeEligible, healthy"
else
	fail "health: /healthz 200 with lastUpdated, currentTime, nodeEligible, healthy" "$out"
fi
if out=$(health_ok /livez ""); then
	pass "health: /livez 200"
else
	fail "health: /livez 200" "$out"
fi

if agent_stop; then
	pass "agent exits 0 on SIGTERM"
else
	fail "agent exits 0 on SIGTERM" "$(tail -n 5 "$AGENT_LOG")"
fi
ag_finish
