#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Pod cgroups through cgroupfs: placement, --memory/--cpu, stats, update, removal at gc/rm.

load ../lib/common

CG=/sys/fs/cgroup

setup() {
    pod_test_setup
    UUID=
    if [ "$(stat -fc %T "$CG")" = cgroup2fs ]; then
        V2=1
        MEMORY_LIMIT_FILE=memory.max
    else
        V2=
        MEMORY_LIMIT_FILE=memory.limit_in_bytes
    fi
    PAGE=$(getconf PAGESIZE)
}

# pod_cgroup_dirs: every directory of the pod's cgroup that exists, in any hierarchy.
pod_cgroup_dirs() {
    local d
    for d in "$CG/capsule/$UUID" "$CG"/*/capsule/"$UUID"; do
        [ -d "$d" ] && echo "$d"
    done
    return 0
}

# memory_dir: the pod's cgroup in the hierarchy with the memory controller.
memory_dir() {
    if [ -n "$V2" ]; then echo "$CG/capsule/$UUID"; else echo "$CG/memory/capsule/$UUID"; fi
}

teardown() {
    # Only what this test started: its pod (by UUID), its background capsule, its cgroups.
    if [ -n "${UUID:-}" ]; then
        cap stop --force "$UUID" >/dev/null 2>&1 || true
        cap status --wait=5s "$UUID" >/dev/null 2>&1 || true
    fi
    pod_test_teardown
    if [ -n "${UUID:-}" ]; then
        pod_cgroup_dirs | while read -r d; do
            find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done
    fi
}

# stop_sleeper: stop the pod and wait for it to exit.
stop_sleeper() {
    cap stop "$UUID" >/dev/null
    cap status --wait=10s "$UUID" >/dev/null
    wait "$BG_PID" || true
    BG_PID=
}

@test "a pod runs in capsule/UUID with its pid in cgroup.procs; gc removes the cgroup" {
    start_sleeper --memory=64M
    [ "$(cat "$DIR/pods/run/$UUID/subcgroup")" = "capsule/$UUID" ]
    pid=$(cap status "$UUID" | sed -n 's/^pid=//p')
    dir=$(memory_dir)
    grep -qx "$pid" "$dir/cgroup.procs"
    [ "$(cat "$dir/$MEMORY_LIMIT_FILE")" = 64000000 ]
    if [ -z "$V2" ]; then
        for h in cpu cpuacct pids blkio; do
            grep -qx "$pid" "$(readlink -f "$CG/$h")/capsule/$UUID/cgroup.procs"
        done
    fi
    stop_sleeper
    [ -n "$(pod_cgroup_dirs)" ]
    run cap gc --grace-period=0s
    assert_status 0
    [ -z "$(pod_cgroup_dirs)" ]
    [ ! -e "$DIR/pods/exited-garbage/$UUID" ]
}

@test "update changes the limits of a running pod; stats shows them" {
    start_sleeper --memory=64M --cpu=500m
    run cap update "${UUID:0:8}" --memory=32M --cpu=250m
    assert_status 0
    [ "$(cat "$(memory_dir)/$MEMORY_LIMIT_FILE")" = $((32000000 / PAGE * PAGE)) ]
    if [ -n "$V2" ]; then
        [ "$(cat "$CG/capsule/$UUID/cpu.max")" = "25000 100000" ]
    else
        [ "$(cat "$(readlink -f "$CG/cpu")/capsule/$UUID/cpu.cfs_quota_us")" = 25000 ]
    fi
    run cap stats "$UUID"
    assert_status 0
    assert_output_contains "cgroup capsule/$UUID"
    [[ "$output" =~ cpu_usage_ns\ [0-9]+ ]]
    [[ "$output" =~ memory_current\ [0-9.]+\ [KMG]?i?B ]]
    assert_output_contains "memory_limit 30.5 MiB"
    [[ "$output" =~ pids_current\ [1-9] ]]
    run cap stats --format=json "$UUID"
    assert_status 0
    echo "$output" | EXPECT=$((32000000 / PAGE * PAGE)) python3 -c '
import json, os, sys
j = json.load(sys.stdin)
assert j["memory"]["limit"] == int(os.environ["EXPECT"]), j
assert isinstance(j["cpu"]["usage_ns"], int)
assert isinstance(j["memory"]["current"], int)
assert j["pids"]["current"] >= 1, j
'
}

@test "an exited pod keeps its cgroup for stats until rm removes it" {
    cap run --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/true
    UUID=$(cat "$TMP/uuid")
    [ -n "$(pod_cgroup_dirs)" ]
    run cap stats "$UUID"
    assert_status 0
    assert_output_contains "pids_current 0"
    run cap update "$UUID" --memory=32M
    assert_capsule_error "pod $UUID is not running (it is exited)"
    run cap rm "$UUID"
    assert_status 0
    [ -z "$(pod_cgroup_dirs)" ]
    [ -d "$CG/memory/capsule" ] || [ -d "$CG/capsule" ]
}

@test "stats and update: bad inputs are one-line errors" {
    run cap stats 00000000-0000-4000-8000-000000000000
    assert_capsule_error "no pod"
    UUID=$(cap prepare "$IMG")
    run cap stats "$UUID"
    assert_capsule_error "pod $UUID has no cgroup (it is prepared"
    run cap update "$UUID" --memory=32M
    assert_capsule_error "pod $UUID is not running (it is prepared)"
    for bad in lots 12x -5 0 100m; do
        run cap update "$UUID" --memory="$bad"
        assert_capsule_error "--memory=$bad"
    done
    for bad in fast 1m -1; do
        run cap update "$UUID" --cpu="$bad"
        assert_capsule_error "--cpu=$bad"
    done
    run cap update "$UUID"
    assert_capsule_error "nothing to change"
    run cap run "$IMG" --memory=lots --exec=/bin/true
    assert_capsule_error "--memory=lots"
    run cap prepare "$IMG" --cpu=0
    assert_capsule_error "--cpu=0"
    run cap prepare --memory=64M "$IMG"
    assert_capsule_error "--memory is an app flag"
    [ -z "$(pod_cgroup_dirs)" ]
}

@test "where cgroupfs is read-only the pod runs without a cgroup; stats says so" {
    # A private mount namespace in which every cgroup hierarchy is read-only, as in a
    # container without cgroup delegation.
    run unshare -m --propagation private sh -c '
        for m in $(awk "\$3 ~ /^cgroup2?\$/ {print \$2}" /proc/self/mounts); do
            mount -o remount,bind,ro "$m" || exit 99
        done
        exec "$0" --dir="$1" --debug run --uuid-file-save="$2" "$3" --memory=64M --exec=/bin/echo -- ran' \
        "$CAPSULE" "$DIR" "$TMP/uuid" "$IMG"
    assert_status 0
    assert_output_contains "ran"
    assert_output_contains "no cgroup"
    assert_output_contains "--memory/--cpu not applied"
    UUID=$(cat "$TMP/uuid")
    [ ! -e "$DIR/pods/run/$UUID/subcgroup" ]
    [ -z "$(pod_cgroup_dirs)" ]
    run cap stats "$UUID"
    assert_capsule_error "pod $UUID has no cgroup (it is exited"
}
