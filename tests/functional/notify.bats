#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The stage1 side of running under a host's Type=notify unit, without a host systemd: the test
# plays stage0's part and makes <pod>/notify itself (a socket, between `prepare` and
# `run-prepared`), then reads what arrives there. Apps speak sd_notify with rkt's annotation
# appc.io/executor/supports-systemd-notify (a static probe sends the messages). Also the link
# of a pod's journal to a host directory that stage0 makes as <pod>/journal/<machine-id>.

load ../lib/common
load ../lib/systemd_pods

ANNOTATION=appc.io/executor/supports-systemd-notify

setup_file() {
    sd_setup_file
    NOTIFY_PROBE="$BATS_FILE_TMPDIR/notify-probe"
    export NOTIFY_PROBE
    if [ ! -x "$NOTIFY_PROBE" ] && command -v cc > /dev/null; then
        cc -static -O2 -o "$NOTIFY_PROBE" "$TESTS_LIB/notify_probe.c"
    fi
}

setup() {
    LISTEN_PID=
    sd_setup
    sd_require_command python3
    if [ ! -x "$NOTIFY_PROBE" ]; then
        [ "${CI:-}" = true ] && { echo "cannot build the notify probe (cc with a static libc)" >&2; return 1; }
        skip "cannot build the notify probe (cc with a static libc)"
    fi
}

teardown() {
    if [ -n "${LISTEN_PID:-}" ]; then
        kill "$LISTEN_PID" 2> /dev/null || true
        wait "$LISTEN_PID" 2> /dev/null || true
    fi
    sd_teardown
}

# notify_image NAME ANNOTATION_VALUE: the busybox image with the probe as /bin/notify-probe and,
# unless ANNOTATION_VALUE is empty, the notify annotation; prints its image ID.
notify_image() {
    local dir
    dir=$(sd_image_dir "$1")
    cp "$NOTIFY_PROBE" "$dir/rootfs/bin/notify-probe"
    VALUE="$2" python3 - "$dir/manifest" << 'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
if os.environ["VALUE"]:
    m["annotations"].append({"name": "appc.io/executor/supports-systemd-notify", "value": os.environ["VALUE"]})
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
    make_aci_from "$dir" "$TMP/$1.aci"
    cap --insecure-options=image fetch "$TMP/$1.aci"
}

# notify_listen UUID [MARKER]: stage0's socket in the prepared pod's directory; what arrives
# is appended to $TMP/notify.out (see notify_listen.py).
notify_listen() {
    local sock="$DIR/pods/prepared/$1/notify"
    : > "$TMP/notify.out"
    python3 "$TESTS_LIB/notify_listen.py" "$sock" "$TMP/notify.out" ${2:+"$2"} 3>&- &
    LISTEN_PID=$!
    for _ in $(seq 100); do
        [ -S "$sock" ] && return 0
        sleep 0.05
    done
    echo "the notify listener did not make $sock" >&2
    return 1
}

# wait_notified PATTERN: wait (5 s) until a line of $TMP/notify.out matches the ERE PATTERN.
wait_notified() {
    for _ in $(seq 100); do
        grep -Eq "$1" "$TMP/notify.out" && return 0
        sleep 0.05
    done
    echo "no notification matched '$1'; received:" >&2
    cat "$TMP/notify.out" >&2
    return 1
}

run_prepared() {
    timeout -k 3 "$SD_TIMEOUT" "$CAPSULE" --dir="$DIR" run-prepared "$1" 2> "$TMP/stderr"
}

# ---- fly ---------------------------------------------------------------------------------

@test "fly: an app with the annotation gets the pod's notify socket and NOTIFY_SOCKET" {
    local img uuid
    img=$(notify_image fly-notify true)
    run cap prepare --stage1=fly "$img" --exec=/bin/sh -- -c \
        'echo "[$NOTIFY_SOCKET]"; [ -S /run/systemd/notify ] && echo socket; exec /bin/notify-probe "READY=1
STATUS=from the app"'
    assert_status 0
    uuid=$output
    notify_listen "$uuid"
    run run_prepared "$uuid"
    assert_status 0
    [ "${lines[0]}" = "[/run/systemd/notify]" ]
    [ "${lines[1]}" = socket ]
    wait_notified '^READY=1\|STATUS=from the app$'
}

@test "fly: an app without the annotation gets neither the socket nor NOTIFY_SOCKET" {
    local img uuid
    for value in "" false; do
        img=$(notify_image "fly-plain${value:+-$value}" "$value")
        run cap prepare --stage1=fly "$img" --exec=/bin/sh -- -c \
            'echo "[$NOTIFY_SOCKET]"; [ -e /run/systemd/notify ] && echo socket || echo none; /bin/notify-probe READY=1'
        assert_status 0
        uuid=$output
        notify_listen "$uuid"
        run run_prepared "$uuid"
        assert_status 3
        [ "${lines[0]}" = "[]" ]
        [ "${lines[1]}" = none ]
        grep -q "NOTIFY_SOCKET is not set" "$TMP/stderr"
        [ ! -s "$TMP/notify.out" ]
        kill "$LISTEN_PID"
        wait "$LISTEN_PID" || true
        LISTEN_PID=
    done
}

# ---- systemd -----------------------------------------------------------------------------

@test "systemd: PID 1 says READY=1 on the pod's notify socket once the pod started, the waiter STOPPING=1" {
    local uuid
    run cap prepare --stage1=systemd "$IMG" --exec=/bin/sh -- -c 'echo hello'
    assert_status 0
    uuid=$output
    notify_listen "$uuid"
    run run_prepared "$uuid"
    assert_status 0
    [ "$output" = hello ]
    wait_notified '^READY=1'
    wait_notified '^STOPPING=1$'
    # READY=1 first.
    [ "$(grep -nE '^(READY|STOPPING)=1' "$TMP/notify.out" | head -1 | cut -d: -f2-)" != STOPPING=1 ]
    # No app sees the pod's socket: apps without the annotation get no NOTIFY_SOCKET at all.
    run cap prepare --stage1=systemd "$IMG" --exec=/bin/sh -- -c 'echo "[$NOTIFY_SOCKET]"'
    uuid=$output
    run run_prepared "$uuid"
    assert_status 0
    [ "$output" = "[]" ]
}

@test "systemd: an app with the annotation is Type=notify: the pod is ready only after the app said READY=1" {
    local img uuid
    mkdir -p "$TMP/mark"
    img=$(notify_image sd-notify true)
    run cap prepare --stage1=systemd --volume=data,kind=host,source="$TMP/mark" "$img" --exec=/bin/sh -- -c \
        'echo "[$NOTIFY_SOCKET]"; sleep 2; touch /data/app-ready; exec /bin/notify-probe READY=1 /bin/sh -c "echo notified"'
    assert_status 0
    uuid=$output
    notify_listen "$uuid" "$TMP/mark/app-ready"
    run run_prepared "$uuid"
    assert_status 0
    [ "${lines[0]}" = "[/run/systemd/notify]" ]
    [ "${lines[1]}" = notified ]
    wait_notified '^READY=1'
    grep -q '^READY=1.* marker=yes$' "$TMP/notify.out" || {
        echo "the pod said READY=1 before the app did:" >&2
        cat "$TMP/notify.out" >&2
        false
    }
}

@test "systemd: an app without the annotation does not hold the pod's readiness back" {
    local img uuid
    mkdir -p "$TMP/mark"
    img=$(notify_image sd-plain "")
    run cap prepare --stage1=systemd --volume=data,kind=host,source="$TMP/mark" "$img" --exec=/bin/sh -- -c \
        'sleep 3; touch /data/app-ready; echo done'
    assert_status 0
    uuid=$output
    notify_listen "$uuid" "$TMP/mark/app-ready"
    run run_prepared "$uuid"
    assert_status 0
    [ "$output" = done ]
    wait_notified '^READY=1'
    grep -q '^READY=1.* marker=no$' "$TMP/notify.out"
}

# ---- the journal linked to the host's ------------------------------------------------------

@test "systemd: a journal link made by stage0 receives the pod's journal, with CAPSULE_POD and CAPSULE_APP" {
    sd_require_command journalctl
    local uuid mid
    run cap prepare --stage1=systemd "$IMG" --exec=/bin/sh -- -c 'echo to-the-host-journal'
    assert_status 0
    uuid=$output
    mid=${uuid//-/}
    mkdir -p "$TMP/host-journal/$mid" "$DIR/pods/prepared/$uuid/journal"
    ln -s "$TMP/host-journal/$mid" "$DIR/pods/prepared/$uuid/journal/$mid"
    run run_prepared "$uuid"
    assert_status 0
    [ "$output" = to-the-host-journal ]
    ls "$TMP/host-journal/$mid"/*.journal > /dev/null
    [ -L "$DIR/pods/exited-garbage/$uuid/journal/$mid" ] || [ -L "$DIR/pods/run/$uuid/journal/$mid" ]
    run journalctl -D "$TMP/host-journal/$mid" -o cat CAPSULE_POD="$uuid" CAPSULE_APP=busybox
    assert_status 0
    [ "$output" = to-the-host-journal ]
    run cap logs "$uuid"
    assert_status 0
    assert_output_contains to-the-host-journal
}
