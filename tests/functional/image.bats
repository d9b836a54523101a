#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule image list | rm | gc | cat-manifest | export | extract | render.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store

setup() {
    capsule_setup
    make_aci "$TMP/a.aci" example.com/a
    make_aci "$TMP/b.aci" example.com/b
    A=$(fetch_insecure "$TMP/a.aci")
    B=$(fetch_insecure "$TMP/b.aci")
}
teardown() { capsule_teardown; }

# fails MESSAGE ARGS...: exit 254 with a one-line MESSAGE.
fails() {
    local msg=$1
    shift
    run cap "$@"
    assert_capsule_error "$msg"
}

@test "image list: table with short IDs, names with versions, sizes, times" {
    run cap image list
    assert_status 0
    [[ "${lines[0]}" == "ID"*"NAME"*"BLOB SIZE"*"TREE SIZE"*"IMPORTED"*"LAST USED" ]]
    [ "${#lines[@]}" = 3 ]
    assert_output_contains "${B:0:23}  example.com/b:1.36"
    assert_output_contains "${A:0:23}  example.com/a:1.36"
    [[ "$output" != *"$A"* ]]
}

@test "image list: --full, --no-legend, --fields" {
    run cap image list --full --no-legend --fields=id,name
    assert_status 0
    [ "${#lines[@]}" = 2 ]
    [ "${lines[0]}" = "$B  example.com/b:1.36" ]
    fails "image list: --fields: unknown field 'colour'" image list --fields=id,colour
    fails "image list: --format=xml: expected table or json" image list --format=xml
}

@test "image list: --format=json" {
    run --separate-stderr cap image list --format=json
    assert_status 0
    python3 - "$output" "$A" <<'PY'
import json, sys
images = json.loads(sys.argv[1])
assert len(images) == 2, images
a = [i for i in images if i["id"] == sys.argv[2]][0]
assert a["name"] == "example.com/a" and a["version"] == "1.36" and a["labels"]["os"] == "linux"
assert a["blob_size"] > 1000000 and a["tree_size"] > 1000000 and a["type"] == "aci"
assert a["import_time"].endswith("Z") and a["last_used"] is None
PY
}

@test "image rm: by ID prefix and by name; the store is clean after" {
    run cap image rm "${A:0:30}" example.com/b
    assert_status 0
    assert_store_clean
}

@test "image rm: unknown, ambiguous, and partly failing lists" {
    fails "image rm: image sha512-0000: not found in the store" image rm sha512-0000
    fails "image rm: image example.com/zzz: not found in the store" image rm example.com/zzz
    fails "image rm: image sha512-: ambiguous, it matches 2 images" image rm sha512-
    fails "image rm: image Bad_Name: not an image ID (sha512-…, sha256-…) or a valid image name" image rm Bad_Name
    # A bad reference does not stop the good ones; the exit status says something failed.
    run cap image rm sha512-0000 "$A"
    assert_status 254
    [ "$(store_count)" = 1 ]
}

@test "image rm: racing a fetch is safe" {
    make_aci "$TMP/c.aci" example.com/c
    for i in 1 2 3; do
        fetch_insecure "$TMP/c.aci" > "$TMP/fetch.out" &
        p=$!
        cap image rm example.com/c 2>/dev/null || true
        wait $p
        id=$(cat "$TMP/fetch.out")
        # Whatever the order, a listed image is complete and nothing is half-written.
        if [ "$(sqlite3 "$DIR/store/index.db" "SELECT count(*) FROM images WHERE id='$id'")" = 1 ]; then
            [ -x "$DIR/store/tree/$id/rootfs/bin/busybox" ]
            [ -f "$DIR/store/blobs/sha512/${id#sha512-}" ]
        fi
        cap image rm example.com/c 2>/dev/null || true
        assert_empty_dir "$DIR/store/tmp"
    done
}

@test "image rm and gc keep images a pod uses" {
    require_root
    uuid=$(cap --insecure-options=image prepare --stage1=fly "$A")
    fails "image rm: image $A: in use by a pod; remove the pod first" image rm "$A"
    run cap image gc --grace-period=0s
    assert_status 0
    [ "$(sqlite3 "$DIR/store/index.db" "SELECT count(*) FROM images WHERE id='$A'")" = 1 ]
    [ "$(sqlite3 "$DIR/store/index.db" "SELECT count(*) FROM images WHERE id='$B'")" = 0 ]
    cap rm "$uuid" >/dev/null
}

@test "image cat-manifest" {
    run --separate-stderr cap image cat-manifest example.com/a
    assert_status 0
    assert_output_contains '"acKind": "ImageManifest"'
    assert_output_contains '"name": "example.com/a"'
    fails "image cat-manifest: image sha512-ffff: not found in the store" image cat-manifest sha512-ffff
}

@test "image export writes the stored ACI" {
    cap image export "$A" "$TMP/out.aci"
    [ "sha512-$(sha512sum "$TMP/out.aci" | cut -d' ' -f1)" = "$A" ]
    fails "'$TMP/out.aci': already exists" image export "$A" "$TMP/out.aci"
    fails "'$TMP/nodir/out.aci': parent directory does not exist" image export "$A" "$TMP/nodir/out.aci"
}

@test "image extract and render, with and without --rootfs-only" {
    cap image extract "$A" "$TMP/x"
    [ -f "$TMP/x/manifest" ] && [ -x "$TMP/x/rootfs/bin/busybox" ]
    cap image extract --rootfs-only "$A" "$TMP/xr"
    [ -x "$TMP/xr/bin/busybox" ] && [ ! -e "$TMP/xr/manifest" ]
    cap image render "$A" "$TMP/r"
    diff -r --no-dereference "$TMP/x" "$TMP/r"
    mkdir "$TMP/empty"
    cap image render --rootfs-only "$A" "$TMP/empty"
    diff -r --no-dereference "$TMP/xr" "$TMP/empty"
    fails "already exists and is not an empty directory" image render "$A" "$TMP/r"
    fails "image extract: image sha512-ffff: not found in the store" image extract sha512-ffff "$TMP/y"
    [ ! -e "$TMP/y" ]
}

@test "image gc: keeps recent images, removes old ones, leftovers and orphans" {
    mkdir "$DIR/store/tmp/import-leftover"
    echo x > "$DIR/store/tmp/import-leftover/blob"
    echo orphan > "$DIR/store/blobs/sha512/$(printf 'e%.0s' $(seq 128))"
    mkdir -p "$DIR/store/tree/sha512-orphan/rootfs"
    run cap image gc
    assert_status 0
    [ "$(store_count)" = 2 ]
    assert_empty_dir "$DIR/store/tmp"
    [ "$(ls "$DIR/store/blobs/sha512" | wc -l)" = 2 ]
    [ ! -e "$DIR/store/tree/sha512-orphan" ]
    run cap image gc --grace-period=0s
    assert_status 0
    assert_store_clean
    fails "image gc: --grace-period: " image gc --grace-period=soon
}

@test "image rm works on a full disk" {
    require_root
    mnt="$TMP/small"
    mkdir "$mnt"
    mount -t tmpfs -o size=16m tmpfs "$mnt"
    d="$mnt/dir"
    id=$("$CAPSULE" --dir="$d" --insecure-options=image fetch "$TMP/a.aci")
    dd if=/dev/zero of="$mnt/fill" bs=1M 2>/dev/null || true
    [ "$(df --output=avail "$mnt" | tail -1)" -lt 100 ]
    run "$CAPSULE" --dir="$d" image rm "$id"
    assert_status 0
    [ -z "$(ls -A "$d/store/blobs/sha512")" ]
    [ -z "$(ls -A "$d/store/tree")" ]
    umount "$mnt"
}

@test "image: --help lists the verbs" {
    run cap image --help
    assert_status 0
    for v in list rm gc cat-manifest export extract render; do assert_output_contains "$v"; done
}
