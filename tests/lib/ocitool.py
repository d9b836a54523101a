#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes OCI image layouts, OCI archives and docker-archives for the tests, good and bad.

    ocitool.py build OUT SPEC.json [--format FMT]   an image (or several) from a JSON spec
    ocitool.py preset KIND OUT [--format FMT] [--rootfs DIR] [--tag TAG]
                                                      a ready-made (mostly crafted) image
    ocitool.py layer-tar OUT ENTRIES.json            one uncompressed layer tar from entries
    ocitool.py presets                               list the preset kinds

FMT is `oci` (a layout directory, the default), `oci-archive` (a tar of a layout),
`docker-archive` (`docker save` output with <id>/layer.tar files) or `docker-archive-oci`
(newer `docker save` output: manifest.json whose Layers are blobs/sha256/<hex> paths, plus
an OCI layout). `-` as a JSON file name reads standard input.

Spec (JSON):

    {"images": [IMAGE, ...]}    or one IMAGE at the top

    IMAGE: {
      "tag": "latest",                        index.json's org.opencontainers.image.ref.name (null: none)
      "name": "127.0.0.1/x:latest",           docker-archive RepoTags[0] (default "<tag-less name>:<tag>")
      "os": "linux", "architecture": "amd64", "variant": "",
      "config": {"Cmd": ["/bin/sh"], ...},   the config's "config" object (merged over the default)
      "layers": [LAYER, ...],                 bottom first
      "manifest_media_type": "...",           default: the OCI manifest type
      "config_media_type": "...",             default: the OCI config type
      "annotations": {...},                   manifest annotations
      "manifest_pad": N,                      pad the manifest with an N-byte annotation
      "manifest_digest": "wrong",             the index's descriptor names a different digest
                                              (the blob file is written under that name)
      "manifest_size_delta": N,               the index's descriptor size is off by N
      "config_digest": "wrong", "config_size_delta": N, "config_missing": true,
      "platforms": [IMAGE, ...]               instead of layers: a multi-platform image; the entry
                                              in index.json is a nested image index whose entries
                                              carry each IMAGE's platform
      "index_media_type": "..."               for "platforms": the nested index's media type
    }

    LAYER: {
      "entries": [ENTRY, ...],  and/or  "rootfs": "/host/dir" (added first, numeric owners)
      "compression": "gzip" | "none" | "zstd",   default gzip (docker-archives: none)
      "media_type": "...",                 default from the compression
      "digest": "wrong",                   the descriptor names a digest the blob does not have
      "size_delta": N,                     the descriptor's size is off by N
      "truncate": N,                       the blob file loses its last N bytes
      "missing": true                      the blob file is not written
    }

    ENTRY: {"path": "etc/x", "type": "file", "data": "text", "mode": 420, "uid": 0, "gid": 0}
      type: file | dir | symlink | hardlink | whiteout | opaque | fifo | chardev
      symlink/hardlink: "link": target; whiteout: "path" is the deleted path (written as
      DIR/.wh.NAME); opaque: "path" is the directory (written as DIR/.wh..wh..opq).

Output is deterministic: the same spec gives the same bytes.
"""
import argparse
import copy
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
REF_NAME = "org.opencontainers.image.ref.name"
MTIME = 1700000000
DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def wrong_digest(data):
    return sha256(b"not " + data)


def dumps(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


# --- layers -----------------------------------------------------------------------------------

def add_entry(tar, e):
    kind = e.get("type", "file")
    path = e["path"]
    info = tarfile.TarInfo()
    info.mtime = e.get("mtime", MTIME)
    info.uid, info.gid = e.get("uid", 0), e.get("gid", 0)
    info.uname = info.gname = ""
    if kind == "whiteout":
        head, _, base = path.rstrip("/").rpartition("/")
        info.name = (head + "/" if head else "") + ".wh." + base
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(b""))
        return
    if kind == "opaque":
        info.name = path.rstrip("/") + "/.wh..wh..opq"
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(b""))
        return
    info.name = path
    if kind == "file":
        data = e.get("data", "")
        data = data.encode() if isinstance(data, str) else bytes(data)
        if "size" in e:  # a large file of repeated data
            data = (data or b"x") * (e["size"] // max(1, len(data or b"x")))
        info.type = tarfile.REGTYPE
        info.mode = e.get("mode", 0o644)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        return
    info.mode = e.get("mode", 0o755 if kind == "dir" else 0o777 if kind == "symlink" else 0o644)
    info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                 "fifo": tarfile.FIFOTYPE, "chardev": tarfile.CHRTYPE}[kind]
    info.linkname = e.get("link", "")
    if kind == "chardev":
        info.devmajor, info.devminor = e.get("dev", (0, 0))
    tar.addfile(info)


def add_rootfs(tar, root):
    def walk(rel):
        full = os.path.join(root, rel) if rel else root
        for name in sorted(os.listdir(full)):
            yield os.path.join(rel, name) if rel else name
            sub = os.path.join(full, name)
            if os.path.isdir(sub) and not os.path.islink(sub):
                yield from walk(os.path.join(rel, name) if rel else name)

    for rel in walk(""):
        info = tar.gettarinfo(os.path.join(root, rel), arcname=rel)
        info.mtime = MTIME
        info.uname = info.gname = ""
        if info.isreg():
            with open(os.path.join(root, rel), "rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)


def layer_tar(layer):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if layer.get("rootfs"):
            add_rootfs(tar, layer["rootfs"])
        for e in layer.get("entries", []):
            add_entry(tar, e)
    return buf.getvalue()


def compress(data, how):
    if how == "none":
        return data
    if how == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            gz.write(data)
        return out.getvalue()
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, check=True, stdout=subprocess.PIPE).stdout
    raise SystemExit(f"unknown compression {how}")


def layer_media_type(how):
    return {"none": OCI_LAYER, "gzip": OCI_LAYER + "+gzip", "zstd": OCI_LAYER + "+zstd"}[how]


# --- images -----------------------------------------------------------------------------------

class Blobs:
    """Blobs to write: digest -> bytes (None: leave the file out)."""

    def __init__(self):
        self.blobs = {}

    def put(self, data, digest=None):
        digest = digest or sha256(data)
        self.blobs[digest] = data
        return digest


def descriptor(media_type, digest, size, **extra):
    d = {"mediaType": media_type, "digest": digest, "size": size}
    d.update({k: v for k, v in extra.items() if v})
    return d


def build_config(img, diff_ids):
    config = {"Env": list(DEFAULT_ENV), "Cmd": ["/bin/sh"]}
    config.update(img.get("config", {}))
    doc = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": img.get("architecture", "amd64"),
        "os": img.get("os", "linux"),
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ocitool.py"} for _ in diff_ids],
    }
    if img.get("variant"):
        doc["variant"] = img["variant"]
    return doc


def build_layers(img, blobs, default_compression):
    """Returns (descriptors, diff_ids, raw tars)."""
    descs, diff_ids, tars = [], [], []
    for layer in img.get("layers", []):
        raw = layer_tar(layer)
        how = layer.get("compression", default_compression)
        data = compress(raw, how)
        digest = sha256(data)
        if layer.get("digest") == "wrong":
            digest = wrong_digest(data)
        size = len(data) + layer.get("size_delta", 0)
        stored = data[: len(data) - layer["truncate"]] if layer.get("truncate") else data
        if not layer.get("missing"):
            blobs.put(stored, digest)
        descs.append(descriptor(layer.get("media_type", layer_media_type(how)), digest, size))
        diff_ids.append(sha256(raw) if layer.get("digest") != "wrong" else digest)
        tars.append((digest, stored, layer))
    return descs, diff_ids, tars


def build_manifest(img, blobs, default_compression="gzip"):
    """Writes an image's blobs; returns its descriptor (for index.json / a nested index)."""
    if "platforms" in img:
        entries = []
        for sub in img["platforms"]:
            d = build_manifest(sub, blobs, default_compression)
            plat = {"architecture": sub.get("architecture", "amd64"), "os": sub.get("os", "linux")}
            if sub.get("variant"):
                plat["variant"] = sub["variant"]
            d["platform"] = plat
            entries.append(d)
        mt = img.get("index_media_type", OCI_INDEX)
        doc = {"schemaVersion": 2, "mediaType": mt, "manifests": entries}
        data = dumps(doc)
        return descriptor(mt, blobs.put(data), len(data))

    descs, diff_ids, _ = build_layers(img, blobs, default_compression)
    cfg = dumps(build_config(img, diff_ids))
    cfg_digest = wrong_digest(cfg) if img.get("config_digest") == "wrong" else sha256(cfg)
    if not img.get("config_missing"):
        blobs.put(cfg, cfg_digest)
    mt = img.get("manifest_media_type", OCI_MANIFEST)
    doc = {
        "schemaVersion": 2,
        "mediaType": mt,
        "config": descriptor(img.get("config_media_type", OCI_CONFIG), cfg_digest,
                             len(cfg) + img.get("config_size_delta", 0)),
        "layers": descs,
    }
    ann = dict(img.get("annotations", {}))
    if img.get("manifest_pad"):
        ann["org.example.padding"] = "p" * img["manifest_pad"]
    if ann:
        doc["annotations"] = ann
    data = dumps(doc)
    digest = wrong_digest(data) if img.get("manifest_digest") == "wrong" else sha256(data)
    blobs.put(data, digest)
    return descriptor(mt, digest, len(data) + img.get("manifest_size_delta", 0))


def images_of(spec):
    return spec["images"] if "images" in spec else [spec]


def write_layout(spec, out):
    blobs = Blobs()
    entries = []
    for img in images_of(spec):
        d = build_manifest(img, blobs)
        tag = img.get("tag", "latest")
        if tag is not None:
            d["annotations"] = {REF_NAME: tag}
        entries.append(d)
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    for digest, data in sorted(blobs.blobs.items()):
        alg, hexpart = digest.split(":")
        os.makedirs(os.path.join(out, "blobs", alg), exist_ok=True)
        with open(os.path.join(out, "blobs", alg, hexpart), "wb") as f:
            f.write(data)
    index = spec.get("index") or {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(dumps(index))
    with open(os.path.join(out, "oci-layout"), "wb") as f:
        f.write(dumps(spec.get("oci_layout", {"imageLayoutVersion": "1.0.0"})))


def tar_add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = MTIME
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def tar_add_dir(tar, name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = MTIME
    tar.addfile(info)


def tar_tree(src, out):
    """A tar of a directory tree, sorted, members relative to it (as skopeo writes oci-archive)."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            rel = os.path.relpath(dirpath, src)
            if rel != ".":
                tar_add_dir(tar, rel)
            for name in sorted(filenames):
                with open(os.path.join(dirpath, name), "rb") as f:
                    tar_add_bytes(tar, os.path.normpath(os.path.join(rel, name)), f.read())


def write_oci_archive(spec, out):
    tmp = out + ".layout.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_layout(spec, tmp)
        tar_tree(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_docker_archive(spec, out, oci_style=False):
    """`docker save` output. Legacy: <id>/layer.tar, <id>/VERSION, <id>/json, <config-hex>.json,
    manifest.json and repositories. oci_style: blobs/sha256/<hex> + index.json + oci-layout too."""
    files = {}  # name -> bytes (or ("symlink", target))
    manifest = []
    repositories = {}
    oci_entries = []
    blobs = Blobs()
    for img in images_of(spec):
        descs, diff_ids, tars = build_layers(img, blobs, "none")
        cfg = dumps(build_config(img, diff_ids))
        cfg_hex = hashlib.sha256(cfg).hexdigest()
        layer_names = []
        parent = ""
        for digest, data, layer in tars:
            lid = hashlib.sha256((parent + digest).encode()).hexdigest()
            if oci_style:
                name = "blobs/sha256/" + digest.split(":")[1]
            else:
                name = lid + "/layer.tar"
                files[lid + "/VERSION"] = b"1.0"
                files[lid + "/json"] = dumps({"id": lid, "parent": parent} if parent else {"id": lid})
            if layer.get("missing"):
                pass
            elif layer.get("symlink_to"):
                files[name] = ("symlink", layer["symlink_to"])
            else:
                files[name] = data
            layer_names.append(name)
            parent = lid
        if not img.get("config_missing"):
            files[("blobs/sha256/" + cfg_hex) if oci_style else (cfg_hex + ".json")] = cfg
        tag = img.get("tag", "latest")
        name = img.get("name", "example.com/ocitool" + (":" + tag if tag else ""))
        entry = {"Config": ("blobs/sha256/" + cfg_hex) if oci_style else (cfg_hex + ".json"),
                 "RepoTags": [name] if name else None, "Layers": layer_names}
        manifest.append(entry)
        if oci_style:  # newer docker also writes an OCI index of the same image
            mdoc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": descriptor(OCI_CONFIG, "sha256:" + cfg_hex, len(cfg)),
                    "layers": [descriptor(OCI_LAYER, d, len(data)) for d, data, _ in tars]}
            mdata = dumps(mdoc)
            files["blobs/sha256/" + hashlib.sha256(mdata).hexdigest()] = mdata
            ann = {"io.containerd.image.name": name, REF_NAME: tag} if name else {}
            oci_entries.append(descriptor(OCI_MANIFEST, sha256(mdata), len(mdata), annotations=ann))
        if name and not oci_style:
            repo, _, t = name.rpartition(":")
            repositories.setdefault(repo, {})[t] = parent
    if spec.get("docker_manifest_raw") is not None:
        files["manifest.json"] = spec["docker_manifest_raw"].encode()
    else:
        files["manifest.json"] = dumps(manifest)
    if repositories:
        files["repositories"] = dumps(repositories)
    if oci_style:
        files["oci-layout"] = dumps({"imageLayoutVersion": "1.0.0"})
        files["index.json"] = dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": oci_entries})
    dirs = sorted({os.path.dirname(n) for n in files if os.path.dirname(n)})
    order = spec.get("docker_order")  # e.g. ["manifest.json", ...]: these first
    names = sorted(files)
    if order:
        names = [n for n in order if n in files] + [n for n in names if n not in order]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        done = set()
        for n in names:
            d = os.path.dirname(n)
            parts = d.split("/") if d else []
            for i in range(len(parts)):
                p = "/".join(parts[: i + 1])
                if p not in done and p in dirs:
                    tar_add_dir(tar, p)
                    done.add(p)
            v = files[n]
            if isinstance(v, tuple):
                info = tarfile.TarInfo(n)
                info.type = tarfile.SYMTYPE
                info.linkname = v[1]
                info.mtime = MTIME
                tar.addfile(info)
            else:
                tar_add_bytes(tar, n, v)


def write(spec, out, fmt):
    if fmt == "oci":
        write_layout(spec, out)
    elif fmt == "oci-archive":
        write_oci_archive(spec, out)
    elif fmt == "docker-archive":
        write_docker_archive(spec, out)
    elif fmt == "docker-archive-oci":
        write_docker_archive(spec, out, oci_style=True)
    else:
        raise SystemExit(f"unknown format {fmt}")


# --- presets ----------------------------------------------------------------------------------

def base_layer(rootfs):
    """A small base layer: the busybox rootfs when given, else a few files."""
    if rootfs:
        return {"rootfs": rootfs}
    return {"entries": [
        {"path": "bin", "type": "dir"},
        {"path": "etc", "type": "dir"},
        {"path": "etc/passwd", "data": "root:x:0:0:root:/root:/bin/sh\n"},
        {"path": "etc/group", "data": "root:x:0:\n"},
        {"path": "etc/hostname", "data": "crafted\n"},
    ]}


def preset(kind, rootfs, tag):
    base = base_layer(rootfs)
    img = {"tag": tag, "layers": [base]}
    lay = lambda *entries: {"entries": list(entries)}  # noqa: E731
    if kind == "simple":
        pass
    elif kind == "multilayer":  # whiteouts, an opaque dir, links across layers
        base = copy.deepcopy(base)
        base.setdefault("entries", []).extend([
            {"path": "etc/deleteme", "data": "old\n"},
            {"path": "etc/motd", "data": "motd from layer 1\n"},
            {"path": "opq", "type": "dir"},
            {"path": "opq/old", "data": "old\n"},
        ])
        img["layers"] = [
            base,
            lay({"path": "etc/layer2", "data": "layer 2\n"}, {"path": "etc/deleteme", "type": "whiteout"},
                {"path": "opq", "type": "dir"}, {"path": "opq", "type": "opaque"},
                {"path": "opq/new", "data": "new\n"}),
            lay({"path": "etc/motd-symlink", "type": "symlink", "link": "motd"},
                {"path": "etc/motd", "data": "motd from layer 1\n"},
                {"path": "etc/motd-hardlink", "type": "hardlink", "link": "etc/motd"}),
        ]
    elif kind == "hardlink-lower-layer":  # a hardlink whose target only a lower layer has
        img["layers"].append(lay({"path": "etc/passwd-link", "type": "hardlink", "link": "etc/passwd"}))
    elif kind == "digest-mismatch":  # a layer whose bytes are not what its digest says
        img["layers"].append(dict(lay({"path": "x", "data": "x\n"}), digest="wrong"))
    elif kind == "config-digest-mismatch":
        img["config_digest"] = "wrong"
    elif kind == "manifest-digest-mismatch":
        img["manifest_digest"] = "wrong"
    elif kind == "size-mismatch":  # the descriptor says the layer is longer than it is
        img["layers"].append(dict(lay({"path": "x", "data": "x\n"}), size_delta=100))
    elif kind == "size-too-small":  # the descriptor says the layer is shorter than it is
        img["layers"].append(dict(lay({"path": "x", "data": "x\n"}), size_delta=-10))
    elif kind == "truncated":  # the blob file lost its tail
        img["layers"].append(dict(lay({"path": "x", "data": "x" * 5000 + "\n"}), truncate=40))
    elif kind == "missing-blob":
        img["layers"].append(dict(lay({"path": "x", "data": "x\n"}), missing=True))
    elif kind == "missing-config":
        img["config_missing"] = True
    elif kind == "unknown-layer-type":
        img["layers"].append(dict(lay({"path": "x", "data": "x\n"}),
                                  media_type="application/vnd.example.layer.v1.tar+lz4"))
    elif kind == "foreign-layer-type":
        img["layers"].append(dict(lay({"path": "x", "data": "x\n"}),
                                  media_type="application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"))
    elif kind == "unknown-config-type":
        img["config_media_type"] = "application/vnd.example.config.v1+json"
    elif kind == "unknown-manifest-type":
        img["manifest_media_type"] = "application/vnd.example.manifest.v1+json"
    elif kind == "big-manifest":  # larger than 4 MiB
        img["manifest_pad"] = 4 * 1024 * 1024 + 1
    elif kind == "multiarch":  # amd64 + arm64 in a nested index
        img = {"tag": tag, "platforms": [
            {"architecture": "amd64", "layers": [base, lay({"path": "etc/arch", "data": "amd64\n"})]},
            {"architecture": "arm64", "variant": "v8",
             "layers": [lay({"path": "etc/arch", "data": "arm64\n"})]},
        ]}
    elif kind == "no-platform":  # an index with only arm64
        img = {"tag": tag, "platforms": [
            {"architecture": "arm64", "variant": "v8", "layers": [lay({"path": "etc/arch", "data": "arm64\n"})]},
        ]}
    elif kind == "traversal":
        img["layers"].append(lay({"path": "../escape", "data": "pwned\n"}))
    elif kind == "traversal-nested":
        img["layers"].append(lay({"path": "etc/../../escape", "data": "pwned\n"}))
    elif kind == "absolute":
        img["layers"].append(lay({"path": "/abs-escape", "data": "pwned\n"}))
    elif kind == "symlink-escape":  # link -> / in one layer, link/x in the next
        img["layers"] += [lay({"path": "link", "type": "symlink", "link": "/"}),
                          lay({"path": "link/x", "data": "pwned\n"})]
    elif kind == "symlink-escape-relative":
        img["layers"] += [lay({"path": "link", "type": "symlink", "link": "../../../../../../../../tmp"}),
                          lay({"path": "link/x", "data": "pwned\n"})]
    elif kind == "hardlink-escape":
        img["layers"].append(lay({"path": "h", "type": "hardlink", "link": "../../etc/passwd"}))
    elif kind == "hardlink-absolute":
        img["layers"].append(lay({"path": "h", "type": "hardlink", "link": "/etc/passwd"}))
    elif kind == "hardlink-through-symlink":  # symlink dir -> / in layer n, hardlink through it in n+1
        img["layers"] += [lay({"path": "sl", "type": "symlink", "link": "/etc"}),
                          lay({"path": "h", "type": "hardlink", "link": "sl/passwd"})]
    elif kind == "two-images":  # two tags in one layout
        img = {"images": [dict(img, tag="one"),
                          {"tag": "two", "layers": [base, lay({"path": "etc/two", "data": "2\n"})]}]}
    elif kind == "untagged":
        img["tag"] = None
    else:
        raise SystemExit(f"unknown preset {kind}; see `ocitool.py presets`")
    return img


PRESETS = ["simple", "multilayer", "digest-mismatch", "config-digest-mismatch", "manifest-digest-mismatch",
           "size-mismatch", "size-too-small", "truncated", "missing-blob", "missing-config",
           "unknown-layer-type", "foreign-layer-type", "unknown-config-type", "unknown-manifest-type",
           "big-manifest", "multiarch", "no-platform", "traversal", "traversal-nested", "absolute",
           "symlink-escape", "symlink-escape-relative", "hardlink-escape", "hardlink-absolute",
           "hardlink-through-symlink", "hardlink-lower-layer", "two-images", "untagged"]


def read_json(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path) as f:
        return json.load(f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="an image from a JSON spec")
    b.add_argument("out")
    b.add_argument("spec")
    b.add_argument("--format", default="oci")
    pr = sub.add_parser("preset", help="a ready-made image")
    pr.add_argument("kind")
    pr.add_argument("out")
    pr.add_argument("--format", default="oci")
    pr.add_argument("--rootfs", help="a host directory for the base layer (e.g. a busybox rootfs)")
    pr.add_argument("--tag", default="latest")
    pr.add_argument("--print-spec", action="store_true", help="print the spec instead of writing")
    lt = sub.add_parser("layer-tar", help="one uncompressed layer tar from a list of entries")
    lt.add_argument("out")
    lt.add_argument("entries")
    sub.add_parser("presets", help="list the preset kinds")
    a = p.parse_args()
    if a.cmd == "presets":
        print("\n".join(PRESETS))
    elif a.cmd == "build":
        write(read_json(a.spec), a.out, a.format)
    elif a.cmd == "preset":
        spec = preset(a.kind, a.rootfs, a.tag)
        if a.print_spec:
            print(json.dumps(spec, indent=2))
        else:
            write(spec, a.out, a.format)
    elif a.cmd == "layer-tar":
        entries = read_json(a.entries)
        with open(a.out, "wb") as f:
            f.write(layer_tar({"entries": entries}))


if __name__ == "__main__":
    main()
