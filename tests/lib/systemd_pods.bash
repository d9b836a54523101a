# SPDX-License-Identifier: Apache-2.0
# Helpers for tests of pods run by the systemd stage1 (`capsule run --stage1=systemd`).
#
#   load ../lib/common
#   load ../lib/systemd_pods
#   setup_file() { sd_setup_file; }
#   setup() { sd_setup; }
#   teardown() { sd_teardown; }
#
#   sd_run [POD FLAGS] IMAGE [APP FLAGS] ...   capsule run --stage1=systemd, bounded by a timeout
#   sd_start_bg [POD FLAGS] IMAGE ...          the same in the background; sets UUID and BG_PID
#   sd_main_pid UUID APP COMM                  waits for the app's main process; prints its pid
#   sd_image_dir NAME / sd_image_fetch NAME PATCH   a custom busybox ACI (manifest "app" patched)
#
# Every pod of a test is bounded: a foreground run by SD_TIMEOUT seconds, and teardown kills
# the PID 1 of any pod of this test still alive (by the pid its stage1 recorded, checked against
# the pod's cgroup), so a pod that does not end fails its test instead of hanging the suite.

: "${SD_TIMEOUT:=15}"

CG=/sys/fs/cgroup

# sd_require: root, the host's systemd, the systemd stage1 next to the binary; fails in CI.
sd_require() {
    require_root
    local missing=
    [ -x /lib/systemd/systemd ] || missing="/lib/systemd/systemd"
    [ -f "$(dirname "$CAPSULE")/stage1-systemd.aci" ] || missing="$(dirname "$CAPSULE")/stage1-systemd.aci"
    command -v timeout > /dev/null || missing="timeout (coreutils)"
    [ -z "$missing" ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "missing: $missing" >&2
        return 1
    fi
    skip "missing: $missing"
}

# sd_require_command CMD: a host command a test reads results with (journalctl...).
sd_require_command() {
    command -v "$1" > /dev/null && return 0
    if [ "${CI:-}" = true ]; then
        echo "missing command: $1" >&2
        return 1
    fi
    skip "missing command: $1"
}

# The busybox ACI, built once per file.
sd_setup_file() {
    SD_BUSYBOX_ACI="$BATS_FILE_TMPDIR/busybox.aci"
    export SD_BUSYBOX_ACI
    [ -f "$SD_BUSYBOX_ACI" ] || make_aci "$SD_BUSYBOX_ACI"
}

# Per test: a private --dir under BATS_TEST_TMPDIR, the busybox image fetched as $IMG.
sd_setup() {
    TMP="$BATS_TEST_TMPDIR/t"
    DIR="$TMP/dir"
    mkdir -p "$TMP"
    export TMP DIR
    BG_PID=
    UUID=
    sd_require
    [ -f "${SD_BUSYBOX_ACI:-}" ] || sd_setup_file
    IMG=$(cap --insecure-options=image fetch "$SD_BUSYBOX_ACI")
}

# sd_pod_pid1_alive POD_DIR: prints the PID 1 of the pod in POD_DIR if that process still
# runs (its systemd, in the pod's cgroup).
sd_pod_pid1_alive() {
    local pod=$1 pid uuid
    uuid=${pod##*/}
    [ -s "$pod/pid" ] || return 1
    pid=$(cat "$pod/pid")
    [ -r "/proc/$pid/cgroup" ] && grep -q "/capsule/$uuid" "/proc/$pid/cgroup" 2> /dev/null || return 1
    echo "$pid"
}

sd_teardown() {
    local pod pid
    if [ -n "${DIR:-}" ]; then
        # Pods of this test that did not end: their PID 1 (the kernel then ends the pod).
        for pod in "$DIR"/pods/*/*; do
            [ -d "$pod" ] || continue
            if pid=$(sd_pod_pid1_alive "$pod"); then
                echo "teardown: killing PID 1 ($pid) of pod ${pod##*/}, still running" >&2
                kill -KILL "$pid" 2> /dev/null || true
            fi
        done
    fi
    if [ -n "${BG_PID:-}" ]; then
        for _ in $(seq 50); do
            kill -0 "$BG_PID" 2> /dev/null || break
            sleep 0.1
        done
        kill -KILL "$BG_PID" 2> /dev/null || true
        wait "$BG_PID" 2> /dev/null || true
        BG_PID=
    fi
    if [ -n "${DIR:-}" ] && [ -d "$DIR/pods" ]; then
        "$CAPSULE" --dir="$DIR" gc --grace-period=0s > /dev/null 2>&1 || true
    fi
    capsule_teardown
}

# sd_run ARGS...: `capsule run --stage1=systemd ARGS...` with this test's --dir, ended after
# SD_TIMEOUT seconds (then exit 124, or 137 when it ignored SIGTERM).
sd_run() {
    timeout -k 3 "$SD_TIMEOUT" "$CAPSULE" --dir="$DIR" run --stage1=systemd "$@"
}

# sd_start_bg ARGS...: a pod in the background (output in $TMP/bg.out), once `capsule status`
# reports it running; sets UUID and BG_PID (the `capsule run` process).
sd_start_bg() {
    rm -f "$TMP/uuid"
    "$CAPSULE" --dir="$DIR" run --stage1=systemd --uuid-file-save="$TMP/uuid" "$@" > "$TMP/bg.out" 2>&1 3>&- &
    BG_PID=$!
    for _ in $(seq 200); do
        if [ -s "$TMP/uuid" ] && cap status "$(cat "$TMP/uuid")" 2> /dev/null | grep -q '^state=running'; then
            UUID=$(cat "$TMP/uuid")
            return 0
        fi
        kill -0 "$BG_PID" 2> /dev/null || break
        sleep 0.05
    done
    echo "the pod did not start; its output:" >&2
    cat "$TMP/bg.out" >&2
    return 1
}

# sd_wait_bg [SECONDS]: wait for the background `capsule run` (default 20 s); sets BG_STATUS.
# A run still going after that is killed and gets BG_STATUS=timeout.
sd_wait_bg() {
    local secs=${1:-20}
    for _ in $(seq $((secs * 20))); do
        kill -0 "$BG_PID" 2> /dev/null || break
        sleep 0.05
    done
    if kill -0 "$BG_PID" 2> /dev/null; then
        BG_STATUS=timeout
        return 0
    fi
    BG_STATUS=0
    wait "$BG_PID" || BG_STATUS=$?
    BG_PID=
}

# sd_unit_cgroup UUID APP: the host directory of the app's unit cgroup, in the hierarchy the
# pod's systemd manages (name=systemd on v1/hybrid hosts, the unified tree on v2).
sd_unit_cgroup() {
    local base
    if [ "$(stat -fc %T "$CG")" = cgroup2fs ]; then base=$CG; else base=$CG/systemd; fi
    echo "$base/capsule/$1/system.slice/capsule-app-$2.service"
}

# sd_main_pid UUID APP COMM: waits (10 s) until the app's unit runs a process named COMM (its
# main process, once exec'd); prints its host pid.
sd_main_pid() {
    local dir p
    dir=$(sd_unit_cgroup "$1" "$2")
    for _ in $(seq 200); do
        for p in $(cat "$dir/cgroup.procs" 2> /dev/null); do
            if [ "$(cat "/proc/$p/comm" 2> /dev/null)" = "$3" ]; then
                echo "$p"
                return 0
            fi
        done
        sleep 0.05
    done
    echo "app $2 of pod $1 did not start $3 (cgroup $dir)" >&2
    return 1
}

# sd_image_dir NAME: an ACI layout of the busybox image in $TMP/img-NAME, to edit its rootfs.
sd_image_dir() {
    rm -rf "$TMP/img-$1"
    make_aci_dir "$TMP/img-$1" "example.com/$1"
    echo "$TMP/img-$1"
}

# sd_image_fetch NAME PATCH: merge the JSON object PATCH into the manifest's "app" (a null value
# deletes the key), tar it and fetch it; prints the image ID. Run sd_image_dir NAME first.
sd_image_fetch() {
    local dir="$TMP/img-$1"
    PATCH="$2" python3 - "$dir/manifest" <<'EOF'
import json, os, sys
m = json.load(open(sys.argv[1]))
for k, v in json.loads(os.environ["PATCH"]).items():
    if v is None:
        m["app"].pop(k, None)
    else:
        m["app"][k] = v
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF
    make_aci_from "$dir" "$TMP/$1.aci"
    cap --insecure-options=image fetch "$TMP/$1.aci"
}

# sd_custom_image NAME PATCH: sd_image_dir + sd_image_fetch, for manifest-only changes.
sd_custom_image() {
    sd_image_dir "$1" > /dev/null
    sd_image_fetch "$1" "$2"
}

# sd_require_insecure_options: `--insecure-options=capabilities,seccomp,paths` reach the stage1 as
# the pod annotation capsule/insecure-options.
sd_require_insecure_options() {
    local uuid annotations
    uuid=$(cap prepare --stage1=systemd --insecure-options=capabilities "$IMG")
    annotations=$(cap cat-manifest "$uuid" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("annotations", []))')
    cap rm "$uuid" > /dev/null
    [[ "$annotations" == *capsule/insecure-options* ]] && return 0
    skip "insecure-options not passed to stage1 yet"
}

# sd_assert_no_leftovers UUID: nothing of the pod outside its directory: no mount naming it, no
# process in its cgroup, no half-made pods.
sd_assert_no_leftovers() {
    local uuid=$1 procs
    if grep -q "$uuid" /proc/self/mountinfo; then
        echo "mounts of pod $uuid left:" >&2
        grep "$uuid" /proc/self/mountinfo >&2
        return 1
    fi
    procs=$(grep -l "/capsule/$uuid" /proc/[0-9]*/cgroup 2> /dev/null || true)
    if [ -n "$procs" ]; then
        echo "processes of pod $uuid left: $procs" >&2
        return 1
    fi
    assert_empty_dir "$DIR/pods/embryo"
    assert_empty_dir "$DIR/pods/prepare"
    assert_no_mounts "$DIR"
}

# sd_assert_no_cgroups UUID: no cgroup directory of the pod in any hierarchy.
sd_assert_no_cgroups() {
    local d left=
    for d in "$CG/capsule/$1" "$CG"/*/capsule/"$1"; do
        [ -d "$d" ] && left+=" $d"
    done
    if [ -n "$left" ]; then
        echo "cgroups of pod $1 left:$left" >&2
        return 1
    fi
}

# sd_only_pod: the UUID of this test's single pod.
sd_only_pod() {
    ls "$DIR/pods/run"
}
