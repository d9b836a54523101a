#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A misbehaving registry for the functional tests: plain http on 127.0.0.1 (any free port).

    registry_fake.py --port-file F --log F [--layout DIR] [--redirect-loop]
                     [--cut N] [--blob-status CODE --blob-status-count N]

--layout DIR     serve an OCI image layout the way a registry v2 does, without the checks a
                 real registry makes on push (so crafted documents reach the client as they
                 are): /v2/NAME/manifests/TAG (index.json's ref.name) or /manifests/DIGEST,
                 with the descriptor's media type as Content-Type and the bytes' real digest as
                 Docker-Content-Digest; /v2/NAME/blobs/DIGEST with Range requests honoured.
--redirect-loop  every request is answered 302 to itself.
--cut N          the first N blob requests (-1: all) send their headers, half the bytes and
                 close the connection.
--blob-status C  the first --blob-status-count blob requests are answered with status C.
Each request is logged as "GET PATH range=VALUE".
"""

import argparse
import hashlib
import http.server
import json
import os
import re
import sys


def make_handler(args):
    state = {"cut": args.cut, "status": args.blob_status_count}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def reply(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def not_found(self, what):
            body = json.dumps({"errors": [{"code": what.upper() + "_UNKNOWN", "message": what + " unknown"}]})
            self.reply(404, body.encode(), [("Content-Type", "application/json")])

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            with open(args.log, "a") as f:
                f.write(f"GET {self.path} range={self.headers.get('Range', '')}\n")
            if args.redirect_loop:
                self.reply(302, b"", [("Location", self.path)])
                return
            if self.path == "/v2/":
                self.reply(200, b"{}", [("Content-Type", "application/json")])
                return
            m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", self.path)
            if not m or not args.layout:
                self.not_found("name")
                return
            kind, ref = m.group(2), m.group(3)
            if kind == "manifests":
                self.manifest(ref)
            else:
                self.blob(ref)

        def blob_file(self, digest):
            if ":" not in digest:
                return None
            algo, hex_ = digest.split(":", 1)
            path = os.path.join(args.layout, "blobs", algo, hex_)
            return path if os.path.isfile(path) else None

        def manifest(self, ref):
            media_type = None
            if ":" not in ref:
                index = json.load(open(os.path.join(args.layout, "index.json")))
                for d in index["manifests"]:
                    if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
                        media_type, ref = d.get("mediaType"), d["digest"]
                        break
                else:
                    self.not_found("manifest")
                    return
            path = self.blob_file(ref)
            if not path:
                self.not_found("manifest")
                return
            data = open(path, "rb").read()
            if not media_type:
                try:
                    media_type = json.loads(data).get("mediaType")
                except ValueError:
                    pass
            headers = [("Content-Type", media_type or "application/json"),
                       ("Docker-Content-Digest", "sha256:" + hashlib.sha256(data).hexdigest())]
            self.reply(200, data, headers)

        def blob(self, digest):
            path = self.blob_file(digest)
            if not path:
                self.not_found("blob")
                return
            if state["status"] != 0:
                state["status"] -= 1
                self.reply(args.blob_status, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}',
                           [("Content-Type", "application/json")])
                return
            data = open(path, "rb").read()
            start = 0
            rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if rng and int(rng.group(1)) < len(data):
                start = int(rng.group(1))
            body = data[start:]
            if state["cut"] != 0:
                state["cut"] -= 1
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            headers = [("Content-Type", "application/octet-stream"), ("Docker-Content-Digest", digest)]
            if start:
                headers.append(("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"))
            self.reply(206 if start else 200, body, headers)

    return Handler


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--layout")
    p.add_argument("--redirect-loop", action="store_true")
    p.add_argument("--cut", type=int, default=0)
    p.add_argument("--blob-status", type=int, default=503)
    p.add_argument("--blob-status-count", type=int, default=0)
    args = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(args))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
