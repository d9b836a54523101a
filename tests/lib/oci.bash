# SPDX-License-Identifier: Apache-2.0
# OCI image fixtures (load after tests/lib/common.bash), made with umoci from Debian's
# busybox-static, and crafted ones from tests/lib/ocitool.py.
#
#   make_oci_busybox DIR [TAG]      an OCI image layout: busybox in one layer, Cmd ["/bin/sh"]
#   make_oci_multilayer DIR [TAG]   busybox + whiteout/opaque dir layer + cross-layer links layer:
#                                   /etc/layer2, no /etc/deleteme, /opq holds only "new",
#                                   /etc/motd-symlink -> motd, /etc/motd-hardlink (hardlink
#                                   to /etc/motd), /bin/sh-link -> /bin/busybox
#   make_oci_rootfs DIR             the busybox rootfs those images hold
#   ocitool ARGS...                 tests/lib/ocitool.py (see its --help)
#   oci_preset KIND OUT [FMT] [TAG] a crafted image (ocitool.py preset) on a small busybox base
#   oci_manifest_digest DIR [TAG]   the digest index.json gives the tag's manifest
#   oci_image_id DIR [TAG]          capsule's image ID for it ("sha256-<hex>")
#   assert_oci_store_clean          no blob, layer, tree, temp file or index row in the store
#   require_tool NAME               the test needs NAME (umoci, skopeo): fails in CI, skips elsewhere

require_tool() {
    if ! command -v "$1" >/dev/null; then
        if [ "${CI:-}" = true ]; then
            echo "this test needs $1" >&2
            return 1
        fi
        skip "needs $1"
    fi
}

OCI_APPLETS="sh echo cat true false id ls env pwd sleep test"

# make_oci_rootfs DIR: /bin/busybox and its applet symlinks, /etc/passwd (root; app 1000
# with primary group appgrp 1001), /etc/group (root, appgrp 1001, extra 1002 with member app).
make_oci_rootfs() {
    local root=$1 applet
    mkdir -p "$root"/{bin,etc,tmp,root,home/app}
    chmod 1777 "$root/tmp"
    cp "${BUSYBOX:-/bin/busybox}" "$root/bin/busybox"
    for applet in $OCI_APPLETS; do
        ln -sf busybox "$root/bin/$applet"
    done
    cat > "$root/etc/passwd" <<'EOP'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1001:app:/home/app:/bin/sh
EOP
    cat > "$root/etc/group" <<'EOG'
root:x:0:
appgrp:x:1001:
extra:x:1002:app
EOG
    chown 1000:1001 "$root/home/app"
}

# The cache of built layouts: one per bats file run (or per test run outside bats).
_oci_cache_dir() {
    local d="${BATS_FILE_TMPDIR:-${BATS_RUN_TMPDIR:-${TMPDIR:-/tmp}}}/oci-fixtures"
    mkdir -p "$d"
    echo "$d"
}

# _oci_cached NAME BUILDER: a layout built once by BUILDER DIR into the cache (tag "latest").
_oci_cached() {
    local name=$1 builder=$2 cache
    cache="$(_oci_cache_dir)/$name"
    # Built under a lock: tests running at once share the cache.
    (
        flock 9
        if [ ! -f "$cache/index.json" ]; then
            tmp=$(mktemp -d "$cache.XXXXXX")
            "$builder" "$tmp/layout" >&2 || { rm -rf "$tmp"; exit 1; }
            rm -rf "$cache"
            mv "$tmp/layout" "$cache"
            rm -rf "$tmp"
        fi
    ) 9> "$cache.lock" || return 1
    echo "$cache"
}

# _oci_copy CACHE DIR TAG: copy a cached layout to DIR, retagging "latest" as TAG.
_oci_copy() {
    local cache=$1 dir=$2 tag=$3
    mkdir -p "$(dirname "$dir")"
    cp -a "$cache" "$dir"
    if [ "$tag" != latest ]; then
        umoci tag --image "$dir:latest" "$tag" && umoci rm --image "$dir:latest"
    fi
}

# _oci_add_rootfs LAYOUT WORK: WORK/rootfs becomes a new layer of LAYOUT:latest (umoci
# unpack + repack, so that the layer is what umoci makes of a changed bundle).
_oci_add_rootfs() {
    local dir=$1 work=$2
    umoci unpack --image "$dir:latest" "$work/bundle"
    cp -a "$work/rootfs/." "$work/bundle/rootfs/"
    umoci repack --image "$dir:latest" "$work/bundle"
    rm -rf "$work/bundle"
}

_oci_build_busybox() {
    local dir=$1 work
    work=$(mktemp -d "$dir.work.XXXXXX")
    make_oci_rootfs "$work/rootfs"
    umoci init --layout "$dir"
    umoci new --image "$dir:latest"
    _oci_add_rootfs "$dir" "$work"
    umoci config --image "$dir:latest" --config.cmd /bin/sh \
        --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --os linux --architecture amd64
    umoci gc --layout "$dir"
    rm -rf "$work"
}

_oci_build_multilayer() {
    local dir=$1 work
    work=$(mktemp -d "$dir.work.XXXXXX")
    make_oci_rootfs "$work/rootfs"
    mkdir -p "$work/rootfs/opq"
    echo old > "$work/rootfs/etc/deleteme"
    echo "motd from layer 1" > "$work/rootfs/etc/motd"
    echo old > "$work/rootfs/opq/old"
    umoci init --layout "$dir"
    umoci new --image "$dir:latest"
    _oci_add_rootfs "$dir" "$work"
    # Layer 2: adds /etc/layer2, deletes /etc/deleteme (a whiteout), /opq becomes opaque.
    cat > "$work/l2.json" <<'EOJ'
[{"path": "etc", "type": "dir"},
 {"path": "etc/layer2", "data": "layer 2\n"},
 {"path": "etc/deleteme", "type": "whiteout"},
 {"path": "opq", "type": "dir"},
 {"path": "opq", "type": "opaque"},
 {"path": "opq/new", "data": "new\n"}]
EOJ
    # Layer 3: a symlink and a hardlink to a file of layer 1. As in what docker commits for
    # `ln /etc/motd /etc/motd-hardlink`, the link's target comes again with the link (its
    # link count changed); a layer whose hardlink names a file of a lower layer only is
    # the preset "hardlink-lower-layer" of ocitool.py.
    cat > "$work/l3.json" <<'EOJ'
[{"path": "etc", "type": "dir"},
 {"path": "etc/motd-symlink", "type": "symlink", "link": "motd"},
 {"path": "etc/motd", "data": "motd from layer 1\n"},
 {"path": "etc/motd-hardlink", "type": "hardlink", "link": "etc/motd"},
 {"path": "bin", "type": "dir"},
 {"path": "bin/sh-link", "type": "symlink", "link": "/bin/busybox"}]
EOJ
    ocitool layer-tar "$work/l2.tar" "$work/l2.json"
    ocitool layer-tar "$work/l3.tar" "$work/l3.json"
    umoci raw add-layer --image "$dir:latest" "$work/l2.tar"
    umoci raw add-layer --image "$dir:latest" "$work/l3.tar"
    umoci config --image "$dir:latest" \
        --config.entrypoint /bin/sh --config.entrypoint -c --config.cmd "echo hello-from-oci" \
        --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env A=1 \
        --config.workingdir /etc --config.exposedports 8080/tcp --config.volume /data \
        --config.label org.example.k=v --os linux --architecture amd64
    umoci gc --layout "$dir"
    rm -rf "$work"
}

# make_oci_busybox DIR [TAG=latest]
make_oci_busybox() {
    local cache
    cache=$(_oci_cached busybox _oci_build_busybox) || return 1
    _oci_copy "$cache" "$1" "${2:-latest}"
}

# make_oci_multilayer DIR [TAG=latest]
make_oci_multilayer() {
    local cache
    cache=$(_oci_cached multilayer _oci_build_multilayer) || return 1
    _oci_copy "$cache" "$1" "${2:-latest}"
}

ocitool() {
    python3 "$TESTS_LIB/ocitool.py" "$@"
}

# A small busybox rootfs for crafted images, built once per bats file.
_oci_rootfs_cached() {
    local cache
    cache="$(_oci_cache_dir)/rootfs"
    if [ ! -d "$cache" ]; then
        local tmp
        tmp=$(mktemp -d "$cache.XXXXXX")
        make_oci_rootfs "$tmp/rootfs"
        mv "$tmp/rootfs" "$cache" 2>/dev/null || true
        rm -rf "$tmp"
    fi
    echo "$cache"
}

# oci_preset KIND OUT [FMT=oci] [TAG=latest]: `ocitool.py preset` with the busybox rootfs as base.
oci_preset() {
    ocitool preset "$1" "$2" --format "${3:-oci}" --tag "${4:-latest}" --rootfs "$(_oci_rootfs_cached)"
}

# oci_manifest_digest DIR [TAG=latest]
oci_manifest_digest() {
    python3 - "$1" "${2:-latest}" <<'EOP'
import json, sys
index = json.load(open(sys.argv[1] + "/index.json"))
for m in index["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"])
        break
else:
    sys.exit("no tag " + sys.argv[2])
EOP
}

# oci_image_id DIR [TAG=latest]
oci_image_id() {
    local d
    d=$(oci_manifest_digest "$@") || return 1
    echo "${d/:/-}"
}

# assert_oci_store_clean: like assert_store_clean, and no OCI blob or layer either.
assert_oci_store_clean() {
    local s="$DIR/store"
    assert_empty_dir "$s/blobs/sha256"
    assert_empty_dir "$s/blobs/sha512"
    assert_empty_dir "$s/layers"
    assert_empty_dir "$s/tree"
    assert_empty_dir "$s/tmp"
    if [ -f "$s/index.db" ]; then
        local n t
        n=$(sqlite3 "$s/index.db" 'SELECT count(*) FROM images')
        if [ "$n" != 0 ]; then
            echo "expected no index rows, found $n" >&2
            return 1
        fi
        for t in $(sqlite3 "$s/index.db" "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%layer%'"); do
            n=$(sqlite3 "$s/index.db" "SELECT count(*) FROM $t")
            if [ "$n" != 0 ]; then
                echo "expected no rows in $t, found $n" >&2
                return 1
            fi
        done
    fi
}
