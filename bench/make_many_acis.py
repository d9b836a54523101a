#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes N tiny, distinct ACIs (manifest + rootfs with one file) for the image list benchmark."""
import io
import json
import os
import sys
import tarfile


def add(tar, name, data=None, mode=0o644, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        manifest = {
            "acKind": "ImageManifest",
            "acVersion": "0.8.11",
            "name": f"bench.local/many-{i}",
            "labels": [{"name": "version", "value": "1.0"}, {"name": "os", "value": "linux"},
                       {"name": "arch", "value": "amd64"}],
            "app": {"exec": ["/bin/true"], "user": "0", "group": "0"},
        }
        with tarfile.open(os.path.join(out, f"many-{i:05d}.aci"), "w") as tar:
            add(tar, "manifest", json.dumps(manifest).encode())
            add(tar, "rootfs", mode=0o755, kind=tarfile.DIRTYPE)
            add(tar, "rootfs/id", f"{i}\n".encode())


if __name__ == "__main__":
    main()
