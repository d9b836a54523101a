#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Crafts ACIs (tars) for the store's tests: malicious ones and broken ones.

    tars.py KIND OUT [ARG]

Every kind has a valid manifest (unless the kind is about the manifest), so the failure
comes from what the kind is about. ARG is a path outside the target for escape kinds.
"""
import io
import json
import sys
import tarfile

MANIFEST = {
    "acKind": "ImageManifest",
    "acVersion": "0.8.11",
    "name": "example.com/crafted",
    "labels": [{"name": "version", "value": "1"}, {"name": "os", "value": "linux"},
               {"name": "arch", "value": "amd64"}],
    "app": {"exec": ["/bin/true"], "user": "0", "group": "0"},
}


def entry(tar, name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, dev=(0, 0)):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.devmajor, info.devminor = dev
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def manifest(tar, doc=None, raw=None):
    data = raw if raw is not None else json.dumps(doc or MANIFEST).encode()
    entry(tar, "manifest", data=data)


def rootfs(tar):
    entry(tar, "rootfs", tarfile.DIRTYPE, mode=0o755)


def build(kind, tar, arg):
    if kind == "dotdot":
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/../../" + arg.lstrip("/"), data=b"pwned\n")
    elif kind == "absolute":
        manifest(tar), rootfs(tar)
        entry(tar, arg, data=b"pwned\n")
    elif kind == "symlink-absolute":  # rootfs/escape -> /outside/dir, then write through it
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/escape", tarfile.SYMTYPE, link=arg)
        entry(tar, "rootfs/escape/pwned", data=b"pwned\n")
    elif kind == "symlink-relative":  # rootfs/escape -> ../../../../..<arg>
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/escape", tarfile.SYMTYPE, link="../" * 32 + arg.lstrip("/"))
        entry(tar, "rootfs/escape/pwned", data=b"pwned\n")
    elif kind == "symlink-chain":  # a -> b, b -> outside, through a
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/b", tarfile.SYMTYPE, link=arg)
        entry(tar, "rootfs/a", tarfile.SYMTYPE, link="b")
        entry(tar, "rootfs/a/pwned", data=b"pwned\n")
    elif kind == "symlink-replace":  # rootfs/x -> outside file, then a regular file x
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/x", tarfile.SYMTYPE, link=arg)
        entry(tar, "rootfs/x", data=b"inside\n")
    elif kind == "hardlink-absolute":
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/h", tarfile.LNKTYPE, link=arg)
    elif kind == "hardlink-dotdot":
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/h", tarfile.LNKTYPE, link="rootfs/../../" + arg.lstrip("/"))
    elif kind == "hardlink-through-symlink":  # link target's parent is a symlink out
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/etc", tarfile.SYMTYPE, link=arg)
        entry(tar, "rootfs/h", tarfile.LNKTYPE, link="rootfs/etc/target")
    elif kind == "rootfs-symlink":
        manifest(tar)
        entry(tar, "rootfs", tarfile.SYMTYPE, link=arg)
        entry(tar, "rootfs/pwned", data=b"pwned\n")
    elif kind == "device":
        manifest(tar), rootfs(tar)
        entry(tar, "rootfs/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
    elif kind == "no-manifest":
        rootfs(tar)
        entry(tar, "rootfs/file", data=b"x\n")
    elif kind == "bad-json":
        manifest(tar, raw=b"{ not json")
        rootfs(tar)
    elif kind == "wrong-kind":
        manifest(tar, dict(MANIFEST, acKind="PodManifest"))
        rootfs(tar)
    elif kind == "bad-name":
        manifest(tar, dict(MANIFEST, name="Example.com/Bad_Name"))
        rootfs(tar)
    elif kind == "bad-exec":
        manifest(tar, dict(MANIFEST, app=dict(MANIFEST["app"], exec=["bin/true"])))
        rootfs(tar)
    elif kind == "no-rootfs":
        manifest(tar)
    else:
        sys.exit(f"tars.py: unknown kind {kind}")


def main():
    kind, out = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else "/tmp/capsule-test-outside"
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        build(kind, tar, arg)


if __name__ == "__main__":
    main()
