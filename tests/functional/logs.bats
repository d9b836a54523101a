#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule logs: the apps' output from the journal a systemd-flavour pod keeps in its directory
# (two apps, --app, --tail, --since, the formats, -f until the pod exits), and every error.
# A fly pod's log files: logs_fly.bats.

load ../lib/common

setup() { pod_test_setup; }
teardown() { pod_test_teardown; }

# require_stage1_systemd: stage1-systemd.aci beside the binary; skipped until it is built,
# except in CI.
require_stage1_systemd() {
    local aci
    aci=$(dirname "$CAPSULE")/stage1-systemd.aci
    [ -f "$aci" ] && return 0
    if [ -n "${CI:-}" ]; then
        echo "$aci is missing" >&2
        return 1
    fi
    skip "stage1-systemd.aci is not built yet"
}

# run_two_apps: a systemd pod of two apps, `one` (a line on stdout, one on stderr) and `two`,
# run to its end; sets UUID.
run_two_apps() {
    require_stage1_systemd
    run cap run --stage1=systemd --uuid-file-save="$TMP/uuid" \
        "$IMG" --name=one --exec=/bin/sh -- -c 'echo one-out; echo one-err >&2' \
        --- "$IMG" --name=two --exec=/bin/sh -- -c 'echo two-out'
    assert_status 0
    UUID=$(cat "$TMP/uuid")
}

# run_counter: a systemd pod whose one app `count` prints 1 to 5; sets UUID.
run_counter() {
    require_stage1_systemd
    run cap run --stage1=systemd --uuid-file-save="$TMP/uuid" "$IMG" --name=count --exec=/bin/seq -- 5
    assert_status 0
    UUID=$(cat "$TMP/uuid")
}

# line_of TEXT: the number of $output's line that is TEXT exactly.
line_of() {
    printf '%s\n' "$output" | grep -nxF -- "$1" | cut -d: -f1
}

@test "logs: both apps' stdout and stderr, journalctl's short format, after the pod exited" {
    run_two_apps
    run cap status "$UUID"
    assert_output_contains "state=exited"
    run cap logs "$UUID"
    assert_status 0
    [ "${#lines[@]}" -eq 3 ]
    local stamp='[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}'
    printf '%s\n' "$output" | grep -qxE "$stamp one: one-out"
    printf '%s\n' "$output" | grep -qxE "$stamp one: one-err"
    printf '%s\n' "$output" | grep -qxE "$stamp two: two-out"
    # Nothing of the pod's own systemd or journald.
    [[ "$output" != *systemd* && "$output" != *journal* ]]
    run cap logs --format=cat "$UUID"
    assert_status 0
    [ "$(line_of one-out)" -lt "$(line_of one-err)" ]
    [ -n "$(line_of two-out)" ]
    # A UUID prefix, and a marked pod (exited garbage) until it is swept.
    run cap gc --mark-only
    assert_status 0
    run cap logs --format=cat "${UUID:0:8}"
    assert_status 0
    [ "${#lines[@]}" -eq 3 ]
}

@test "logs: --app shows one app; an app the pod lacks is an error naming its apps" {
    run_two_apps
    run cap logs --app=two --format=cat "$UUID"
    assert_status 0
    [ "$output" = "two-out" ]
    run cap logs --app=one --format=cat "$UUID"
    assert_status 0
    [ "$output" = "$(printf 'one-out\none-err')" ]
    run cap logs --app=three "$UUID"
    assert_capsule_error "pod $UUID has no app 'three' (its apps: one, two)"
}

@test "logs: --tail=N shows the last N entries, --since the recent ones" {
    run_counter
    run cap logs --tail=2 --format=cat "$UUID"
    assert_status 0
    [ "$output" = "$(printf '4\n5')" ]
    run cap logs --tail=10 --format=cat "$UUID"
    [ "$output" = "$(seq 5)" ]
    run cap logs --tail=0 "$UUID"
    assert_status 0
    [ -z "$output" ]
    run cap logs --since=1h --format=cat "$UUID"
    [ "$output" = "$(seq 5)" ]
    run cap logs --since="$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" "$UUID"
    assert_status 0
    [ -z "$output" ]
    run cap logs --since="$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.123456+00:00)" --tail=1 --format=cat "$UUID"
    [ "$output" = 5 ]
}

@test "logs: --format=json, one object a line with time, app, message and priority" {
    run_two_apps
    run cap logs --format=json --app=one "$UUID"
    assert_status 0
    [ "${#lines[@]}" -eq 2 ]
    printf '%s\n' "$output" | python3 -c '
import json, re, sys
lines = [json.loads(l) for l in sys.stdin]
for j in lines:
    assert list(j) == ["time", "app", "message", "priority"], j
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", j["time"]), j
    assert j["app"] == "one", j
    assert isinstance(j["priority"], int) and 0 <= j["priority"] <= 7, j
assert [j["message"] for j in lines] == ["one-out", "one-err"], lines
'
}

# wait_for_file_line FILE TEXT: up to 30 s until FILE has the line TEXT.
wait_for_file_line() {
    for _ in $(seq 600); do
        grep -qxF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "no line '$2' in $1 after 30 s:" >&2
    cat "$1" >&2
    return 1
}

@test "logs -f: prints lines as the app writes them and exits 0 when the pod exits" {
    require_stage1_systemd
    # The app prints, waits for the test to create go, prints again and exits.
    mkdir "$TMP/ctl"
    "$CAPSULE" --dir="$DIR" run --stage1=systemd --uuid-file-save="$TMP/uuid" \
        --volume=ctl,kind=host,source="$TMP/ctl" "$IMG" --name=slow --mount=volume=ctl,target=/ctl \
        --exec=/bin/sh -- -c 'echo first; while [ ! -e /ctl/go ]; do sleep 0.1; done; echo second' \
        > "$TMP/run.out" 2>&1 &
    BG_PID=$!
    for _ in $(seq 600); do
        [ -s "$TMP/uuid" ] && cap status "$(cat "$TMP/uuid")" 2>/dev/null | grep -q '^state=running' && break
        sleep 0.05
    done
    UUID=$(cat "$TMP/uuid")
    timeout 60 "$CAPSULE" --dir="$DIR" logs -f --format=cat "$UUID" > "$TMP/follow.out" 2>&1 &
    local follow=$!
    wait_for_file_line "$TMP/follow.out" first
    # Shown while the pod runs, and still following.
    run cap status "$UUID"
    assert_output_contains "state=running"
    kill -0 "$follow"
    touch "$TMP/ctl/go"
    local rc=0
    wait "$follow" || rc=$?
    [ "$rc" -eq 0 ] || { echo "logs -f exited $rc: $(cat "$TMP/follow.out")" >&2; return 1; }
    [ "$(cat "$TMP/follow.out")" = "$(printf 'first\nsecond')" ]
    # It returned because the pod exited.
    run cap status "$UUID"
    assert_output_contains "state=exited"
    wait "$BG_PID"
    BG_PID=
    # On an exited pod, -f prints what there is and returns.
    run timeout 10 "$CAPSULE" --dir="$DIR" logs -f --tail=1 --format=cat "$UUID"
    assert_status 0
    [ "$output" = second ]
}

@test "logs -f --tail=1: the last entry, then what is written after" {
    require_stage1_systemd
    mkdir "$TMP/ctl"
    "$CAPSULE" --dir="$DIR" run --stage1=systemd --uuid-file-save="$TMP/uuid" \
        --volume=ctl,kind=host,source="$TMP/ctl" "$IMG" --name=slow --mount=volume=ctl,target=/ctl \
        --exec=/bin/sh -- -c 'echo old1; echo old2; while [ ! -e /ctl/go ]; do sleep 0.1; done; echo new' \
        > "$TMP/run.out" 2>&1 &
    BG_PID=$!
    for _ in $(seq 600); do
        [ -s "$TMP/uuid" ] && cap logs --format=cat "$(cat "$TMP/uuid")" 2>/dev/null | grep -qx old2 && break
        sleep 0.05
    done
    UUID=$(cat "$TMP/uuid")
    timeout 60 "$CAPSULE" --dir="$DIR" logs -f --tail=1 --format=cat "$UUID" > "$TMP/follow.out" 2>&1 &
    local follow=$!
    wait_for_file_line "$TMP/follow.out" old2
    touch "$TMP/ctl/go"
    local rc=0
    wait "$follow" || rc=$?
    [ "$rc" -eq 0 ]
    [ "$(cat "$TMP/follow.out")" = "$(printf 'old2\nnew')" ]
    wait "$BG_PID"
    BG_PID=
}

@test "logs: a fly pod keeps log files, not a journal; run with --interactive, none" {
    run cap run --stage1=fly "$IMG" --exec=/bin/echo -- hello
    assert_status 0
    local uuid
    uuid=$(ls "$DIR/pods/run")
    [ ! -e "$DIR/pods/run/$uuid/journal" ]
    run cap logs --format=cat "$uuid"
    assert_status 0
    [ "$output" = hello ]
    run cap run --stage1=fly --interactive --uuid-file-save="$TMP/uuid" "$IMG" < /dev/null
    assert_status 0
    uuid=$(cat "$TMP/uuid")
    run cap logs "$uuid"
    assert_capsule_error "pod $uuid: no logs: it ran with --interactive (its apps wrote to the terminal)"
}

@test "logs: a pod that has not run, and no such pod, are errors" {
    run cap prepare "$IMG"
    assert_status 0
    local uuid=$output
    run cap logs "$uuid"
    assert_capsule_error "pod $uuid: no logs: it has not run (it is prepared)"
    run cap logs 00000000
    assert_capsule_error "no pod with UUID '00000000'"
}

@test "logs: bad --tail, --since and --format values are errors" {
    local v
    for v in -1 abc 1.5 1e3 ' 3' 0x10; do
        run cap logs --tail="$v" 00000000
        assert_capsule_error "--tail: '$v' is not a number of entries"
    done
    for v in yesterday 10 10x 2026-13-01T00:00:00Z 2026-02-30T00:00:00Z 2026-11-28T25:00:00Z \
        2026-11-28T04:18:30 2026-11-28 '2026-11-28T04:18:30+0100' 2026-11-28T04:18:30.Z; do
        run cap logs --since="$v" 00000000
        assert_capsule_error "--since: '$v' is neither an RFC 3339 time"
    done
    run cap logs --format=xml 00000000
    assert_capsule_error "--format: xml not in {short,cat,json}"
}
