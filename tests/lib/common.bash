# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the functional tests (bats). Each test gets its own --dir.
#
#   load ../lib/common
#   setup() { capsule_setup; }
#   teardown() { capsule_teardown; }
#   cap fetch ...        # runs the real binary with this test's --dir

: "${CAPSULE:=$BATS_TEST_DIRNAME/../../build/capsule}"
CAPSULE=$(readlink -f "$CAPSULE")
TESTS_LIB=$(readlink -f "$BATS_TEST_DIRNAME/../lib")
# Pods run with the fly stage1 unless a test asks for another (--stage1=systemd): the default,
# systemd, has its own files (systemd.bats), and fly keeps the rest of the suite fast.
export CAPSULE_STAGE1=${CAPSULE_STAGE1:-fly}

# wait_for_port_file PID PORTFILE OUTFILE WHAT: wait (up to 5 s) until a test server started
# in the background as PID writes its port to PORTFILE; if it dies first, show its OUTFILE.
wait_for_port_file() {
    local pid=$1 port_file=$2 out=$3 what=$4 i
    for i in $(seq 100); do
        [ -s "$port_file" ] && return 0
        if ! kill -0 "$pid" 2> /dev/null; then
            echo "$what failed to start:" >&2
            cat "$out" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "$what did not write its port to $port_file within 5 s" >&2
    return 1
}

capsule_setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/capsule-test.XXXXXX")
    DIR="$TMP/dir"
    export TMP DIR
}

capsule_teardown() {
    [ -n "${TMP:-}" ] || return 0
    remove_pod_cgroups
    # Unmount anything a failed test left under its private tree, deepest first.
    if [ -r /proc/self/mountinfo ]; then
        awk -v p="$TMP/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
    fi
    chmod -R u+w "$TMP" 2>/dev/null || true
    rm -rf "$TMP"
}

# remove_pod_cgroups: the cgroups (capsule/<uuid>, any hierarchy) of this test's pods, which
# its teardown deletes without `gc`; children first. Pods still running keep theirs.
remove_pod_cgroups() {
    local pod uuid d
    for pod in "$DIR"/pods/*/*; do
        [ -d "$pod" ] || continue
        uuid=${pod##*/}
        for d in /sys/fs/cgroup/capsule/"$uuid" /sys/fs/cgroup/*/capsule/"$uuid"; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
    done
    return 0
}

# cap ARGS...: the capsule binary with this test's --dir.
cap() {
    "$CAPSULE" --dir="$DIR" "$@"
}

# Requires root (CI runs as root); fails loudly in CI rather than skipping.
require_root() {
    if [ "$(id -u)" != 0 ]; then
        if [ "${CI:-}" = true ]; then
            echo "this test needs root" >&2
            return 1
        fi
        skip "needs root"
    fi
}

# mounts_under PATH: prints mount points under PATH (none expected after a pod ends).
mounts_under() {
    awk -v p="$1" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo
}

# assert_no_mounts PATH
assert_no_mounts() {
    local m
    m=$(mounts_under "$1")
    if [ -n "$m" ]; then
        echo "stray mounts under $1:" >&2
        echo "$m" >&2
        return 1
    fi
}

# assert_empty_dir PATH: missing or empty.
assert_empty_dir() {
    if [ -d "$1" ] && [ -n "$(ls -A "$1")" ]; then
        echo "expected $1 to be empty, it has:" >&2
        ls -la "$1" >&2
        return 1
    fi
}

# assert_output_contains TEXT (bats' $output)
assert_output_contains() {
    if [[ "$output" != *"$1"* ]]; then
        echo "expected output to contain: $1" >&2
        echo "output was: $output" >&2
        return 1
    fi
}

# assert_status N (bats' $status)
assert_status() {
    if [ "$status" -ne "$1" ]; then
        echo "expected exit status $1, got $status; output: $output" >&2
        return 1
    fi
}

# assert_one_line: capsule's errors are one line.
assert_one_line() {
    local n
    n=$(printf '%s\n' "$output" | grep -c .)
    if [ "$n" -ne 1 ]; then
        echo "expected a one-line message, got $n lines: $output" >&2
        return 1
    fi
}

# assert_capsule_error MESSAGE: bats' last `run` failed as capsule's own errors do:
# exit 254 and one line "capsule: …" containing MESSAGE.
assert_capsule_error() {
    assert_status 254
    assert_one_line
    assert_output_contains "$1"
    [[ "$output" == "capsule: "* ]]
}

# pod_test_setup: root, a private --dir, and the busybox image fetched as $IMG.
# Tests that start pods in the background set BG_PID; pod_test_teardown stops it.
# start_sleeper [RUN FLAGS...]: a running `sleep` pod of $IMG in the background (pod tests);
# sets UUID and BG_PID.
start_sleeper() {
    "$CAPSULE" --dir="$DIR" run --uuid-file-save="$TMP/uuid" "$IMG" "$@" --exec=/bin/sleep -- 300 &
    BG_PID=$!
    for _ in $(seq 100); do
        if [ -s "$TMP/uuid" ] && cap status "$(cat "$TMP/uuid")" 2>/dev/null | grep -q '^pid='; then
            UUID=$(cat "$TMP/uuid")
            return 0
        fi
        sleep 0.05
    done
    echo "pod did not start" >&2
    return 1
}

pod_test_setup() {
    capsule_setup
    require_root
    make_aci "$TMP/busybox.aci"
    IMG=$(cap --insecure-options=image fetch "$TMP/busybox.aci")
    BG_PID=
}

pod_test_teardown() {
    if [ -n "${BG_PID:-}" ]; then
        kill "$BG_PID" 2>/dev/null || true
        wait "$BG_PID" 2>/dev/null || true
    fi
    capsule_teardown
}

. "$TESTS_LIB/images.bash"
