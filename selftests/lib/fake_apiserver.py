#!/usr/bin/env python3
"""Scripted fake Kubernetes API server for the kube_client unit tests only.

It replays scripted responses byte-exactly, so a test can split an event over
many HTTP chunks, pack many events in one, cut a stream mid-event or answer
410/500/401/403.

Usage: fake_apiserver.py --script FILE --port-file FILE --log FILE
                         [--tls-cert PEM --tls-key PEM]
With --tls-cert the server speaks HTTPS and asks for an optional client
certificate, verified against the same PEM; the log records its CN.

The script is JSON: {"list": [RESP, ...], "watch": [RESP, ...]}. A request with
watch=true (or 1) takes the next "watch" response, any other the next "list"
one. When the list queue runs out its last response repeats; when the watch
queue runs out the watch stays open and idle until the client goes away.

RESP: {"status": 200, "body": "...", "split": N, "chunks": ["..."],
       "gap_ms": 0, "end": "ok" | "close" | "hang"}
  body is sent as HTTP chunks of N bytes (N = 0: one chunk), or chunks gives
  the chunks explicitly; each chunk is flushed on its own, gap_ms apart.
  end "ok" finishes the chunked body, "close" drops the connection without the
  final chunk (a cut stream), "hang" keeps it open until the client leaves.

Every request is appended to the log as one JSON line:
  {"n", "t" (monotonic seconds), "kind", "path", "query": {k: v}, "auth",
   "client_cn"}.
The listening port is written to the port file once the socket is bound.
"""
import argparse
import json
import os
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

HANG_LIMIT_S = 120
LIFETIME_S = 300  # a forgotten server goes away on its own


class Script:
    def __init__(self, path, log_path):
        with open(path) as f:
            self.queues = json.load(f)
        self.lock = threading.Lock()
        self.log = open(log_path, "a")
        self.n = 0
        self.used = {"list": 0, "watch": 0}

    def take(self, kind, entry):
        with self.lock:
            self.n += 1
            entry["n"] = self.n
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()
            queue = self.queues.get(kind, [])
            i = self.used[kind]
            self.used[kind] += 1
            if i < len(queue):
                return queue[i]
            if kind == "list" and queue:
                return queue[-1]
            return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        kind = "watch" if query.get("watch") in ("true", "1") else "list"
        entry = {"t": time.monotonic(), "kind": kind, "path": url.path,
                 "query": query, "auth": self.headers.get("Authorization"),
                 "client_cn": self.client_cn()}
        resp = self.server.script.take(kind, entry)
        if resp is None:
            resp = {"status": 200, "chunks": [], "end": "hang"}
        self.reply(resp)

    def client_cn(self):
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        cert = self.connection.getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return None

    def reply(self, resp):
        self.send_response(resp.get("status", 200))
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for chunk in self.chunks(resp):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            if resp.get("gap_ms"):
                time.sleep(resp["gap_ms"] / 1000.0)
        end = resp.get("end", "ok")
        if end == "ok":
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if end == "hang":
            self.wait_for_client_to_leave()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def chunks(resp):
        if "chunks" in resp:
            return [c.encode() for c in resp["chunks"] if c]
        body = resp.get("body", "").encode()
        n = resp.get("split", 0) or len(body) or 1
        return [body[i:i + n] for i in range(0, len(body), n)]

    def wait_for_client_to_leave(self):
        deadline = time.monotonic() + HANG_LIMIT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.connection], [], [], 0.05)
            if not ready:
                continue
            if not self.connection.recv(1, socket.MSG_PEEK):
                return
            time.sleep(0.05)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients hanging up mid-response is what the tests do on purpose.
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.load_verify_locations(args.tls_cert)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.script = Script(args.script, args.log)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)
    threading.Timer(LIFETIME_S, os._exit, (1,)).start()
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
