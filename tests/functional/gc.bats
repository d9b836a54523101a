#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule gc: mark and sweep of exited pods, expired prepared pods, aborted prepares, races.

load ../lib/common

setup() { pod_test_setup; }
teardown() { pod_test_teardown; }

@test "gc marks exited pods, keeps them for the grace period, then deletes them" {
    cap run "$IMG" --exec=/bin/true
    uuid=$(ls "$DIR/pods/run")
    run cap gc
    assert_status 0
    [ "$output" = "Marked pod $uuid as garbage" ]
    [ -d "$DIR/pods/exited-garbage/$uuid" ]
    run cap status "$uuid"
    assert_output_contains "state=exited garbage"
    run cap gc --grace-period=1h
    [ -d "$DIR/pods/exited-garbage/$uuid" ]
    run cap gc --grace-period=0s
    assert_status 0
    [ "$output" = "Removed pod $uuid" ]
    assert_empty_dir "$DIR/pods/exited-garbage"
    assert_empty_dir "$DIR/pods/garbage"
}

@test "gc --grace-period=0s marks and sweeps in one call; --mark-only deletes nothing" {
    cap run "$IMG" --exec=/bin/true
    cap run "$IMG" --exec=/bin/true
    run cap gc --mark-only --grace-period=0s
    [ "$(ls "$DIR/pods/exited-garbage" | wc -l)" = 2 ]
    cap run "$IMG" --exec=/bin/true
    run cap --quiet gc --grace-period=0s
    assert_status 0
    [ "$output" = "" ]
    assert_empty_dir "$DIR/pods/run"
    assert_empty_dir "$DIR/pods/exited-garbage"
    assert_empty_dir "$DIR/pods/garbage"
    assert_no_mounts "$DIR"
}

@test "gc never touches a running pod" {
    "$CAPSULE" --dir="$DIR" run --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/sleep -- 300 &
    BG_PID=$!
    for _ in $(seq 100); do [ -s "$TMP/uuid" ] && break; sleep 0.05; done
    uuid=$(cat "$TMP/uuid")
    run cap gc --grace-period=0s --expire-prepared=0s
    assert_status 0
    [ -d "$DIR/pods/run/$uuid" ]
    run cap status "$uuid"
    assert_output_contains "state=running"
    cap stop --force "$uuid"
}

@test "gc removes expired prepared pods and aborted prepares, keeps fresh prepared ones" {
    fresh=$(cap prepare "$IMG")
    mkdir -p "$DIR/pods/prepare/11111111-0000-4000-8000-000000000001/stage1"
    mkdir -p "$DIR/pods/embryo/22222222-0000-4000-8000-000000000002"
    run cap status 1111
    assert_output_contains "state=aborted prepare"
    run cap gc
    assert_status 0
    assert_empty_dir "$DIR/pods/prepare"
    assert_empty_dir "$DIR/pods/embryo"
    [ -d "$DIR/pods/prepared/$fresh" ]
    run cap gc --expire-prepared=0s
    assert_empty_dir "$DIR/pods/prepared"
    assert_empty_dir "$DIR/pods/garbage"
}

@test "gc racing runs: every run succeeds and nothing is left half-made" {
    (
        for _ in $(seq 15); do
            "$CAPSULE" --dir="$DIR" gc --grace-period=0s --expire-prepared=0s >/dev/null || exit 1
        done
    ) &
    BG_PID=$!
    for i in $(seq 15); do
        run cap run "$IMG" --exec=/bin/sh -- -c "exit $((i % 3))"
        assert_status $((i % 3))
    done
    wait "$BG_PID"
    BG_PID=
    cap gc --grace-period=0s
    assert_empty_dir "$DIR/pods/embryo"
    assert_empty_dir "$DIR/pods/prepare"
    assert_empty_dir "$DIR/pods/run"
    assert_empty_dir "$DIR/pods/exited-garbage"
    assert_empty_dir "$DIR/pods/garbage"
    assert_no_mounts "$DIR"
}

@test "gc: bad durations are one-line errors" {
    run cap gc --grace-period=soon
    assert_status 254
    assert_one_line
    assert_output_contains "--grace-period"
}

@test "gc: removes interrupted store writes, without waiting for a busy store" {
    mkdir -p "$DIR/store/tmp/import-crashed/rootfs"
    # Another capsule process using the store (shared lock): gc neither waits nor deletes.
    run timeout 10 flock --shared "$DIR/store/lock" "$CAPSULE" --dir="$DIR" gc
    assert_status 0
    [ -d "$DIR/store/tmp/import-crashed" ]
    run cap gc
    assert_status 0
    assert_output_contains "Removed 1 interrupted store writes"
    assert_empty_dir "$DIR/store/tmp"
    # The stored image is untouched.
    run cap image list --no-legend
    assert_output_contains "example.com/busybox"
}
