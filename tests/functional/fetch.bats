#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule fetch: local ACIs into the store; every bad input fails cleanly.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store

setup() { capsule_setup; }
teardown() { capsule_teardown; }

# fails_cleanly MESSAGE ARGS...: fetch fails with exit 254, a one-line MESSAGE, nothing stored.
fails_cleanly() {
    local msg=$1
    shift
    run cap "$@"
    assert_capsule_error "$msg"
    assert_store_clean
}

@test "fetch: a plain ACI prints its full ID, the sha512 of the tar" {
    make_aci "$TMP/a.aci"
    run fetch_insecure "$TMP/a.aci"
    assert_status 0
    expected="sha512-$(sha512sum "$TMP/a.aci" | cut -d' ' -f1)"
    [ "$output" = "$expected" ]
    [ -f "$DIR/store/blobs/sha512/${expected#sha512-}" ]
    [ -x "$DIR/store/tree/$expected/rootfs/bin/busybox" ]
    [ -f "$DIR/store/tree/$expected/manifest" ]
    assert_empty_dir "$DIR/store/tmp"
}

@test "fetch: every compression gives the ID of the uncompressed tar" {
    make_aci "$TMP/plain.aci"
    expected="sha512-$(sha512sum "$TMP/plain.aci" | cut -d' ' -f1)"
    for c in gzip bzip2 xz zstd; do
        case $c in
            gzip) gzip -c "$TMP/plain.aci" > "$TMP/x.$c" ;;
            bzip2) bzip2 -c "$TMP/plain.aci" > "$TMP/x.$c" ;;
            xz) xz -T1 -c "$TMP/plain.aci" > "$TMP/x.$c" ;;
            zstd) zstd -q -c "$TMP/plain.aci" > "$TMP/x.$c" ;;
        esac
        run fetch_insecure "$TMP/x.$c"
        assert_status 0
        [ "$output" = "$expected" ]
    done
    [ "$(store_count)" = 1 ]
}

@test "fetch: re-fetching is a no-op that prints the same ID" {
    make_aci "$TMP/a.aci"
    id=$(fetch_insecure "$TMP/a.aci")
    run fetch_insecure "$TMP/a.aci"
    assert_status 0
    [ "$output" = "$id" ]
    # A copy (new origin) and --pull-policy=update re-read it, same ID, one copy stored.
    cp "$TMP/a.aci" "$TMP/copy.aci"
    [ "$(fetch_insecure "$TMP/copy.aci")" = "$id" ]
    [ "$(fetch_insecure --pull-policy=update "$TMP/a.aci")" = "$id" ]
    [ "$(store_count)" = 1 ]
    [ "$(ls "$DIR/store/blobs/sha512" | wc -l)" = 1 ]
    assert_empty_dir "$DIR/store/tmp"
}

@test "fetch: several images, one ID per line, nothing else on stdout" {
    make_aci "$TMP/a.aci" example.com/a
    make_aci "$TMP/b.aci" example.com/b '' gzip
    run --separate-stderr fetch_insecure "$TMP/a.aci" "$TMP/b.aci"
    assert_status 0
    [ "${#lines[@]}" = 2 ]
    [[ "${lines[0]}" =~ ^sha512-[0-9a-f]{128}$ ]]
    [[ "${lines[1]}" =~ ^sha512-[0-9a-f]{128}$ ]]
}

@test "fetch: a stored image by ID prefix and by name[:version]" {
    make_aci "$TMP/a.aci" example.com/app
    id=$(fetch_insecure "$TMP/a.aci")
    [ "$(cap fetch "${id:0:20}")" = "$id" ]
    [ "$(cap fetch example.com/app)" = "$id" ]
    [ "$(cap fetch example.com/app:1.36)" = "$id" ]
    [ "$(cap fetch --pull-policy=never example.com/app)" = "$id" ]
}

@test "fetch: two fetches of the same file at once both succeed, one copy stored" {
    make_aci "$TMP/a.aci"
    cp "$TMP/a.aci" "$TMP/b.aci"
    fetch_insecure "$TMP/a.aci" > "$TMP/out1" &
    p1=$!
    fetch_insecure "$TMP/b.aci" > "$TMP/out2" &
    p2=$!
    wait $p1
    wait $p2
    [ "$(cat "$TMP/out1")" = "$(cat "$TMP/out2")" ]
    [ "$(store_count)" = 1 ]
    [ "$(ls "$DIR/store/tree" | wc -l)" = 1 ]
    assert_empty_dir "$DIR/store/tmp"
}

@test "fetch: unsigned image refused without --insecure-options=image" {
    make_aci "$TMP/a.aci"
    fails_cleanly "fetch $TMP/a.aci: image is not signed: '$TMP/a.aci.asc' not found; pass --insecure-options=image to fetch it without verifying it" fetch "$TMP/a.aci"
}

@test "fetch: a signature that is not OpenPGP is refused (verify.bats has the real ones)" {
    make_aci "$TMP/a.aci"
    echo sig > "$TMP/a.aci.asc"
    fails_cleanly "fetch $TMP/a.aci: verify signature '$TMP/a.aci.asc': not an OpenPGP packet (bad header byte)" fetch "$TMP/a.aci"
    echo sig > "$TMP/other.asc"
    fails_cleanly "verify signature '$TMP/other.asc'" fetch --signature="$TMP/other.asc" "$TMP/a.aci"
}

@test "fetch: bad --pull-policy" {
    fails_cleanly "fetch: --pull-policy=sometimes: expected never, new or update" fetch --pull-policy=sometimes x.aci
}

@test "fetch: unknown transports say so" {
    fails_cleanly "fetch ftp://example.com/x.aci: ftp is not a transport capsule knows" fetch ftp://example.com/x.aci
    fails_cleanly "fetch docker:busybox: docker is not a transport capsule knows" fetch docker:busybox
}

@test "fetch: unknown name or ID" {
    fails_cleanly "fetch: image example.com/nothing: not found in the store" fetch --pull-policy=never example.com/nothing
    # Not in the store: appc discovery is asked, and finds nothing. The name's host is
    # localhost, with nothing on port 443 while the lock discovery.bats takes is held, so
    # the attempt stays on this machine (no DNS query, no traffic elsewhere).
    exec 9> /tmp/capsule-test-443.lock
    flock -w 300 9
    fails_cleanly "discovery of localhost/nothing: no ac-discovery template at https://localhost/nothing?ac-discovery=1 or its parents" fetch localhost/nothing
    exec 9>&-
    fails_cleanly "fetch: image sha512-abc: not found in the store" fetch sha512-abc
}

@test "fetch: missing file" {
    fails_cleanly "fetch $TMP/missing.aci: open '$TMP/missing.aci': No such file or directory" \
        --insecure-options=image fetch "$TMP/missing.aci"
    # Without the flag too: the missing file is the error, not the missing signature.
    fails_cleanly "fetch $TMP/missing.aci: open '$TMP/missing.aci': No such file or directory" fetch "$TMP/missing.aci"
}

@test "fetch: a directory" {
    mkdir "$TMP/d.aci"
    fails_cleanly "fetch $TMP/d.aci: '$TMP/d.aci': is a directory, not an image file" --insecure-options=image fetch "$TMP/d.aci"
}

@test "fetch: an empty file" {
    : > "$TMP/e.aci"
    fails_cleanly "fetch $TMP/e.aci: '$TMP/e.aci': file is empty" --insecure-options=image fetch "$TMP/e.aci"
}

@test "fetch: not a tar" {
    head -c 5000 /dev/urandom > "$TMP/r.aci"
    printf 'hello' | dd of="$TMP/r.aci" conv=notrunc 2>/dev/null
    fails_cleanly "fetch $TMP/r.aci: '$TMP/r.aci': not a tar archive" --insecure-options=image fetch "$TMP/r.aci"
}

@test "fetch: a truncated tar" {
    make_aci "$TMP/a.aci"
    head -c 1000000 "$TMP/a.aci" > "$TMP/t.aci"
    fails_cleanly "fetch $TMP/t.aci: '$TMP/t.aci': " --insecure-options=image fetch "$TMP/t.aci"
    assert_output_contains "runcated"
}

@test "fetch: a corrupt gzip" {
    make_aci "$TMP/a.aci.gz" example.com/busybox '' gzip
    size=$(stat -c %s "$TMP/a.aci.gz")
    cp "$TMP/a.aci.gz" "$TMP/c.aci"
    dd if=/dev/urandom of="$TMP/c.aci" bs=1 seek=$((size / 2)) count=4096 conv=notrunc 2>/dev/null
    fails_cleanly "fetch $TMP/c.aci: '$TMP/c.aci': gzip data is corrupt" --insecure-options=image fetch "$TMP/c.aci"
}

@test "fetch: a truncated gzip" {
    make_aci "$TMP/a.aci.gz" example.com/busybox '' gzip
    head -c 300000 "$TMP/a.aci.gz" > "$TMP/t.aci"
    fails_cleanly "fetch $TMP/t.aci: '$TMP/t.aci': gzip data is corrupt or truncated" --insecure-options=image fetch "$TMP/t.aci"
}

@test "fetch: a tar without manifest" {
    crafted no-manifest "$TMP/x.aci"
    fails_cleanly "fetch $TMP/x.aci: '$TMP/x.aci': the image has no manifest" --insecure-options=image fetch "$TMP/x.aci"
}

@test "fetch: invalid manifest JSON" {
    crafted bad-json "$TMP/x.aci"
    fails_cleanly "fetch $TMP/x.aci: '$TMP/x.aci': invalid manifest: manifest is not valid JSON" --insecure-options=image fetch "$TMP/x.aci"
}

@test "fetch: wrong acKind" {
    crafted wrong-kind "$TMP/x.aci"
    fails_cleanly "invalid manifest: acKind: \"PodManifest\" is not \"ImageManifest\"" --insecure-options=image fetch "$TMP/x.aci"
}

@test "fetch: bad name" {
    crafted bad-name "$TMP/x.aci"
    fails_cleanly "invalid manifest: name: \"Example.com/Bad_Name\" is not a valid AC name" --insecure-options=image fetch "$TMP/x.aci"
}

@test "fetch: relative exec" {
    crafted bad-exec "$TMP/x.aci"
    fails_cleanly "invalid manifest: app.exec[0]: \"bin/true\" must be an absolute path" --insecure-options=image fetch "$TMP/x.aci"
}

@test "fetch: missing rootfs" {
    crafted no-rootfs "$TMP/x.aci"
    fails_cleanly "fetch $TMP/x.aci: '$TMP/x.aci': the image has no rootfs/ directory" --insecure-options=image fetch "$TMP/x.aci"
}

@test "fetch: --help" {
    run cap fetch --help
    assert_status 0
    assert_output_contains "--pull-policy"
    assert_output_contains "--signature"
}
