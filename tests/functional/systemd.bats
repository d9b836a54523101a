#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Pods run by the systemd stage1 (`capsule run --stage1=systemd`), one test per rule of the
# appc executor (ace.md: environment, volumes, working directory, users and groups, isolators,
# event handlers, exit status) plus the flavour's own: console output, hostname, masked /proc
# and /sys, stop, enter, journal, gc and bad input. Every pod here is a real one: the host's
# systemd as PID 1 of its namespaces.

load ../lib/common
load ../lib/systemd_pods

setup_file() { sd_setup_file; }
setup() { sd_setup; }
teardown() { sd_teardown; }

# appc's default capability set as /proc/PID/status shows it: AUDIT_WRITE CHOWN DAC_OVERRIDE
# FOWNER FSETID KILL MKNOD NET_BIND_SERVICE NET_RAW SETFCAP SETGID SETPCAP SETUID SYS_CHROOT.
DEFAULT_CAPS=00000000a80425fb

# sd_run_stdout ARGS...: sd_run with its stderr dropped (the apps' output is all on stdout).
sd_run_stdout() {
    sd_run "$@" 2> /dev/null
}

# assert_output_is TEXT: bats' $output is exactly TEXT; shows both when not.
assert_output_is() {
    [ "$output" = "$1" ] && return 0
    printf 'expected output:\n%s\ngot:\n%s\n' "$1" "$output" >&2
    return 1
}

# status_of UUID APP: the app's exit status as `capsule status` reports it.
status_of() {
    cap status "$1" | sed -n "s/^app-$2=//p"
}

# ---- environment -----------------------------------------------------------------------------

@test "environment: AC_APP_NAME, PATH and HOME; image env < --set-env-file < --set-env < --environment" {
    printf 'FROM_FILE=file\nFILE_THEN_FLAG=file\n' > "$TMP/env"
    run sd_run --set-env-file="$TMP/env" --set-env=FILE_THEN_FLAG=flag --set-env=IMAGE_VAR=pod \
        --set-env=BOTH=pod "$IMG" --environment=BOTH=app \
        --exec=/bin/sh -- -c 'echo "$IMAGE_VAR|$BOTH|$FROM_FILE|$FILE_THEN_FLAG|$AC_APP_NAME|$PATH|$HOME"'
    assert_status 0
    [ "$output" = "pod|app|file|flag|busybox|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root" ]

    run sd_run "$IMG" --name=second-name --exec=/bin/sh -- -c 'echo "$IMAGE_VAR|$AC_APP_NAME|[$CAPSULE_LOCK_FD]"'
    assert_status 0
    [ "$output" = "from-image|second-name|[]" ]
}

@test "environment: container names the executor" {
    run sd_run "$IMG" --exec=/bin/sh -- -c 'env | grep "^container=" || echo "container is not set"'
    assert_status 0
    [[ "$output" =~ ^container=.+$ ]] || { echo "got: $output" >&2; false; }
}

# ---- mount points and volumes ----------------------------------------------------------------

@test "volumes: a host volume at the image's mount point, read-only when the volume or the mount point says so" {
    mkdir -p "$TMP/host"
    echo from-host > "$TMP/host/file"
    run sd_run --volume=data,kind=host,source="$TMP/host" "$IMG" \
        --exec=/bin/sh -- -c 'cat /data/file; echo from-app > /data/written'
    assert_status 0
    [ "$output" = from-host ]
    [ "$(cat "$TMP/host/written")" = from-app ]

    run sd_run --volume=data,kind=host,source="$TMP/host",readOnly=true "$IMG" \
        --exec=/bin/sh -- -c 'cat /data/file; touch /data/x'
    [ "${lines[0]}" = from-host ]
    assert_output_contains "Read-only file system"
    [ ! -e "$TMP/host/x" ]

    local ro
    ro=$(sd_custom_image ro-mountpoint '{"mountPoints": [{"name": "data", "path": "/data", "readOnly": true}]}')
    run sd_run --volume=data,kind=host,source="$TMP/host" "$ro" --exec=/bin/sh -- -c 'cat /data/file; touch /data/y'
    [ "${lines[0]}" = from-host ]
    assert_output_contains "Read-only file system"
    [ ! -e "$TMP/host/y" ]
}

@test "volumes: an empty volume by --mount, its missing target created (root, 0755)" {
    run sd_run --volume=scratch,kind=empty "$IMG" --mount=volume=scratch,target=/new/scratch \
        --exec=/bin/sh -- -c 'ls -A /new/scratch; stat -c "%a %u %g" /new/scratch; echo s > /new/scratch/f; cat /new/scratch/f'
    assert_status 0
    [ "${lines[0]}" = "755 0 0" ]
    [ "${lines[1]}" = s ]
    [ "${#lines[@]}" -eq 2 ]
}

@test "volumes: one volume is shared by two apps of the pod" {
    mkdir -p "$TMP/host"
    run sd_run --volume=shared,kind=empty --volume=data,kind=host,source="$TMP/host" \
        "$IMG" --name=writer --mount=volume=shared,target=/shared \
        --exec=/bin/sh -- -c 'echo hello-from-writer > /shared/msg; echo w > /data/w; echo wrote' \
        --- "$IMG" --name=reader --mount=volume=shared,target=/elsewhere/shared \
        --exec=/bin/sh -- -c 'for i in $(seq 100); do [ -s /elsewhere/shared/msg ] && [ -s /data/w ] && break; sleep 0.05; done
            cat /elsewhere/shared/msg /data/w'
    assert_status 0
    assert_output_contains "reader: hello-from-writer"
    assert_output_contains "reader: w"
}

# ---- working directory -----------------------------------------------------------------------

@test "working directory: / by default, the image's or --working-dir's otherwise" {
    run sd_run "$IMG" --exec=/bin/pwd
    assert_status 0
    [ "$output" = / ]
    local img
    img=$(sd_custom_image workdir '{"workingDirectory": "/home/user"}')
    run sd_run "$img" --exec=/bin/pwd
    assert_status 0
    [ "$output" = /home/user ]
    run sd_run "$img" --working-dir=/etc --exec=/bin/pwd
    assert_status 0
    [ "$output" = /etc ]
}

@test "working directory: created when the image lacks it" {
    run sd_run "$IMG" --working-dir=/does/not/exist --exec=/bin/sh -- -c 'pwd; test -d /does/not/exist && echo is-a-directory'
    assert_status 0
    [ "${lines[0]}" = /does/not/exist ]
    [ "${lines[1]}" = is-a-directory ]
}

# ---- users and groups ------------------------------------------------------------------------

@test "user and group: names resolved in the image's own /etc/passwd and /etc/group" {
    local dir img
    dir=$(sd_image_dir named-user)
    echo "appuser:x:1234:2345:app user:/srv/app:/bin/sh" >> "$dir/rootfs/etc/passwd"
    echo "appgroup:x:2345:" >> "$dir/rootfs/etc/group"
    img=$(sd_image_fetch named-user '{"user": "appuser", "group": "appgroup"}')
    run sd_run "$img" --exec=/bin/sh -- -c 'echo "$(id -u) $(id -g) $(id -un) $(id -gn) $HOME"'
    assert_status 0
    [ "$output" = "1234 2345 appuser appgroup /srv/app" ]

    run sd_run "$IMG" --user=user --group=staff --exec=/bin/sh -- -c 'echo "$(id -u) $(id -g) $HOME"'
    assert_status 0
    [ "$output" = "1000 50 /home/user" ]
}

@test "user and group: numbers absent from the image's files are used as they are" {
    run sd_run "$IMG" --user=4242 --group=4343 --exec=/bin/sh -- -c 'echo "$(id -u) $(id -g)"'
    assert_status 0
    [ "$output" = "4242 4343" ]
}

@test "supplementary groups: the groups listing the user in the image, and supplementaryGIDs" {
    local img groups
    img=$(sd_custom_image supp '{"user": "user", "group": "user", "supplementaryGIDs": [4000, 4001]}')
    run sd_run "$img" --exec=/bin/sh -- -c 'id -g; sed -n "s/^Groups:\t*//p" /proc/self/status'
    assert_status 0
    [ "${lines[0]}" = 1000 ]
    # The primary group may be listed too; nothing else may.
    groups=$(echo "${lines[1]}" | tr ' ' '\n' | grep -vx 1000 | grep . | sort -n | tr '\n' ' ')
    [ "$groups" = "50 4000 4001 " ]
}

# ---- isolators -------------------------------------------------------------------------------

# In the app: the file FILE of its own cgroup in the hierarchy of CONTROLLER (v1), or FILE2 (v2).
cgroup_file_script='c=$1; f1=$2; f2=$3
if [ -d "/sys/fs/cgroup/$c" ]; then
    p=$(awk -F: -v c="$c" "{ n = split(\$2, a, \",\"); for (i = 1; i <= n; i++) if (a[i] == c) print \$3 }" /proc/self/cgroup)
    echo "$p"; cat "/sys/fs/cgroup/$c$p/$f1"
else
    p=$(sed -n "s/^0:://p" /proc/self/cgroup)
    echo "$p"; cat "/sys/fs/cgroup$p/$f2"
fi'

@test "isolator resource/memory: the limit of the app's own cgroup (memory.limit_in_bytes or memory.max)" {
    run sd_run "$IMG" --memory=64M --exec=/bin/sh -- -c "$cgroup_file_script" sh memory memory.limit_in_bytes memory.max
    assert_status 0
    [ "${lines[0]}" = /system.slice/capsule-app-busybox.service ]
    [ "${lines[1]}" = 64000000 ]
}

@test "isolator resource/cpu: the CFS quota of the app's own cgroup (cpu.cfs_quota_us or cpu.max)" {
    local img
    img=$(sd_custom_image cpu '{"isolators": [{"name": "resource/cpu", "value": {"request": "250m", "limit": "250m"}}]}')
    run sd_run "$img" --exec=/bin/sh -- -c "$cgroup_file_script" sh cpu cpu.cfs_quota_us cpu.max
    assert_status 0
    [ "${lines[0]}" = /system.slice/capsule-app-cpu.service ]
    [[ "${lines[1]}" == 25000 || "${lines[1]}" == "25000 100000" ]]
}

@test "isolator capabilities: without one, the bounding set is appc's default 14" {
    run sd_run "$IMG" --exec=/bin/grep -- -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status
    assert_status 0
    [ "$(echo "$output" | tr -d '\t')" = "$(printf 'CapInh:0000000000000000\nCapPrm:%s\nCapEff:%s\nCapBnd:%s\nCapAmb:0000000000000000' \
        "$DEFAULT_CAPS" "$DEFAULT_CAPS" "$DEFAULT_CAPS")" ]
}

@test "isolator os/linux/capabilities-retain-set: the app keeps only those" {
    run sd_run "$IMG" --cap-retain=net_admin,net_bind_service --exec=/bin/sh -- -c \
        'sed -n "s/^CapBnd:\t*//p" /proc/self/status; touch /tmp/f; chown 1000 /tmp/f 2>&1 || true'
    assert_status 0
    [ "${lines[0]}" = 0000000000001400 ] # CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12)
    assert_output_contains "Operation not permitted"
}

@test "isolator os/linux/capabilities-remove-set: the default set minus those" {
    local img
    img=$(sd_custom_image capremove '{"isolators": [{"name": "os/linux/capabilities-remove-set",
        "value": {"set": ["CAP_SYS_CHROOT", "CAP_MKNOD"]}}]}')
    run sd_run "$img" --exec=/bin/sh -- -c 'sed -n "s/^CapBnd:\t*//p" /proc/self/status
        mknod /tmp/null c 1 3 2>&1 || true; chroot / /bin/true 2>&1 || true; chown 1000 /tmp && echo chown-ok'
    assert_status 0
    [ "${lines[0]}" = 00000000a00025fb ] # the default without CAP_MKNOD (27) and CAP_SYS_CHROOT (18)
    [[ "${lines[1]}" == *"Operation not permitted"* ]]
    [[ "${lines[2]}" == *"Operation not permitted"* ]]
    [ "${lines[3]}" = chown-ok ]
}

@test "isolator os/linux/no-new-privileges: true sets no_new_privs, false leaves it off" {
    local yes no
    yes=$(sd_custom_image nnp-yes '{"isolators": [{"name": "os/linux/no-new-privileges", "value": true}]}')
    no=$(sd_custom_image nnp-no '{"isolators": [{"name": "os/linux/no-new-privileges", "value": false}]}')
    run sd_run "$yes" --exec=/bin/grep -- NoNewPrivs /proc/self/status
    assert_status 0
    [ "$(echo "$output" | tr -d '\t')" = "NoNewPrivs:1" ]
    run sd_run "$no" --exec=/bin/grep -- NoNewPrivs /proc/self/status
    assert_status 0
    [ "$(echo "$output" | tr -d '\t')" = "NoNewPrivs:0" ]
}

# With CAP_SYS_ADMIN retained, only the seccomp filter can refuse mount(2) and unshare(2).
@test "seccomp: without a seccomp isolator the default deny list fails mount and unshare with EPERM" {
    run sd_run "$IMG" --cap-retain=sys_admin --exec=/bin/sh -- -c '
        sed -n "s/^Seccomp:\t*//p" /proc/self/status
        unshare -m /bin/true 2>&1 && echo unshare-allowed
        mount -t tmpfs x /tmp 2>&1 && echo mount-allowed
        echo still-running'
    assert_status 0
    [ "${lines[0]}" = 2 ]
    [[ "${lines[1]}" == *"Operation not permitted"* ]]
    [[ "$output" != *allowed* ]]
    [ "${lines[-1]}" = still-running ]
}

@test "isolator os/linux/seccomp-remove-set: the listed calls fail with its errno, others work" {
    run sd_run "$IMG" --cap-retain=sys_admin --seccomp=mode=remove,errno=ENOTSUP,sethostname \
        --exec=/bin/sh -- -c 'hostname blocked 2>&1; hostname; echo still-running'
    assert_status 0
    [[ "${lines[0]}" == *"Operation not supported"* ]]
    [ "${lines[1]}" != blocked ]
    [ "${lines[2]}" = still-running ]
}

@test "isolator os/linux/seccomp-retain-set: calls outside the set fail with its errno" {
    run sd_run "$IMG" --cap-retain=sys_admin --seccomp=mode=retain,errno=ENOTSUP,@system-service \
        --exec=/bin/sh -- -c 'hostname blocked 2>&1; cat /etc/passwd > /dev/null; echo still-running'
    assert_status 0
    [[ "${lines[0]}" == *"Operation not supported"* ]]
    [ "${lines[1]}" = still-running ]
}

@test "isolator seccomp sets without errno: a blocked call kills the caller with SIGSYS" {
    run sd_run "$IMG" --cap-retain=sys_admin --seccomp=mode=remove,sethostname \
        --exec=/bin/sh -- -c '( hostname blocked ); echo "hostname exited $?"'
    assert_status 0
    [ "${lines[-1]}" = "hostname exited 159" ] # 128 + SIGSYS (31)
}

@test "--insecure-options=capabilities,seccomp,paths: the caller's bounding set, no filter, writable /proc/sys" {
    sd_require_insecure_options
    local host_bnd
    host_bnd=$(sed -n 's/^CapBnd:\t*//p' /proc/self/status)
    run sd_run --insecure-options=capabilities,seccomp,paths "$IMG" --exec=/bin/sh -- -c '
        sed -n "s/^CapBnd:\t*//p; s/^Seccomp:\t*//p" /proc/self/status
        echo renamed > /proc/sys/kernel/hostname && hostname'
    assert_status 0
    [ "${lines[0]}" = "$host_bnd" ]
    [ "${lines[1]}" = 0 ]
    [ "${lines[2]}" = renamed ]
}

# ---- event handlers --------------------------------------------------------------------------

# handlers_image: a non-root app (uid 1000) whose pre-start and post-stop handlers record who ran
# them, in which order, in the volume "data" at /data.
handlers_image() {
    sd_custom_image handlers '{
        "user": "1000", "group": "1000",
        "exec": ["/bin/sh", "-c", "cat /pre-start.out; echo \"app as $(id -u)\" >> /data/order"],
        "eventHandlers": [
            {"name": "pre-start", "exec": ["/bin/sh", "-c",
                "echo \"pre-start as $(id -u) in $(pwd) for $AC_APP_NAME with $PATH\" > /pre-start.out; echo \"pre-start as $(id -u)\" > /data/order; chmod 666 /data/order"]},
            {"name": "post-stop", "exec": ["/bin/sh", "-c", "echo \"post-stop as $(id -u)\" >> /data/order"]}
        ]}'
}

@test "event handler pre-start: runs as root in the app's rootfs before the app, with its environment" {
    local img
    img=$(handlers_image)
    mkdir -p "$TMP/host"
    run sd_run --volume=data,kind=host,source="$TMP/host" "$img"
    assert_status 0
    # The app (uid 1000) reads what the handler wrote where only root may write.
    [ "${lines[0]}" = "pre-start as 0 in / for handlers with /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ]
    [ "$(sed -n 1,2p "$TMP/host/order")" = "$(printf 'pre-start as 0\napp as 1000')" ]
}

@test "event handler post-stop: runs as root after the app exited, also when it was killed" {
    local img
    img=$(handlers_image)
    mkdir -p "$TMP/host"
    run sd_run --volume=data,kind=host,source="$TMP/host" "$img"
    assert_status 0
    [ "$(cat "$TMP/host/order")" = "$(printf 'pre-start as 0\napp as 1000\npost-stop as 0')" ]

    run sd_run --volume=data,kind=host,source="$TMP/host" "$img" \
        --exec=/bin/sh -- -c 'echo "app as $(id -u)" >> /data/order; echo killing; kill -KILL $$'
    assert_status 137
    [ "$(cat "$TMP/host/order")" = "$(printf 'pre-start as 0\napp as 1000\npost-stop as 0')" ]
}

@test "event handler post-stop: runs when the pod is stopped" {
    local img
    img=$(handlers_image)
    mkdir -p "$TMP/host"
    sd_start_bg --volume=data,kind=host,source="$TMP/host" "$img" \
        --exec=/bin/sh -- -c 'echo "app as $(id -u)" >> /data/order; exec sleep 300'
    sd_main_pid "$UUID" handlers sleep > /dev/null
    cap stop "$UUID" > /dev/null
    sd_wait_bg 15
    [ "$BG_STATUS" != timeout ]
    [ "$(cat "$TMP/host/order")" = "$(printf 'pre-start as 0\napp as 1000\npost-stop as 0')" ] || {
        echo "order: $(cat "$TMP/host/order"); run exited $BG_STATUS: $(cat "$TMP/bg.out")" >&2
        false
    }
}

@test "event handler pre-start failing: the app does not run and its status is not zero" {
    local img uuid
    img=$(sd_custom_image failing-pre '{"exec": ["/bin/sh", "-c", "echo app-ran"],
        "eventHandlers": [{"name": "pre-start", "exec": ["/bin/sh", "-c", "echo pre-start-failing; exit 3"]}]}')
    run sd_run --uuid-file-save="$TMP/uuid" "$img"
    [ "$status" -ne 0 ]
    [ "$status" -ne 124 ] && [ "$status" -ne 137 ] # not a timeout
    [[ "$output" != *app-ran* ]]
    uuid=$(cat "$TMP/uuid")
    [ -n "$(status_of "$uuid" failing-pre)" ]
    [ "$(status_of "$uuid" failing-pre)" != 0 ]
}

# ---- exit status -----------------------------------------------------------------------------

@test "exit status: a single app's is run's and status's" {
    run sd_run --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/sh -- -c 'echo exiting; exit 7'
    assert_status 7
    [ "$output" = exiting ]
    [ "$(status_of "$(cat "$TMP/uuid")" busybox)" = 7 ]
    run cap status "$(cat "$TMP/uuid")"
    assert_output_contains "state=exited"
}

@test "exit status: several apps give the first non-zero one in manifest order" {
    # c fails first in time, b first in the manifest.
    run sd_run --uuid-file-save="$TMP/uuid" "$IMG" --name=a --exec=/bin/echo -- a \
        --- "$IMG" --name=b --exec=/bin/sh -- -c 'sleep 0.5; echo b; exit 3' \
        --- "$IMG" --name=c --exec=/bin/sh -- -c 'echo c; exit 4'
    assert_status 3
    local uuid
    uuid=$(cat "$TMP/uuid")
    [ "$(status_of "$uuid" a) $(status_of "$uuid" b) $(status_of "$uuid" c)" = "0 3 4" ]
}

@test "exit status: an app killed by signal N gives 128+N" {
    run sd_run "$IMG" --exec=/bin/sh -- -c 'echo terminating; kill -TERM $$'
    assert_status 143
    run sd_run "$IMG" --name=killed --exec=/bin/sh -- -c 'echo killing; kill -KILL $$' --- "$IMG" --name=fine --exec=/bin/echo -- fine
    assert_status 137
}

@test "exit status: run returns when an app that prints nothing exits" {
    # A race: a few attempts, after a first pod rendered the stage1.
    run sd_run "$IMG" --exec=/bin/echo -- warm
    assert_status 0
    local attempt
    for attempt in /bin/true "/bin/sleep -- 1" /bin/true "/bin/sleep -- 1" /bin/true; do
        # shellcheck disable=SC2086 # the attempt's words are --exec and its arguments
        SD_TIMEOUT=8 run sd_run "$IMG" --exec=$attempt
        if [ "$status" -ne 0 ]; then
            echo "capsule run of '$attempt' exited $status (124/137: still running after 8 s)" >&2
            return 1
        fi
    done
}

# ---- output, hostname, /proc and /sys --------------------------------------------------------

@test "output: an app's stdout and stderr on run's stdout, raw for one app, prefixed 'app: ' for several" {
    run sd_run_stdout "$IMG" --exec=/bin/sh -- -c 'echo out-line; echo err-line >&2'
    assert_status 0
    [ "$(printf '%s\n' "${lines[@]}" | sort)" = "$(printf 'err-line\nout-line')" ]

    run sd_run_stdout "$IMG" --name=first --exec=/bin/sh -- -c 'echo one' \
        --- "$IMG" --name=second --exec=/bin/sh -- -c 'echo two >&2'
    assert_status 0
    [ "$(printf '%s\n' "${lines[@]}" | sort)" = "$(printf 'first: one\nsecond: two')" ]
}

@test "hostname: capsule-<uuid prefix> by default or --hostname, in every app's /etc/hosts" {
    run sd_run --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/sh -- -c 'hostname; grep -c "^127.0.0.1.*localhost" /etc/hosts; grep -w "$(hostname)" /etc/hosts'
    assert_status 0
    local uuid
    uuid=$(cat "$TMP/uuid")
    [ "${lines[0]}" = "capsule-${uuid:0:8}" ]
    [ "${lines[1]}" = 1 ]
    [[ "${lines[2]}" == *"capsule-${uuid:0:8}" ]]

    run sd_run --hostname=named-pod "$IMG" --name=a --exec=/bin/sh -- -c 'echo "$(hostname) $(grep -cw named-pod /etc/hosts)"' \
        --- "$IMG" --name=b --exec=/bin/sh -- -c 'echo "$(hostname) $(grep -cw named-pod /etc/hosts)"'
    assert_status 0
    [ "$(printf '%s\n' "${lines[@]}" | sort)" = "$(printf 'a: named-pod 1\nb: named-pod 1')" ]
}

@test "/proc and /sys: kernel files masked (nothing readable), /proc/sys and /sys read-only" {
    run sd_run "$IMG" --exec=/bin/sh -- -c '
        for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do
            echo "$f: $(head -c 64 $f 2>/dev/null | wc -c) bytes"
        done
        echo "/sys/firmware: $(ls -A /sys/firmware 2>/dev/null | wc -l) entries"
        { echo masked > /proc/sys/kernel/hostname; } 2>/dev/null && echo "/proc/sys: writable" || echo "/proc/sys: read-only"
        touch /sys/x 2>/dev/null && echo "/sys: writable" || echo "/sys: read-only"'
    assert_status 0
    assert_output_is "$(printf '%s\n' '/proc/kcore: 0 bytes' '/proc/keys: 0 bytes' '/proc/timer_list: 0 bytes' \
        '/proc/sched_debug: 0 bytes' '/sys/firmware: 0 entries' '/proc/sys: read-only' '/sys: read-only')"
}

# ---- stop, SIGTERM ---------------------------------------------------------------------------

@test "stop: the apps get SIGTERM, run exits 143" {
    sd_start_bg "$IMG" --exec=/bin/sleep -- 300
    sd_main_pid "$UUID" busybox sleep > /dev/null
    run cap stop "$UUID"
    assert_status 0
    [ "$output" = "$UUID" ]
    sd_wait_bg 15
    [ "$BG_STATUS" = 143 ] || { echo "run exited $BG_STATUS; its output: $(cat "$TMP/bg.out")" >&2; false; }
    [ "$(status_of "$UUID" busybox)" = 143 ]
}

@test "stop --force: the pod is killed, run exits 137" {
    sd_start_bg "$IMG" --exec=/bin/sleep -- 300
    sd_main_pid "$UUID" busybox sleep > /dev/null
    run cap stop --force "$UUID"
    assert_status 0
    sd_wait_bg 15
    [ "$BG_STATUS" = 137 ] || { echo "run exited $BG_STATUS; its output: $(cat "$TMP/bg.out")" >&2; false; }
    [ "$(status_of "$UUID" busybox)" = 137 ]
    sd_assert_no_leftovers "$UUID"
}

@test "stop: a pod stopped as soon as it runs still stops" {
    # A first pod renders the stage1, so the next ones start as fast as pods usually do.
    run sd_run "$IMG" --exec=/bin/echo -- warm
    assert_status 0
    local attempt i
    for attempt in 1 2 3 4 5; do
        # Stop it as early as stop accepts the pod: right after its UUID is known.
        rm -f "$TMP/uuid"
        "$CAPSULE" --dir="$DIR" run --stage1=systemd --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/sleep -- 300 \
            > "$TMP/bg.out" 2>&1 3>&- &
        BG_PID=$!
        for i in $(seq 200); do
            [ -s "$TMP/uuid" ] && break
            sleep 0.01
        done
        UUID=$(cat "$TMP/uuid")
        for i in $(seq 200); do
            cap stop "$UUID" > /dev/null 2>&1 && break
            sleep 0.01
        done
        sd_wait_bg 5
        [ "$BG_STATUS" != timeout ] || { echo "attempt $attempt: the pod was still running 5 s after stop" >&2; false; }
        run cap status "$UUID"
        assert_output_contains "state=exited"
    done
}

@test "SIGTERM to capsule run stops the pod in order: run exits 143" {
    sd_start_bg "$IMG" --exec=/bin/sleep -- 300
    sd_main_pid "$UUID" busybox sleep > /dev/null
    kill -TERM "$BG_PID"
    sd_wait_bg 15
    [ "$BG_STATUS" = 143 ] || { echo "run exited $BG_STATUS; its output: $(cat "$TMP/bg.out")" >&2; false; }
    [ "$(status_of "$UUID" busybox)" = 143 ]
}

# ---- enter -----------------------------------------------------------------------------------

# What enter's command and the app's main process must share.
status_fields='^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):'

@test "enter: the command gets the app's namespaces, root, credentials, capabilities, no_new_privs, seccomp and cgroup" {
    # Each app records its own view of its cgroups, then becomes `sleep`.
    sd_start_bg "$IMG" --name=rooted --exec=/bin/sh -- -c 'cat /proc/self/cgroup > /tmp/app-cgroup; exec sleep 300' \
        --- "$IMG" --name=user --user=1000 --group=1000 --cap-retain=net_bind_service,kill \
        --exec=/bin/sh -- -c 'cat /proc/self/cgroup > /tmp/app-cgroup; exec sleep 300'
    local app main expected
    for app in rooted user; do
        main=$(sd_main_pid "$UUID" "$app" sleep)
        expected=$(grep -E "$status_fields" "/proc/$main/status"
            for n in cgroup ipc mnt net pid uts; do readlink "/proc/$main/ns/$n"; done
            stat -Lc %d:%i "/proc/$main/root/"
            echo "$app")
        run cap enter --app="$app" "$UUID" /bin/sh -c "grep -E '$status_fields' /proc/self/status
            for n in cgroup ipc mnt net pid uts; do readlink /proc/self/ns/\$n; done
            stat -c %d:%i /
            echo \$AC_APP_NAME
            echo ---; cat /proc/self/cgroup; echo ---; cat /tmp/app-cgroup"
        assert_status 0
        [ "${output%%---*}" = "$expected"$'\n' ] || {
            echo "app $app: expected:"$'\n'"$expected"$'\n'"entered:"$'\n'"${output%%---*}" >&2
            false
        }
        local rest=${output#*---$'\n'}
        [ "${rest%%---*}" = "${rest#*---$'\n'}"$'\n' ] || { echo "app $app: cgroups differ: $rest" >&2; false; }
        [[ "$rest" == *"/system.slice/capsule-app-$app.service"* ]]
    done
    # The default app is the first.
    run cap enter "$UUID" /bin/sh -c 'echo $AC_APP_NAME'
    assert_status 0
    [ "$output" = rooted ]
}

@test "enter errors: an app that exited, an unknown app, a missing command: one line, 254" {
    sd_start_bg "$IMG" --name=sleeper --exec=/bin/sleep -- 300 --- "$IMG" --name=done --exec=/bin/true
    sd_main_pid "$UUID" sleeper sleep > /dev/null
    local i
    for i in $(seq 100); do
        [ -e "$DIR/pods/run/$UUID/status/done" ] && break
        sleep 0.05
    done
    run cap enter --app=done "$UUID" /bin/true
    assert_capsule_error "app 'done' has exited"
    run cap enter --app=nope "$UUID" /bin/true
    assert_capsule_error "no app 'nope'"
    run cap enter --app=sleeper "$UUID" /bin/nope
    assert_capsule_error "/bin/nope"
    # The pod is still running.
    run cap status "$UUID"
    assert_output_contains "state=running"
}

# ---- journal, gc -----------------------------------------------------------------------------

@test "journal: the pod directory keeps the apps' lines, tagged with the app's name" {
    sd_require_command journalctl
    run sd_run --uuid-file-save="$TMP/uuid" "$IMG" --name=jrn --exec=/bin/sh -- -c 'echo journal-out-8181; echo journal-err-8282 >&2'
    assert_status 0
    local uuid
    uuid=$(cat "$TMP/uuid")
    [ -d "$DIR/pods/run/$uuid/journal" ]
    run journalctl --no-pager -D "$DIR/pods/run/$uuid/journal" -o cat SYSLOG_IDENTIFIER=jrn
    assert_status 0
    [ "$(printf '%s\n' "${lines[@]}" | sort)" = "$(printf 'journal-err-8282\njournal-out-8181')" ]
    run journalctl --no-pager -D "$DIR/pods/run/$uuid/journal" -o cat _SYSTEMD_UNIT=capsule-app-jrn.service
    assert_output_contains journal-out-8181
}

@test "gc after exit: no mount, no process and no cgroup of the pod left" {
    run sd_run --uuid-file-save="$TMP/uuid" --volume=scratch,kind=empty "$IMG" --memory=32M --cpu=200m \
        --mount=volume=scratch,target=/scratch --exec=/bin/echo -- first \
        --- "$IMG" --name=second --exec=/bin/echo -- second
    assert_status 0
    local uuid
    uuid=$(cat "$TMP/uuid")
    run cap gc --grace-period=0s
    assert_status 0
    assert_output_contains "Removed pod $uuid"
    [ ! -e "$DIR/pods/run/$uuid" ] && [ ! -e "$DIR/pods/exited-garbage/$uuid" ]
    sd_assert_no_leftovers "$uuid"
    sd_assert_no_cgroups "$uuid"
}

# ---- bad input -------------------------------------------------------------------------------

@test "run errors: an exec not in the image is named in one line, 254; nothing left behind" {
    run sd_run --uuid-file-save="$TMP/uuid" "$IMG" --exec=/bin/nope
    assert_capsule_error "exec '/bin/nope'"
    local uuid
    uuid=$(cat "$TMP/uuid")
    sd_assert_no_leftovers "$uuid"
    run cap status "$uuid"
    assert_output_contains "state=exited"

    run sd_run "$IMG" --exec=nope-in-path
    assert_capsule_error "exec 'nope-in-path'"
    run cap gc --grace-period=0s
    sd_assert_no_cgroups "$uuid"
    assert_empty_dir "$DIR/pods/run"
}

@test "run errors: an unknown --stage1 flavour, and no pod made" {
    run cap run --stage1=bogus "$IMG"
    assert_capsule_error "unknown stage1 flavour 'bogus'"
    [ -z "$(find "$DIR/pods" -mindepth 2 -maxdepth 2 2>/dev/null)" ]
}

@test "run errors: --interactive with two apps is one line, 254; nothing left behind" {
    run sd_run --interactive --uuid-file-save="$TMP/uuid" "$IMG" --- "$IMG" --name=second
    assert_capsule_error "--interactive"
    sd_assert_no_leftovers "$(cat "$TMP/uuid")"
}
