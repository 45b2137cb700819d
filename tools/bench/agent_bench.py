#!/usr/bin/env python3
"""Objects for `make bench-agent`: N ClusterIP Services with one EndpointSlice
of E endpoints each, as a JSON List for xlb-devapi --manifests, and the EndpointSlice
churn that the change-latency run writes to the dev API server.

Addresses stay in the reserved test ranges. 198.19.0.0/16 holds 65534
ClusterIPs, fewer than 100k Services, so Service i uses ClusterIP number
i // 2 and port 80 + i % 2: every Service still has its own (ClusterIP,
port) frontend, and pairs of Services share a VIP marker. Endpoints come
from 198.18.0.0/17 (reused modulo its size: backends are per Service port,
so a repeated address is just another backend); the churn's new endpoint
addresses come from 198.18.128.0/17, unused before, so the probe can tell
a change by its address alone.

  agent_bench.py objects N FILE.json      write the objects
  agent_bench.py plan N COUNT FILE        the churn plan: "i svc ip port new_ip new_port"
  agent_bench.py churn URL PLAN RATE T0_NS    PUT change k at T0_NS + k / RATE
  agent_bench.py report N T_START_NS AGENT_LOG EVENT_LOG PCAP PLAN PROBE_OUT
                 HWM_PROGRAMMED_KIB HWM_END_KIB T_RESTART_NS RESTART_LOG
                 HWM_RESTART_KIB                   one run's results (JSON line)
  agent_bench.py pcap-events PCAP        how many watch events the capture holds
  agent_bench.py table RESULTS          Markdown table: median [min-max] of the runs
"""

import collections
import http.client
import ipaddress
import json
import math
import os
import re
import statistics
import struct
import sys
import time
from urllib.parse import urlsplit

NS = "bench"
ENDPOINTS = 10
TARGET_PORT = 8080
SVC_BASE = int(ipaddress.IPv4Address("198.19.0.1"))
EP_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
EP_SPAN = 1 << 15			# 198.18.0.0/17
CHURN_BASE = int(ipaddress.IPv4Address("198.18.128.0"))
NODE_IP = "192.0.2.1"


def ip(n):
    return str(ipaddress.IPv4Address(n))


def svc_frontend(i):
    return ip(SVC_BASE + i // 2), 80 + i % 2


def service(i):
    cip, port = svc_frontend(i)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"svc-{i}", "namespace": NS},
            "spec": {"type": "ClusterIP", "clusterIP": cip, "clusterIPs": [cip],
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "selector": {"app": f"svc-{i}"}, "sessionAffinity": "None",
                     "ports": [{"name": "http", "protocol": "TCP", "port": port,
                                "targetPort": TARGET_PORT}]}}


def endpoint(addr):
    # On another node: no local endpoints, one selection table per Service.
    return {"addresses": [addr], "nodeName": "node2",
            "conditions": {"ready": True, "serving": True, "terminating": False}}


def slice_obj(i, first=None):
    """Service i's slice; first replaces the first endpoint's address."""
    addrs = [ip(EP_BASE + (i * ENDPOINTS + j) % EP_SPAN) for j in range(ENDPOINTS)]
    if first:
        addrs[0] = first
    md = {"name": f"svc-{i}-abcde", "namespace": NS, "labels": {
        "kubernetes.io/service-name": f"svc-{i}",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": md,
            "addressType": "IPv4", "endpoints": [endpoint(a) for a in addrs],
            "ports": [{"name": "http", "protocol": "TCP", "port": TARGET_PORT}]}


def node():
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1"}},
            "spec": {"podCIDR": "198.18.0.0/16", "podCIDRs": ["198.18.0.0/16"]},
            "status": {"addresses": [{"type": "InternalIP", "address": NODE_IP},
                                     {"type": "Hostname", "address": "node1"}]}}


def write_objects(n, path):
    items = [node()] + [service(i) for i in range(n)] + [slice_obj(i) for i in range(n)]
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f,
                  separators=(",", ":"))


def churn_service(k, n):
    """The Service change k touches: spread over all Services, each once
    while k < n (a stride coprime with n)."""
    stride = 7919 if n % 7919 else 7907
    return (k * stride) % n


def write_plan(n, count, path):
    if count > 1 << 15:
        raise SystemExit("agent_bench.py: at most 32768 changes per run")
    with open(path, "w") as f:
        for k in range(count):
            i = churn_service(k, n)
            cip, port = svc_frontend(i)
            f.write(f"{k} {i} {cip} {port} {ip(CHURN_BASE + k)} {TARGET_PORT}\n")


def churn(url, plan, rate, t0_ns):
    """One PUT per planned change, change k at T0 + k / rate (wall clock)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    path = f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices/"
    late = 0
    with open(plan) as f:
        rows = [line.split() for line in f]
    for k, i, _, _, new_ip, _ in rows:
        k, i = int(k), int(i)
        delay = (t0_ns - time.time_ns()) / 1e9 + k / rate
        if delay > 0:
            time.sleep(delay)
        elif delay < -1 / rate:
            late += 1
        conn.request("PUT", f"{path}svc-{i}-abcde", json.dumps(slice_obj(i, first=new_ip)),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit(f"agent_bench.py: PUT svc-{i}-abcde: HTTP {resp.status}: "
                             f"{body[:200]!r}")
    took = (time.time_ns() - t0_ns) / 1e9
    print(f"churn: {len(rows)} changes in {took:.2f} s, {late} sent over one period late")


# ---------------------------------------------------------------- results

FIRST_SYNC = re.compile(r"^I (\d\d):(\d\d):(\d\d)\.(\d{3}) xlb: first sync done: (\d+) "
                        r"services, (\d+) map writes in ([\d.]+) s, ([\d.]+) s after")


def first_sync(agent_log, t_start):
    """(wall time of the first sync's log line, services, map writes, the
    agent's own "after the last LIST ended"). The log has UTC H:M:S.ms."""
    with open(agent_log) as f:
        for line in f:
            m = FIRST_SYNC.match(line)
            if not m:
                continue
            h, mi, sec, ms = (int(x) for x in m.groups()[:4])
            day = t_start - t_start % 86400
            t = day + h * 3600 + mi * 60 + sec + ms / 1000
            if t < t_start - 43200:
                t += 86400
            return t, int(m.group(5)), int(m.group(6)), float(m.group(8))
    raise SystemExit(f"agent_bench.py: {agent_log}: no 'first sync done' line")


def list_ends(path):
    """Wall times at which devapi had written the last page of a Services or
    EndpointSlices LIST (its --event-log)."""
    with open(path) as f:
        return [int(w[0]) / 1e9 for w in (line.split() for line in f)
                if w[1] == "list" and w[2] in ("services", "endpointslices") and w[4] == "0"]


PCAP_NS_MAGIC = 0xA1B23C4D
WATCH_EVENT = re.compile(rb'\{"type":"MODIFIED","object":\{"kind":"EndpointSlice".*?'
                         rb'"name":"(svc-\d+-abcde)"')


def pcap_writes(path):
    """Slice name -> kernel timestamps (ns) of the loopback packets carrying
    its MODIFIED watch events, from a nanosecond pcap of the API server's
    side of its connections (Ethernet framing, as Linux gives for lo)."""
    writes = collections.defaultdict(list)
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24 or struct.unpack("<I", hdr[:4])[0] != PCAP_NS_MAGIC:
            raise SystemExit(f"agent_bench.py: {path}: not a little-endian nanosecond pcap")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            sec, nsec, incl, _ = struct.unpack("<IIII", rec)
            pkt = f.read(incl)
            ip_off = 14
            if len(pkt) < ip_off + 20 or pkt[ip_off] >> 4 != 4:
                continue
            tcp_off = ip_off + (pkt[ip_off] & 15) * 4
            payload = pkt[tcp_off + (pkt[tcp_off + 12] >> 4) * 4:]
            for m in WATCH_EVENT.finditer(payload):
                writes[m.group(1).decode()].append(sec * 10**9 + nsec)
    return writes


def percentile(sorted_v, p):
    """Nearest-rank percentile."""
    return sorted_v[max(0, math.ceil(p / 100 * len(sorted_v)) - 1)]


def latencies(plan, probe_out, writes):
    """Per change: probe's seen time minus the write of its watch event.
    Each slice's MODIFIED events are matched to its planned changes in order."""
    with open(probe_out) as f:
        seen = {int(w[0]): int(w[1]) for w in (line.split() for line in f) if len(w) == 2}
    out, missing = [], 0
    used = collections.Counter()
    with open(plan) as f:
        for line in f:
            k, i = (int(x) for x in line.split()[:2])
            name = f"svc-{i}-abcde"
            times = writes.get(name, [])
            nth = used[name]
            used[name] += 1
            if nth >= len(times) or seen.get(k, -1) < 0:
                missing += 1
                continue
            out.append((seen[k] - times[nth]) / 1e6)
    return sorted(out), missing


def report(argv):
    """One run's results as a JSON line."""
    (n, t_start, agent_log, event_log, pcap, plan, probe_out, hwm_prog, hwm_end,
     t_restart, restart_log, hwm_restart) = argv
    t_start = int(t_start) / 1e9
    t_done, services, writes_n, own = first_sync(agent_log, t_start)
    t_restart = int(t_restart) / 1e9
    t_resynced, _, restart_writes, _ = first_sync(restart_log, t_restart)
    last_list = max((t for t in list_ends(event_log) if t <= t_done), default=float("nan"))
    lat, missing = latencies(plan, probe_out, pcap_writes(pcap))
    res = {"n": int(n), "services": services, "total_s": t_done - t_start,
           "after_list_s": t_done - last_list, "agent_after_list_end_s": own,
           "map_writes": writes_n, "rss_programmed_mib": int(hwm_prog) / 1024,
           # VmHWM is read lazily: a later reading can be a little lower.
           "rss_peak_mib": max(int(hwm_prog), int(hwm_end)) / 1024, "changes": len(lat), "missing": missing,
           "p50_ms": percentile(lat, 50) if lat else float("nan"),
           "p99_ms": percentile(lat, 99) if lat else float("nan"),
           "max_ms": lat[-1] if lat else float("nan"),
           "restart_s": t_resynced - t_restart, "restart_writes": restart_writes,
           "restart_rss_mib": int(hwm_restart) / 1024,
           "loadavg_1m": float(open("/proc/loadavg").read().split()[0])}
    print(json.dumps(res))


COLUMNS = [("total_s", "start -> programmed (s)", "{:.3f}"),
           ("after_list_s", "after last LIST byte (s)", "{:.3f}"),
           ("map_writes", "map writes", "{:.0f}"),
           ("rss_peak_mib", "peak RSS (MiB)", "{:.1f}"),
           ("p50_ms", "change p50 (ms)", "{:.2f}"),
           ("p99_ms", "change p99 (ms)", "{:.2f}"),
           ("restart_s", "restart -> synced (s)", "{:.3f}"),
           ("restart_writes", "restart map writes", "{:.0f}"),
           ("restart_rss_mib", "restart peak RSS (MiB)", "{:.1f}")]


def table(path):
    """Markdown table: median of the runs, [min-max] under it."""
    by_n = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            by_n[r["n"]].append(r)
    print("| Services | runs | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---:|---:|" + "---:|" * len(COLUMNS))
    for n in sorted(by_n):
        runs = by_n[n]
        cells = []
        for key, _, fmt in COLUMNS:
            v = sorted(r[key] for r in runs)
            cells.append(f"{fmt.format(statistics.median(v))} "
                         f"[{fmt.format(v[0])}-{fmt.format(v[-1])}]")
        print(f"| {n} | {len(runs)} | " + " | ".join(cells) + " |")
    loads = sorted(r["loadavg_1m"] for rs in by_n.values() for r in rs)
    print(f"\nhost: {os.cpu_count()} CPUs, 1-minute load average {loads[0]:.2f}-{loads[-1]:.2f} "
          f"at the end of the runs")
    bad = [r for rs in by_n.values() for r in rs if r["missing"]]
    for r in bad:
        print(f"\nwarning: {r['n']} Services: {r['missing']} change(s) not seen by the probe")


def main(argv):
    if len(argv) == 4 and argv[1] == "objects":
        write_objects(int(argv[2]), argv[3])
    elif len(argv) == 5 and argv[1] == "plan":
        write_plan(int(argv[2]), int(argv[3]), argv[4])
    elif len(argv) == 6 and argv[1] == "churn":
        churn(argv[2], argv[3], float(argv[4]), int(argv[5]))
    elif len(argv) == 14 and argv[1] == "report":
        report(argv[2:])
    elif len(argv) == 3 and argv[1] == "pcap-events":
        print(sum(len(v) for v in pcap_writes(argv[2]).values()))
    elif len(argv) == 3 and argv[1] == "table":
        table(argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
