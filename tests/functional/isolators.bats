#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Per-app isolator flags (--memory, --cpu, --cap-retain, --cap-remove, --seccomp) in the pod
# manifest, merged over the image's isolators; every bad value failing before any pod exists.

load ../lib/common

setup() { pod_test_setup; }
teardown() { pod_test_teardown; }

# isolators UUID: the first app's isolators in the pod manifest, as compact JSON sorted by key.
isolators() {
    cap cat-manifest "$1" | python3 -c '
import json, sys
app = json.load(sys.stdin)["apps"][0]["app"]
print(json.dumps(app.get("isolators", []), sort_keys=True, separators=(",", ":")))'
}

# No pod in any state: nothing was prepared.
assert_no_pods() {
    local left
    left=$(find "$DIR/pods" -mindepth 2 -maxdepth 2 2>/dev/null || true)
    if [ -n "$left" ]; then
        echo "pods left behind: $left" >&2
        return 1
    fi
}

# image_with_isolators JSON: an ACI like $IMG whose app has these isolators; prints its ID.
image_with_isolators() {
    local dir="$TMP/iso-image"
    rm -rf "$dir"
    make_aci_dir "$dir" example.com/isolated
    ISOLATORS="$1" python3 - "$dir/manifest" <<'EOF'
import json, os, sys
m = json.load(open(sys.argv[1]))
m["app"]["isolators"] = json.loads(os.environ["ISOLATORS"])
json.dump(m, open(sys.argv[1], "w"))
EOF
    make_aci_from "$dir" "$TMP/isolated.aci"
    cap --insecure-options=image fetch "$TMP/isolated.aci"
}

@test "isolators: an image without isolators and no flags gets none" {
    UUID=$(cap prepare "$IMG")
    [ "$(isolators "$UUID")" = '[]' ]
}

@test "isolators: each flag becomes its appc isolator" {
    UUID=$(cap prepare "$IMG" --memory=64M --cpu=500m --cap-retain=net_admin,CAP_CHOWN,Net_Admin \
        --seccomp=mode=remove,errno=eperm,@mount,reboot)
    local expected='[{"name":"resource/memory","value":{"limit":"64000000"}},'
    expected+='{"name":"resource/cpu","value":{"limit":"500m"}},'
    expected+='{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_ADMIN","CAP_CHOWN"]}},'
    expected+='{"name":"os/linux/seccomp-remove-set","value":{"errno":"EPERM","set":["@mount","reboot"]}}]'
    [ "$(isolators "$UUID")" = "$expected" ]

    UUID=$(cap prepare "$IMG" --memory=1Gi --cpu=2 --cap-remove=sys_chroot --cap-remove=mknod \
        --seccomp=mode=retain,read,write,@system-service)
    expected='[{"name":"resource/memory","value":{"limit":"1073741824"}},'
    expected+='{"name":"resource/cpu","value":{"limit":"2000m"}},'
    expected+='{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_SYS_CHROOT","CAP_MKNOD"]}},'
    expected+='{"name":"os/linux/seccomp-retain-set","value":{"set":["read","write","@system-service"]}}]'
    [ "$(isolators "$UUID")" = "$expected" ]
}

@test "isolators: flags override the image's of the same name; the rest is kept" {
    local img
    img=$(image_with_isolators '[
        {"name": "resource/memory", "value": {"request": "16M", "limit": "1G"}},
        {"name": "os/linux/no-new-privileges", "value": true},
        {"name": "os/linux/capabilities-remove-set", "value": {"set": ["CAP_MKNOD"]}},
        {"name": "resource/cpu", "value": {"request": "2", "limit": "4"}},
        {"name": "os/linux/seccomp-retain-set", "value": {"set": ["@appc.io/all"], "errno": ""}}]')

    UUID=$(cap prepare "$img")
    [ "$(isolators "$UUID" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 5 ]

    UUID=$(cap prepare "$img" --memory=64M --cpu=500m --cap-retain=net_bind_service \
        --seccomp=mode=remove,swapon)
    local expected='[{"name":"resource/memory","value":{"limit":"64000000","request":"16M"}},'
    expected+='{"name":"os/linux/no-new-privileges","value":true},'
    expected+='{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_BIND_SERVICE"]}},'
    expected+='{"name":"resource/cpu","value":{"limit":"500m","request":"500m"}},'
    expected+='{"name":"os/linux/seccomp-remove-set","value":{"set":["swapon"]}}]'
    [ "$(isolators "$UUID")" = "$expected" ]
}

@test "isolators: an image with both capability sets needs a flag to choose" {
    local img
    img=$(image_with_isolators '[
        {"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_CHOWN"]}},
        {"name": "os/linux/capabilities-remove-set", "value": {"set": ["CAP_KILL"]}}]')
    run cap prepare "$img"
    assert_capsule_error "image example.com/isolated has both os/linux/capabilities-retain-set and os/linux/capabilities-remove-set"
    assert_no_pods
    UUID=$(cap prepare "$img" --cap-remove=kill)
    [ "$(isolators "$UUID")" = '[{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_KILL"]}}]' ]
}

@test "isolators: an image's bad isolator values are refused at fetch" {
    local dir="$TMP/bad-image" value
    for value in '{"set": ["reboot"], "errno": "EBOGUS"}' '{"set": []}' '{"set": ["Not A Call"]}'; do
        rm -rf "$dir"
        make_aci_dir "$dir" example.com/bad
        VALUE="$value" python3 - "$dir/manifest" <<'EOF'
import json, os, sys
m = json.load(open(sys.argv[1]))
m["app"]["isolators"] = [{"name": "os/linux/seccomp-remove-set", "value": json.loads(os.environ["VALUE"])}]
json.dump(m, open(sys.argv[1], "w"))
EOF
        make_aci_from "$dir" "$TMP/bad.aci"
        run cap --insecure-options=image fetch "$TMP/bad.aci"
        assert_capsule_error "app.isolators[0].value"
    done
}

@test "isolators: every bad flag value fails with one line naming it, and leaves no pod" {
    local args
    local -a cases=(
        "--cap-retain=CAP_BOGUS|--cap-retain=CAP_BOGUS: unknown capability 'CAP_BOGUS'"
        "--cap-retain=chown,nope|--cap-retain=chown,nope: unknown capability 'nope'"
        "--cap-remove=|--cap-remove=: expected CAP[,CAP...]"
        "--cap-remove=kill,,chown|--cap-remove=kill,,chown: expected CAP[,CAP...]"
        "--cap-remove=CAP-KILL|unknown capability 'CAP-KILL'"
        "--seccomp=reboot|--seccomp=reboot: expected mode=retain or mode=remove first"
        "--seccomp=mode=allow,reboot|--seccomp=mode=allow,reboot: expected mode=retain or mode=remove first"
        "--seccomp=mode=remove|--seccomp=mode=remove: no system calls given"
        "--seccomp=mode=remove,errno=EBOGUS,reboot|unknown errno name 'EBOGUS'"
        "--seccomp=mode=remove,errno=,reboot|unknown errno name ''"
        "--seccomp=mode=remove,reboot,errno=EPERM|'errno=EPERM' out of place"
        "--seccomp=mode=remove,Reboot|'Reboot' is not a system call name or @group"
        "--seccomp=mode=remove,re;boot|'re;boot' is not a system call name or @group"
        "--seccomp=mode=remove,@|'@' is not a system call name or @group"
        "--seccomp=mode=remove,reboot,|'' is not a system call name or @group"
        "--memory=lots|--memory=lots"
        "--cpu=0|--cpu=0"
    )
    local c flag message verb
    for c in "${cases[@]}"; do
        flag=${c%%|*}
        message=${c#*|}
        for verb in prepare run; do
            run cap "$verb" "$IMG" "$flag" --exec=/bin/true
            assert_capsule_error "$message"
            assert_no_pods
        done
    done
}

@test "isolators: conflicting and misplaced flags" {
    run cap prepare "$IMG" --cap-retain=chown --cap-remove=kill
    assert_capsule_error "--cap-retain and --cap-remove exclude each other"
    run cap prepare "$IMG" --seccomp=mode=remove,reboot --seccomp=mode=remove,swapon
    assert_capsule_error "--seccomp given twice"
    for flag in --cap-retain=chown --cap-remove=kill --seccomp=mode=remove,reboot; do
        run cap prepare "$flag" "$IMG"
        assert_capsule_error "${flag%%=*} is an app flag: give it after the image it applies to"
    done
    run cap prepare "$IMG" --seccomp
    assert_capsule_error "--seccomp needs a value"
    assert_no_pods
}

@test "isolators: fly ignores them (the app keeps the caller's capabilities and system calls)" {
    local host_bnd
    host_bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
    run cap run "$IMG" --cap-retain=chown --seccomp=mode=remove,errno=EPERM,@mount \
        --exec=/bin/sh -- -c 'awk "/^CapBnd|^Seccomp:/ {print \$2}" /proc/self/status'
    assert_status 0
    [ "${lines[0]}" = "$host_bnd" ]
    [ "${lines[1]}" = "$(awk '/^Seccomp:/ {print $2}' /proc/self/status)" ]
}
