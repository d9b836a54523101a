#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Pod lifecycle: prepare, run-prepared, list, status, stop, enter, rm, cat-manifest, UUID prefixes.

load ../lib/common

setup() { pod_test_setup; }
teardown() { pod_test_teardown; }

@test "prepare prints the UUID; run-prepared runs it; status and list follow" {
    run cap prepare "$IMG" --exec=/bin/sh -- -c 'exit 5'
    assert_status 0
    uuid=$output
    [[ "$uuid" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
    [ -d "$DIR/pods/prepared/$uuid" ]
    run cap status "${uuid:0:8}"
    assert_output_contains "state=prepared"
    run cap list --no-legend
    assert_output_contains "${uuid:0:8}"
    assert_output_contains "prepared"
    run cap run-prepared "${uuid:0:8}"
    assert_status 5
    run cap status "$uuid"
    assert_output_contains "state=exited"
    assert_output_contains "app-busybox=5"
    assert_output_contains "started="
    run cap run-prepared "$uuid"
    assert_status 254
    [ "$output" = "capsule: pod $uuid is not prepared (it is exited)" ]
}

@test "run-prepared --allow-exited runs an exited pod again, keeping its files; refuses a running or collected one" {
    uuid=$(cap prepare "$IMG" --exec=/bin/sh -- -c 'echo run >> /runs; exit $(wc -l < /runs)')
    run cap run-prepared --allow-exited "$uuid"
    assert_status 1
    run cap run-prepared --allow-exited "$uuid"
    assert_status 2
    run cap status "$uuid"
    assert_output_contains "state=exited"
    assert_output_contains "app-busybox=2"
    [ "$(cat "$DIR/pods/run/$uuid/status/busybox")" = 2 ]
    # A running pod is refused, in one line.
    start_sleeper
    run cap run-prepared --allow-exited "$UUID"
    assert_status 254
    [ "$output" = "capsule: pod $UUID is running" ]
    # Marked by gc: not runnable any more.
    run cap gc --mark-only
    run cap run-prepared --allow-exited "$uuid"
    assert_status 254
    assert_one_line
    assert_output_contains "pod $uuid is not prepared"
}

@test "list: legend, --full, --format=json" {
    cap run "$IMG" --exec=/bin/true
    run cap list
    assert_status 0
    [[ "${lines[0]}" == UUID*APP*"IMAGE NAME"*STATE*CREATED*STARTED ]]
    assert_output_contains "example.com/busybox"
    assert_output_contains "exited"
    uuid=$(ls "$DIR/pods/run")
    run cap list --full --no-legend
    assert_output_contains "$uuid"
    run cap list --format=json
    assert_status 0
    [ "$(echo "$output" | python3 -c 'import json,sys; p=json.load(sys.stdin)[0]; print(p["uuid"], p["state"], p["apps"][0]["name"], p["apps"][0]["exit_code"])')" = "$uuid exited busybox 0" ]
}

@test "cat-manifest prints the appc pod manifest" {
    uuid=$(cap prepare --volume=data,kind=empty "$IMG" --name=web)
    run cap cat-manifest "${uuid:0:6}"
    assert_status 0
    echo "$output" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["acKind"] == "PodManifest" and m["acVersion"] == "0.8.11"
a = m["apps"][0]
assert a["name"] == "web" and a["image"]["name"] == "example.com/busybox"
assert a["mounts"] == [{"volume": "data", "path": "/data"}]
assert m["volumes"][0]["kind"] == "empty"
'
}

@test "UUID prefixes: unknown, ambiguous, invalid" {
    mkdir -p "$DIR/pods/prepared/aaaa0000-0000-4000-8000-000000000001" "$DIR/pods/prepared/aaaa1111-0000-4000-8000-000000000002"
    run cap status aaaa
    assert_status 254
    assert_one_line
    [ "$output" = "capsule: pod UUID prefix 'aaaa' is ambiguous: matches aaaa0000-0000-4000-8000-000000000001, aaaa1111-0000-4000-8000-000000000002" ]
    run cap status bbbb
    assert_status 254
    [ "$output" = "capsule: no pod with UUID 'bbbb'" ]
    for verb in run-prepared rm cat-manifest stop enter; do
        run cap $verb bbbb
        assert_status 254
        assert_one_line
        assert_output_contains "no pod with UUID 'bbbb'"
    done
    run cap status not-hex
    assert_status 254
    [ "$output" = "capsule: invalid pod UUID 'not-hex'" ]
}

@test "a running pod: status, enter, rm refused, stop; status --wait" {
    start_sleeper
    run cap status "$UUID"
    assert_output_contains "state=running"
    assert_output_contains "exited=false"
    run cap enter "$UUID" /bin/sh -c 'echo "$AC_APP_NAME"; cat /proc/1/comm >/dev/null; ps | grep -c "sleep 300"'
    assert_status 0
    [ "${lines[0]}" = "busybox" ]
    run cap enter "$UUID" /bin/sh -c 'exit 9'
    assert_status 9
    run cap rm "$UUID"
    assert_status 254
    [ "$output" = "capsule: pod $UUID is running; stop it first (capsule stop $UUID)" ]
    run cap status --wait=200ms "$UUID"
    assert_status 254
    assert_output_contains "is still running after waiting 200ms"
    run cap stop "${UUID:0:8}"
    assert_status 0
    [ "$output" = "$UUID" ]
    run cap status --wait=10s "$UUID"
    assert_status 0
    assert_output_contains "state=exited"
    assert_output_contains "app-busybox=143"
    wait "$BG_PID" || rc=$?
    BG_PID=
    [ "$rc" = 143 ]
    assert_no_mounts "$DIR"
}

@test "stop --force kills; stopping an exited pod is an error" {
    start_sleeper
    run cap stop --force "$UUID"
    assert_status 0
    run cap status --wait "$UUID"
    assert_output_contains "app-busybox=137"
    run cap stop "$UUID"
    assert_status 254
    [ "$output" = "capsule: pod $UUID is not running (it is exited)" ]
    run cap enter "$UUID"
    assert_status 254
    [ "$output" = "capsule: pod $UUID is not running (it is exited)" ]
}

@test "SIGTERM to capsule run reaches the app" {
    start_sleeper
    kill -TERM "$BG_PID"
    wait "$BG_PID" || rc=$?
    BG_PID=
    [ "$rc" = 143 ]
    run cap status "$UUID"
    assert_output_contains "app-busybox=143"
}

@test "rm removes exited and prepared pods, several at once, reporting failures" {
    cap run "$IMG" --exec=/bin/true
    exited=$(ls "$DIR/pods/run")
    prepared=$(cap prepare "$IMG")
    run cap rm "$exited" "${prepared:0:8}" ffffffff
    assert_status 254
    assert_output_contains "$exited"
    assert_output_contains "$prepared"
    assert_output_contains "capsule: no pod with UUID 'ffffffff'"
    assert_empty_dir "$DIR/pods/run"
    assert_empty_dir "$DIR/pods/prepared"
    assert_empty_dir "$DIR/pods/garbage"
}

@test "prepare errors leave nothing behind" {
    run cap prepare "$TMP/none.aci"
    assert_status 254
    assert_one_line
    run cap prepare "$IMG" --- "$IMG"
    assert_status 254
    run cap prepare
    assert_status 254
    [ "$output" = "capsule: no image given" ]
    assert_empty_dir "$DIR/pods/embryo"
    assert_empty_dir "$DIR/pods/prepare"
    assert_empty_dir "$DIR/pods/prepared"
}

@test "status --format=json of a running pod" {
    start_sleeper
    run cap status --format=json "$UUID"
    assert_status 0
    echo "$output" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["state"] == "running" and s["exited"] is False and s["pid"] > 0
assert s["apps"][0]["exit_code"] is None and s["started"]
'
    cap stop --force "$UUID" >/dev/null
}
