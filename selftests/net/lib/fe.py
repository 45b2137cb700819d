#!/usr/bin/env python3
"""Read `xlb services -o json` on stdin and print the backends a frontend
selects, sorted and space-separated, or "absent" when no such frontend.

usage: fe.py ADDR PORT PROTO [cluster|local|gated]
ADDR "*4" or "*6" is a NodePort (any NodePort address of the family).
'gated' prints "gated" or "open" instead of backends."""

import json
import sys


def main():
    addr, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3].upper()
    what = sys.argv[4] if len(sys.argv) > 4 else "cluster"
    try:
        fes = json.load(sys.stdin)
    except ValueError:
        fes = []
    family = None
    if addr in ("*4", "*6"):
        addr, family = "*", int(addr[1])
    for fe in fes:
        if family and fe["family"] != family:
            continue
        if fe["address"] == addr and fe["port"] == port and fe["protocol"].upper() == proto:
            if what == "gated":
                print("gated" if fe.get("gated") else "open")
            else:
                print(" ".join(sorted(fe.get(what, []))) or "-")
            return
    print("absent")


if __name__ == "__main__":
    main()
