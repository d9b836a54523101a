#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Running OCI images: the config mapped at prepare time (Entrypoint/Cmd and docker's override
# rules, Env, WorkingDir, User with docker's semantics, ports, volumes), the layers stacked
# as overlayfs lower directories or flattened, --no-overlay, the second run of a cached image,
# and the pod-level --pull-policy and --platform.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store
load ../lib/oci
load ../lib/https
load ../lib/registry

setup() {
    capsule_setup
    require_root
    BG_PID=
}
teardown() {
    registry_stop
    pod_test_teardown
}

# No half-made pods and no mounts after a failure (or after any pod ended).
assert_clean() {
    assert_empty_dir "$DIR/pods/embryo"
    assert_empty_dir "$DIR/pods/prepare"
    assert_empty_dir "$DIR/pods/prepared"
    assert_no_mounts "$DIR"
}

capi() {
    cap --insecure-options=image "$@"
}

only_pod() {
    ls "$DIR/pods/run"
}

# lower_file UUID: the pod's appsinfo/<app>/lower (one app).
lower_file() {
    local p
    p=$(ls -d "$DIR"/pods/*/"$1")
    cat "$p"/appsinfo/*/lower
}

# oci_build OUT SPEC_JSON: an OCI layout from a spec whose "layers" may use "@ROOTFS@" for
# the busybox rootfs (same bytes, hence the same base layer, in every image).
oci_build() {
    local out=$1 spec=$2
    printf '%s' "${spec//@ROOTFS@/$(_oci_rootfs_cached)}" > "$TMP/spec.json"
    ocitool build "$out" "$TMP/spec.json"
}

# user_image OUT USER: busybox with config User set to USER.
user_image() {
    oci_build "$1" '{"tag": "latest", "config": {"User": "'"$2"'", "Cmd": ["/bin/id"]},
        "layers": [{"rootfs": "@ROOTFS@"}]}'
}

# many_layers_image OUT N: busybox and N more layers, each adding /layers/<i>.
many_layers_image() {
    local out=$1 n=$2 i layers='{"rootfs": "@ROOTFS@"}'
    for ((i = 1; i <= n; i++)); do
        layers+=', {"entries": [{"path": "layers", "type": "dir"}, {"path": "layers/'$i'", "data": "'$i'\n"}]}'
    done
    oci_build "$out" '{"tag": "latest", "config": {"Cmd": ["/bin/sh", "-c", "ls /layers | wc -l"]},
        "layers": ['"$layers"']}'
}

@test "oci run: Entrypoint + Cmd, -- ARGS replace Cmd, --exec replaces Entrypoint" {
    make_oci_multilayer "$TMP/ml"
    run capi run "oci:$TMP/ml"
    assert_status 0
    [ "$output" = "hello-from-oci" ]
    run capi run "oci:$TMP/ml" -- 'echo x'
    assert_status 0
    [ "$output" = "x" ]
    run capi run "oci:$TMP/ml" --exec=/bin/echo -- a b
    assert_status 0
    [ "$output" = "a b" ]
    # --exec alone drops the image's Cmd.
    run capi run "oci:$TMP/ml" --exec=/bin/echo
    assert_status 0
    [ "$output" = "" ]
    run capi run "oci:$TMP/ml" -- 'exit 3'
    assert_status 3
    assert_clean
}

@test "oci run: a relative Entrypoint or Cmd is found in the app's PATH, as docker does" {
    oci_build "$TMP/rel" '{"tag": "latest", "config": {"Entrypoint": ["sh", "-c"], "Cmd": ["echo relative-ok"]},
        "layers": [{"rootfs": "@ROOTFS@"}]}'
    run capi run "oci:$TMP/rel"
    assert_status 0
    [ "$output" = "relative-ok" ]
    run capi run "oci:$TMP/rel" --exec=echo -- via-exec
    assert_status 0
    [ "$output" = "via-exec" ]
    run capi run "oci:$TMP/rel" --exec=no-such-command
    assert_status 254
    assert_output_contains "exec 'no-such-command'"
}

@test "oci run: Env (A=1, PATH), WorkingDir, ports and volumes in the pod manifest" {
    make_oci_multilayer "$TMP/ml"
    run capi run "oci:$TMP/ml" -- 'echo "A=$A"; echo "PATH=$PATH"; pwd'
    assert_status 0
    assert_output_contains "A=1"
    assert_output_contains "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    [ "$(echo "$output" | tail -1)" = "/etc" ]
    run cap cat-manifest "$(only_pod)"
    assert_status 0
    echo "$output" | python3 -c '
import json, sys
app = json.load(sys.stdin)["apps"][0]["app"]
assert app["workingDirectory"] == "/etc", app
assert {"name": "A", "value": "1"} in app["environment"], app
assert [p["name"] for p in app["ports"]] == ["8080-tcp"], app
assert app["ports"][0]["port"] == 8080 and app["ports"][0]["protocol"] == "tcp", app
assert [(m["name"], m["path"]) for m in app["mountPoints"]] == [("volume-data", "/data")], app
'
}

@test "oci run: a pod volume named like an image volume fulfils it" {
    make_oci_multilayer "$TMP/ml"
    mkdir -p "$TMP/host"
    echo from-host > "$TMP/host/f"
    run capi run --volume=volume-data,kind=host,source="$TMP/host" "oci:$TMP/ml" -- 'cat /data/f'
    assert_status 0
    [ "$output" = "from-host" ]
}

@test "oci run: an image without PATH or WorkingDir gets docker's defaults" {
    oci_build "$TMP/bare" '{"tag": "latest", "config": {"Env": [], "Cmd": ["/bin/sh", "-c", "echo $PATH; pwd"]},
        "layers": [{"rootfs": "@ROOTFS@"}]}'
    run capi run "oci:$TMP/bare"
    assert_status 0
    [ "$output" = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
/" ]
}

@test "oci run: User as docker resolves it (name, name:group, uid, uid:gid)" {
    user_image "$TMP/u-app" app
    run capi run "oci:$TMP/u-app"
    assert_status 0
    # The user's primary group, and the groups listing it as a member.
    assert_output_contains "uid=1000(app) gid=1001(appgrp)"
    assert_output_contains "1002(extra)"

    user_image "$TMP/u-app-root" app:root
    run capi run "oci:$TMP/u-app-root"
    assert_status 0
    assert_output_contains "uid=1000(app) gid=0(root)"
    # An explicit group: no supplementary groups (as docker).
    [[ "$output" != *extra* ]]

    user_image "$TMP/u-1000" 1000
    run capi run "oci:$TMP/u-1000"
    assert_status 0
    assert_output_contains "uid=1000(app) gid=1001(appgrp)"
    assert_output_contains "1002(extra)"

    user_image "$TMP/u-num" 4242:extra
    run capi run "oci:$TMP/u-num"
    assert_status 0
    assert_output_contains "uid=4242 gid=1002(extra)"

    # No User: root.
    user_image "$TMP/u-none" ""
    run capi run "oci:$TMP/u-none"
    assert_status 0
    assert_output_contains "uid=0(root) gid=0(root)"
}

@test "oci run: --user and --group override the image's User" {
    user_image "$TMP/u-app" app
    run capi run "oci:$TMP/u-app" --user=0 --group=0
    assert_status 0
    assert_output_contains "uid=0(root) gid=0(root)"
    # --user alone keeps the group docker resolved for the image's User.
    run capi run "oci:$TMP/u-app" --user=0
    assert_status 0
    assert_output_contains "uid=0(root) gid=1001(appgrp)"
}

@test "oci run errors: a User missing from the image's /etc/passwd or /etc/group" {
    user_image "$TMP/u-missing" nobody
    run capi run "oci:$TMP/u-missing"
    assert_capsule_error "image u-missing: user 'nobody' not found in /etc/passwd"
    assert_clean
    [ -z "$(ls -A "$DIR/pods/run" 2>/dev/null)" ]
    user_image "$TMP/g-missing" app:nogroup
    run capi prepare "oci:$TMP/g-missing"
    assert_capsule_error "group 'nogroup' not found in /etc/group"
    assert_clean
    # Both overridden: the image's User is not looked at.
    run capi run "oci:$TMP/u-missing" --user=0 --group=0
    assert_status 0
}

@test "oci run errors: an image with neither Entrypoint nor Cmd" {
    oci_build "$TMP/nocmd" '{"tag": "latest", "config": {"Cmd": null}, "layers": [{"rootfs": "@ROOTFS@"}]}'
    run capi run "oci:$TMP/nocmd"
    assert_capsule_error "has no Entrypoint or Cmd; give --exec"
    assert_clean
    run capi run "oci:$TMP/nocmd" --exec=/bin/echo -- ok
    assert_status 0
    [ "$output" = "ok" ]
}

@test "oci run: the layers are stacked, topmost first; whiteouts, opaque dirs, links across layers" {
    make_oci_multilayer "$TMP/ml"
    run capi run "oci:$TMP/ml" -- 'test ! -e /etc/deleteme && echo gone; cat /etc/layer2; ls /opq; cat /etc/motd-symlink /etc/motd-hardlink'
    assert_status 0
    [ "$output" = "gone
layer 2
new
motd from layer 1
motd from layer 1" ]
    local lower
    lower=$(lower_file "$(only_pod)")
    [ "$(echo "$lower" | wc -l)" -eq 3 ]
    # Topmost first: the last layer of the manifest is the first line.
    local top
    top=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["layers"][-1]["digest"].replace(":", "-"))' \
        "$TMP/ml/blobs/sha256/$(oci_manifest_digest "$TMP/ml" | cut -d: -f2)")
    [ "$(echo "$lower" | head -1)" = "$DIR/store/layers/$top" ]
    # Nothing was flattened.
    assert_empty_dir "$DIR/store/tree/$(oci_image_id "$TMP/ml")"
    assert_clean
}

@test "oci run: the app writes to its overlay; the stored layers are untouched" {
    make_oci_multilayer "$TMP/ml"
    run capi run "oci:$TMP/ml" -- 'echo changed > /etc/layer2; rm /etc/passwd; mkdir /new'
    assert_status 0
    run capi run "oci:$TMP/ml" -- 'cat /etc/layer2; test -f /etc/passwd && echo passwd; test -d /new || echo no-new'
    assert_status 0
    [ "$output" = "layer 2
passwd
no-new" ]
}

@test "oci run --no-overlay: the flattened tree is copied into the pod" {
    make_oci_multilayer "$TMP/ml"
    run capi run --no-overlay "oci:$TMP/ml" -- 'test ! -e /etc/deleteme && echo gone; cat /etc/layer2; ls /opq'
    assert_status 0
    [ "$output" = "gone
layer 2
new" ]
    local pod
    pod=$(only_pod)
    [ ! -e "$DIR/pods/run/$pod/appsinfo/ml/lower" ]
    [ -f "$DIR/pods/run/$pod/stage1/rootfs/opt/stage2/ml/rootfs/etc/layer2" ]
    [ ! -e "$DIR/pods/run/$pod/stage1/rootfs/opt/stage2/ml/rootfs/etc/deleteme" ]
    assert_clean
}

@test "oci run: more layers than can be stacked are flattened once; a second run renders nothing" {
    many_layers_image "$TMP/many" 45
    run capi run "oci:$TMP/many"
    assert_status 0
    [ "$output" = "45" ]
    local id lower before
    id=$(oci_image_id "$TMP/many")
    lower=$(lower_file "$(only_pod)")
    [ "$lower" = "$DIR/store/tree/$id/rootfs" ]
    before=$(stat -c '%i %Y' "$DIR/store/tree/$id" "$DIR/store/tree/$id/rootfs" "$DIR/store/tree/$id/rootfs/layers")
    sleep 1
    run capi prepare "oci:$TMP/many"
    assert_status 0
    [ "$(lower_file "$output")" = "$DIR/store/tree/$id/rootfs" ]
    [ "$(stat -c '%i %Y' "$DIR/store/tree/$id" "$DIR/store/tree/$id/rootfs" "$DIR/store/tree/$id/rootfs/layers")" = "$before" ]
}

@test "oci run: layers whose mount options exceed a page are flattened" {
    # A long --dir makes each layer path ~300 bytes: 14 layers no longer fit in 4096.
    DIR="$TMP/$(printf 'd%.0s' {1..200})"
    many_layers_image "$TMP/long" 13
    run capi run "oci:$TMP/long"
    assert_status 0
    [ "$output" = "13" ]
    [ "$(lower_file "$(only_pod)")" = "$DIR/store/tree/$(oci_image_id "$TMP/long")/rootfs" ]
    # A few layers still stack under the same long path.
    many_layers_image "$TMP/short" 3
    run capi prepare "oci:$TMP/short"
    assert_status 0
    [ "$(lower_file "$output" | wc -l)" -eq 4 ]
}

@test "oci run: a second run of a cached image reads no layer and writes nothing to the store" {
    make_oci_multilayer "$TMP/ml"
    run capi run "oci:$TMP/ml"
    assert_status 0
    local id before
    id=$(oci_image_id "$TMP/ml")
    before=$(find "$DIR/store/layers" "$DIR/store/blobs" -printf '%p %i %Y\n' | sort)
    sleep 1
    # By image ID: no layout read, no layer touched, nothing rendered.
    run capi run "$id"
    assert_status 0
    [ "$output" = "hello-from-oci" ]
    [ "$(find "$DIR/store/layers" "$DIR/store/blobs" -printf '%p %i %Y\n' | sort)" = "$before" ]
    assert_empty_dir "$DIR/store/tree/$id"
}

@test "oci: image rm refuses an image a prepared pod uses" {
    make_oci_busybox "$TMP/bb"
    run capi prepare "oci:$TMP/bb"
    assert_status 0
    local uuid=$output id
    id=$(oci_image_id "$TMP/bb")
    run cap image rm "$id"
    assert_capsule_error "image rm: image $id: in use by a pod; remove the pod first"
    [ -d "$DIR/store/layers" ] && [ -n "$(ls -A "$DIR/store/layers")" ]
    run cap rm "$uuid"
    assert_status 0
    run cap image rm "$id"
    assert_status 0
}

@test "oci: image cat-manifest prints the stored manifest, --config the config" {
    make_oci_multilayer "$TMP/ml"
    local id
    id=$(capi fetch "oci:$TMP/ml")
    run cap image cat-manifest "$id"
    assert_status 0
    # The bytes as stored: their digest is the image ID.
    [ "$output" = "$(cat "$TMP/ml/blobs/sha256/${id#sha256-}")" ]
    run cap image cat-manifest --config "$id"
    assert_status 0
    echo "$output" | python3 -c 'import json,sys; c=json.load(sys.stdin); assert c["config"]["Entrypoint"] == ["/bin/sh", "-c"], c'
    run cap image list --fields=name,version,type --no-legend
    assert_status 0
    assert_output_contains "oci"
}

@test "oci run: --pull-policy and --platform reach every image; bad values are one line" {
    ocitool preset multiarch "$TMP/multi" --rootfs "$(_oci_rootfs_cached)"
    run capi run "oci:$TMP/multi" --exec=/bin/cat -- /etc/arch
    assert_status 0
    [ "$output" = "amd64" ]
    run --separate-stderr capi prepare --platform=linux/arm64/v8 "oci:$TMP/multi" --exec=/bin/cat
    assert_status 0
    local uuid=$output amd64
    run cap image cat-manifest --config "$(cat "$DIR"/pods/prepared/"$uuid"/appsinfo/*/image)"
    assert_status 0
    assert_output_contains '"arm64"'
    run cap rm "$uuid"
    assert_status 0
    amd64=$(capi fetch "oci:$TMP/multi")
    run capi run --pull-policy=never "$amd64" --exec=/bin/true
    assert_status 0
    run capi run --pull-policy=sometimes "oci:$TMP/multi"
    assert_capsule_error "--pull-policy=sometimes: expected never, new or update"
    run capi prepare --platform=linux "oci:$TMP/multi"
    assert_capsule_error "--platform=linux: expected OS/ARCH[/VARIANT]"
    run capi fetch --platform=linux/amd64/v1/x "oci:$TMP/multi"
    assert_capsule_error "--platform=linux/amd64/v1/x: expected OS/ARCH[/VARIANT]"
    assert_clean
}

@test "oci: capsule version lists the oci feature" {
    run cap version
    assert_status 0
    assert_output_contains " oci"
    [[ "$output" != *-oci* ]]
}

@test "oci run: docker:// from a registry; --pull-policy=update says when the tag moved" {
    registry_start tls htpasswd
    registry_auth_d "$TMP/etc"
    make_oci_busybox "$TMP/bb"
    make_oci_multilayer "$TMP/ml"
    registry_push "oci:$TMP/bb:latest" busybox:latest
    export SSL_CERT_FILE=$REGISTRY_CA
    run cap --local-config="$TMP/etc" --insecure-options=image run "docker://$REGISTRY/busybox" -- /bin/echo from-registry
    assert_status 0
    [ "$output" = "from-registry" ]
    local first
    first=$(cat "$DIR"/pods/run/*/appsinfo/*/image)
    # The tag moves; run --pull-policy=update fetches the new image and says so on stderr.
    registry_push "oci:$TMP/ml:latest" busybox:latest
    run --separate-stderr cap --local-config="$TMP/etc" --insecure-options=image run --pull-policy=update \
        "docker://$REGISTRY/busybox"
    assert_status 0
    [ "$output" = "hello-from-oci" ]
    [[ "$stderr" == *"tag latest moved from $first to sha256-"* ]]
    # --pull-policy=never: the stored (moved) tag, no registry needed.
    registry_stop
    run cap --local-config="$TMP/etc" --insecure-options=image run --pull-policy=never "docker://$REGISTRY/busybox"
    assert_status 0
    [ "$output" = "hello-from-oci" ]
    run cap image list --fields=name,type --no-legend
    assert_output_contains "$REGISTRY/busybox"
    assert_output_contains "oci"
}

@test "oci run: a stage1 speaking interface version 1 gets the flattened tree (one lower directory)" {
    mkdir -p "$TMP/s1"
    tar -C "$TMP/s1" -xf "$(dirname "$CAPSULE")/stage1-fly.aci"
    sed -i 's|"capsule/stage1/interface-version", "value": "2"|"capsule/stage1/interface-version", "value": "1"|' "$TMP/s1/manifest"
    grep -q '"capsule/stage1/interface-version", "value": "1"' "$TMP/s1/manifest"
    tar -C "$TMP/s1" -cf "$TMP/s1.aci" manifest rootfs
    make_oci_multilayer "$TMP/ml"
    run capi run --stage1-path="$TMP/s1.aci" "oci:$TMP/ml" -- 'cat /etc/layer2; ls /opq'
    assert_status 0
    [ "$output" = "layer 2
new" ]
    [ "$(lower_file "$(only_pod)")" = "$DIR/store/tree/$(oci_image_id "$TMP/ml")/rootfs" ]
    assert_clean
}
