#!/usr/bin/env python3
"""The net tests' client: each try is a new flow (new source port) and prints
one line, so a shell test can count which backends answered and what the
client saw otherwise:
  OK NAME PEER PORT the backend NAME answered on PORT and saw the client as PEER
  REFUSED           connection refused (TCP RST or ICMP port unreachable)
  TIMEOUT           nothing came back within --timeout
  ERROR TEXT        anything else (e.g. host unreachable)

usage: probe.py tcp|udp|sctp ADDR PORT [-n COUNT] [-t TIMEOUT] [--interval S] [--stamp]
                [--src ADDR]
       probe.py hold ADDR PORT -c CONNS --duration S [--interval S]
'hold' keeps CONNS TCP connections open for --duration seconds, asking on
each every --interval; prints "OPEN I NAME" per connection once each has
answered, and at the end
  HOLD I FIRST-NAME replies=N errors=N switched=N
--stamp prefixes each try's line with the wall-clock time it started."""

import argparse
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sctp  # noqa: E402


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def outcome_of(err):
    if isinstance(err, ConnectionRefusedError):
        return "REFUSED"
    if isinstance(err, socket.timeout):
        return "TIMEOUT"
    return f"ERROR {err.strerror or err}"


def try_stream(addr, port, timeout, src):
    with socket.socket(family_of(addr), socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        s.connect((addr, port))
        s.sendall(b"hello\n")
        line = s.makefile("rb").readline().decode().strip()
        return f"OK {line}" if line else "ERROR closed without an answer"


def try_dgram(addr, port, timeout, src):
    with socket.socket(family_of(addr), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        s.connect((addr, port))
        s.send(b"hello\n")
        return f"OK {s.recv(2048).decode().strip()}"


def try_sctp(addr, port, timeout, src):
    fam = family_of(addr)
    sport = random.randint(20000, 59999)
    vtag = random.getrandbits(32)
    with sctp.open_raw(fam) as s:
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        s.sendto(sctp.build(sport, port, vtag, b"hello"), (addr, 0))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(deadline - time.monotonic(), 0.001))
            src, data = sctp.recv(s, fam)
            got = sctp.parse(data)
            if src != addr or not got or got[:3] != (port, sport, vtag):
                continue
            if not got[4]:
                return "ERROR reply with a bad CRC32c"
            text = got[3].decode()
            if text.endswith("BADCRC"):
                return "ERROR the backend saw a bad CRC32c"
            return f"OK {text}"


TRIES = {"tcp": try_stream, "udp": try_dgram, "sctp": try_sctp}


def probe(args):
    for i in range(args.count):
        if i and args.interval:
            time.sleep(args.interval)
        start = time.time()
        try:
            line = TRIES[args.proto](args.addr, args.port, args.timeout, args.src)
        except OSError as e:
            line = outcome_of(e)
        print(f"{start:.3f} {line}" if args.stamp else line, flush=True)


def hold(args):
    conns = []
    for _ in range(args.conns):
        s = socket.create_connection((args.addr, args.port), timeout=args.timeout)
        conns.append({"sock": s, "file": s.makefile("rb"), "first": None,
                      "replies": 0, "errors": 0, "switched": 0})
    end = time.monotonic() + args.duration
    opened = False
    while True:
        for c in conns:
            try:
                c["sock"].sendall(b"hello\n")
                name = c["file"].readline().decode().split(" ")[0]
            except OSError:
                name = ""
            if not name:
                c["errors"] += 1
                continue
            c["replies"] += 1
            if c["first"] is None:
                c["first"] = name
            elif name != c["first"]:
                c["switched"] += 1
        if not opened:
            for i, c in enumerate(conns):
                print(f"OPEN {i} {c['first']}", flush=True)
            opened = True
        if time.monotonic() >= end:
            break
        time.sleep(args.interval)
    for i, c in enumerate(conns):
        print(f"HOLD {i} {c['first']} replies={c['replies']} errors={c['errors']} "
              f"switched={c['switched']}", flush=True)
        c["sock"].close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("proto", choices=["tcp", "udp", "sctp", "hold"])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("-n", "--count", type=int, default=1)
    ap.add_argument("-t", "--timeout", type=float, default=2.0)
    ap.add_argument("-c", "--conns", type=int, default=4)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--interval", type=float, default=0.0)
    ap.add_argument("--stamp", action="store_true")
    ap.add_argument("--src", help="source address to bind")
    args = ap.parse_args()
    if args.proto == "hold":
        if not args.interval:
            args.interval = 0.1
        hold(args)
    else:
        probe(args)


if __name__ == "__main__":
    main()
