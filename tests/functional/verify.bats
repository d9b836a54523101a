#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule fetch verifies OpenPGP signatures made by the real gpg against the trust store.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store
load ../lib/gpg

setup_file() { gpg_keys_setup; }
teardown_file() { gpg_keys_teardown; }
setup() {
    capsule_setup
    make_aci "$TMP/app.aci" example.com/app
}
teardown() { capsule_teardown; }

# verified FPR UID ARGS...: fetch succeeds, stdout is the ID, stderr names the key.
verified() {
    local fpr=$1 uid=$2
    shift 2
    run --separate-stderr capc fetch "$@"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [ "$stderr" = "capsule: signature verified for example.com/app by key $fpr ($uid)" ]
}

@test "verify: RSA-3072, armored, SHA-256" {
    trust_key rsa --prefix=example.com/app
    sign "$RSA_FPR" "$TMP/app.aci" --digest-algo SHA256
    verified "$RSA_FPR" "RSA Test <rsa@example.com>" "$TMP/app.aci"
    # Recorded in the index and shown by image list.
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT signed_by FROM images')" = "$RSA_FPR" ]
    run cap image list --format=json
    assert_output_contains "\"signed_by\": \"$RSA_FPR\""
    run cap image list --full --no-legend
    assert_output_contains "$RSA_FPR"
}

@test "verify: ed25519, binary signature, SHA-512, via --signature" {
    trust_key ed --prefix=example.com/app
    gpgb --yes --local-user "$ED_FPR" --detach-sign --digest-algo SHA512 -o "$TMP/sig.bin" "$TMP/app.aci"
    verified "$ED_FPR" "Ed Test <ed@example.com>" --signature="$TMP/sig.bin" "$TMP/app.aci"
}

@test "verify: a signing subkey, bound to a certify-only primary" {
    trust_key sub --prefix=example.com/app
    sign "$SUB_FPR" "$TMP/app.aci"
    verified "$SUB_FPR" "Sub Test <sub@example.com>" "$TMP/app.aci"
}

@test "verify: a root key vouches for any name" {
    trust_key ed --root
    sign "$ED_FPR" "$TMP/app.aci"
    verified "$ED_FPR" "Ed Test <ed@example.com>" "$TMP/app.aci"
}

@test "verify: a key for a parent prefix covers the name; --quiet silences the notice" {
    trust_key ed --prefix=example.com
    sign "$ED_FPR" "$TMP/app.aci"
    run --separate-stderr capc --quiet fetch "$TMP/app.aci"
    assert_status 0
    [ -z "$stderr" ]
}

@test "verify: a key trusted for a sibling prefix is refused" {
    trust_key ed --prefix=example.com/apple
    sign "$ED_FPR" "$TMP/app.aci"
    refused "key $ED_FPR (Ed Test <ed@example.com>) is trusted, but not for image name 'example.com/app'; to trust it for this name: capsule trust --prefix=example.com/app KEYFILE" fetch "$TMP/app.aci"
}

@test "verify: an untrusted key is refused, naming it and how to trust it" {
    trust_key rsa --root
    sign "$ED_FPR" "$TMP/app.aci"
    refused "fetch $TMP/app.aci: verify signature '$TMP/app.aci.asc': signed by unknown key $ED_FPR; if you trust it, add it with 'capsule trust --prefix=example.com/app KEYFILE'" fetch "$TMP/app.aci"
}

@test "verify: a tampered image is refused" {
    trust_key ed --prefix=example.com/app
    sign "$ED_FPR" "$TMP/app.aci"
    printf 'x' >> "$TMP/app.aci"
    refused "fetch $TMP/app.aci: verify signature '$TMP/app.aci.asc': bad signature" fetch "$TMP/app.aci"
}

@test "verify: a missing signature is refused, naming the flag" {
    trust_key ed --prefix=example.com/app
    refused "fetch $TMP/app.aci: image is not signed: '$TMP/app.aci.asc' not found; pass --insecure-options=image to fetch it without verifying it" fetch "$TMP/app.aci"
    refused "fetch $TMP/app.aci: read signature: open '$TMP/none.asc': No such file or directory" fetch --signature="$TMP/none.asc" "$TMP/app.aci"
}

@test "verify: garbage and truncated signatures are refused" {
    trust_key ed --prefix=example.com/app
    echo garbage > "$TMP/app.aci.asc"
    refused "verify signature '$TMP/app.aci.asc': not an OpenPGP packet (bad header byte)" fetch "$TMP/app.aci"
    sign "$ED_FPR" "$TMP/app.aci"
    head -n 3 "$TMP/app.aci.asc" > "$TMP/cut.asc"
    refused "verify signature '$TMP/cut.asc': armor has no \"-----END PGP SIGNATURE-----\" line" fetch --signature="$TMP/cut.asc" "$TMP/app.aci"
}

@test "verify: SHA-1 signatures are refused" {
    trust_key ed --prefix=example.com/app
    sign "$ED_FPR" "$TMP/app.aci" --digest-algo SHA1
    refused "SHA-1 signatures are refused" fetch "$TMP/app.aci"
}

@test "verify: an expired key is refused" {
    trust_key exp --prefix=example.com/app
    gpgb --yes --faked-system-time 20200101T010000 --local-user "$EXP_FPR" --armor --detach-sign -o "$TMP/app.aci.asc" "$TMP/app.aci"
    refused "verify signature '$TMP/app.aci.asc': key $EXP_FPR has expired" fetch "$TMP/app.aci"
}

@test "verify: a revoked key is refused" {
    capc trust --skip-fingerprint-review --prefix=example.com/app "$KEYS/revoked.asc" > /dev/null
    sign "$REV_FPR" "$TMP/app.aci"
    refused "verify signature '$TMP/app.aci.asc': key $REV_FPR is revoked" fetch "$TMP/app.aci"
}

@test "verify: --insecure-options=image still fetches without a signature" {
    run capc --insecure-options=image fetch "$TMP/app.aci"
    assert_status 0
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT signed_by FROM images')" = "" ]
}

@test "verify: an image stored before is still checked against the trust store" {
    capc --insecure-options=image fetch "$TMP/app.aci" > /dev/null
    trust_key ed --prefix=example.com/apple
    sign "$ED_FPR" "$TMP/app.aci"
    run capc fetch "$TMP/app.aci"
    assert_status 254
    assert_output_contains "is trusted, but not for image name 'example.com/app'"
    trust_key ed --prefix=example.com/app
    verified "$ED_FPR" "Ed Test <ed@example.com>" "$TMP/app.aci"
}

@test "verify: keys in the system config dir count, a local file of the same path wins" {
    "$CAPSULE" --local-config="$TMP/usr" trust --skip-fingerprint-review --prefix=example.com/app "$KEYS/ed.asc" > /dev/null
    sign "$ED_FPR" "$TMP/app.aci"
    verified "$ED_FPR" "Ed Test <ed@example.com>" "$TMP/app.aci"
    # A local file hides the system file of the same path: the revoked copy is the one read.
    mkdir -p "$TMP/etc/trustedkeys/prefix.d/example.com/app"
    cp "$KEYS/revoked.asc" "$TMP/etc/trustedkeys/prefix.d/example.com/app/${REV_FPR,,}"
    cp "$KEYS/rev.asc" "$TMP/usr/trustedkeys/prefix.d/example.com/app/${REV_FPR,,}"
    rm "$DIR" -rf
    sign "$REV_FPR" "$TMP/app.aci"
    refused "key $REV_FPR is revoked" fetch "$TMP/app.aci"
}

@test "verify: RSA and ed25519, armored and binary, SHA-256/384/512" {
    trust_key rsa --prefix=example.com/app
    trust_key ed --prefix=example.com/app
    local fpr uid algo armor
    for fpr in "$RSA_FPR" "$ED_FPR"; do
        for algo in SHA256 SHA384 SHA512; do
            for armor in --armor --no-armor; do
                gpgb --yes --local-user "$fpr" $armor --detach-sign --digest-algo $algo -o "$TMP/app.aci.asc" "$TMP/app.aci"
                run --separate-stderr capc fetch --pull-policy=update "$TMP/app.aci"
                assert_status 0
                [[ "$stderr" == "capsule: signature verified for example.com/app by key $fpr ("* ]]
            done
        done
    done
}

@test "verify: run and prepare verify a signed image too" {
    require_root
    trust_key ed --prefix=example.com/app
    sign "$ED_FPR" "$TMP/app.aci"
    run capc run --stage1=fly "$TMP/app.aci"
    assert_status 0
    assert_output_contains "hello from busybox"
    printf 'x' >> "$TMP/app.aci"
    run capc prepare --stage1=fly "$TMP/app.aci"
    assert_status 254
    assert_one_line
    assert_output_contains "capsule: image '$TMP/app.aci': fetch $TMP/app.aci: verify signature '$TMP/app.aci.asc': bad signature"
}
