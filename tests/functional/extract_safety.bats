#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Crafted tars (tests/lib/tars.py) cannot write outside the image's rootfs, and leave
# nothing in the store when refused.

load ../lib/common
load ../lib/store

setup() {
    capsule_setup
    OUT="$TMP/outside"
    mkdir -p "$OUT"
    echo original > "$OUT/target"
    snapshot_outside
}
teardown() { capsule_teardown; }

snapshot_outside() {
    (cd "$OUT" && find . -printf '%p %s %m %T@\n' | sort && cat target) > "$TMP/outside.before"
}

assert_outside_unchanged() {
    (cd "$OUT" && find . -printf '%p %s %m %T@\n' | sort && cat target) > "$TMP/outside.after"
    diff "$TMP/outside.before" "$TMP/outside.after"
}

# refused KIND MESSAGE: the crafted image is refused with MESSAGE, outside and store untouched.
refused() {
    crafted "$1" "$TMP/evil.aci" "$OUT"
    run cap --insecure-options=image fetch "$TMP/evil.aci"
    assert_status 254
    assert_one_line
    assert_output_contains "capsule: fetch $TMP/evil.aci: '$TMP/evil.aci': "
    assert_output_contains "$2"
    assert_outside_unchanged
    assert_store_clean
}

@test "extract: '..' in a path is refused" {
    refused dotdot "entry 'rootfs/../..$OUT': path contains '..'"
}

@test "extract: an absolute path is refused" {
    refused absolute "entry '$OUT': absolute path"
}

@test "extract: writing through an absolute symlink out of the rootfs is refused" {
    refused symlink-absolute "entry 'rootfs/escape/pwned': path leaves the rootfs through a symlink"
}

@test "extract: writing through a relative symlink climbing out is refused" {
    refused symlink-relative "entry 'rootfs/escape/pwned': path leaves the rootfs through a symlink"
}

@test "extract: writing through a chain of symlinks out is refused" {
    refused symlink-chain "entry 'rootfs/a/pwned': path leaves the rootfs through a symlink"
}

@test "extract: a hardlink to an absolute target is refused" {
    refused hardlink-absolute "entry 'rootfs/h': hardlink target '$OUT': absolute path"
}

@test "extract: a hardlink with '..' in its target is refused" {
    refused hardlink-dotdot "hardlink target 'rootfs/../..$OUT': path contains '..'"
}

@test "extract: a hardlink through a symlinked directory is refused" {
    refused hardlink-through-symlink "entry 'rootfs/h': path leaves the rootfs through a symlink"
}

@test "extract: rootfs itself as a symlink is refused" {
    refused rootfs-symlink "entry 'rootfs': rootfs is not a directory"
}

@test "extract: a symlink replaced by a file is replaced, not written through" {
    crafted symlink-replace "$TMP/x.aci" "$OUT/target"
    run cap --insecure-options=image fetch "$TMP/x.aci"
    assert_status 0
    assert_outside_unchanged
    [ "$(cat "$DIR/store/tree/$output/rootfs/x")" = inside ]
}

@test "extract: device nodes are created when running as root" {
    require_root
    crafted device "$TMP/dev.aci"
    run cap --insecure-options=image fetch "$TMP/dev.aci"
    assert_status 0
    [ -c "$DIR/store/tree/$output/rootfs/null" ]
}

@test "extract: image extract re-checks the blob with the same rules" {
    make_aci "$TMP/a.aci"
    id=$(cap --insecure-options=image fetch "$TMP/a.aci")
    # Swap the stored blob for an evil one: extract must refuse it and leave no DEST.
    crafted symlink-absolute "$DIR/store/blobs/sha512/${id#sha512-}" "$OUT"
    run cap image extract "$id" "$TMP/dest"
    assert_status 254
    assert_one_line
    assert_output_contains "path leaves the rootfs through a symlink"
    [ ! -e "$TMP/dest" ]
    [ -z "$(ls -A "$TMP" | grep '^\.dest' || true)" ]
    assert_outside_unchanged
}
