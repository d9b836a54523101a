#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The systemd test host (tests/lib/systemd_host.bash): it boots, runs units, machined and the
# journal work inside, it leaves nothing behind; and the systemd stage1 runs pods in it.

load ../lib/common
load ../lib/systemd_host

setup() {
    capsule_setup
    require_systemd_host
}

teardown() {
    systemd_host_stop || true
    capsule_teardown
}

# The super options of the mount at PATH (a superblock remount shows here).
super_options() {
    awk -v p="$1" '$5 == p {for (i = 7; $i != "-"; i++); o = $(i+3)} END {print o}' /proc/self/mountinfo
}

# require_stage1_systemd: build/stage1-systemd.aci next to the binary; skipped until it is built,
# except in CI.
require_stage1_systemd() {
    local aci
    aci=$(dirname "$CAPSULE")/stage1-systemd.aci
    [ -f "$aci" ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "$aci is missing" >&2
        return 1
    fi
    skip "stage1-systemd.aci is not built yet"
}

@test "systemd host: boots the host's systemd as PID 1, running or degraded" {
    systemd_host_start
    [ -n "$SYSTEMD_HOST_PID" ]
    [ "$(readlink "/proc/$SYSTEMD_HOST_PID/exe")" = "$(readlink -f /lib/systemd/systemd)" ]
    run systemd_host_exec cat /proc/1/comm
    assert_status 0
    [ "$output" = systemd ]
    run systemd_host_exec systemctl is-system-running
    [[ "$output" == running || "$output" == degraded ]]
    # The machine's daemons and jobs are masked inside.
    run systemd_host_exec systemctl is-enabled docker-registry.service apt-daily.timer
    [ "${lines[0]}" = masked-runtime ] && [ "${lines[1]}" = masked-runtime ]
}

@test "systemd host: systemd-run --wait --pipe runs a transient service" {
    systemd_host_start
    run systemd_host_exec systemd-run --quiet --wait --pipe echo hi
    assert_status 0
    [ "$output" = hi ]
    run systemd_host_exec systemd-run --quiet --wait --pipe sh -c 'exit 7'
    [ "$status" -ne 0 ]
}

@test "systemd host: machinectl list talks to machined" {
    systemd_host_start
    run systemd_host_exec machinectl list --no-pager
    assert_status 0
    assert_output_contains "No machines."
}

@test "systemd host: the journal inside sees a message" {
    systemd_host_start
    local marker="capsule-test-host-$$-$RANDOM"
    run systemd_host_exec systemd-cat -t capsule-test echo "$marker"
    assert_status 0
    systemd_host_exec journalctl --sync
    run systemd_host_exec journalctl -t capsule-test --no-pager -o cat
    assert_status 0
    assert_output_contains "$marker"
}

@test "systemd host: stop leaves no process, cgroup or change to the machine's mounts" {
    local cgroup_opts root_opts canary pid upid cg
    cgroup_opts=$(super_options /sys/fs/cgroup)
    root_opts=$(super_options /)
    canary=$(mktemp /tmp/capsule-test-host-canary.XXXXXX)
    systemd_host_start
    pid=$SYSTEMD_HOST_PID upid=$SYSTEMD_HOST_UNSHARE_PID cg=$SYSTEMD_HOST_CGROUP
    [ -n "$pid" ] && [ -n "$upid" ] && [ -n "$cg" ]
    # Inside: its own /tmp (tmpfiles empties it at boot) with the test's directory shared.
    run systemd_host_exec test -e "$canary"
    [ "$status" -ne 0 ]
    systemd_host_exec touch "$TMP/from-inside"
    # A running service, so that there is something to stop.
    systemd_host_exec systemd-run --quiet --unit=capsule-test-sleep sleep 300
    ls -d /sys/fs/cgroup/*"$cg"/system.slice/capsule-test-sleep.service >/dev/null

    systemd_host_stop
    [ ! -e "/proc/$pid" ]
    [ ! -e "/proc/$upid" ]
    [ -z "$SYSTEMD_HOST_PID" ]
    local d
    for d in /sys/fs/cgroup"$cg" /sys/fs/cgroup/*"$cg"; do
        if [ -e "$d" ]; then
            echo "cgroup left: $d" >&2
            return 1
        fi
    done
    [ -e "$canary" ]
    rm -f "$canary"
    [ -e "$TMP/from-inside" ]
    [ "$(super_options /sys/fs/cgroup)" = "$cgroup_opts" ]
    [ "$(super_options /)" = "$root_opts" ]
}

# run_pod ARGS...: `capsule run --stage1=systemd` of the busybox ACI inside the test host (bats'
# run), bounded: a pod that does not end fails the test instead of hanging it.
run_pod() {
    run systemd_host_exec timeout --kill-after=2 15 "$CAPSULE" --dir="$DIR" --insecure-options=image \
        run --stage1=systemd "$TMP/busybox.aci" "$@"
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        echo "capsule run --stage1=systemd did not end within 15 s (status $status); output: $output" >&2
        return 1
    fi
}

@test "systemd host: capsule run --stage1=systemd prints and exits 0" {
    require_stage1_systemd
    make_aci "$TMP/busybox.aci"
    systemd_host_start
    run_pod --exec=/bin/echo -- hello
    assert_status 0
    assert_output_contains hello
}

@test "systemd host: capsule run --stage1=systemd exits with the app's status" {
    require_stage1_systemd
    make_aci "$TMP/busybox.aci"
    systemd_host_start
    run_pod --exec=/bin/sh -- -c 'exit 3'
    assert_status 3
}
