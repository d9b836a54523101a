#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The kvm flavour: each pod in a qemu VM (TCG here, forced by kvm.json so no test waits for the
# KVM probe but the one about it). Output and exit status, environment, arguments, users,
# volumes, the VM's size, stop, gc, and every bad input failing in one line, leaving nothing.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
    pod_test_setup
    require_vm_host
    CONF=$TMP/conf
    mkdir -p "$CONF"
    kvm_json '"accelerator": "tcg"'
    export CAPSULE_STAGE1=kvm
}

teardown() {
    # A VM a failed test left running: its qemu is named after the pod.
    local pod
    for pod in "$DIR"/pods/*/*; do
        [ -d "$pod" ] && pkill -KILL -f "capsule-${pod##*/}" 2>/dev/null || true
    done
    pod_test_teardown
}

# require_vm_host: qemu and a Debian kernel (`make deps` installs both; CI must have them).
require_vm_host() {
    if command -v qemu-system-x86_64 > /dev/null && compgen -G '/boot/vmlinuz-*' > /dev/null \
        && [ -f "$(dirname "$CAPSULE")/stage1-kvm.aci" ]; then
        return 0
    fi
    [ "${CI:-}" = true ] && { echo "no qemu-system-x86_64, /boot/vmlinuz-* or stage1-kvm.aci" >&2; return 1; }
    skip "no qemu, guest kernel or stage1-kvm.aci here"
}

# kvm_json MEMBERS: this test's kvm.json (its local config dir) with the header and MEMBERS.
kvm_json() {
    printf '{"capsuleKind": "kvm", "capsuleVersion": "v1"%s}\n' "${1:+, $1}" > "$CONF/kvm.json"
}

# kvm ARGS...: capsule with this test's --dir and config (pods run with the kvm flavour).
kvm() {
    cap --local-config="$CONF" "$@"
}

only_pod() {
    ls "$DIR/pods/run"
}

# assert_clean: no half-made pod, no mount, no qemu of this test's pods.
assert_clean() {
    assert_empty_dir "$DIR/pods/embryo"
    assert_empty_dir "$DIR/pods/prepare"
    assert_no_mounts "$DIR"
    local pod
    for pod in "$DIR"/pods/*/*; do
        [ -d "$pod" ] || continue
        ! pgrep -f "capsule-${pod##*/}" > /dev/null || { echo "qemu left running for ${pod##*/}" >&2; return 1; }
    done
}

# start_vm_sleeper SCRIPT: a running kvm pod of $IMG in the background running `sh -c SCRIPT`;
# waits until the app printed "started" (its output goes to $TMP/out). Sets UUID and BG_PID.
start_vm_sleeper() {
    kvm run --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/sh -- -c "$1" > "$TMP/out" 2> "$TMP/err" &
    BG_PID=$!
    for _ in $(seq 300); do
        if grep -q started "$TMP/out" 2> /dev/null; then
            UUID=$(cat "$TMP/uuid")
            return 0
        fi
        kill -0 "$BG_PID" 2> /dev/null || break
        sleep 0.1
    done
    echo "the VM's app did not start; stderr: $(cat "$TMP/err")" >&2
    return 1
}

@test "kvm: the app's output (stdout and stderr apart), its exit status, status, logs" {
    run --separate-stderr kvm run "$IMG" --exec=/bin/sh -- -c 'echo out line; echo err line >&2; exit 7'
    assert_status 7
    [ "$output" = "out line" ]
    [ "$stderr" = "err line" ]
    local uuid
    uuid=$(only_pod)
    run cap status "$uuid"
    assert_status 0
    assert_output_contains "state=exited"
    assert_output_contains "app-busybox=7"
    run cap logs "$uuid"
    assert_status 0
    assert_output_contains "out line"
    assert_output_contains "err line"
    # The image's own exec, status 0.
    run kvm run "$IMG"
    assert_status 0
    [ "$output" = "hello from busybox" ]
    assert_clean
}

@test "kvm: environment, arguments, user, group and working directory reach the app" {
    run kvm run --set-env=GREETING=hi "$IMG" --user=1000 --group=50 --working-dir=/home/user/new \
        --exec=/bin/sh -- -c 'echo "env $GREETING $AC_APP_NAME"; echo "args $0 $1 $2"; id -u; id -g; pwd; hostname' a b 'c d'
    assert_status 0
    [ "${lines[0]}" = "env hi busybox" ]
    [ "${lines[1]}" = "args a b c d" ]
    [ "${lines[2]}" = 1000 ]
    [ "${lines[3]}" = 50 ]
    [ "${lines[4]}" = /home/user/new ] # made when the image lacks it
    [ "${lines[5]}" = "capsule-$(only_pod | cut -c1-8)" ]
}

@test "kvm: a host volume is in the guest, read-only; an empty volume is writable" {
    mkdir -p "$TMP/vol"
    echo "from the host" > "$TMP/vol/file"
    run kvm run --volume=data,kind=host,source="$TMP/vol" --volume=scratch,kind=empty "$IMG" \
        --mount=volume=data,target=/data --mount=volume=scratch,target=/scratch \
        --exec=/bin/sh -- -c 'cat /data/file; touch /data/new 2>/dev/null && echo WRITABLE; echo x > /scratch/y && cat /scratch/y'
    assert_status 0
    [ "${lines[0]}" = "from the host" ]
    [ "${lines[1]}" = "x" ]
    [ ! -e "$TMP/vol/new" ]
    assert_clean
}

@test "kvm: --memory and --cpu size the VM" {
    run kvm run "$IMG" --memory=64Mi --cpu=2 --exec=/bin/sh -- -c 'grep MemTotal /proc/meminfo; nproc'
    assert_status 0
    local kib cpus want
    kib=$(echo "${lines[0]}" | awk '{print $2}')
    # 64 MiB for the app + 128 MiB for the guest = 192 MiB of RAM, less what the kernel keeps.
    [ "$kib" -gt $((150 * 1024)) ] && [ "$kib" -le $((192 * 1024)) ] || { echo "MemTotal $kib kB" >&2; return 1; }
    want=$(($(nproc) < 2 ? $(nproc) : 2))
    [ "${lines[1]}" = "$want" ]
    # Without --memory: 512 MiB + 128 MiB.
    run kvm run "$IMG" --exec=/bin/sh -- -c 'grep MemTotal /proc/meminfo; nproc'
    kib=$(echo "${lines[0]}" | awk '{print $2}')
    [ "$kib" -gt $((560 * 1024)) ] && [ "$kib" -le $((640 * 1024)) ] || { echo "MemTotal $kib kB" >&2; return 1; }
    [ "${lines[1]}" = 1 ]
}

@test "kvm: two apps in one VM; the pod's status is the first non-zero" {
    run --separate-stderr kvm run "$IMG" --name=first --exec=/bin/sh -- -c 'echo one; exit 0' \
        --- "$IMG" --name=second --exec=/bin/sh -- -c 'sleep 0.5; echo two; exit 4'
    assert_status 4
    assert_output_contains one
    assert_output_contains two
    run cap status "$(only_pod)"
    assert_output_contains "app-first=0"
    assert_output_contains "app-second=4"
}

@test "kvm: stop asks the guest (the app sees SIGTERM); other signals are forwarded; --force kills the VM" {
    start_vm_sleeper 'trap "echo got TERM; exit 3" TERM; trap "echo got USR1" USR1; echo started; while true; do sleep 0.1; done'
    run cap status "$UUID"
    assert_output_contains "state=running"
    # Other signals to `run` reach the apps.
    kill -USR1 "$(cat "$DIR/pods/run/$UUID/kvm/waiter")"
    for _ in $(seq 50); do grep -q "got USR1" "$TMP/out" && break; sleep 0.1; done
    grep -q "got USR1" "$TMP/out"
    local qemu
    qemu=$(cap status "$UUID" | sed -n 's/^pid=//p')
    grep -q qemu-system "/proc/$qemu/cmdline"
    run cap stop "$UUID"
    assert_status 0
    local rc=0
    wait "$BG_PID" || rc=$?
    BG_PID=
    [ "$rc" = 3 ] || { echo "run exited with $rc, not 3" >&2; return 1; }
    grep -q "got TERM" "$TMP/out"
    run cap status "$UUID"
    assert_output_contains "app-busybox=3"
    assert_clean

    start_vm_sleeper 'trap "" TERM; echo started; while true; do sleep 0.1; done'
    run cap stop --force "$UUID"
    assert_status 0
    rc=0
    wait "$BG_PID" || rc=$?
    BG_PID=
    [ "$rc" = 137 ] || { echo "run exited with $rc, not 137" >&2; return 1; }
    run cap status "$UUID"
    assert_output_contains "app-busybox=137"
    assert_clean
}

@test "kvm: gc removes the pod with its disk image; enter says it is not supported" {
    start_vm_sleeper 'echo started; sleep 300'
    [ -f "$DIR/pods/run/$UUID/kvm/disk.img" ]
    run cap enter "$UUID"
    assert_capsule_error "enter is not supported by the kvm flavour"
    cap stop --force "$UUID"
    wait "$BG_PID" || true
    BG_PID=
    run cap gc --grace-period=0s
    assert_status 0
    [ ! -e "$DIR/pods/exited-garbage/$UUID" ] && [ ! -e "$DIR/pods/run/$UUID" ]
    [ -z "$(find "$DIR/pods" -name disk.img)" ]
    assert_clean
}

@test "kvm: --debug shows the qemu command line; the accelerator auto-probe picks one and runs" {
    kvm_json ''
    run kvm --debug run "$IMG" --exec=/bin/true
    assert_status 0
    assert_output_contains "qemu command: "
    assert_output_contains "-machine microvm"
    echo "$output" | grep -E -q -- "-accel (kvm|tcg)"
    kvm_json '"accelerator": "tcg"'
    run kvm --debug run "$IMG" --exec=/bin/true
    assert_output_contains "-accel tcg"
}

@test "kvm: a missing or broken kernel, a missing qemu: one line, nothing left" {
    kvm_json '"accelerator": "tcg", "kernel": "/nonexistent/vmlinuz"'
    run kvm run "$IMG"
    assert_capsule_error "guest kernel '/nonexistent/vmlinuz': No such file or directory"
    echo "not a kernel" > "$TMP/vmlinuz"
    kvm_json "\"accelerator\": \"tcg\", \"kernel\": \"$TMP/vmlinuz\""
    run kvm run "$IMG"
    assert_capsule_error "kernel '$TMP/vmlinuz': not a Linux bzImage"
    kvm_json '"accelerator": "tcg", "qemu": "/nonexistent/qemu-system-x86_64"'
    run kvm run "$IMG"
    assert_capsule_error "qemu '/nonexistent/qemu-system-x86_64': not found or not executable"
    # A qemu that fails to start the VM: its message, in one line.
    printf '#!/bin/sh\necho "qemu-system-x86_64: cannot set up guest memory" >&2\nexit 1\n' > "$TMP/qemu"
    chmod +x "$TMP/qemu"
    kvm_json "\"accelerator\": \"tcg\", \"qemu\": \"$TMP/qemu\""
    run kvm run "$IMG"
    assert_capsule_error "the VM ended before its apps did (qemu exited with status 1): qemu-system-x86_64: cannot set up guest memory"
    assert_clean
}

@test "kvm: an exec not in the image, --interactive: one line before any VM starts" {
    run kvm run "$IMG" --exec=/bin/nonexistent
    assert_capsule_error "exec '/bin/nonexistent': no such executable in the app's rootfs"
    run kvm run "$IMG" --exec=nonexistent-tool
    assert_capsule_error "exec 'nonexistent-tool': not found in the app's PATH"
    run kvm run --interactive "$IMG"
    assert_capsule_error "--interactive is not supported by the kvm flavour"
    [ -z "$(find "$DIR/pods" -name disk.img)" ]
    assert_clean
}
