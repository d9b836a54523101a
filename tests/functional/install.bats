#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# make install: binary, stage1 images (fly, systemd, kvm), man pages, completions and the gc timer land under DESTDIR/PREFIX,
# and the installed binary finds its stage1 (bindir/../lib/capsule).

load ../lib/common

ROOT=$(readlink -f "$BATS_TEST_DIRNAME/../..")

setup() {
    capsule_setup
    require_root
}

teardown() {
    capsule_teardown
}

@test "make install PREFIX=/usr DESTDIR=… installs a capsule that runs pods" {
    local build inst
    build=$(dirname "$CAPSULE")
    inst=$TMP/inst
    run make -C "$ROOT" --no-print-directory install BUILD="$build" PREFIX=/usr DESTDIR="$inst"
    assert_status 0
    [ -x "$inst/usr/bin/capsule" ]
    local flavour
    for flavour in fly systemd kvm; do
        [ -f "$inst/usr/lib/capsule/stage1-$flavour.aci" ] || { echo "stage1-$flavour.aci not installed" >&2; return 1; }
    done
    [ -f "$inst/usr/share/man/man1/capsule-run.1" ]
    [ -f "$inst/usr/share/bash-completion/completions/capsule" ]
    [ -f "$inst/usr/share/zsh/vendor-completions/_capsule" ]
    [ -f "$inst/usr/share/fish/vendor_completions.d/capsule.fish" ]
    # The gc service and timer, the service running the installed binary.
    [ -f "$inst/usr/lib/systemd/system/capsule-gc.timer" ]
    grep -qx 'ExecStart=/usr/bin/capsule gc' "$inst/usr/lib/systemd/system/capsule-gc.service"
    make_aci "$TMP/busybox.aci"
    "$inst/usr/bin/capsule" --dir="$DIR" --insecure-options=image fetch "$TMP/busybox.aci"
    run "$inst/usr/bin/capsule" --dir="$DIR" run --stage1=fly example.com/busybox
    assert_status 0
    [ "$output" = "hello from busybox" ]
}

@test "capsule loads no library it does not need at start (libcurl, libxml2, ICU, libssl)" {
    # Start-up is on every pod's path (Documentation/hacking.md): libcurl is dlopen()ed on
    # demand, libarchive's xar writer (libxml2, ICU) is never linked.
    run ldd "$CAPSULE"
    [ "$status" -eq 0 ]
    for lib in libcurl libxml2 libicu libssl libcrypto libsqlite3 libarchive; do
        if grep -q "$lib" <<<"$output"; then
            echo "$CAPSULE links $lib:"
            echo "$output"
            return 1
        fi
    done
}
