#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Push an OCI image layout to a registry byte for byte (tests only).

    registry_push.py --registry HOST:PORT (--ca CA.pem | --plain) --user U --password P DIR[:TAG] NAME:TAG

skopeo rewrites what it copies (compression, media types); crafted images must reach the
registry exactly as tests/lib/ocitool.py wrote them. The manifest (or index: its manifests
first, by digest) of DIR's TAG (the only one when no tag is given) is pushed with the media
type its descriptor names, after the blobs it references (those the layout lacks are skipped).
Basic auth, or a bearer token when the registry asks for one. Prints the pushed digest.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class Registry:
    def __init__(self, args, name):
        self.base = ("http://" if args.plain else "https://") + args.registry
        self.name = name
        self.basic = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
        self.auth = None
        ctx = None if args.plain else ssl.create_default_context(cafile=args.ca)
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), NoRedirect())
        self.ctx = ctx

    def request(self, method, url, data=None, headers=None, retry=True):
        if not url.startswith("http"):
            url = self.base + url
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if self.auth:
            req.add_header("Authorization", self.auth)
        try:
            with self.opener.open(req) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            if e.code == 401 and retry:
                self.authenticate(e.headers.get("WWW-Authenticate", ""))
                return self.request(method, url, data, headers, False)
            return e.code, dict(e.headers), e.read()

    def authenticate(self, challenge):
        if challenge.lower().startswith("basic"):
            self.auth = self.basic
            return
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = urllib.parse.urlencode({k: params[k] for k in ("service", "scope") if k in params})
        req = urllib.request.Request(params["realm"] + "?" + query, headers={"Authorization": self.basic})
        with urllib.request.urlopen(req, context=self.ctx) as r:
            self.auth = "Bearer " + json.load(r)["token"]

    def push_blob(self, path, digest):
        status, _, _ = self.request("HEAD", f"/v2/{self.name}/blobs/{digest}")
        if status == 200:
            return
        status, headers, body = self.request("POST", f"/v2/{self.name}/blobs/uploads/", b"")
        if status != 202:
            sys.exit(f"upload {digest}: HTTP {status} {body[:200]!r}")
        location = headers["Location"]
        sep = "&" if "?" in location else "?"
        with open(path, "rb") as f:
            data = f.read()
        status, _, body = self.request("PUT", location + sep + "digest=" + digest, data,
                                       {"Content-Type": "application/octet-stream"})
        if status != 201:
            sys.exit(f"upload {digest}: HTTP {status} {body[:200]!r}")

    def push_manifest(self, ref, data, media_type):
        status, _, body = self.request("PUT", f"/v2/{self.name}/manifests/{ref}", data, {"Content-Type": media_type})
        if status != 201:
            sys.exit(f"manifest {ref}: HTTP {status} {body[:300]!r}")


def blob_path(layout, digest):
    algo, hex_ = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hex_)


def push(reg, layout, desc, ref):
    path = blob_path(layout, desc["digest"])
    data = open(path, "rb").read()
    doc = json.loads(data)
    media_type = desc.get("mediaType") or doc.get("mediaType")
    if "manifests" in doc:
        for child in doc["manifests"]:
            push(reg, layout, child, child["digest"])
    else:
        for blob in [doc.get("config")] + doc.get("layers", []):
            if blob and os.path.exists(blob_path(layout, blob["digest"])):
                reg.push_blob(blob_path(layout, blob["digest"]), blob["digest"])
    reg.push_manifest(ref, data, media_type)
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--registry", required=True)
    p.add_argument("--ca")
    p.add_argument("--plain", action="store_true")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("src")
    p.add_argument("dest")
    args = p.parse_args()
    layout, _, tag = args.src.partition(":")
    name, _, dest_tag = args.dest.rpartition(":")
    index = json.load(open(os.path.join(layout, "index.json")))
    entries = index["manifests"]
    if tag:
        entries = [m for m in entries if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    if len(entries) != 1:
        sys.exit(f"{args.src}: {len(entries)} matching manifests, expected one")
    print(push(Registry(args, name), layout, entries[0], dest_tag))


if __name__ == "__main__":
    main()
