#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule logs of fly pods: the app's output reaches run's stdout and stderr as it comes and
# <poddir>/logs/<app>.log (rotated at 1 MiB, three older files kept), which logs reads with
# the journal's options (--app, --tail, --since, the formats, -f until the pod exits).

load ../lib/common

setup() { pod_test_setup; }
teardown() { pod_test_teardown; }

# pod_dir UUID: the pod's directory, whatever its state.
pod_dir() {
    ls -d "$DIR"/pods/*/"$1"
}

# run_web SCRIPT: a fly pod whose app `web` runs `sh -c SCRIPT`, to its end; its stdout in
# $TMP/out, its stderr in $TMP/err; sets UUID and RC.
run_web() {
    RC=0
    cap run --uuid-file-save="$TMP/uuid" "$IMG" --name=web --exec=/bin/sh -- -c "$1" \
        > "$TMP/out" 2> "$TMP/err" || RC=$?
    UUID=$(cat "$TMP/uuid")
}

@test "logs (fly): stdout and stderr on run's, unchanged, and in logs after the pod exited" {
    run_web 'echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; printf "no newline"; exit 3'
    [ "$RC" -eq 3 ]
    [ "$(cat "$TMP/out")" = "$(printf 'out1\nout2\nno newline')" ]
    [ "$(cat "$TMP/err")" = err1 ]
    run cap logs --format=cat "$UUID"
    assert_status 0
    [ "$output" = "$(printf 'out1\nerr1\nout2\nno newline')" ]
    run cap logs "$UUID"
    assert_status 0
    [ "${#lines[@]}" -eq 4 ]
    local stamp='[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}'
    printf '%s\n' "$output" | grep -qxE "$stamp web: out1"
    printf '%s\n' "$output" | grep -qxE "$stamp web: err1"
    # The file itself: the stage1 interface's format.
    local file
    file=$(pod_dir "$UUID")/logs/web.log
    [ "$(grep -cxE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z (stdout|stderr) .*' "$file")" -eq 4 ]
    grep -qE '^[^ ]+ stderr err1$' "$file"
    grep -qE '^[^ ]+ stdout no newline$' "$file"
    run cap status "$UUID"
    assert_output_contains "app-web=3"
}

@test "logs (fly): --tail, --since, --app; an app the pod lacks is an error" {
    run_web 'seq 5'
    [ "$RC" -eq 0 ]
    run cap logs --tail=2 --format=cat "$UUID"
    assert_status 0
    [ "$output" = "$(printf '4\n5')" ]
    run cap logs --tail=0 "$UUID"
    assert_status 0
    [ -z "$output" ]
    run cap logs --app=web --tail=10 --format=cat "$UUID"
    [ "$output" = "$(seq 5)" ]
    run cap logs --since=1h --format=cat "$UUID"
    [ "$output" = "$(seq 5)" ]
    run cap logs --since="$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" "$UUID"
    assert_status 0
    [ -z "$output" ]
    run cap logs --app=db "$UUID"
    assert_capsule_error "pod $UUID has no app 'db' (its apps: web)"
}

@test "logs (fly): --format=json has time, app, message, priority (null) and stream" {
    run_web 'echo out; sleep 0.1; echo "err \"quoted\"" >&2'
    run cap logs --format=json "$UUID"
    assert_status 0
    [ "${#lines[@]}" -eq 2 ]
    printf '%s\n' "$output" | python3 -c '
import json, re, sys
lines = [json.loads(l) for l in sys.stdin]
for j in lines:
    assert list(j) == ["time", "app", "message", "priority", "stream"], j
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", j["time"]), j
    assert j["app"] == "web" and j["priority"] is None, j
assert [(j["stream"], j["message"]) for j in lines] == [("stdout", "out"), ("stderr", "err \"quoted\"")], lines
'
}

@test "logs (fly): an app writing more than the cap leaves app.log and three rotated files" {
    # ~9.6 MB of log lines (65 bytes written, 100 logged): rotated many times.
    run_web 'yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -n 96000; echo last'
    [ "$RC" -eq 0 ]
    # run's stdout still has all of it.
    [ "$(wc -l < "$TMP/out")" -eq 96001 ]
    local logs f total=0
    logs=$(pod_dir "$UUID")/logs
    [ "$(ls "$logs")" = "$(printf 'web.log\nweb.log.1\nweb.log.2\nweb.log.3')" ]
    for f in "$logs"/*; do
        [ "$(stat -c %s "$f")" -le 1048576 ]
        total=$((total + $(stat -c %s "$f")))
    done
    [ "$total" -gt 3000000 ] && [ "$total" -le 4194304 ]
    run cap logs --tail=1 --format=cat "$UUID"
    [ "$output" = last ]
    # Oldest first: everything kept, in order.
    local expected
    expected=$(cat "$logs/web.log.3" "$logs/web.log.2" "$logs/web.log.1" "$logs/web.log" | wc -l)
    [ "$(cap logs --format=cat "$UUID" | wc -l)" -eq "$expected" ]
    [ "$(cap logs --format=cat "$UUID" | head -n 1)" = "$(head -n 1 "$logs/web.log.3" | cut -d' ' -f3-)" ]
}

@test "logs (fly): the pod annotation capsule/log-max-size sets the cap" {
    run cap prepare "$IMG" --name=web --exec=/bin/seq -- 200
    assert_status 0
    local uuid=$output pod
    pod=$(pod_dir "$uuid")
    python3 - "$pod/pod" << 'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m.setdefault("annotations", []).append({"name": "capsule/log-max-size", "value": "1000"})
json.dump(m, open(sys.argv[1], "w"))
EOF
    run cap run-prepared "$uuid"
    assert_status 0
    pod=$(pod_dir "$uuid")
    local f
    for f in web.log web.log.1 web.log.2 web.log.3; do
        [ "$(stat -c %s "$pod/logs/$f")" -le 1000 ]
    done
    run cap logs --tail=1 --format=cat "$uuid"
    [ "$output" = 200 ]
}

# wait_for_file_line FILE TEXT: up to 30 s until FILE has the line TEXT.
wait_for_file_line() {
    for _ in $(seq 600); do
        grep -qxF -- "$2" "$1" 2> /dev/null && return 0
        sleep 0.05
    done
    echo "no line '$2' in $1 after 30 s:" >&2
    cat "$1" >&2
    return 1
}

@test "logs -f (fly): run shows the output as it comes; logs follows it and exits 0 when the pod exits" {
    mkdir "$TMP/ctl"
    "$CAPSULE" --dir="$DIR" run --uuid-file-save="$TMP/uuid" \
        --volume=ctl,kind=host,source="$TMP/ctl" "$IMG" --name=slow --mount=volume=ctl,target=/ctl \
        --exec=/bin/sh -- -c 'echo first; echo first-err >&2; while [ ! -e /ctl/go ]; do sleep 0.1; done; echo second' \
        > "$TMP/run.out" 2> "$TMP/run.err" &
    BG_PID=$!
    # Live: on run's stdout and stderr while the app still runs.
    wait_for_file_line "$TMP/run.out" first
    wait_for_file_line "$TMP/run.err" first-err
    UUID=$(cat "$TMP/uuid")
    timeout 60 "$CAPSULE" --dir="$DIR" logs -f --format=cat "$UUID" > "$TMP/follow.out" 2>&1 &
    local follow=$!
    wait_for_file_line "$TMP/follow.out" first-err
    run cap status "$UUID"
    assert_output_contains "state=running"
    kill -0 "$follow"
    touch "$TMP/ctl/go"
    local rc=0
    wait "$follow" || rc=$?
    [ "$rc" -eq 0 ] || { echo "logs -f exited $rc: $(cat "$TMP/follow.out")" >&2; return 1; }
    [ "$(cat "$TMP/follow.out")" = "$(printf 'first\nfirst-err\nsecond')" ]
    run cap status "$UUID"
    assert_output_contains "state=exited"
    wait "$BG_PID"
    BG_PID=
    [ "$(cat "$TMP/run.out")" = "$(printf 'first\nsecond')" ]
    run timeout 10 "$CAPSULE" --dir="$DIR" logs -f --tail=1 --format=cat "$UUID"
    assert_status 0
    [ "$output" = second ]
}

@test "logs (fly): a reader of run's stdout that goes away does not stop the app or its log" {
    run bash -c "set -o pipefail; '$CAPSULE' --dir='$DIR' run --uuid-file-save='$TMP/uuid' '$IMG' --name=web \
        --exec=/bin/seq -- 100000 | head -n 1"
    assert_status 0
    [ "$output" = 1 ]
    UUID=$(cat "$TMP/uuid")
    run cap status "$UUID"
    assert_output_contains "app-web=0"
    run cap logs --tail=1 --format=cat "$UUID"
    [ "$output" = 100000 ]
}

@test "logs (fly): with --interactive the app writes to the terminal only; logs says so" {
    run bash -c "echo hi | '$CAPSULE' --dir='$DIR' run --interactive --uuid-file-save='$TMP/uuid' '$IMG' --exec=/bin/cat"
    assert_status 0
    [ "$output" = hi ]
    UUID=$(cat "$TMP/uuid")
    [ ! -e "$(pod_dir "$UUID")/logs" ]
    run cap logs "$UUID"
    assert_capsule_error "pod $UUID: no logs: it ran with --interactive (its apps wrote to the terminal)"
    run cap logs -f "$UUID"
    assert_capsule_error "pod $UUID: no logs: it ran with --interactive"
}
