#!/bin/bash
# Tests of tools/devapi/xlb-devapi, the development Kubernetes API server:
# discovery, kubectl create/get/delete/watch, pagination, selectors, watch
# resumption, bookmarks, timeouts, compaction (410) and fault injection.
set -u
cd "$(dirname "$0")/../.."
DEVAPI=tools/devapi/xlb-devapi
EXAMPLES=tools/devapi/examples
TMP=$(mktemp -d /tmp/devapi-test.XXXXXX)
PIDS=()
failures=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS: devapi: $1"; }
fail() {
	echo "FAIL: devapi: $1${2:+: $2}"
	failures=$((failures + 1))
}
# check NAME COMMAND...: PASS if the command succeeds.
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>"$TMP/check.err"; then
		pass "$name"
	else
		fail "$name" "$(head -c 300 "$TMP/check.err")"
	fi
}

# json EXPR: evaluate a Python expression over the JSON document d on stdin.
json() {
	python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
# lines EXPR: the same over the list ev of JSON lines (a watch stream) on
# stdin; a partial last line is dropped.
lines() {
	python3 -c '
import json, sys
ev = []
for l in sys.stdin.read().split("\n"):
    try:
        ev.append(json.loads(l))
    except ValueError:
        pass
print(eval(sys.argv[1]))' "$1"
}

start_server() { # start_server NAME ARGS...: sets URL and SERVER_PID
	local name=$1 i
	shift
	"$DEVAPI" --port-file "$TMP/$name.port" --kubeconfig-out "$TMP/$name.kc" \
		"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	for i in $(seq 100); do
		[ -s "$TMP/$name.port" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$TMP/$name.port" ]; then
		echo "devapi did not start:" >&2
		cat "$TMP/$name.err" >&2
		return 1
	fi
	URL=http://127.0.0.1:$(cat "$TMP/$name.port")
	export KUBECONFIG=$TMP/$name.kc
}

get() { curl -sS --max-time 10 "$URL$1"; }
# code METHOD PATH [BODY]: print the HTTP status code only.
code() {
	curl -sS --max-time 10 -o "$TMP/body" -w '%{http_code}' -X "$1" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} "$URL$2"
}
post() {
	curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' \
		--data "$2" "$URL$1"
}
fault() { post /_devapi/fault "$1" >/dev/null; }
stats() { get /_devapi/stats | json "$1"; }

# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" 2>/dev/null; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}
open_watches() { [ "$(stats "d['open_watches_by_resource']['$1']")" -ge "$2" ]; }
no_watches() { [ "$(stats "d['open_watches']")" -eq 0 ]; }
file_has() { grep -q -- "$2" "$1"; }

svc_json() { # svc_json NAME IP [LABELS-JSON]
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","labels":%s},"spec":{"clusterIP":"%s","ports":[{"port":80,"protocol":"TCP"}]}}' \
		"$1" "${3:-{\}}" "$2"
}
create_svc() { post /api/v1/namespaces/default/services "$(svc_json "$@")" >/dev/null; }

start_server main --manifests "$EXAMPLES/node.yaml" --bookmark-interval 0.3 --history 50 ||
	exit 1

# --- discovery
t=discovery
if [ "$(get /api | json "d['versions']")" = "['v1']" ] &&
	[ "$(get /api/v1 | json "sorted(r['name'] for r in d['resources'] if '/' not in r['name'])")" = "['namespaces', 'nodes', 'services']" ] &&
	[ "$(get /apis | json "[g['name'] for g in d['groups']]")" = "['discovery.k8s.io']" ] &&
	[ "$(get /apis/discovery.k8s.io/v1 | json "d['resources'][0]['name']")" = endpointslices ] &&
	kubectl version -o json 2>/dev/null | grep -q xlb-devapi; then
	pass $t
else
	fail $t
fi

# --- kubectl
check "kubectl create -f service" kubectl create -f "$EXAMPLES/service.yaml"
check "kubectl create -f endpointslice" kubectl create -f "$EXAMPLES/endpointslice.yaml"
check "kubectl get svc (server-side table)" bash -c \
	'kubectl get svc web --no-headers | grep -Eq "^web +ClusterIP +198\.19\.0\.10 +<none> +80/TCP,53/UDP "'
check "kubectl get endpointslices" bash -c 'kubectl get endpointslices -A --no-headers | grep -q "web-abcde"'
t="create existing -> 409 AlreadyExists"
c=$(code POST /api/v1/namespaces/default/services "$(svc_json web 198.19.0.10)")
if [ "$c" = 409 ] && [ "$(json "d['reason'], d['code'], d['kind']" <"$TMP/body")" = "('AlreadyExists', 409, 'Status')" ]; then
	pass "$t"
else
	fail "$t" "got $c $(cat "$TMP/body")"
fi
t="object metadata (uid, rv, creationTimestamp)"
if get /api/v1/namespaces/default/services/web |
	json "all(d['metadata'].get(k) for k in ('uid', 'resourceVersion', 'creationTimestamp')) and d['kind'] == 'Service'" |
	grep -q True; then pass "$t"; else fail "$t"; fi
check "kubectl label (merge patch)" bash -c \
	'kubectl label svc web tier=front >/dev/null && kubectl get svc -l tier=front --no-headers | grep -q "^web "'

t="kubectl get svc -w sees ADDED then DELETED"
timeout 20 kubectl get svc -w --output-watch-events -o json >"$TMP/kw" 2>"$TMP/kw.err" &
kw=$!
PIDS+=("$kw")
if wait_for 10 open_watches services 1 &&
	create_svc watched 198.19.0.20 && kubectl delete svc watched >/dev/null &&
	wait_for 10 bash -c "grep -q '\"DELETED\"' '$TMP/kw'"; then
	kill "$kw" 2>/dev/null
	wait "$kw" 2>/dev/null
	seen=$(python3 -c '
import json, sys
text = open(sys.argv[1]).read()
dec, i, out = json.JSONDecoder(), 0, []
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    ev, i = dec.raw_decode(text, i)
    if ev["object"]["metadata"]["name"] == "watched":
        out.append(ev["type"])
print(" ".join(out))' "$TMP/kw")
	if [ "$seen" = "ADDED DELETED" ]; then pass "$t"; else fail "$t" "events: $seen"; fi
else
	fail "$t" "$(cat "$TMP/kw.err")"
fi

check "kubectl delete" kubectl delete -f "$EXAMPLES/endpointslice.yaml"
t="get deleted -> 404 NotFound Status"
c=$(code GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-abcde)
if [ "$c" = 404 ] && [ "$(json "d['reason']" <"$TMP/body")" = NotFound ]; then
	pass "$t"
else
	fail "$t" "got $c"
fi

# --- pagination: limit=2 pages, consistent at the first page's rv
for i in 1 2 3 4 5; do create_svc "page$i" "198.19.1.$i"; done
t="pagination limit+continue"
all=$(python3 - "$URL" <<'EOF'
import json, sys, urllib.request
url, names, token, first = sys.argv[1], [], None, None
for _ in range(20):
    q = "/api/v1/services?limit=2" + ("&continue=" + token if token else "")
    d = json.load(urllib.request.urlopen(url + q, timeout=10))
    names += [o["metadata"]["name"] for o in d["items"]]
    first = first or d["metadata"]["resourceVersion"]
    if d["metadata"]["resourceVersion"] != first:
        print("rv changed")
    if first and not token:
        # A write after the first page must not show up in later pages.
        req = urllib.request.Request(url + "/api/v1/namespaces/default/services",
            data=json.dumps({"metadata": {"name": "late"}, "spec": {}}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(req, timeout=10)
    token = d["metadata"].get("continue")
    if not token:
        break
print(" ".join(names))
EOF
)
if [ "$all" = "page1 page2 page3 page4 page5 web" ]; then pass "$t"; else fail "$t" "got: $all"; fi

# --- label selectors
create_svc headless 198.19.0.30 '{"service.kubernetes.io/headless":""}'
create_svc other-proxy 198.19.0.31 '{"service.kubernetes.io/service-proxy-name":"foo"}'
create_svc labelled 198.19.0.32 '{"app":"x","tier":"back"}'
names() { get "/api/v1/services?$1" | json "' '.join(o['metadata']['name'] for o in d['items'])"; }
t="labelSelector kube-proxy (!headless,!service-proxy-name)"
got=$(names 'labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name')
if [ "$got" = "labelled late page1 page2 page3 page4 page5 web" ]; then pass "$t"; else fail "$t" "got: $got"; fi
t="labelSelector key, key=value, key!=value, in, notin"
if [ "$(names 'labelSelector=service.kubernetes.io/headless')" = headless ] &&
	[ "$(names 'labelSelector=app%3Dx,tier')" = labelled ] &&
	[ "$(names 'labelSelector=tier!=back,tier')" = web ] &&
	names 'labelSelector=tier!=back' | grep -qw page1 &&
	! names 'labelSelector=tier!=back' | grep -qw labelled &&
	[ "$(names 'labelSelector=tier+in+(back,front)')" = "labelled web" ] &&
	[ "$(names 'labelSelector=tier+notin+(front),app')" = "labelled" ]; then
	pass "$t"
else
	fail "$t"
fi
t="bad labelSelector -> 400"
c=$(code GET '/api/v1/services?labelSelector=a%3D%3D%3D')
if [ "$c" = 400 ]; then pass "$t"; else fail "$t" "got $c"; fi

# --- field selectors
post /api/v1/nodes '{"metadata":{"name":"node2"}}' >/dev/null
t="fieldSelector metadata.name on nodes"
if [ "$(get '/api/v1/nodes?fieldSelector=metadata.name%3Dnode1' | json "[o['metadata']['name'] for o in d['items']]")" = "['node1']" ] &&
	[ "$(get '/api/v1/nodes?fieldSelector=metadata.name!%3Dnode1' | json "[o['metadata']['name'] for o in d['items']]")" = "['node2']" ] &&
	[ "$(get '/api/v1/services?fieldSelector=metadata.namespace%3Dkube-system' | json "len(d['items'])")" = 0 ] &&
	[ "$(code GET '/api/v1/nodes?fieldSelector=spec.bogus%3D1')" = 400 ]; then
	pass "$t"
else
	fail "$t"
fi

# --- watch from a resourceVersion; timeoutSeconds ends the stream
rv=$(get /api/v1/services | json "d['metadata']['resourceVersion']")
create_svc after 198.19.0.40
t="watch from rv gets subsequent events; timeoutSeconds ends stream"
start=$SECONDS
get "/api/v1/services?watch=1&resourceVersion=$rv&timeoutSeconds=1" >"$TMP/w1"
rc=$?
got=$(lines "[(e['type'], e['object']['metadata']['name']) for e in ev]" <"$TMP/w1")
if [ $rc = 0 ] && [ "$got" = "[('ADDED', 'after')]" ] && [ $((SECONDS - start)) -le 4 ]; then
	pass "$t"
else
	fail "$t" "rc $rc events $got"
fi

t="watch without rv starts with synthetic ADDED"
got=$(get "/api/v1/nodes?watch=true&timeoutSeconds=1" | lines "sorted(e['object']['metadata']['name'] for e in ev if e['type'] == 'ADDED')")
if [ "$got" = "['node1', 'node2']" ]; then pass "$t"; else fail "$t" "got $got"; fi

t="bookmark arrives"
get "/api/v1/services?watch=1&resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=2" >"$TMP/w2"
if lines "[e for e in ev if e['type'] == 'BOOKMARK'][0]['object']['metadata']['resourceVersion'] == '$(stats "d['resource_version']")'" <"$TMP/w2" |
	grep -q True; then pass "$t"; else fail "$t" "$(head -c 300 "$TMP/w2")"; fi

t="label-filtered watch: stop matching -> DELETED, match again -> ADDED"
rv=$(get /api/v1/services | json "d['metadata']['resourceVersion']")
patch() {
	curl -sS --max-time 10 -X PATCH -H 'Content-Type: application/merge-patch+json' \
		--data "$2" "$URL/api/v1/namespaces/default/services/$1" >/dev/null
}
patch labelled '{"metadata":{"labels":{"app":"y"}}}'
patch labelled '{"metadata":{"labels":{"app":"x"}}}'
patch labelled '{"spec":{"sessionAffinity":"None"}}'
got=$(get "/api/v1/services?watch=1&labelSelector=app%3Dx&resourceVersion=$rv&timeoutSeconds=1" |
	lines "' '.join(e['type'] for e in ev)")
if [ "$got" = "DELETED ADDED MODIFIED" ]; then pass "$t"; else fail "$t" "got $got"; fi

# --- compaction
t="watch from compacted rv -> ERROR 410 Expired"
token=$(get '/api/v1/services?limit=1' | json "d['metadata']['continue']")
create_svc after-compact 198.19.0.41
fault '{"action":"compact"}'
get "/api/v1/services?watch=1&resourceVersion=$rv" >"$TMP/w3"
got=$(lines "[(e['type'], e['object']['code'], e['object']['reason']) for e in ev]" <"$TMP/w3")
if [ "$got" = "[('ERROR', 410, 'Expired')]" ]; then pass "$t"; else fail "$t" "got $got"; fi
t="list continue after compaction -> HTTP 410"
c=$(code GET "/api/v1/services?limit=1&continue=$token")
if [ "$c" = 410 ] && [ "$(json "d['reason']" <"$TMP/body")" = Expired ]; then pass "$t"; else fail "$t" "got $c"; fi
t="history bound compacts (--history 50)"
for i in $(seq 60); do patch web "{\"metadata\":{\"annotations\":{\"n\":\"$i\"}}}"; done
rv=$(get /api/v1/services | json "d['metadata']['resourceVersion']")
old=$((rv - 55)) ok=$((rv - 45))
if get "/api/v1/services?watch=1&resourceVersion=$old" | grep -q '"code":410' &&
	! get "/api/v1/services?watch=1&resourceVersion=$ok&timeoutSeconds=1" | grep -q '"code":410'; then
	pass "$t"
else
	fail "$t"
fi

# --- faults
t="fault: HTTP 500 for the next request only"
fault '{"action":"error","code":500,"count":1,"path":"/api/v1/services"}'
c1=$(code GET /api/v1/services)
r1=$(json "d['reason']" <"$TMP/body")
c2=$(code GET /api/v1/services)
if [ "$c1" = 500 ] && [ "$r1" = InternalError ] && [ "$c2" = 200 ]; then pass "$t"; else fail "$t" "got $c1 $r1 $c2"; fi

t="fault: expire-watch -> ERROR 410 on next watch"
fault '{"action":"expire-watch"}'
if get "/api/v1/services?watch=1&timeoutSeconds=1" | lines "ev[0]['type'] == 'ERROR' and ev[0]['object']['code'] == 410" | grep -q True &&
	! get "/api/v1/services?watch=1&timeoutSeconds=1" | grep -q '"ERROR"'; then
	pass "$t"
else
	fail "$t"
fi

t="fault: close-watches mid-event is seen by the client"
curl -sS --max-time 20 "$URL/api/v1/nodes?watch=1&allowWatchBookmarks=true" >"$TMP/w4" 2>"$TMP/w4.err" &
cw=$!
PIDS+=("$cw")
if wait_for 10 open_watches nodes 1 && fault '{"action":"close-watches","mode":"mid-event"}' &&
	wait_for 10 bash -c "! kill -0 $cw" && wait_for 5 no_watches; then
	wait "$cw"
	rc=$?
	# curl 18: transfer closed with outstanding read data remaining.
	if [ "$rc" = 18 ] && [ -n "$(tail -c 1 "$TMP/w4")" ]; then pass "$t"; else fail "$t" "curl rc $rc"; fi
else
	fail "$t" "watch not closed"
fi

t="fault: tiny chunks, then packed events"
python3 - "$URL" <<'EOF' >"$TMP/chunks"
import json, socket, sys, time, urllib.request
host, port = sys.argv[1][len("http://"):].split(":")

def post(path, body):
    req = urllib.request.Request(sys.argv[1] + path, data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req, timeout=10).read()

def chunks(query, during=None):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(f"GET /api/v1/nodes?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    raw = b""
    if during:
        time.sleep(0.3)
        during()
    while True:
        b = s.recv(65536)
        if not b:
            break
        raw += b
    body = raw.split(b"\r\n\r\n", 1)[1]
    sizes = []
    while body:
        size, body = body.split(b"\r\n", 1)
        n = int(size, 16)
        sizes.append(n)
        body = body[n + 2:]
    return sizes

post("/_devapi/fault", {"action": "watch-chunking", "mode": "tiny", "byte_delay": 0})
tiny = chunks("watch=1&timeoutSeconds=1")
post("/_devapi/fault", {"action": "watch-chunking", "mode": "packed", "hold": 0.5})
rv = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/nodes"))["metadata"]["resourceVersion"]
mk = lambda: [post("/api/v1/nodes", {"metadata": {"name": f"burst{i}"}}) for i in range(5)]
packed = chunks(f"watch=1&resourceVersion={rv}&timeoutSeconds=2", mk)
print(len(tiny), max(tiny[:-1]), len(packed), max(packed))
EOF
read -r ntiny maxtiny npacked maxpacked <"$TMP/chunks"
# tiny: every byte of two node events is its own chunk; packed: the five
# events arrive in one chunk (one data chunk plus the terminating one).
if [ "${maxtiny:-0}" = 1 ] && [ "${ntiny:-0}" -gt 100 ] && [ "${npacked:-0}" = 2 ] &&
	[ "${maxpacked:-0}" -gt 500 ]; then
	pass "$t"
else
	fail "$t" "$(cat "$TMP/chunks")"
fi

t="client disconnect does not hurt the server"
curl -sS --max-time 20 "$URL/api/v1/services?watch=1" >/dev/null 2>&1 &
cw=$!
PIDS+=("$cw")
if wait_for 10 open_watches services 1 && kill "$cw" && wait_for 5 no_watches &&
	[ "$(code GET /version)" = 200 ]; then pass "$t"; else fail "$t"; fi

t="bad request bodies -> 400/422 Status"
if [ "$(code POST /api/v1/namespaces/default/services '{not json')" = 400 ] &&
	[ "$(code POST /api/v1/namespaces/default/services '{"kind":"Node","apiVersion":"v1"}')" = 400 ] &&
	[ "$(code POST /api/v1/namespaces/default/services '{"metadata":{}}')" = 422 ] &&
	[ "$(code PUT /api/v1/namespaces/default/services/missing '{"metadata":{"name":"missing"}}')" = 404 ] &&
	[ "$(code GET /api/v1/widgets)" = 404 ]; then
	pass "$t"
else
	fail "$t"
fi

t="SIGTERM exits cleanly"
kill -TERM "$SERVER_PID"
if wait_for 5 bash -c "! kill -0 $SERVER_PID"; then
	wait "$SERVER_PID"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -e "$TMP/main.port" ]; then pass "$t"; else fail "$t" "rc $rc"; fi
else
	fail "$t" "still running"
fi

# --- bearer token file, re-read on every request
echo secret1 >"$TMP/token"
start_server auth --token-file "$TMP/token" || exit 1
t="token file: 401 without or with a stale token"
auth() { curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$URL/api/v1/services"; }
a1=$(auth secret1)
a2=$(code GET /api/v1/services)
echo secret2 >"$TMP/token"
a3=$(auth secret1)
a4=$(auth secret2)
if [ "$a1$a2$a3$a4" = 200401401200 ]; then pass "$t"; else fail "$t" "got $a1 $a2 $a3 $a4"; fi

# --- --state: objects and the resourceVersion survive a restart
t="--state keeps objects and resourceVersion across restart"
start_server st1 --state "$TMP/state" --manifests "$EXAMPLES/node.yaml" || exit 1
create_svc kept 198.19.0.50
rv1=$(get /api/v1/services | json "d['metadata']['resourceVersion']")
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
start_server st2 --state "$TMP/state" --manifests "$EXAMPLES/node.yaml" || exit 1
rv2=$(get /api/v1/services | json "d['metadata']['resourceVersion']")
if [ "$rv2" = "$rv1" ] && [ "$(names '')" = kept ] &&
	[ "$(get /api/v1/nodes | json "len(d['items'])")" = 1 ] &&
	get "/api/v1/services?watch=1&resourceVersion=1" | grep -q '"code":410'; then
	pass "$t"
else
	fail "$t" "rv $rv1 -> $rv2"
fi

[ "$failures" -eq 0 ]
