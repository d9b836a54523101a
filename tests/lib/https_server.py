#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small file server for the functional tests, on 127.0.0.1 only.

    https_server.py --root DIR --port-file FILE --log FILE [--cert CERT --key KEY] [--port N]

Without --cert it speaks plain http. It binds --port (default 0, any free port) and
writes the port it got to --port-file once it listens. Files under --root are served with a strong ETag (their
SHA-256) and answer If-None-Match with 304. Special paths:

    /fresh/PATH       PATH, with Cache-Control: max-age=3600
    /redirect/PATH    302 to /PATH
    /redirect/URL     302 to URL (http://… or https://…)
    /loop             302 to /loop, forever
    /truncate/PATH    PATH's headers, then half its bytes, then the connection is closed
    /auth/PATH        PATH, only with an Authorization header given by --auth (else 401)
    PATH?ac-discovery=1  appc discovery: the file discovery/PATH.html (/discovery.html for /)
    anything missing  404 Not Found

Each request is logged as one line: "METHOD PATH if-none-match=VALUE authorization=VALUE".
"""

import argparse
import hashlib
import http.server
import os
import ssl
import sys


def make_handler(root, log, auth):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "capsule-test"

        def log_message(self, fmt, *args):
            pass

        def send_file(self, rel, extra_headers, truncate=False):
            path = os.path.realpath(os.path.join(root, rel.lstrip("/")))
            if not path.startswith(os.path.realpath(root) + os.sep) or not os.path.isfile(path):
                self.send_error(404, "Not Found")
                return
            with open(path, "rb") as f:
                data = f.read()
            etag = '"' + hashlib.sha256(data).hexdigest() + '"'
            headers = [("ETag", etag)] + extra_headers
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Type", "application/octet-stream")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if truncate:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)

        def redirect(self, to):
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            with open(log, "a") as f:
                f.write("%s %s if-none-match=%s authorization=%s\n" % (
                    self.command, self.path, self.headers.get("If-None-Match", ""),
                    self.headers.get("Authorization", "")))
            p, _, query = self.path.partition("?")
            if "ac-discovery=1" in query.split("&"):
                self.send_file("/discovery" + p.rstrip("/") + ".html", [])
            elif p == "/loop":
                self.redirect("/loop")
            elif p.startswith("/truncate/"):
                self.send_file(p[len("/truncate"):], [], truncate=True)
            elif p.startswith("/auth/"):
                if self.headers.get("Authorization") in auth:
                    self.send_file(p[len("/auth"):], [])
                else:
                    self.send_error(401, "Unauthorized")
            elif p.startswith("/redirect/http"):
                self.redirect(p[len("/redirect/"):])
            elif p.startswith("/redirect/"):
                self.redirect(p[len("/redirect"):])
            elif p.startswith("/fresh/"):
                self.send_file(p[len("/fresh"):], [("Cache-Control", "max-age=3600")])
            else:
                self.send_file(p, [])

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth", action="append", default=[])
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(a.root, a.log, a.auth))
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = a.port_file + ".new"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
