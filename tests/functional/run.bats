#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule run with the fly stage1: exit status, arguments, stdin, environment, users,
# volumes, overlay vs copy, and every bad input failing cleanly.

load ../lib/common

setup() { pod_test_setup; }
teardown() { pod_test_teardown; }

# No half-made pods and no mounts after a failure (or after any pod ended).
assert_clean() {
    assert_empty_dir "$DIR/pods/embryo"
    assert_empty_dir "$DIR/pods/prepare"
    assert_no_mounts "$DIR"
}

only_pod() {
    ls "$DIR/pods/run"
}

@test "run: the image's exec, its output, exit status 0, status afterwards" {
    run cap run "$IMG"
    assert_status 0
    [ "$output" = "hello from busybox" ]
    run cap status "$(only_pod)"
    assert_status 0
    assert_output_contains "state=exited"
    assert_output_contains "exited=true"
    assert_output_contains "app-busybox=0"
    assert_clean
}

@test "run: exits with the app's status; --exec and -- ARGS" {
    run cap run "$IMG" --exec=/bin/sh -- -c 'echo "args: $0"; exit 7' zero
    assert_status 7
    [ "$output" = "args: zero" ]
    run cap status --format=json "$(only_pod)"
    assert_status 0
    [ "$(echo "$output" | python3 -c 'import json,sys; print(json.load(sys.stdin)["apps"][0]["exit_code"])')" = 7 ]
    assert_clean
}

@test "run: an image by path with --insecure-options after the command" {
    run cap run --insecure-options=image "$TMP/busybox.aci" --exec=/bin/true
    assert_status 0
}

@test "run: a signal that kills the app gives 128+N" {
    run cap run "$IMG" --exec=/bin/sh -- -c 'kill -TERM $$'
    assert_status 143
}

@test "run: stdin reaches the app only with --interactive" {
    run bash -c "echo piped | '$CAPSULE' --dir='$DIR' run --interactive '$IMG' --exec=/bin/cat"
    assert_status 0
    [ "$output" = "piped" ]
    run bash -c "echo piped | '$CAPSULE' --dir='$DIR' run '$IMG' --exec=/bin/cat"
    assert_status 0
    [ "$output" = "" ]
}

@test "run: environment precedence (image < --set-env < --environment), AC_APP_NAME, PATH" {
    echo "FROM_FILE=file" > "$TMP/env"
    run cap run --set-env-file="$TMP/env" --set-env=IMAGE_VAR=pod --set-env=BOTH=pod "$IMG" \
        --environment=BOTH=app --exec=/bin/sh -- -c 'echo "$IMAGE_VAR $BOTH $FROM_FILE $AC_APP_NAME $PATH"'
    assert_status 0
    [ "$output" = "pod app file busybox /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ]
    run cap run "$IMG" --exec=/bin/sh -- -c 'echo "[$HOST_SECRET]"'
    [ "$output" = "[]" ]
    HOST_SECRET=inherited run cap run --inherit-env "$IMG" --exec=/bin/sh -- -c 'echo "[$HOST_SECRET] [$CAPSULE_LOCK_FD]"'
    [ "$output" = "[inherited] []" ]
}

@test "run: --user/--group by name or number, supplementary groups, --working-dir" {
    run cap run "$IMG" --user=user --group=user --working-dir=/home/user --exec=/bin/sh -- -c 'id; pwd'
    assert_status 0
    [ "${lines[0]}" = "uid=1000(user) gid=1000(user) groups=50(staff)" ]
    [ "${lines[1]}" = "/home/user" ]
    run cap run "$IMG" --user=4242 --group=50 --exec=/bin/id -- -u
    [ "$output" = "4242" ]
}

@test "run: the app writes to an overlay; the stored image is untouched" {
    run cap run "$IMG" --exec=/bin/sh -- -c 'echo changed > /bin/busybox-note; rm /etc/passwd; echo ok'
    assert_status 0
    [ "$output" = "ok" ]
    tree=$(ls -d "$DIR"/store/tree/"$IMG"*/rootfs)
    [ -f "$tree/etc/passwd" ]
    [ ! -e "$tree/bin/busybox-note" ]
    [ -f "$DIR/pods/run/$(only_pod)/appsinfo/busybox/upper/bin/busybox-note" ]
    assert_clean
}

@test "run: --no-overlay copies the image into the pod" {
    run cap run --no-overlay "$IMG" --exec=/bin/sh -- -c 'echo x > /new; echo ok'
    assert_status 0
    pod=$(only_pod)
    [ -f "$DIR/pods/run/$pod/stage1/rootfs/opt/stage2/busybox/rootfs/new" ]
    [ ! -e "$DIR/pods/run/$pod/appsinfo/busybox/lower" ]
    assert_clean
}

@test "run: host volumes (read-only honoured) and empty volumes, by --mount and by mount point" {
    mkdir -p "$TMP/host"
    echo from-host > "$TMP/host/file"
    run cap run --volume=data,kind=host,source="$TMP/host",readOnly=true "$IMG" \
        --exec=/bin/sh -- -c 'cat /data/file; touch /data/x 2>&1 || echo refused'
    assert_status 0
    [ "${lines[0]}" = "from-host" ]
    assert_output_contains "Read-only file system"
    run cap run --volume=data,kind=host,source="$TMP/host" --volume=scratch,kind=empty,mode=0777 "$IMG" \
        --mount=volume=scratch,target=/scratch --exec=/bin/sh -- -c 'echo w > /data/written; echo s > /scratch/f; cat /scratch/f'
    assert_status 0
    [ "$output" = "s" ]
    [ "$(cat "$TMP/host/written")" = "w" ]
    assert_clean
}

@test "run: /proc, /sys and /dev are there; mounts vanish with the pod" {
    run cap run "$IMG" --exec=/bin/sh -- -c 'test -r /proc/self/status && test -d /sys/kernel && test -c /dev/null && echo ok'
    assert_status 0
    [ "$output" = "ok" ]
    assert_no_mounts "$DIR"
    assert_no_mounts "$TMP"
}

@test "run: --uuid-file-save and --hostname" {
    run cap run --uuid-file-save="$TMP/uuid" --hostname=ignored-by-fly "$IMG" --exec=/bin/true
    assert_status 0
    [ "$(cat "$TMP/uuid")" = "$(only_pod)" ]
}

@test "run errors: missing image" {
    run cap run "$TMP/nope.aci"
    assert_status 254
    assert_one_line
    assert_output_contains "nope.aci"
    assert_empty_dir "$DIR/pods/run"
    assert_clean
}

@test "run errors: a stored image ID that does not exist" {
    run cap run sha512-0000
    assert_status 254
    assert_one_line
    assert_output_contains "sha512-0000"
    assert_clean
}

@test "run errors: --exec of a missing binary names the path" {
    run cap run "$IMG" --exec=/bin/nope
    assert_status 254
    assert_one_line
    [ "$output" = "capsule: fly: app 'busybox': exec '/bin/nope': No such file or directory" ]
    assert_clean
}

@test "run errors: unknown --user and --group" {
    run cap run "$IMG" --user=bob
    assert_status 254
    assert_one_line
    [ "$output" = "capsule: fly: app 'busybox': user 'bob' not found in the app's /etc/passwd" ]
    run cap run "$IMG" --group=nogroup-x
    assert_status 254
    [ "$output" = "capsule: fly: app 'busybox': group 'nogroup-x' not found in the app's /etc/group" ]
    assert_clean
}

@test "run errors: bad --volume syntax, each one line" {
    for v in foo foo,kind=nfs foo,kind=host foo,kind=host,source=relative Bad_Name,kind=empty \
        foo,kind=empty,readOnly=maybe foo,kind=empty,what=1 foo,kind=empty,mode=999; do
        run cap run --volume="$v" "$IMG"
        assert_status 254
        assert_one_line
        assert_output_contains "--volume: volume '"
    done
    run cap run --volume=foo,kind=host,source="$TMP/missing" "$IMG"
    assert_status 254
    [ "$output" = "capsule: volume 'foo': source '$TMP/missing': No such file or directory" ]
    assert_clean
}

@test "run errors: --mount of an undefined volume, bad --mount syntax" {
    run cap run "$IMG" --mount=volume=x,target=/x
    assert_status 254
    [ "$output" = "capsule: app 'busybox': --mount of undefined volume 'x' (define it with --volume=x,kind=…)" ]
    run cap run "$IMG" --mount=volume=x
    assert_status 254
    [ "$output" = "capsule: --mount 'volume=x': expected volume=NAME,target=PATH" ]
    assert_clean
}

@test "run errors: two apps with fly" {
    run cap run "$IMG" --- "$IMG" --name=second
    assert_status 254
    assert_one_line
    [ "$output" = "capsule: the fly stage1 runs exactly one app per pod, 2 were given (--- separates apps)" ]
    assert_clean
}

@test "run errors: unknown flags and misplaced flags are one line" {
    for args in "--bogus $IMG" "$IMG --bogus" "$IMG --volume=v,kind=empty" "--exec=/bin/sh $IMG" "$IMG extra" \
        "--stage1=xen $IMG" "--net=default $IMG" "--set-env=NOEQUALS $IMG"; do
        run cap run $args
        assert_status 254
        assert_one_line
    done
    run cap run --stage1=xen "$IMG"
    [ "$output" = "capsule: unknown stage1 flavour 'xen' (this build has: fly, systemd, kvm)" ]
    assert_clean
}

@test "run errors: a stage1 image that is not one" {
    run cap run --insecure-options=image --stage1-path="$TMP/busybox.aci" "$IMG"
    assert_status 254
    assert_one_line
    assert_output_contains "not a stage1 image: annotation 'capsule/stage1/interface-version' is missing"
    assert_clean
}

@test "run: --stage1-hash and --stage1-path pick the stage1 image" {
    cap run "$IMG" --exec=/bin/true
    s1=$(cat "$DIR/pods/run/$(only_pod)/stage1/id")
    run cap run --stage1-hash="${s1:0:20}" "$IMG" --exec=/bin/true
    assert_status 0
    run cap run --insecure-options=image --stage1-path="$(dirname "$CAPSULE")/stage1-fly.aci" "$IMG" --exec=/bin/true
    assert_status 0
    run cap run --stage1-hash=sha512-0000 "$IMG"
    assert_status 254
    assert_one_line
    assert_output_contains "stage1 'sha512-0000'"
    assert_clean
}

@test "run errors: a stage1 speaking another interface version" {
    mkdir -p "$TMP/s1"
    tar -C "$TMP/s1" -xf "$(dirname "$CAPSULE")/stage1-fly.aci"
    sed -i 's|"capsule/stage1/interface-version", "value": "2"|"capsule/stage1/interface-version", "value": "3"|' "$TMP/s1/manifest"
    grep -q '"value": "3"' "$TMP/s1/manifest"
    tar -C "$TMP/s1" -cf "$TMP/s1.aci" manifest rootfs
    run cap run --insecure-options=image --stage1-path="$TMP/s1.aci" "$IMG"
    assert_status 254
    assert_one_line
    assert_output_contains "stage1 interface version 3 is not supported (this capsule speaks versions 1 to 2)"
    assert_clean
}

@test "run: a stage1 speaking interface version 1 still runs ACIs (one lower directory)" {
    mkdir -p "$TMP/s1"
    tar -C "$TMP/s1" -xf "$(dirname "$CAPSULE")/stage1-fly.aci"
    sed -i 's|"capsule/stage1/interface-version", "value": "2"|"capsule/stage1/interface-version", "value": "1"|' "$TMP/s1/manifest"
    grep -q '"value": "1"' "$TMP/s1/manifest"
    tar -C "$TMP/s1" -cf "$TMP/s1.aci" manifest rootfs
    run cap prepare --insecure-options=image --stage1-path="$TMP/s1.aci" "$IMG" --exec=/bin/echo -- v1-ok
    assert_status 0
    local uuid=$output
    [ "$(wc -l < "$DIR/pods/prepared/$uuid/appsinfo/busybox/lower")" -eq 1 ]
    run cap run-prepared "$uuid"
    assert_status 0
    assert_output_contains "v1-ok"
}

@test "run --help lists pod and app flags" {
    run cap run --help
    assert_status 0
    assert_output_contains "Pod flags (before the first image)"
    assert_output_contains "--mount=VALUE"
}

@test "run: --debug before or after the command shows stage0 and stage1 detail" {
    run cap --debug run "$IMG" --exec=/bin/true
    assert_status 0
    assert_output_contains "debug:"
    assert_output_contains "exited with status 0"
    run cap run --debug "$IMG" --exec=/bin/sh -- -c 'exit 7'
    assert_status 7
    assert_output_contains "exited with status 7"
    assert_clean
}
