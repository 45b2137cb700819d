#!/usr/bin/env python3
"""A backend for the net tests: answers every TCP line, UDP datagram and
SCTP DATA packet with "NAME PEER-ADDRESS PORT" so the client learns which
backend it reached, on which port, and the backend's view of the client.

usage: echo.py --name NAME [--tcp PORT]... [--udp PORT]... [--sctp PORT]... [--ready FILE]
IPv4 and IPv6 on every port; --ready is written once every socket is bound."""

import argparse
import os
import select
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sctp  # noqa: E402


def peer_str(addr):
    host = addr[0]
    return host[7:] if host.startswith("::ffff:") else host


def dual_stack(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    return s


def tcp_conn(name, conn, addr):
    reply = f"{name} {peer_str(addr)} {conn.getsockname()[1]}\n".encode()
    try:
        with conn, conn.makefile("rb") as f:
            for _ in f:
                conn.sendall(reply)
    except OSError:
        pass


def tcp_serve(name, sock):
    sock.listen(128)
    while True:
        conn, addr = sock.accept()
        threading.Thread(target=tcp_conn, args=(name, conn, addr), daemon=True).start()


def udp_serve(name, sock):
    port = sock.getsockname()[1]
    while True:
        _, addr = sock.recvfrom(2048)
        sock.sendto(f"{name} {peer_str(addr)} {port}\n".encode(), addr)


def sctp_serve(name, ports, socks):
    while True:
        ready, _, _ = select.select(list(socks), [], [])
        for s in ready:
            src, data = sctp.recv(s, socks[s])
            got = sctp.parse(data)
            if not got or got[1] not in ports:
                continue
            sport, dport, vtag, _, crc_ok = got
            text = f"{name} {src} {dport}" + ("" if crc_ok else " BADCRC")
            s.sendto(sctp.build(dport, sport, vtag, text.encode()), (src, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--tcp", type=int, action="append", default=[])
    ap.add_argument("--udp", type=int, action="append", default=[])
    ap.add_argument("--sctp", type=int, action="append", default=[])
    ap.add_argument("--ready")
    args = ap.parse_args()
    threads = [threading.Thread(target=tcp_serve,
                                args=(args.name, dual_stack(socket.SOCK_STREAM, p)))
               for p in args.tcp]
    threads += [threading.Thread(target=udp_serve,
                                 args=(args.name, dual_stack(socket.SOCK_DGRAM, p)))
                for p in args.udp]
    if args.sctp:
        socks = {sctp.open_raw(fam): fam for fam in (socket.AF_INET, socket.AF_INET6)}
        threads.append(threading.Thread(target=sctp_serve,
                                        args=(args.name, set(args.sctp), socks)))
    for t in threads:
        t.daemon = True
        t.start()
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
