#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A token server for a docker-registry configured with `auth: token` (tests only, 127.0.0.1).

    registry_token.py --port-file F --log F --cert C --key K --sign-cert C --sign-key K
                      --issuer I --service S --user U --password P

GET /token?service=S&scope=repository:NAME:ACTIONS answers {"token": JWT, "access_token": JWT}:
with the right basic credentials the token grants the actions asked for; without any it is an
anonymous token granting nothing (as public registries do for private repositories); wrong
credentials get 401. Tokens are RS256 JWTs signed (by `openssl dgst`) with --sign-key, whose
certificate (issued by the CA the registry trusts) travels in the header's x5c.
Each request is logged as "GET PATH authorization=basic|none".
"""

import argparse
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_of_pem(path):
    text = open(path).read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def make_token(args, subject, access):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der_of_pem(args.sign_cert)).decode()]}
    now = int(time.time())
    claims = {"iss": args.issuer, "sub": subject, "aud": args.service, "exp": now + 600, "nbf": now - 60,
              "iat": now, "jti": b64url(os.urandom(12)), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.sign_key], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return signing_input + "." + b64url(sig)


def make_handler(args, log):
    expected = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            auth = self.headers.get("Authorization")
            with open(log, "a") as f:
                f.write(f"GET {self.path} authorization={'basic' if auth else 'none'}\n")
            if url.path != "/token":
                self.send_error(404)
                return
            if auth is not None and auth != expected:
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"wrong credentials"}]}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            query = urllib.parse.parse_qs(url.query)
            access = []
            if auth is not None:
                for scope in query.get("scope", []):
                    for one in scope.split(" "):
                        parts = one.split(":")
                        if len(parts) >= 3:
                            access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                                           "actions": parts[-1].split(",")})
            token = make_token(args, args.user if auth else "", access)
            body = json.dumps({"token": token, "access_token": token, "expires_in": 600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main():
    p = argparse.ArgumentParser()
    for a in ("--port-file", "--log", "--cert", "--key", "--sign-cert", "--sign-key", "--issuer", "--service",
              "--user", "--password"):
        p.add_argument(a, required=True)
    args = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(args, args.log))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
