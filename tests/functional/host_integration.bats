#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Host systemd integration (Documentation/using-capsule-with-systemd.md), every test inside the
# systemd test host (tests/lib/systemd_host.bash), started with the v1 controllers so that unit
# limits show in the cgroups: from a shell, the scope capsule-<uuid>.scope in machine.slice and
# the machine capsule-<uuid> (class vm for a kvm pod); journalctl -M and the journal kept after
# gc; --detach as the service capsule-<uuid>.service, --restart, --unit-property, stop and
# logs -f; under a unit's ExecStart= (no second unit, READY=1 for Type=notify, the app's own
# READY relayed); update of a running pod; nothing left after gc. And without systemd (on the
# machine itself): --detach refused.

load ../lib/common
load ../lib/systemd_host

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

setup_file() {
    BUSYBOX_ACI="$BATS_FILE_TMPDIR/busybox.aci"
    export BUSYBOX_ACI
    make_aci "$BUSYBOX_ACI"
}

setup() {
    capsule_setup
    BG_PID=
    FOLLOW_PID=
    require_root
    require_stage1s
    IMG=$(cap --insecure-options=image fetch "$BUSYBOX_ACI")
    mkdir -p "$TMP/vol"
}

teardown() {
    local rc=0
    if [ -n "$SYSTEMD_HOST_PID" ]; then
        # What a failed test left: its pods and their units, then the host with every process.
        systemd_host_exec timeout -k 2 20 "$CAPSULE" --dir="$DIR" gc --grace-period=0s >/dev/null 2>&1 || true
        systemd_host_stop || rc=1
    fi
    local p
    for p in "$BG_PID" "$FOLLOW_PID"; do
        [ -n "$p" ] || continue
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    capsule_teardown
    return $rc
}

# require_stage1s: both stage1 images beside the binary (fails in CI, skips elsewhere).
require_stage1s() {
    local f missing=
    for f in stage1-fly.aci stage1-systemd.aci; do
        [ -f "$(dirname "$CAPSULE")/$f" ] || missing+=" $f"
    done
    [ -z "$missing" ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "missing beside $CAPSULE:$missing" >&2
        return 1
    fi
    skip "not built:$missing"
}

# host_start: the test host, with the v1 controllers (memory, cpu…) under its systemd.
host_start() {
    require_systemd_host
    SYSTEMD_HOST_CONTROLLERS=1 systemd_host_start
}

# hcap ARGS...: capsule with this test's --dir, inside the host, from a shell (no unit), bounded.
hcap() {
    systemd_host_exec timeout -k 2 "${HCAP_TIMEOUT:-30}" "$CAPSULE" --dir="$DIR" "$@"
}

# hsh CMD...: a command inside the host.
hsh() {
    systemd_host_exec "$@"
}

# wait_until SECONDS WHAT CMD...: poll CMD every 0.1 s until it succeeds; fail naming WHAT.
wait_until() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "timed out after ${secs}s waiting for: $what" >&2
    return 1
}

# not CMD...: CMD fails (for wait_until).
not() {
    ! "$@"
}

# unit_active UNIT: systemctl is-active says active.
unit_active() {
    hsh systemctl is-active --quiet "$1"
}

# unit_prop UNIT PROPERTY: the property's value (systemctl show --value).
unit_prop() {
    hsh systemctl show -p "$2" --value "$1"
}

# unit_state_is UNIT STATE...: the unit's ActiveState is one of STATEs.
unit_state_is() {
    local s want
    s=$(unit_prop "$1" ActiveState)
    shift
    for want; do [ "$s" = "$want" ] && return 0; done
    return 1
}

# tracking_mount: the hierarchy systemd tracks processes in (name=systemd on v1/hybrid).
tracking_mount() {
    if mountpoint -q /sys/fs/cgroup/systemd; then echo /sys/fs/cgroup/systemd; else echo /sys/fs/cgroup; fi
}

# cgroup_has_cmd DIR TEXT: a process of DIR (a host directory) or below has TEXT in its command line.
cgroup_has_cmd() {
    local p
    for p in $(find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null); do
        [[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" == *"$2"* ]] && return 0
    done
    return 1
}

# machine_journal_has MACHINE TEXT: a line of the machine's journal is TEXT.
machine_journal_has() {
    hsh journalctl -M "$1" --no-pager -o cat | grep -qxF -- "$2"
}

# runs_done N UNIT: $TMP/vol/runs has N lines or more and UNIT is no longer active.
runs_done() {
    [ -f "$TMP/vol/runs" ] && [ "$(wc -l <"$TMP/vol/runs")" -ge "$1" ] && ! unit_active "$2"
}

# pod_running UUID: `capsule status` (inside) says running.
pod_running() {
    hcap status "$1" 2>/dev/null | grep -qx 'state=running'
}

# pod_exited UUID
pod_exited() {
    hcap status "$1" 2>/dev/null | grep -qx 'state=exited'
}

# start_bg [RUN FLAGS...] IMAGE ...: `capsule run` from a shell inside the host, in the background
# (output in $TMP/bg.out), once it runs; sets UUID and BG_PID.
start_bg() {
    rm -f "$TMP/uuid"
    systemd_host_exec "$CAPSULE" --dir="$DIR" run --uuid-file-save="$TMP/uuid" "$@" >"$TMP/bg.out" 2>&1 3>&- &
    BG_PID=$!
    local i
    for ((i = 0; i < 300; i++)); do
        if [ -s "$TMP/uuid" ] && pod_running "$(cat "$TMP/uuid")"; then
            UUID=$(cat "$TMP/uuid")
            return 0
        fi
        kill -0 "$BG_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "the pod did not start; capsule run printed:" >&2
    cat "$TMP/bg.out" >&2
    return 1
}

# wait_bg [SECONDS]: the background run's end (default 20 s); sets BG_STATUS (timeout if it went on).
wait_bg() {
    local secs=${1:-20} i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$BG_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$BG_PID" 2>/dev/null; then
        BG_STATUS=timeout
        return 0
    fi
    BG_STATUS=0
    wait "$BG_PID" || BG_STATUS=$?
    BG_PID=
}

# assert_no_pod_units: no unit named capsule-* (loaded, in any state), no machine, no scope cgroup.
assert_no_pod_units() {
    local units machines scopes
    units=$(hsh systemctl list-units --all --no-legend --plain 'capsule-*')
    machines=$(hsh machinectl list --no-legend --no-pager)
    scopes=$(find "$(tracking_mount)$SYSTEMD_HOST_CGROUP/machine.slice" -maxdepth 1 -name 'capsule-*' 2>/dev/null)
    if [ -n "$units$machines$scopes" ]; then
        echo "left: units: ${units:-none}; machines: ${machines:-none}; cgroups: ${scopes:-none}" >&2
        return 1
    fi
}

# require_cc: a C compiler that links statically (g++ brings gcc and libc6-dev).
require_cc() {
    command -v cc >/dev/null && return 0
    if [ "${CI:-}" = true ]; then
        echo "cc is missing (make deps installs g++)" >&2
        return 1
    fi
    skip "cc is missing"
}

# notify_image NAME ANNOTATE: a busybox ACI with /bin/notify (a static sd_notify sender: each
# argument up to `--` is a line of the message to $NOTIFY_SOCKET; it then execs what follows
# `--`, so that the app's main process sends it, as NotifyAccess=main wants), fetched; with ANNOTATE=true it says
# appc.io/executor/supports-systemd-notify. Prints its image ID. Run require_cc first.
notify_image() {
    local name=$1 annotate=$2 dir="$TMP/img-$1"
    make_aci_dir "$dir" "example.com/$name" >/dev/null
    cat >"$TMP/notify.c" <<'EOC'
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    const char* path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char msg[4096] = "";
    if (!path || !*path || strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "notify: no NOTIFY_SOCKET\n");
        return 2;
    }
    strcpy(sa.sun_path, path);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int i;
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        strncat(msg, argv[i], sizeof msg - strlen(msg) - 2);
        strcat(msg, "\n");
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
    if (fd < 0 || sendto(fd, msg, strlen(msg), 0, (struct sockaddr*)&sa, len) < 0) {
        perror("notify");
        return 1;
    }
    if (i + 1 < argc) {
        execv(argv[i + 1], argv + i + 1);
        perror("notify: exec");
        return 127;
    }
    return 0;
}
EOC
    cc -static -O2 -o "$dir/rootfs/bin/notify" "$TMP/notify.c"
    if [ "$annotate" = true ]; then
        python3 - "$dir/manifest" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m.setdefault("annotations", []).append({"name": "appc.io/executor/supports-systemd-notify", "value": "true"})
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF
    fi
    make_aci_from "$dir" "$TMP/$name.aci"
    cap --insecure-options=image fetch "$TMP/$name.aci"
}

# check_scope FLAVOUR MARKER: a pod of FLAVOUR run from a shell is in capsule-<uuid>.scope under
# machine.slice, delegated, recorded in its subcgroup; the scope goes when the pod exits.
check_scope() {
    local flavour=$1 marker=$2 scope cg
    host_start
    start_bg --stage1="$flavour" --volume=data,kind=host,source="$TMP/vol" "$IMG" \
        --exec=/bin/sh -- -c "cat /proc/self/cgroup > /data/cgroup; exec sleep $marker"
    scope=capsule-$UUID.scope
    [ "$(unit_prop "$scope" ActiveState)" = active ]
    [ "$(unit_prop "$scope" Slice)" = machine.slice ]
    [ "$(unit_prop "$scope" Delegate)" = yes ]
    # The full path (the test host's systemd has its root in SYSTEMD_HOST_CGROUP).
    cg=$(unit_prop "$scope" ControlGroup)
    [ "$cg" = "$SYSTEMD_HOST_CGROUP/machine.slice/$scope" ]
    # The app's process is in the scope's cgroup (tree).
    wait_until 10 "the app in $scope" cgroup_has_cmd "$(tracking_mount)$cg" "sleep $marker"
    # The pod records it: stats and update use it.
    [[ "$(cat "$DIR/pods/run/$UUID/subcgroup")" == */machine.slice/$scope ]]
    run hcap stats --format=json "$UUID"
    assert_status 0
    [[ "$(python3 -c 'import json, sys; print(json.load(sys.stdin)["cgroup"])' <<<"$output")" == */machine.slice/$scope ]]

    run hcap stop "$UUID"
    assert_status 0
    wait_bg 20
    [ "$BG_STATUS" != timeout ]
    wait_until 10 "$scope to go" not unit_active "$scope"
}

@test "shell: a fly pod's app is in capsule-<uuid>.scope under machine.slice, delegated" {
    check_scope fly 3001
    # What the app itself saw (fly: no cgroup namespace).
    grep -q ":name=systemd:$SYSTEMD_HOST_CGROUP/machine.slice/capsule-$UUID.scope\$" "$TMP/vol/cgroup" ||
        grep -q "^0::$SYSTEMD_HOST_CGROUP/machine.slice/capsule-$UUID.scope\$" "$TMP/vol/cgroup" || {
        echo "the app's /proc/self/cgroup:" >&2
        cat "$TMP/vol/cgroup" >&2
        return 1
    }
}

@test "shell: a systemd-flavour pod is in capsule-<uuid>.scope under machine.slice, delegated" {
    check_scope systemd 3002
}

@test "machined: a running pod is the machine capsule-<uuid>; machinectl terminate stops it" {
    host_start
    start_bg --stage1=fly "$IMG" --exec=/bin/sleep -- 3003
    local machine=capsule-$UUID
    run hsh machinectl list --no-legend --no-pager
    assert_output_contains "$machine"
    [ "$(hsh machinectl show -p Class --value "$machine")" = container ]
    [ "$(hsh machinectl show -p Unit --value "$machine")" = "$machine.scope" ]

    run hsh machinectl terminate "$machine"
    assert_status 0
    wait_bg 20
    [ "$BG_STATUS" != timeout ]
    wait_until 10 "pod $UUID to be exited" pod_exited "$UUID"
    wait_until 10 "machine $machine to go" not hsh machinectl show "$machine"
}

@test "machined: a kvm pod is a machine of class vm, without a root directory (its files are in the VM)" {
    [ -f "$(dirname "$CAPSULE")/stage1-kvm.aci" ] || skip "not built: stage1-kvm.aci"
    host_start
    start_bg --stage1=kvm "$IMG" --exec=/bin/sleep -- 3004
    local machine=capsule-$UUID
    wait_until 10 "machine $machine" hsh machinectl show "$machine"
    [ "$(hsh machinectl show -p Class --value "$machine")" = vm ]
    [ -z "$(hsh machinectl show -p RootDirectory --value "$machine")" ]
    run hsh machinectl terminate "$machine"
    assert_status 0
    wait_bg 30
    [ "$BG_STATUS" != timeout ]
    wait_until 10 "machine $machine to go" not hsh machinectl show "$machine"
}

@test "journal: journalctl -M capsule-<uuid> shows a running systemd-flavour pod's app, with CAPSULE_POD and CAPSULE_APP" {
    host_start
    local marker="journal-m-$RANDOM$RANDOM"
    start_bg --stage1=systemd "$IMG" --exec=/bin/sh -- -c "echo $marker; exec sleep 3004"
    wait_until 15 "$marker in journalctl -M capsule-$UUID" machine_journal_has "capsule-$UUID" "$marker"
    run hsh journalctl -M "capsule-$UUID" --no-pager -o cat CAPSULE_POD="$UUID" CAPSULE_APP=busybox
    assert_status 0
    assert_output_contains "$marker"
    run hcap stop "$UUID"
    assert_status 0
    wait_bg 20
    [ "$BG_STATUS" != timeout ]
}

@test "journal: a systemd-flavour pod's log outlives gc, in the host's /var/log/journal/<id>" {
    host_start
    local marker="survives-gc-$RANDOM$RANDOM" id
    run hcap run --stage1=systemd --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/echo -- "$marker"
    assert_status 0
    UUID=$(cat "$TMP/uuid")
    id=${UUID//-/}
    [ -d "$SYSTEMD_HOST_JOURNAL/$id" ]
    run hcap gc --grace-period=0s
    assert_status 0
    run hcap list --no-legend
    [ -z "$output" ]
    run hsh journalctl -D "/var/log/journal/$id" --no-pager -o cat CAPSULE_APP=busybox
    assert_status 0
    assert_output_contains "$marker"
    run hcap logs "$UUID"
    assert_status 0
    assert_output_contains "$marker"
}

@test "detach: prints the UUID, runs capsule-<uuid>.service in machine.slice; logs -f follows; stop ends it" {
    host_start
    local marker="detached-$RANDOM$RANDOM" unit
    run hcap run --detach --stage1=systemd "$IMG" --exec=/bin/sh -- -c "echo $marker; exec sleep 3005"
    assert_status 0
    [[ "$output" =~ $UUID_RE ]]
    UUID=$output
    unit=capsule-$UUID.service
    # Type=notify: active when run --detach returns.
    [ "$(unit_prop "$unit" ActiveState)" = active ]
    [ "$(unit_prop "$unit" Slice)" = machine.slice ]
    [ "$(unit_prop "$unit" Type)" = notify ]
    [[ "$(cat "$DIR/pods/run/$UUID/subcgroup")" == */machine.slice/$unit* ]]
    pod_running "$UUID"

    systemd_host_exec timeout 30 "$CAPSULE" --dir="$DIR" logs -f "$UUID" >"$TMP/follow.out" 2>&1 3>&- &
    FOLLOW_PID=$!
    wait_until 15 "$marker from capsule logs -f" grep -q "$marker" "$TMP/follow.out"
    kill -0 "$FOLLOW_PID"

    run hcap stop "$UUID"
    assert_status 0
    wait_until 20 "$unit to stop" unit_state_is "$unit" inactive failed
    wait_until 10 "pod $UUID to be exited" pod_exited "$UUID"
    # logs -f ends with the pod.
    wait_until 10 "capsule logs -f to end" not kill -0 "$FOLLOW_PID"
    wait "$FOLLOW_PID" || true
    FOLLOW_PID=
}

# The apps of detached pods below live a second: an app that exits before the service's READY=1
# makes the start job fail (Type=notify), which is not what these tests are about.
@test "detach --restart=on-failure: the same pod runs again until its app exits 0" {
    host_start
    run hcap run --detach --restart=on-failure --stage1=fly --volume=data,kind=host,source="$TMP/vol" \
        "$IMG" --exec=/bin/sh -- -c 'echo run >> /data/runs; sleep 1; [ "$(wc -l < /data/runs)" -ge 3 ]'
    assert_status 0
    [[ "$output" =~ $UUID_RE ]]
    UUID=$output
    wait_until 30 "3 runs and the unit's end" runs_done 3 "capsule-$UUID.service"
    sleep 1
    [ "$(wc -l <"$TMP/vol/runs")" -eq 3 ]
    unit_state_is "capsule-$UUID.service" inactive
    run hcap status "$UUID"
    assert_output_contains "state=exited"
    assert_output_contains "app-busybox=0"
    # One pod, run three times.
    [ "$(hcap list --no-legend | wc -l)" -eq 1 ]
}

@test "detach --restart=no: an app that fails runs once" {
    host_start
    run hcap run --detach --restart=no --stage1=fly --volume=data,kind=host,source="$TMP/vol" \
        "$IMG" --exec=/bin/sh -- -c 'echo run >> /data/runs; sleep 1; exit 1'
    assert_status 0
    [[ "$output" =~ $UUID_RE ]]
    UUID=$output
    wait_until 20 "capsule-$UUID.service to end" runs_done 1 "capsule-$UUID.service"
    sleep 1
    [ "$(wc -l <"$TMP/vol/runs")" -eq 1 ]
    run hcap status "$UUID"
    assert_output_contains "state=exited"
    assert_output_contains "app-busybox=1"
}

@test "--unit-property: CPUWeight and MemoryHigh reach the detached pod's service" {
    host_start
    run hcap run --detach --stage1=fly --unit-property=CPUWeight=50 --unit-property=MemoryHigh=209715200 \
        "$IMG" --exec=/bin/sleep -- 3006
    assert_status 0
    UUID=$output
    [ "$(unit_prop "capsule-$UUID.service" CPUWeight)" = 50 ]
    [ "$(unit_prop "capsule-$UUID.service" MemoryHigh)" = 209715200 ]
    run hcap stop "$UUID"
    assert_status 0
}

@test "run errors: a bad --unit-property, --restart without --detach: one line, 254, no pod, no unit" {
    host_start
    local case args want
    # FLAGS|what the message names
    for case in "--detach --unit-property=Foo=1|Foo" "--unit-property=Foo=1|Foo" \
        "--detach --unit-property=CPUWeight=lots|CPUWeight" "--restart=always|--restart" \
        "--detach --restart=sometimes|sometimes"; do
        args=${case%|*} want=${case#*|}
        # shellcheck disable=SC2086
        run hcap run --stage1=fly $args "$IMG" --exec=/bin/true
        assert_capsule_error "$want"
        run hcap list --no-legend
        assert_status 0
        [ -z "$output" ] || { echo "after $args: pods left: $output" >&2; return 1; }
        assert_empty_dir "$DIR/pods/embryo"
        assert_empty_dir "$DIR/pods/prepare"
        assert_no_pod_units
    done
}

# check_notify_gate FLAVOUR UNIT: a Type=notify unit runs a pod whose app (image annotated
# supports-systemd-notify) waits for $TMP/vol/go, then sends READY=1 and STATUS=serving: the unit
# is activating until then, active after; no second unit, the pod in the unit's cgroup.
check_notify_gate() {
    local flavour=$1 unit=$2 img
    require_cc
    host_start
    img=$(notify_image notifier true)
    hsh systemd-run --quiet --unit="$unit" -p Type=notify -p NotifyAccess=all -p Delegate=yes -p KillMode=mixed \
        --no-block "$CAPSULE" --dir="$DIR" run --stage1="$flavour" --volume=data,kind=host,source="$TMP/vol" \
        "$img" --exec=/bin/sh -- -c 'echo "$NOTIFY_SOCKET" > /data/started
            while [ ! -e /data/go ]; do sleep 0.1; done
            exec /bin/notify READY=1 STATUS=serving -- /bin/sleep 3007'
    wait_until 30 "the app to start" test -s "$TMP/vol/started"
    # The app runs, has not said READY: the unit waits.
    [ "$(cat "$TMP/vol/started")" = /run/systemd/notify ]
    sleep 1
    [ "$(unit_prop "$unit" ActiveState)" = activating ]
    touch "$TMP/vol/go"
    wait_until 15 "$unit to be active" unit_state_is "$unit" active
    # No second unit: the pod is in the unit's cgroup.
    run hsh systemctl list-units --all --no-legend --plain 'capsule-*'
    [ -z "$output" ] || { echo "units: $output" >&2; return 1; }
    UUID=$(ls "$DIR/pods/run")
    [[ "$(cat "$DIR/pods/run/$UUID/subcgroup")" == */system.slice/$unit* ]]
}

@test "ExecStart= of a Type=notify unit, fly app with supports-systemd-notify: active only after its READY=1, its STATUS relayed" {
    check_notify_gate fly notify-fly.service
    [ "$(unit_prop notify-fly.service StatusText)" = serving ]
    hsh systemctl stop notify-fly.service
    wait_until 20 "the pod to exit" pod_exited "$UUID"
}

@test "ExecStart= of a Type=notify unit, systemd-flavour app with supports-systemd-notify: active only after its READY=1" {
    check_notify_gate systemd notify-sd.service
    hsh systemctl stop notify-sd.service
    wait_until 20 "the pod to exit" pod_exited "$UUID"
}

@test "ExecStart= of a Type=notify unit, app without the annotation: active once the app started" {
    host_start
    local unit=plain-pod.service
    hsh systemd-run --quiet --unit=$unit -p Type=notify -p NotifyAccess=all --no-block \
        "$CAPSULE" --dir="$DIR" run --stage1=fly --volume=data,kind=host,source="$TMP/vol" \
        "$IMG" --exec=/bin/sh -- -c 'echo "${NOTIFY_SOCKET:-none}" > /data/started; exec sleep 3008'
    wait_until 30 "$unit to be active" unit_state_is $unit active
    wait_until 10 "the app to start" test -s "$TMP/vol/started"
    # The app was not told to notify.
    [ "$(cat "$TMP/vol/started")" = none ]
    [ "$(unit_prop $unit MainPID)" -gt 0 ]
    hsh systemctl stop $unit
    UUID=$(ls "$DIR/pods/run")
    wait_until 20 "the pod to exit" pod_exited "$UUID"
}

@test "ExecStart=: systemd-run --wait capsule run makes no scope; the app is in the unit's cgroup" {
    host_start
    hsh systemd-run --quiet --unit=podunit --wait --pipe "$CAPSULE" --dir="$DIR" run --stage1=fly \
        --uuid-file-save="$TMP/uuid" --volume=data,kind=host,source="$TMP/vol" "$IMG" --exec=/bin/sh -- -c \
        'cat /proc/self/cgroup > /data/cgroup; while [ ! -e /data/go ]; do sleep 0.1; done; echo done' \
        </dev/null >"$TMP/bg.out" 2>&1 3>&- &
    BG_PID=$!
    wait_until 30 "the app to start" test -s "$TMP/vol/cgroup"
    UUID=$(cat "$TMP/uuid")
    run hsh systemctl list-units --all --no-legend --plain 'capsule-*'
    [ -z "$output" ] || { echo "units: $output" >&2; return 1; }
    [ ! -e "$(tracking_mount)$SYSTEMD_HOST_CGROUP/machine.slice/capsule-$UUID.scope" ]
    grep -q "$SYSTEMD_HOST_CGROUP/system.slice/podunit.service" "$TMP/vol/cgroup"
    [[ "$(cat "$DIR/pods/run/$UUID/subcgroup")" == */system.slice/podunit.service* ]]
    touch "$TMP/vol/go"
    wait_bg 20
    [ "$BG_STATUS" = 0 ] || { echo "systemd-run: $BG_STATUS: $(cat "$TMP/bg.out")" >&2; return 1; }
    grep -qx done "$TMP/bg.out"
}

@test "update: --memory and --cpu of a pod in its scope through the unit: MemoryMax, memory.limit_in_bytes, CPU quota" {
    host_start
    local scope mem cpu
    start_bg --stage1=fly "$IMG" --memory=128Mi --cpu=1 --exec=/bin/sleep -- 3009
    scope=capsule-$UUID.scope
    mem=/sys/fs/cgroup/memory$SYSTEMD_HOST_CGROUP/machine.slice/$scope/memory.limit_in_bytes
    cpu=/sys/fs/cgroup/cpu$SYSTEMD_HOST_CGROUP/machine.slice/$scope/cpu.cfs_quota_us
    # The run's limits are the scope's.
    [ "$(unit_prop "$scope" MemoryMax)" = 134217728 ]
    [ "$(unit_prop "$scope" CPUQuotaPerSecUSec)" = 1s ]
    [ "$(cat "$mem")" = 134217728 ]

    run hcap update "$UUID" --memory=64Mi --cpu=500m
    assert_status 0
    [ "$(unit_prop "$scope" MemoryMax)" = 67108864 ]
    [ "$(unit_prop "$scope" CPUQuotaPerSecUSec)" = 500ms ]
    [ "$(cat "$mem")" = 67108864 ]
    [ ! -e "$cpu" ] || [ "$(cat "$cpu")" = 50000 ]
    run hcap stats --format=json "$UUID"
    assert_status 0
    [ "$(python3 -c 'import json, sys; print(json.load(sys.stdin)["memory"]["limit"])' <<<"$output")" = 67108864 ]
    run hcap stop "$UUID"
    assert_status 0
    wait_bg 20
}

@test "gc: no unit, scope or machine of any pod is left" {
    host_start
    # An exited foreground pod, a stopped detached one, a failed detached one, a running one stopped.
    run hcap run --stage1=fly "$IMG" --exec=/bin/true
    assert_status 0
    run hcap run --detach --stage1=systemd "$IMG" --exec=/bin/sleep -- 3010
    assert_status 0
    local detached=$output
    run hcap run --detach --restart=no --stage1=fly "$IMG" --exec=/bin/sh -- -c 'sleep 1; exit 1'
    assert_status 0
    local failed=$output
    run hcap stop "$detached"
    assert_status 0
    wait_until 20 "capsule-$detached.service to stop" not unit_active "capsule-$detached.service"
    wait_until 20 "capsule-$failed.service to end" not unit_active "capsule-$failed.service"
    wait_until 10 "pod $detached to be exited" pod_exited "$detached"
    wait_until 10 "pod $failed to be exited" pod_exited "$failed"

    run hcap gc --grace-period=0s
    assert_status 0
    run hcap list --no-legend
    [ -z "$output" ]
    assert_no_pod_units
}

@test "dist/capsule-gc.service: its hardening still lets gc unmount and remove exited pods" {
    host_start
    local root
    root=$(readlink -f "$BATS_TEST_DIRNAME/../..")
    run hcap run --stage1=fly "$IMG" --exec=/bin/true
    assert_status 0
    run hcap run --stage1=systemd "$IMG" --exec=/bin/true
    assert_status 0
    [ "$(hcap list --no-legend | wc -l)" -eq 2 ]
    # The unit as shipped, running this capsule on this test's directory, with no grace period.
    sed "s|^ExecStart=/usr/local/bin/capsule gc\$|ExecStart=$CAPSULE --dir=$DIR gc --grace-period=0s|" \
        "$root/dist/capsule-gc.service" >"$TMP/capsule-gc.service"
    grep -q "^ExecStart=$CAPSULE " "$TMP/capsule-gc.service"
    # Through $TMP: the checkout may live under /tmp, which the test host does not share.
    cp "$root/dist/capsule-gc.timer" "$TMP/"
    hsh cp "$TMP/capsule-gc.service" "$TMP/capsule-gc.timer" /run/systemd/system/
    hsh systemctl daemon-reload
    run hsh systemctl start capsule-gc.service
    assert_status 0
    [ "$(unit_prop capsule-gc.service Result)" = success ]
    run hcap list --no-legend
    [ -z "$output" ] || { echo "pods left: $output; $(hsh journalctl -u capsule-gc --no-pager -o cat)" >&2; return 1; }
    # No mount of a pod is left in the host's mount namespace (where the pods ran).
    run hsh awk -v p="$DIR/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo
    [ -z "$output" ] || { echo "mounts left: $output" >&2; return 1; }
    [ "$(unit_prop capsule-gc.timer LoadState)" = loaded ]
}

@test "without systemd: --detach is refused in one line, 254, and no pod is left" {
    # The machine itself: its PID 1 is not systemd (/run/systemd/system is missing).
    if [ -d /run/systemd/system ]; then
        skip "this machine was booted with systemd"
    fi
    run cap run --detach --stage1=fly "$IMG" --exec=/bin/true
    assert_capsule_error "systemd"
    run cap list --no-legend
    [ -z "$output" ]
    assert_empty_dir "$DIR/pods/embryo"
    assert_empty_dir "$DIR/pods/prepare"
    assert_empty_dir "$DIR/pods/prepared"
    assert_empty_dir "$DIR/pods/run"
    # --restart without --detach: an error everywhere.
    run cap run --restart=on-failure --stage1=fly "$IMG" --exec=/bin/true
    assert_capsule_error "--restart"
    # A pod still runs as before, in capsule/<uuid> (cgroupfs).
    run cap run --stage1=fly --uuid-file-save="$TMP/uuid" "$IMG" --memory=64Mi --exec=/bin/true
    assert_status 0
    UUID=$(cat "$TMP/uuid")
    [ "$(cat "$DIR/pods/run/$UUID/subcgroup")" = "capsule/$UUID" ]
    cap gc --grace-period=0s >/dev/null
}
