# SPDX-License-Identifier: Apache-2.0
# Test image builders, from Debian's busybox-static.
#
#   make_busybox_rootfs DIR           a rootfs with busybox, its applets, /etc/passwd and /etc/group
#   make_aci OUT [NAME] [EXEC_JSON] [COMPRESS]   an ACI (tar of manifest + rootfs/); COMPRESS: none|gzip|bzip2|xz|zstd
#   make_aci_from DIR OUT [COMPRESS]  tar an ACI layout directory (manifest + rootfs/) made by hand

BUSYBOX=${BUSYBOX:-/bin/busybox}

make_busybox_rootfs() {
    local root=$1 applet
    mkdir -p "$root"/{bin,sbin,etc,tmp,proc,sys,dev,root,home/user,var/tmp}
    chmod 1777 "$root/tmp"
    cp "$BUSYBOX" "$root/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] && continue
        ln -sf busybox "$root/bin/$applet"
    done
    cat > "$root/etc/passwd" <<'EOP'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOP
    cat > "$root/etc/group" <<'EOG'
root:x:0:
daemon:x:1:
user:x:1000:
staff:x:50:user
nogroup:x:65534:
EOG
    chown 1000:1000 "$root/home/user" 2>/dev/null || true
}

# A cached busybox rootfs per test run, copied (hardlinked) by callers.
busybox_rootfs_cached() {
    local cache="${BATS_RUN_TMPDIR:-/tmp}/busybox-rootfs"
    if [ ! -d "$cache" ]; then
        local tmp
        tmp=$(mktemp -d "${cache}.XXXXXX")
        make_busybox_rootfs "$tmp/rootfs"
        mv "$tmp/rootfs" "$cache" 2>/dev/null || true
        rm -rf "$tmp"
    fi
    echo "$cache"
}

# make_aci_dir DIR [NAME] [EXEC_JSON]: an ACI layout (manifest + rootfs) in DIR.
make_aci_dir() {
    local dir=$1 name=${2:-example.com/busybox} exec=${3:-'["/bin/sh", "-c", "echo hello from busybox"]'}
    mkdir -p "$dir"
    cp -a "$(busybox_rootfs_cached)" "$dir/rootfs"
    cat > "$dir/manifest" <<EOM
{
  "acKind": "ImageManifest",
  "acVersion": "0.8.11",
  "name": "$name",
  "labels": [
    {"name": "version", "value": "1.36"},
    {"name": "os", "value": "linux"},
    {"name": "arch", "value": "amd64"}
  ],
  "app": {
    "exec": $exec,
    "user": "0",
    "group": "0",
    "environment": [{"name": "IMAGE_VAR", "value": "from-image"}],
    "mountPoints": [{"name": "data", "path": "/data"}]
  },
  "annotations": [{"name": "description", "value": "busybox test image"}]
}
EOM
}

make_aci_from() {
    local dir=$1 out=$2 compress=${3:-none}
    tar --numeric-owner -C "$dir" -cf "$out.tar" manifest rootfs
    case "$compress" in
        none) mv "$out.tar" "$out" ;;
        gzip) gzip -c "$out.tar" > "$out" && rm "$out.tar" ;;
        bzip2) bzip2 -c "$out.tar" > "$out" && rm "$out.tar" ;;
        xz) xz -T1 -c "$out.tar" > "$out" && rm "$out.tar" ;;
        zstd) zstd -q -c "$out.tar" > "$out" && rm "$out.tar" ;;
        *) echo "make_aci_from: unknown compression $compress" >&2; return 1 ;;
    esac
}

make_aci() {
    local out=$1 name=${2:-example.com/busybox} exec=${3:-} compress=${4:-none}
    local work
    work=$(mktemp -d "${out}.work.XXXXXX")
    if [ -n "$exec" ]; then
        make_aci_dir "$work" "$name" "$exec"
    else
        make_aci_dir "$work" "$name"
    fi
    make_aci_from "$work" "$out" "$compress"
    rm -rf "$work"
}
