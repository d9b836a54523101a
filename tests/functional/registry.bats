#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# docker:// pulls from a real registry (Debian's docker-registry on 127.0.0.1, TLS from a test
# CA, htpasswd or token authentication; tests/lib/registry.bash), images made with umoci and
# pushed with skopeo (crafted ones byte for byte with tests/lib/registry_push.py), and a
# misbehaving registry (tests/lib/registry_fake.py) for what a real one would not serve.
# Every bad input: exit 254, one line, nothing stored.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store
load ../lib/oci
load ../lib/https
load ../lib/registry

setup_file() {
    # A second registry with token authentication (a token server issues bearer tokens).
    registry_start tls token
    export TOKEN_REGISTRY=$REGISTRY TOKEN_REGISTRY_CA=$REGISTRY_CA TOKEN_LOG
    local fixtures=$BATS_FILE_TMPDIR/fixtures
    make_oci_busybox "$fixtures/busybox"
    registry_push "oci:$fixtures/busybox:latest" busybox:latest
    # The main registry: htpasswd (bcrypt) basic authentication.
    registry_start tls htpasswd
    make_oci_multilayer "$fixtures/multi"
    registry_push "oci:$fixtures/busybox:latest" busybox:latest
    registry_push "oci:$fixtures/multi:latest" multi:latest
    oci_preset multiarch "$fixtures/multiarch"
    registry_push_raw "$fixtures/multiarch:latest" multiarch:latest > /dev/null
    BUSYBOX_DIGEST=$(oci_manifest_digest "$fixtures/busybox")
    MULTI_DIGEST=$(oci_manifest_digest "$fixtures/multi")
    export BUSYBOX_DIGEST MULTI_DIGEST FIXTURES=$fixtures
}

teardown_file() {
    registry_stop
}

setup() {
    capsule_setup
    mkdir -p "$TMP/etc" "$TMP/sys" "$TMP/home"
    # Hermetic: no credentials but the test's own, none of the machine's.
    export HOME=$TMP/home
    unset DOCKER_CONFIG
    export SSL_CERT_FILE=$REGISTRY_CA
    FAKE_PID=
}

teardown() {
    registry_fake_stop
    capsule_teardown
}

# capd ARGS...: capsule with this test's config dirs.
capd() {
    cap --local-config="$TMP/etc" --system-config="$TMP/sys" "$@"
}

# pull ARGS...: an unsigned pull.
pull() {
    capd --insecure-options=image fetch "$@"
}

# pull_http ARGS...: an unsigned pull from a plain-http registry (registry_fake.py).
pull_http() {
    capd --insecure-options=image,http fetch "$@"
}

# registry_requests PATTERN: how many requests the main registry logged matching PATTERN
# (an extended regex over its access log, e.g. 'GET /v2/busybox/manifests/').
registry_requests() {
    grep -cE "\"$1" "$REGISTRY_STATE/registry.log" || true
}

# refused MESSAGE ARGS...: the pull fails as capsule's errors do, nothing is stored.
refused() {
    local msg=$1
    shift
    run "$@"
    assert_capsule_error "$msg"
    assert_oci_store_clean
}

# refused_http MESSAGE ARGS...: as refused, over plain http: the one warning that says so
# comes first, then the error.
refused_http() {
    local msg=$1
    shift
    run "$@"
    [[ "$output" == "capsule: warning: fetching docker://"*" over plain http (--insecure-options=http)"$'\n'* ]]
    output=${output#*$'\n'}
    assert_capsule_error "$msg"
    assert_oci_store_clean
}

# unique_image NAME: push a one-layer image no other test shares blobs with; prints its
# layer's digest.
unique_image() {
    local name=$1
    python3 - "$TMP/$name.json" "$name" "$RANDOM$RANDOM" << 'EOP'
import json, sys
json.dump({"tag": "latest", "config": {"Cmd": ["/bin/true"]},
           "layers": [{"entries": [{"path": "etc", "type": "dir"},
                                   {"path": "etc/unique", "data": sys.argv[2] + " " + sys.argv[3] + "\n" * 4096}]}]},
          open(sys.argv[1], "w"))
EOP
    ocitool build "$TMP/$name" "$TMP/$name.json" > /dev/null
    registry_push_raw "$TMP/$name:latest" "$name:latest" > /dev/null
    python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"]
m=json.load(open(d+"/blobs/sha256/"+i.split(":")[1])); print(m["layers"][0]["digest"])' "$TMP/$name"
}

# ---- good pulls -------------------------------------------------------------------------------

@test "registry: basic auth from auth.d, TLS verified with the test CA; image list shows it" {
    registry_auth_d "$TMP/etc"
    run --separate-stderr pull "docker://$REGISTRY/busybox:latest"
    assert_status 0
    [ "$output" = "${BUSYBOX_DIGEST/:/-}" ]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT origin FROM images')" = "docker://$REGISTRY/busybox:latest" ]
    run capd image list
    assert_output_contains "$REGISTRY/busybox"
    # The image's files are there, read through its layers.
    cap image render --rootfs-only "${BUSYBOX_DIGEST/:/-}" "$TMP/out"
    [ -x "$TMP/out/bin/busybox" ]
    grep -q '^app:x:1000:1001:' "$TMP/out/etc/passwd"
}

@test "registry: credentials from ~/.docker/config.json (\$HOME)" {
    registry_docker_config "$HOME"
    run pull "docker://$REGISTRY/busybox"
    assert_status 0
    [ "$output" = "${BUSYBOX_DIGEST/:/-}" ]
}

@test "registry: auth.d wins over ~/.docker/config.json" {
    registry_auth_d "$TMP/etc"
    registry_docker_config "$HOME" "$REGISTRY_USER" wrong-password
    run pull "docker://$REGISTRY/busybox"
    assert_status 0
}

@test "registry: bearer tokens from a token server (auth: token), credentials from auth.d" {
    export SSL_CERT_FILE=$TOKEN_REGISTRY_CA
    local saved=$REGISTRY
    REGISTRY=$TOKEN_REGISTRY registry_auth_d "$TMP/etc"
    : > "$TOKEN_LOG"
    run pull "docker://$TOKEN_REGISTRY/busybox:latest"
    assert_status 0
    [ "$output" = "${BUSYBOX_DIGEST/:/-}" ]
    # One token, asked for with the credentials, for this repository; used for every blob.
    [ "$(grep -c 'GET /token?service=capsule-test-registry&scope=repository%3Abusybox%3Apull authorization=basic' "$TOKEN_LOG")" = 1 ]
    [ "$(wc -l < "$TOKEN_LOG")" = 1 ]
    REGISTRY=$saved
}

@test "registry: token server, no credentials: an anonymous token is not enough" {
    export SSL_CERT_FILE=$TOKEN_REGISTRY_CA
    refused "capsule: fetch docker://$TOKEN_REGISTRY/busybox:latest: manifest latest: $TOKEN_REGISTRY requires authentication and no credentials are configured for it (auth.d or ~/.docker/config.json)" \
        pull "docker://$TOKEN_REGISTRY/busybox:latest"
    grep -q 'authorization=none' "$TOKEN_LOG"
}

@test "registry: token server refuses wrong credentials" {
    export SSL_CERT_FILE=$TOKEN_REGISTRY_CA
    REGISTRY=$TOKEN_REGISTRY registry_auth_d "$TMP/etc" "$REGISTRY_USER" wrong
    refused "capsule: fetch docker://$TOKEN_REGISTRY/busybox:latest: manifest latest: $TOKEN_REGISTRY refused the credentials for user '$REGISTRY_USER'" \
        pull "docker://$TOKEN_REGISTRY/busybox:latest"
}

@test "registry: --insecure-options=tls pulls without the CA" {
    unset SSL_CERT_FILE
    registry_auth_d "$TMP/etc"
    run --separate-stderr capd --insecure-options=image,tls fetch "docker://$REGISTRY/busybox"
    assert_status 0
    [ "$output" = "${BUSYBOX_DIGEST/:/-}" ]
    [[ "$stderr" == *"not verifying the TLS certificate of $REGISTRY"* ]]
}

@test "registry: a multi-layer image: whiteouts, opaque dirs, links across layers" {
    registry_auth_d "$TMP/etc"
    run pull "docker://$REGISTRY/multi:latest"
    assert_status 0
    [ "$output" = "${MULTI_DIGEST/:/-}" ]
    [ "$(ls "$DIR/store/layers" | wc -l)" = 3 ]
    cap image render --rootfs-only "$output" "$TMP/out"
    [ "$(cat "$TMP/out/etc/layer2")" = "layer 2" ]
    [ ! -e "$TMP/out/etc/deleteme" ]
    [ "$(ls "$TMP/out/opq")" = new ]
    [ "$(cat "$TMP/out/etc/motd-hardlink")" = "motd from layer 1" ]
    [ "$(readlink "$TMP/out/etc/motd-symlink")" = motd ]
}

@test "registry: a multi-arch index: this host's platform by default, --platform picks another" {
    registry_auth_d "$TMP/etc"
    run pull "docker://$REGISTRY/multiarch:latest"
    assert_status 0
    amd=$output
    cap image render --rootfs-only "$amd" "$TMP/amd"
    [ "$(cat "$TMP/amd/etc/arch")" = amd64 ]
    run pull --platform=linux/arm64/v8 "docker://$REGISTRY/multiarch:latest"
    assert_status 0
    [ "$output" != "$amd" ]
    cap image render --rootfs-only "$output" "$TMP/arm"
    [ "$(cat "$TMP/arm/etc/arch")" = arm64 ]
    # Each is found again for its own platform (pull policy new).
    run pull "docker://$REGISTRY/multiarch:latest"
    [ "$output" = "$amd" ]
}

@test "registry: pinned by digest: no --insecure-options=image needed; the digest is the trust" {
    registry_auth_d "$TMP/etc"
    run capd fetch "docker://$REGISTRY/busybox@$BUSYBOX_DIGEST"
    assert_status 0
    [ "$output" = "${BUSYBOX_DIGEST/:/-}" ]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT signed_by FROM images')" = digest ]
}

@test "registry: a tag without --insecure-options=image is refused before the registry is asked" {
    registry_auth_d "$TMP/etc"
    refused "capsule: fetch docker://$REGISTRY/never-asked:latest: image is not signed: docker images carry no signatures" \
        capd fetch "docker://$REGISTRY/never-asked:latest"
    assert_output_contains "pass --insecure-options=image"
    [ "$(registry_requests 'GET /v2/never-asked/')" = 0 ]
}

@test "registry: pull policy new answers from the store, update asks, never stays offline" {
    registry_auth_d "$TMP/etc"
    refused "capsule: fetch docker://$REGISTRY/busybox:latest: not found in the store (--pull-policy=never)" \
        pull --pull-policy=never "docker://$REGISTRY/busybox:latest"
    id=$(pull "docker://$REGISTRY/busybox:latest")
    before=$(registry_requests 'GET /v2/busybox/manifests/')
    [ "$(pull "docker://$REGISTRY/busybox:latest")" = "$id" ]
    [ "$(pull --pull-policy=never "docker://$REGISTRY/busybox:latest")" = "$id" ]
    [ "$(registry_requests 'GET /v2/busybox/manifests/')" = "$before" ]
    blobs=$(registry_requests 'GET /v2/busybox/blobs/')
    run --separate-stderr pull --pull-policy=update "docker://$REGISTRY/busybox:latest"
    assert_status 0
    [ "$output" = "$id" ]
    [ -z "$stderr" ]
    [ "$(registry_requests 'GET /v2/busybox/manifests/')" -gt "$before" ]
    [ "$(registry_requests 'GET /v2/busybox/blobs/')" = "$blobs" ]
}

@test "registry: update says when a tag moved" {
    registry_auth_d "$TMP/etc"
    registry_push "oci:$FIXTURES/busybox:latest" moving:latest
    old=$(pull "docker://$REGISTRY/moving:latest")
    registry_push "oci:$FIXTURES/multi:latest" moving:latest
    # new: the stored image still answers.
    [ "$(pull "docker://$REGISTRY/moving:latest")" = "$old" ]
    run --separate-stderr pull --pull-policy=update "docker://$REGISTRY/moving:latest"
    assert_status 0
    [ "$output" = "${MULTI_DIGEST/:/-}" ]
    [ "$stderr" = "capsule: docker://$REGISTRY/moving:latest: tag latest moved from $old to ${MULTI_DIGEST/:/-}" ]
}

@test "registry: transient blob failures are retried; a cut download resumes with a Range request" {
    oci_preset simple "$TMP/simple"
    registry_fake_start --layout "$TMP/simple" --blob-status 503 --blob-status-count 2
    run --separate-stderr pull_http "docker://$FAKE_REGISTRY/simple:latest"
    assert_status 0
    [ "$output" = "$(oci_image_id "$TMP/simple")" ]
    registry_fake_stop
    rm -rf "$DIR"
    registry_fake_start --layout "$TMP/simple" --cut 1
    run --separate-stderr pull_http "docker://$FAKE_REGISTRY/simple:latest"
    assert_status 0
    [ "$output" = "$(oci_image_id "$TMP/simple")" ]
    grep -qE 'GET /v2/simple/blobs/sha256:[0-9a-f]+ range=bytes=[0-9]+-' "$FAKE_LOG"
}

@test "registry: capsule run --insecure-options=image docker://REGISTRY/busybox runs busybox" {
    require_root
    registry_auth_d "$TMP/etc"
    run capd run --insecure-options=image "docker://$REGISTRY/busybox" --exec=/bin/echo -- hello-from-registry
    assert_status 0
    assert_output_contains hello-from-registry
}

# ---- bad input --------------------------------------------------------------------------------

@test "bad: without the test CA the registry's certificate is refused" {
    unset SSL_CERT_FILE
    registry_auth_d "$TMP/etc"
    refused "capsule: fetch docker://$REGISTRY/busybox:latest: manifest latest: SSL certificate problem: unable to get local issuer certificate" \
        pull "docker://$REGISTRY/busybox:latest"
    assert_output_contains "SSL_CERT_FILE"
}

@test "bad: plain http without --insecure-options=http" {
    oci_preset simple "$TMP/simple"
    registry_fake_start --layout "$TMP/simple"
    refused "capsule: fetch docker://$FAKE_REGISTRY/simple:latest: manifest latest: " \
        pull "docker://$FAKE_REGISTRY/simple:latest"
    assert_output_contains "if $FAKE_REGISTRY serves plain http, pass --insecure-options=http"
    run --separate-stderr pull_http "docker://$FAKE_REGISTRY/simple:latest"
    assert_status 0
    [[ "$stderr" == *"over plain http (--insecure-options=http)"* ]]
}

@test "bad: 401 and no credentials configured" {
    refused "capsule: fetch docker://$REGISTRY/busybox:latest: manifest latest: $REGISTRY requires authentication and no credentials are configured for it (auth.d or ~/.docker/config.json)" \
        pull "docker://$REGISTRY/busybox:latest"
}

@test "bad: wrong credentials (auth.d, then config.json)" {
    registry_auth_d "$TMP/etc" "$REGISTRY_USER" wrong
    refused "capsule: fetch docker://$REGISTRY/busybox:latest: manifest latest: $REGISTRY refused the credentials for user '$REGISTRY_USER'" \
        pull "docker://$REGISTRY/busybox:latest"
    rm -r "$TMP/etc/auth.d"
    registry_docker_config "$HOME" someone else
    refused "refused the credentials for user 'someone'" pull "docker://$REGISTRY/busybox:latest"
}

@test "bad: an unknown repository or tag" {
    registry_auth_d "$TMP/etc"
    refused "capsule: fetch docker://$REGISTRY/busybox:nope: manifest nope: not found (HTTP 404: MANIFEST_UNKNOWN: manifest unknown)" \
        pull "docker://$REGISTRY/busybox:nope"
}

@test "bad: a blob whose digest does not match (corrupted in the registry's storage)" {
    registry_auth_d "$TMP/etc"
    layer=$(unique_image corrupt)
    f=$(registry_blob_file "$layer")
    python3 - "$f" << 'EOP'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
EOP
    refused "digest mismatch: expected $layer" pull "docker://$REGISTRY/corrupt:latest"
    assert_output_contains "capsule: fetch docker://$REGISTRY/corrupt:latest: "
}

@test "bad: a truncated blob (shortened in the registry's storage)" {
    registry_auth_d "$TMP/etc"
    layer=$(unique_image truncated)
    f=$(registry_blob_file "$layer")
    truncate -s -100 "$f"
    refused "truncated" pull "docker://$REGISTRY/truncated:latest"
    assert_output_contains "$layer"
}

@test "bad: a blob download cut short every time: given up after 3 tries" {
    oci_preset simple "$TMP/simple"
    registry_fake_start --layout "$TMP/simple" --cut -1
    refused_http "after 3 tries" pull_http "docker://$FAKE_REGISTRY/simple:latest"
    assert_output_contains "blob sha256:"
}

@test "bad: unknown media types (a layer's, the manifest's)" {
    registry_auth_d "$TMP/etc"
    oci_preset unknown-layer-type "$TMP/ul"
    registry_push_raw "$TMP/ul:latest" unknown-layer:latest > /dev/null
    refused "unknown layer media type 'application/vnd.example.layer.v1.tar+lz4'" \
        pull "docker://$REGISTRY/unknown-layer:latest"
    # A registry would not take this one: the misbehaving one serves it.
    oci_preset unknown-manifest-type "$TMP/um"
    registry_fake_start --layout "$TMP/um"
    refused_http "capsule: fetch docker://$FAKE_REGISTRY/um:latest: manifest latest: unsupported media type 'application/vnd.example.manifest.v1+json'" \
        pull_http "docker://$FAKE_REGISTRY/um:latest"
}

@test "bad: a manifest larger than 4 MiB" {
    oci_preset big-manifest "$TMP/big"
    registry_fake_start --layout "$TMP/big"
    refused_http "capsule: fetch docker://$FAKE_REGISTRY/big:latest: manifest latest: larger than the limit of 4 MiB" \
        pull_http "docker://$FAKE_REGISTRY/big:latest"
}

@test "bad: a redirect loop" {
    registry_fake_start --redirect-loop
    refused_http "capsule: fetch docker://$FAKE_REGISTRY/loop:latest: manifest latest: redirect loop: Maximum (10) redirects followed" \
        pull_http "docker://$FAKE_REGISTRY/loop:latest"
}

@test "bad: an index with no image for the platform" {
    registry_auth_d "$TMP/etc"
    oci_preset no-platform "$TMP/np"
    registry_push_raw "$TMP/np:latest" no-platform:latest > /dev/null
    refused "no image for platform linux/amd64 in the index (it has: linux/arm64/v8)" \
        pull "docker://$REGISTRY/no-platform:latest"
    refused "no image for platform linux/s390x in the index" \
        pull --platform=linux/s390x "docker://$REGISTRY/multiarch:latest"
}

@test "bad: a manifest whose digest is not the one asked for" {
    oci_preset simple "$TMP/simple"
    registry_fake_start --layout "$TMP/simple"
    wrong=sha256:$(printf 'other' | sha256sum | cut -d' ' -f1)
    # The fake serves any blob by digest: give that digest the manifest's bytes.
    cp "$TMP/simple/blobs/sha256/$(oci_manifest_digest "$TMP/simple" | cut -d: -f2)" "$TMP/simple/blobs/sha256/${wrong#sha256:}"
    refused_http "manifest $wrong: digest mismatch: expected $wrong, got $(oci_manifest_digest "$TMP/simple")" \
        capd --insecure-options=http fetch "docker://$FAKE_REGISTRY/simple@$wrong"
}

@test "bad: malformed references" {
    refused "capsule: fetch docker://$REGISTRY/UPPER:latest: " pull "docker://$REGISTRY/UPPER:latest"
    refused "capsule: fetch docker://$REGISTRY/x@sha256:abc: " pull "docker://$REGISTRY/x@sha256:abc"
}

@test "bad: layers with path traversal and a hardlink escape, pulled from the registry" {
    registry_auth_d "$TMP/etc"
    oci_preset traversal "$TMP/tr"
    registry_push_raw "$TMP/tr:latest" traversal:latest > /dev/null
    refused "'../escape'" pull "docker://$REGISTRY/traversal:latest"
    [ ! -e "$TMP/escape" ] && [ ! -e "$DIR/escape" ] && [ ! -e "$DIR/store/escape" ]
    oci_preset hardlink-escape "$TMP/he"
    registry_push_raw "$TMP/he:latest" hardlink-escape:latest > /dev/null
    refused "hardlink target '../../etc/passwd'" pull "docker://$REGISTRY/hardlink-escape:latest"
}
