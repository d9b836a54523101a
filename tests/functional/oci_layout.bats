#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# OCI image layouts (oci:DIR[:TAG]), OCI archives (oci-archive:FILE[:TAG]) and `docker save`
# archives (docker-archive:FILE), good and bad. Every bad input: exit 254, one line, nothing
# stored.

load ../lib/common
load ../lib/store
load ../lib/oci

setup() {
    capsule_setup
}

teardown() {
    capsule_teardown
}

# fetch_oci REF...: fetch unsigned (these images carry no signatures).
fetch_oci() {
    cap --insecure-options=image fetch "$@"
}

# refused PRESET MESSAGE [FMT=oci]: the crafted image is refused with MESSAGE, nothing stored.
refused() {
    local kind=$1 msg=$2 fmt=${3:-oci} ref
    oci_preset "$kind" "$TMP/$kind.$fmt" "$fmt"
    case "$fmt" in
        oci) ref="oci:$TMP/$kind.$fmt:latest" ;;
        oci-archive) ref="oci-archive:$TMP/$kind.$fmt:latest" ;;
        docker-archive*) ref="docker-archive:$TMP/$kind.$fmt" ;;
    esac
    run fetch_oci "$ref"
    assert_capsule_error "$msg"
    assert_oci_store_clean
}

# ---- good images ----------------------------------------------------------------------------

@test "oci: a umoci layout is fetched by tag; image list shows it; a second fetch reads nothing" {
    make_oci_busybox "$TMP/bb" v1
    run fetch_oci "oci:$TMP/bb:v1"
    assert_status 0
    [ "$output" = "$(oci_image_id "$TMP/bb" v1)" ]
    id=$output
    run cap image list
    assert_status 0
    assert_output_contains "bb"
    assert_output_contains "v1"
    run cap image cat-manifest "$id"
    assert_status 0
    assert_output_contains "application/vnd.oci.image"
    # `new`: answered from the store; `update`: read again, but the layer is not extracted again.
    layer=$(ls "$DIR/store/layers")
    [ -n "$layer" ]
    inode=$(stat -c %i "$DIR/store/layers/$layer")
    run fetch_oci "oci:$TMP/bb:v1"
    assert_status 0
    [ "$output" = "$id" ]
    run fetch_oci --pull-policy=update "oci:$TMP/bb:v1"
    assert_status 0
    [ "$output" = "$id" ]
    [ "$(stat -c %i "$DIR/store/layers/$layer")" = "$inode" ]
    [ "$(store_count)" = 1 ]
}

@test "oci: a tag that moved in the layout gives the new image, and fetch says so" {
    make_oci_busybox "$TMP/bb" v1
    old=$(fetch_oci "oci:$TMP/bb:v1")
    umoci config --image "$TMP/bb:v1" --config.env B=2 >/dev/null 2>&1
    new=$(oci_image_id "$TMP/bb" v1)
    [ "$new" != "$old" ]
    run fetch_oci "oci:$TMP/bb:v1"
    assert_status 0
    assert_output_contains "tag v1 moved from $old to $new"
    [ "$(printf '%s\n' "$output" | tail -1)" = "$new" ]
    [ "$(store_count)" = 2 ]
}

@test "oci: without a tag, a layout holding one image gives it" {
    make_oci_busybox "$TMP/only"
    run fetch_oci "oci:$TMP/only"
    assert_status 0
    [ "$output" = "$(oci_image_id "$TMP/only")" ]
    # An entry without a ref.name annotation: named after the directory, no version.
    oci_preset untagged "$TMP/anon"
    run fetch_oci "oci:$TMP/anon"
    assert_status 0
    run cap image list
    assert_output_contains "anon "
}

@test "oci: the layers are readable through the store (config, files)" {
    make_oci_busybox "$TMP/bb"
    id=$(fetch_oci "oci:$TMP/bb:latest")
    run cap image cat-manifest --config "$id"
    assert_status 0
    assert_output_contains '"/bin/sh"'
    cap image render --rootfs-only "$id" "$TMP/out"
    [ -x "$TMP/out/bin/busybox" ]
    [ "$(readlink "$TMP/out/bin/sh")" = busybox ]
    grep -q '^app:x:1000:1001:' "$TMP/out/etc/passwd"
    grep -q '^extra:x:1002:app$' "$TMP/out/etc/group"
}

@test "oci: whiteouts and opaque directories across layers; links to lower layers" {
    make_oci_multilayer "$TMP/ml"
    id=$(fetch_oci "oci:$TMP/ml:latest")
    [ "$(ls "$DIR/store/layers" | wc -l)" = 3 ]
    cap image render --rootfs-only "$id" "$TMP/out"
    [ "$(cat "$TMP/out/etc/layer2")" = "layer 2" ]
    [ ! -e "$TMP/out/etc/deleteme" ]
    [ ! -e "$TMP/out/etc/.wh.deleteme" ]
    [ "$(ls -A "$TMP/out/opq")" = new ]
    [ "$(readlink "$TMP/out/etc/motd-symlink")" = motd ]
    [ "$(cat "$TMP/out/etc/motd-hardlink")" = "motd from layer 1" ]
    [ "$(readlink "$TMP/out/bin/sh-link")" = /bin/busybox ]
    run cap image cat-manifest --config "$id"
    assert_output_contains '"echo hello-from-oci"'
}

@test "oci: images sharing a base layer store it once" {
    make_oci_busybox "$TMP/a"
    oci_preset multiarch "$TMP/ma"
    fetch_oci "oci:$TMP/a:latest"
    fetch_oci "oci:$TMP/ma:latest" # amd64: the busybox base (ocitool's, not umoci's) + a layer
    n=$(ls "$DIR/store/layers" | wc -l)
    oci_preset simple "$TMP/s"
    fetch_oci "oci:$TMP/s:latest" # the same base layer as the multiarch image's
    [ "$(ls "$DIR/store/layers" | wc -l)" = "$n" ]
    [ "$(store_count)" = 3 ]
}

@test "oci: a multi-arch index gives this host's platform; --platform picks another" {
    oci_preset multiarch "$TMP/ma"
    id=$(fetch_oci "oci:$TMP/ma:latest")
    cap image render --rootfs-only "$id" "$TMP/out"
    [ "$(cat "$TMP/out/etc/arch")" = amd64 ]
    run fetch_oci --platform=linux/arm64/v8 "oci:$TMP/ma:latest"
    assert_status 0
    [ "$output" != "$id" ]
    arm=$(printf '%s\n' "$output" | tail -1)
    cap image render --rootfs-only "$arm" "$TMP/out-arm"
    [ "$(cat "$TMP/out-arm/etc/arch")" = arm64 ]
}

@test "oci-archive: a tar of a layout, by tag and as a plain path" {
    make_oci_busybox "$TMP/bb" v2
    tar -C "$TMP/bb" -cf "$TMP/bb.tar" .
    want=$(oci_image_id "$TMP/bb" v2)
    run fetch_oci "oci-archive:$TMP/bb.tar:v2"
    assert_status 0
    [ "$output" = "$want" ]
    run cap image list
    assert_output_contains "bb"
    # The same file as a plain path is sniffed as an OCI archive.
    run fetch_oci --pull-policy=update "$TMP/bb.tar"
    assert_status 0
    [ "$output" = "$want" ]
    [ "$(store_count)" = 1 ]
}

@test "oci-archive: ocitool's archive (multi-layer) renders like the layout" {
    oci_preset multilayer "$TMP/ml.tar" oci-archive
    id=$(fetch_oci "oci-archive:$TMP/ml.tar")
    cap image render --rootfs-only "$id" "$TMP/out"
    [ -e "$TMP/out/etc/layer2" ]
    [ ! -e "$TMP/out/etc/deleteme" ]
    [ "$(ls -A "$TMP/out/opq")" = new ]
}

@test "docker-archive: docker save output (legacy and OCI-style); named by RepoTags; deterministic ID" {
    oci_preset multilayer "$TMP/d.tar" docker-archive
    run fetch_oci "docker-archive:$TMP/d.tar"
    assert_status 0
    id=$output
    [[ "$id" == sha256-* ]]
    run cap image list
    assert_output_contains "example.com/ocitool"
    assert_output_contains "latest"
    cap image render --rootfs-only "$id" "$TMP/out"
    [ -e "$TMP/out/etc/layer2" ]
    [ ! -e "$TMP/out/etc/deleteme" ]
    [ "$(ls -A "$TMP/out/opq")" = new ]
    # Re-read (update) gives the same image; so do newer docker's archives of the same image
    # (the same config and layer tars) and a plain path.
    run fetch_oci --pull-policy=update "docker-archive:$TMP/d.tar"
    assert_status 0
    [ "$output" = "$id" ]
    oci_preset multilayer "$TMP/d-oci.tar" docker-archive-oci
    run fetch_oci "docker-archive:$TMP/d-oci.tar"
    assert_status 0
    [ "$output" = "$id" ]
    run fetch_oci --pull-policy=update "$TMP/d-oci.tar"
    assert_status 0
    [ "$output" = "$id" ]
    [ "$(store_count)" = 1 ]
}

@test "docker-archive: a gzip layer is hashed as it is; short RepoTags are docker names" {
    cat > "$TMP/spec.json" <<'EOJ'
{"tag": "v3", "name": "busybox:v3", "layers": [
  {"compression": "gzip", "entries": [{"path": "a", "data": "hello\n"}]},
  {"entries": [{"path": "b", "data": "x\n"}]}]}
EOJ
    ocitool build "$TMP/gz.tar" "$TMP/spec.json" --format docker-archive
    id=$(fetch_oci "docker-archive:$TMP/gz.tar")
    run cap image list
    assert_output_contains "docker.io/library/busybox"
    run cap image cat-manifest "$id"
    assert_output_contains "application/vnd.docker.image.rootfs.diff.tar.gzip"
    cap image render --rootfs-only "$id" "$TMP/out"
    [ "$(cat "$TMP/out/a")" = hello ]
}

@test "--pull-policy=never: a stored layout image is answered, an unstored one refused" {
    make_oci_busybox "$TMP/bb"
    run fetch_oci --pull-policy=never "oci:$TMP/bb:latest"
    assert_capsule_error "is not in the store (--pull-policy=never)"
    assert_oci_store_clean
    id=$(fetch_oci "oci:$TMP/bb:latest")
    run fetch_oci --pull-policy=never "oci:$TMP/bb:latest"
    assert_status 0
    [ "$output" = "$id" ]
}

@test "archives written by skopeo (oci-archive, docker-archive with symlinked layer tars)" {
    require_tool skopeo
    make_oci_busybox "$TMP/bb" v1
    skopeo copy "oci:$TMP/bb:v1" "oci-archive:$TMP/sk-oci.tar:v1" >/dev/null
    run fetch_oci "oci-archive:$TMP/sk-oci.tar:v1"
    assert_status 0
    [ "$output" = "$(oci_image_id "$TMP/bb" v1)" ]
    skopeo copy "oci:$TMP/bb:v1" "docker-archive:$TMP/sk-docker.tar:example.com/bb:v1" >/dev/null
    run fetch_oci "$TMP/sk-docker.tar"
    assert_status 0
    id=$output
    run cap image list
    assert_output_contains "example.com/bb"
    cap image render --rootfs-only "$id" "$TMP/out"
    [ -x "$TMP/out/bin/busybox" ]
}

@test "plain paths: an ACI is still an ACI" {
    make_aci "$TMP/bb.aci"
    run fetch_oci "$TMP/bb.aci"
    assert_status 0
    [[ "$output" == sha512-* ]]
}

# ---- trust ------------------------------------------------------------------------------------

@test "oci/oci-archive/docker-archive need --insecure-options=image, checked before anything is stored" {
    make_oci_busybox "$TMP/bb"
    run cap fetch "oci:$TMP/bb:latest"
    assert_capsule_error "image is not signed: OCI image layouts carry no signatures; pass --insecure-options=image"
    assert_oci_store_clean
    tar -C "$TMP/bb" -cf "$TMP/bb.tar" .
    run cap fetch "oci-archive:$TMP/bb.tar"
    assert_capsule_error "image is not signed: OCI archives carry no signatures"
    run cap fetch "$TMP/bb.tar"
    assert_capsule_error "image is not signed: OCI archives carry no signatures"
    oci_preset simple "$TMP/d.tar" docker-archive
    run cap fetch "docker-archive:$TMP/d.tar"
    assert_capsule_error "image is not signed: docker archives carry no signatures"
    assert_oci_store_clean
    # Stored already: still refused without the option.
    fetch_oci "oci:$TMP/bb:latest"
    run cap fetch "oci:$TMP/bb:latest"
    assert_capsule_error "image is not signed"
}

# ---- bad layouts ------------------------------------------------------------------------------

@test "bad: a directory that is not a layout; a missing one; a bad oci-layout" {
    mkdir -p "$TMP/empty"
    run fetch_oci "oci:$TMP/empty"
    assert_capsule_error "not an OCI image layout: '$TMP/empty/oci-layout' not found"
    run fetch_oci "oci:$TMP/nope:latest"
    assert_capsule_error "'$TMP/nope' not found"
    make_oci_busybox "$TMP/bb"
    echo '{"imageLayoutVersion":"2.0.0"}' > "$TMP/bb/oci-layout"
    run fetch_oci "oci:$TMP/bb:latest"
    assert_capsule_error "unsupported imageLayoutVersion '2.0.0'"
    echo 'not json' > "$TMP/bb/oci-layout"
    run fetch_oci "oci:$TMP/bb:latest"
    assert_capsule_error "is not an OCI layout file"
    assert_oci_store_clean
}

@test "bad: an unknown tag lists the tags; no tag with several images" {
    oci_preset two-images "$TMP/two"
    run fetch_oci "oci:$TMP/two:three"
    assert_capsule_error "no image tagged 'three' in the layout (it has: one, two)"
    run fetch_oci "oci:$TMP/two"
    assert_capsule_error "the layout holds 2 images (one, two); name one as oci:PATH:TAG"
    assert_oci_store_clean
}

@test "bad: a layer whose digest does not match" {
    refused digest-mismatch "digest mismatch: expected sha256:"
}

@test "bad: a config whose digest does not match" {
    refused config-digest-mismatch "config sha256:"
    assert_output_contains "digest mismatch"
}

@test "bad: a manifest whose digest does not match" {
    refused manifest-digest-mismatch "digest mismatch"
    assert_output_contains "manifest sha256:"
}

@test "bad: a layer blob shorter than its descriptor (truncated blob)" {
    refused truncated "truncated (61 of 101 bytes)"
}

@test "bad: a descriptor size larger than the blob" {
    refused size-mismatch "truncated (99 of 199 bytes)"
}

@test "bad: a descriptor size smaller than the blob" {
    refused size-too-small "more bytes than the descriptor's size (89 bytes)"
}

@test "bad: a missing layer blob and a missing config" {
    refused missing-blob "not found"
    assert_output_contains "blobs/sha256/"
    refused missing-config "not found"
    assert_output_contains "config sha256:"
}

@test "bad: unknown media types (layer, foreign layer, config, manifest)" {
    refused unknown-layer-type "unknown layer media type 'application/vnd.example.layer.v1.tar+lz4'"
    refused foreign-layer-type "non-distributable layer type"
    refused unknown-config-type "unsupported media type 'application/vnd.example.config.v1+json'"
    refused unknown-manifest-type "unsupported media type 'application/vnd.example.manifest.v1+json'"
}

@test "bad: a manifest larger than 4 MiB" {
    refused big-manifest "is larger than the limit of 4 MiB"
}

@test "bad: an index without the requested platform" {
    refused no-platform "no image for platform linux/amd64 in the index (it has: linux/arm64/v8)"
}

@test "bad: layer entries with path traversal or absolute paths" {
    refused traversal "'../escape'"
    [ ! -e "$TMP/escape" ] && [ ! -e "$DIR/escape" ] && [ ! -e "$DIR/store/escape" ]
    refused traversal-nested "escape"
    refused absolute "/abs-escape"
    [ ! -e /abs-escape ]
}

@test "bad: hardlink escapes (relative, absolute, through a symlink of a lower layer)" {
    refused hardlink-escape "hardlink target '../../etc/passwd'"
    refused hardlink-absolute "hardlink target '/etc/passwd'"
    refused hardlink-through-symlink "hardlink target 'sl/passwd'"
}

@test "bad: a hardlink to a file only a lower layer has" {
    refused hardlink-lower-layer "hardlink target 'etc/passwd' is not in this layer"
}

@test "symlink to / in one layer, link/x in the next: stacked it is a directory; never written outside" {
    oci_preset symlink-escape "$TMP/se"
    run fetch_oci "oci:$TMP/se:latest"
    # Each layer is stored on its own (as overlayfs stacks them, the upper layer's directory
    # hides the lower layer's symlink): nothing is written through the symlink at fetch.
    assert_status 0
    id=$output
    [ ! -e /x ]
    [ "$(find "$DIR/store/layers" -path '*/link/x' | wc -l)" = 1 ]
    # Flattening applies the layers in order, as docker does: link/x would go through the
    # symlink, and is refused.
    run cap image render --rootfs-only "$id" "$TMP/out"
    assert_capsule_error "entry 'link/x': path leaves the rootfs through a symlink"
    [ ! -e /x ]
    [ ! -e "$TMP/out" ]
}

@test "bad: oci-archive that is not a tar, or not a layout" {
    echo "hello" > "$TMP/x.tar"
    run fetch_oci "oci-archive:$TMP/x.tar"
    assert_capsule_error "is not an uncompressed tar archive"
    tar -C "$TESTS_LIB" -cf "$TMP/y.tar" tars.py
    run fetch_oci "oci-archive:$TMP/y.tar"
    assert_capsule_error "not an OCI image layout: 'oci-layout' in '$TMP/y.tar' not found"
    assert_oci_store_clean
}

@test "bad: docker-archive with a wrong diff_id, a missing layer, traversal" {
    refused digest-mismatch "digest mismatch" docker-archive
    refused missing-blob "not found" docker-archive
    assert_output_contains "layer '"
    refused traversal "'../escape'" docker-archive
    echo '[]' > "$TMP/m.json"
    tar -C "$TMP" -cf "$TMP/none.tar" m.json
    run fetch_oci "docker-archive:$TMP/none.tar"
    assert_capsule_error "not a docker-archive: 'manifest.json' in '$TMP/none.tar' not found"
    assert_oci_store_clean
}
