#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The kvm flavour's kvm.json (system config dir, then local config dir over it): `capsule config`
# shows it, a bad one is one line naming the file and leaves no pod, and `prepare --stage1=kvm`
# passes it to the stage1 as pod annotations. No VM is booted here.

load ../lib/common

setup() {
    capsule_setup
    SYS=$TMP/system
    LOCAL=$TMP/local
    mkdir -p "$SYS" "$LOCAL"
}

teardown() { capsule_teardown; }

# kcap ARGS...: capsule with this test's --dir and config dirs.
kcap() {
    cap --system-config="$SYS" --local-config="$LOCAL" "$@"
}

# kvm_json DIR KEYS: DIR/kvm.json with the header and KEYS (JSON members, may be empty).
kvm_json() {
    printf '{"capsuleKind": "kvm", "capsuleVersion": "v1"%s}\n' "${2:+, $2}" > "$1/kvm.json"
}

# config_kvm: the "kvm" object of `capsule config` as KEY=VALUE lines, in its order (null as "null").
config_kvm() {
    kcap config | python3 -c '
import json, sys
for k, v in json.load(sys.stdin)["kvm"].items():
    print(f"{k}={json.dumps(v) if v is None else v}")'
}

# pod_kvm_annotations UUID: the pod manifest's capsule/kvm/* annotations as NAME=VALUE lines.
pod_kvm_annotations() {
    kcap cat-manifest "$1" | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("annotations", []):
    if a["name"].startswith("capsule/kvm/"):
        print(a["name"] + "=" + a["value"])'
}

# require_kvm_stage1: build/stage1-kvm.aci beside the binary (fails in CI, skips elsewhere).
require_kvm_stage1() {
    KVM_ACI=$(dirname "$CAPSULE")/stage1-kvm.aci
    [ -f "$KVM_ACI" ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "missing beside $CAPSULE: stage1-kvm.aci" >&2
        return 1
    fi
    skip "not built: stage1-kvm.aci"
}

# assert_no_pods: no pod directory in any state.
assert_no_pods() {
    local left
    left=$(find "$DIR/pods" -mindepth 2 -maxdepth 2 2>/dev/null || true)
    [ -z "$left" ] || { echo "pods left behind: $left" >&2; return 1; }
}

@test "config: without kvm.json, kernel and qemu are null and the accelerator auto" {
    run config_kvm
    assert_status 0
    [ "$output" = $'accelerator=auto\nkernel=null\nqemu=null' ]
}

@test "config: kvm.json from the system dir, the local dir's keys over it" {
    kvm_json "$SYS" '"kernel": "/boot/vmlinuz-sys", "qemu": "qemu-system-x86_64", "accelerator": "kvm"'
    run config_kvm
    assert_status 0
    [ "$output" = $'accelerator=kvm\nkernel=/boot/vmlinuz-sys\nqemu=qemu-system-x86_64' ]
    kvm_json "$LOCAL" '"qemu": "/opt/qemu/bin/qemu-system-x86_64", "accelerator": "tcg"'
    run config_kvm
    assert_status 0
    [ "$output" = $'accelerator=tcg\nkernel=/boot/vmlinuz-sys\nqemu=/opt/qemu/bin/qemu-system-x86_64' ]
    # The local file alone; a kernel that does not exist is the stage1's to report, not stage0's.
    rm "$SYS/kvm.json"
    kvm_json "$LOCAL" '"kernel": "/nonexistent/vmlinuz"'
    run config_kvm
    assert_status 0
    [ "$output" = $'accelerator=auto\nkernel=/nonexistent/vmlinuz\nqemu=null' ]
}

@test "config: a bad kvm.json is one line naming the file" {
    local f=$LOCAL/kvm.json
    echo '{"capsuleKind": "kvm", "capsuleVersion": "v1",' > "$f"
    run kcap config
    assert_capsule_error "capsule: $f: not valid JSON: parse error at line 2"
    kvm_json "$LOCAL" '"accelerator": "xen"'
    run kcap config
    assert_capsule_error "capsule: $f: \"accelerator\" must be auto, kvm or tcg, not \"xen\""
    kvm_json "$LOCAL" '"memory": "1Gi"'
    run kcap config
    assert_capsule_error "capsule: $f: unknown key \"memory\""
    kvm_json "$LOCAL" '"kernel": 5'
    run kcap config
    assert_capsule_error "capsule: $f: \"kernel\" must be a string, not 5"
    echo '{"capsuleKind": "auth", "capsuleVersion": "v1"}' > "$f"
    run kcap config
    assert_capsule_error "capsule: $f: \"capsuleKind\" must be \"kvm\", not \"auth\""
    echo '{"capsuleKind": "kvm", "capsuleVersion": "v2"}' > "$f"
    run kcap config
    assert_capsule_error "capsule: $f: \"capsuleVersion\" must be \"v1\", not \"v2\""
    # The system file is read too, and named when it is the bad one.
    kvm_json "$LOCAL" ''
    echo '[]' > "$SYS/kvm.json"
    run kcap config
    assert_capsule_error "capsule: $SYS/kvm.json: not a JSON object"
}

@test "prepare --stage1=kvm with a bad kvm.json fails in one line and leaves nothing behind" {
    make_aci "$TMP/busybox.aci"
    local f=$LOCAL/kvm.json bad
    for bad in '{"capsuleKind": "kvm",' \
        '{"capsuleKind": "kvm", "capsuleVersion": "v1", "accelerator": "xen"}' \
        '{"capsuleKind": "kvm", "capsuleVersion": "v1", "initrd": "/boot/initrd.img"}'; do
        echo "$bad" > "$f"
        run kcap --insecure-options=image prepare --stage1=kvm "$TMP/busybox.aci"
        assert_capsule_error "capsule: $f: "
        # Read before anything is fetched: not even the store was made.
        [ ! -e "$DIR" ] || { echo "left behind: $(find "$DIR")" >&2; return 1; }
        run kcap --insecure-options=image run --stage1=kvm "$TMP/busybox.aci"
        assert_capsule_error "capsule: $f: "
        [ ! -e "$DIR" ]
    done
}

@test "prepare --stage1=kvm writes the configured keys, and only those, into the pod manifest" {
    require_kvm_stage1
    make_aci "$TMP/busybox.aci"
    kvm_json "$SYS" '"kernel": "/boot/vmlinuz-test", "accelerator": "kvm"'
    kvm_json "$LOCAL" '"qemu": "/usr/bin/qemu-system-x86_64", "accelerator": "tcg"'
    run kcap --insecure-options=image prepare --stage1=kvm "$TMP/busybox.aci"
    assert_status 0
    local uuid=$output
    [ -d "$DIR/pods/prepared/$uuid" ]
    run pod_kvm_annotations "$uuid"
    assert_status 0
    [ "$output" = $'capsule/kvm/kernel=/boot/vmlinuz-test\ncapsule/kvm/qemu=/usr/bin/qemu-system-x86_64\ncapsule/kvm/accelerator=tcg' ]
    # The same in the pod directory's `pod` file, which the stage1 reads.
    grep -q '"capsule/kvm/accelerator"' "$DIR/pods/prepared/$uuid/pod"

    # Only the accelerator configured: only its annotation.
    rm "$SYS/kvm.json"
    kvm_json "$LOCAL" '"accelerator": "auto"'
    uuid=$(kcap --insecure-options=image prepare --stage1=kvm "$TMP/busybox.aci")
    run pod_kvm_annotations "$uuid"
    [ "$output" = "capsule/kvm/accelerator=auto" ]

    # No kvm.json at all: no annotation, the stage1's defaults.
    rm "$LOCAL/kvm.json"
    uuid=$(kcap --insecure-options=image prepare --stage1=kvm "$TMP/busybox.aci")
    run pod_kvm_annotations "$uuid"
    assert_status 0
    [ -z "$output" ]
}

@test "a kvm stage1 given by path reads kvm.json too; a bad one leaves no pod" {
    require_kvm_stage1
    make_aci "$TMP/busybox.aci"
    kvm_json "$LOCAL" '"kernel": "/boot/vmlinuz-by-path"'
    run kcap --insecure-options=image prepare --stage1-path="$KVM_ACI" "$TMP/busybox.aci"
    assert_status 0
    local uuid=$output
    run pod_kvm_annotations "$uuid"
    [ "$output" = "capsule/kvm/kernel=/boot/vmlinuz-by-path" ]
    # Known to be kvm only once the stage1 is fetched: the store is there, but no new pod.
    kvm_json "$LOCAL" '"accelerator": "hvf"'
    run kcap --insecure-options=image prepare --stage1-path="$KVM_ACI" "$TMP/busybox.aci"
    assert_capsule_error "capsule: $LOCAL/kvm.json: \"accelerator\" must be auto, kvm or tcg, not \"hvf\""
    [ "$(find "$DIR/pods" -mindepth 2 -maxdepth 2)" = "$DIR/pods/prepared/$uuid" ]
}

@test "other flavours ignore kvm.json, even a bad one" {
    make_aci "$TMP/busybox.aci"
    echo 'not json' > "$LOCAL/kvm.json"
    run kcap --insecure-options=image prepare --stage1=fly "$TMP/busybox.aci"
    assert_status 0
    run pod_kvm_annotations "$output"
    assert_status 0
    [ -z "$output" ]
}

@test "an unknown --stage1 flavour names the three there are" {
    make_aci "$TMP/busybox.aci"
    run kcap --insecure-options=image prepare --stage1=xen "$TMP/busybox.aci"
    assert_capsule_error "unknown stage1 flavour 'xen' (this build has: fly, systemd, kvm)"
    assert_no_pods
}
