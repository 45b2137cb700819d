#!/usr/bin/env python3
"""Write objects to the dev API server for the net tests.

usage: api.py URL apply        < YAML documents (create, or replace if present)
       api.py URL delete KIND NAMESPACE NAME
Kinds: Service, EndpointSlice, Node (NAMESPACE '-' for Node)."""

import json
import sys
import urllib.error
import urllib.request

import yaml

PATHS = {
    "Service": "/api/v1/namespaces/{ns}/services",
    "EndpointSlice": "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
    "Node": "/api/v1/nodes",
}


def request(url, method, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        if e.code == 409 or (e.code == 404 and method == "DELETE"):
            return e.code
        raise SystemExit(f"api.py: {method} {url}: HTTP {e.code}: {e.read().decode()}")


def collection(base, kind, ns):
    if kind not in PATHS:
        raise SystemExit(f"api.py: unknown kind {kind!r}")
    return base + PATHS[kind].format(ns=ns or "default")


def apply(base):
    for obj in yaml.safe_load_all(sys.stdin):
        if not obj:
            continue
        md = obj["metadata"]
        url = collection(base, obj["kind"], md.get("namespace"))
        if request(url, "POST", obj) == 409:
            request(f"{url}/{md['name']}", "PUT", obj)


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "apply":
        apply(sys.argv[1])
    elif len(sys.argv) == 6 and sys.argv[2] == "delete":
        _, base, _, kind, ns, name = sys.argv
        request(f"{collection(base, kind, ns)}/{name}", "DELETE")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
