#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# appc meta discovery: fetch by name, trust --prefix without KEY, keys over https and
# --trust-keys-from-https, against the test https server on 127.0.0.1:443 (names need a
# host without a port, so the server takes port 443, and a plain one port 80; a lock keeps
# bats files that want the ports from colliding) with a certificate for localhost.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store
load ../lib/gpg
load ../lib/https
load ../lib/images

setup_file() {
    gpg_keys_setup
    https_ca_setup "$BATS_FILE_TMPDIR/ca"
}
teardown_file() { gpg_keys_teardown; }
setup() {
    require_root
    capsule_setup
    exec 9> /tmp/capsule-test-443.lock
    flock -w 300 9
    if (exec 3<> /dev/tcp/127.0.0.1/443) 2> /dev/null; then
        if [ "${CI:-}" = true ]; then
            echo "port 443 is in use" >&2
            return 1
        fi
        skip "port 443 is in use"
    fi
    PLAIN_PID=
    W="$TMP/www"
    mkdir -p "$W/discovery" "$W/images/localhost" "$W/keys"
    make_aci "$W/images/localhost/app-1.36-linux-amd64.aci" localhost/app
    sign "$ED_FPR" "$W/images/localhost/app-1.36-linux-amd64.aci"
    cp "$KEYS/ed.asc" "$W/keys/ed.asc"
    HTTPS_BIND_PORT=443 https_start "$W"
    export SSL_CERT_FILE=$TEST_CA
}
teardown() {
    https_stop
    if [ -n "${PLAIN_PID:-}" ]; then
        kill "$PLAIN_PID" 2> /dev/null || true
        wait "$PLAIN_PID" 2> /dev/null || true
    fi
    exec 9>&-
    capsule_teardown
}

# page PATH META...: the discovery page for PATH ("" for the host), one meta tag per
# "NAME PREFIX VALUE" argument.
page() {
    local path=$1 f
    shift
    f="$W/discovery${path:+/$path}.html"
    mkdir -p "$(dirname "$f")"
    {
        echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title>'
        local m
        for m in "$@"; do
            read -r n p v <<< "$m"
            printf '<meta name="%s" content="%s %s">\n' "$n" "$p" "$v"
        done
        echo '</head><body></body></html>'
    } > "$f"
}

TEMPLATE='https://localhost/images/{name}-{version}-{os}-{arch}.{ext}'
ACI_URL=https://localhost/images/localhost/app-1.36-linux-amd64.aci

@test "discovery: fetch by name finds the image and its signature, verifies and stores it" {
    page app "ac-discovery localhost/app $TEMPLATE"
    trust_key ed --prefix=localhost/app
    run --separate-stderr capc fetch localhost/app:1.36
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [ "$stderr" = "capsule: signature verified for localhost/app by key $ED_FPR (Ed Test <ed@example.com>)" ]
    [ "$(requests '^GET /app\?ac-discovery=1 ')" = 1 ]
    [ "$(requests '^GET /images/localhost/app-1.36-linux-amd64.aci.asc ')" = 1 ]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT origin, signed_by FROM images')" = "$ACI_URL|$ED_FPR" ]
    # Stored now: the name is answered from the store (pull policy new) ...
    local id=$output
    run capc fetch localhost/app:1.36
    assert_status 0
    [ "$output" = "$id" ]
    [ "$(requests '^GET /app\?ac-discovery=1 ')" = 1 ]
    # ... and discovered again with --pull-policy=update.
    run capc fetch --pull-policy=update localhost/app:1.36
    assert_status 0
    [ "$output" = "$id" ]
    [ "$(requests '^GET /app\?ac-discovery=1 ')" = 2 ]
}

@test "discovery: the name is walked up until a page has a template; defaults fill the labels" {
    mkdir -p "$W/images/localhost/app"
    make_aci "$W/images/localhost/app/sub-latest-linux-amd64.aci" localhost/app/sub
    sign "$ED_FPR" "$W/images/localhost/app/sub-latest-linux-amd64.aci"
    page "" "ac-discovery localhost $TEMPLATE"
    trust_key ed --prefix=localhost
    run capc fetch localhost/app/sub
    assert_status 0
    [ "$(requests '^GET /app/sub\?ac-discovery=1 ')" = 1 ]
    [ "$(requests '^GET /app\?ac-discovery=1 ')" = 1 ]
    [ "$(requests '^GET /\?ac-discovery=1 ')" = 1 ]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT origin FROM images')" \
        = https://localhost/images/localhost/app/sub-latest-linux-amd64.aci ]
}

@test "discovery: a template with a label the name lacks is skipped, as is another prefix's" {
    page app "ac-discovery localhost/apple https://localhost/wrong/{name}.{ext}" \
        "ac-discovery localhost/app https://localhost/wrong/{name}-{flavor}.{ext}" \
        "ac-discovery localhost/app $TEMPLATE"
    trust_key ed --prefix=localhost/app
    run capc fetch localhost/app:1.36
    assert_status 0
    [ "$(requests '^GET /wrong/')" = 0 ]
}

@test "discovery: no meta tag anywhere is a one-line error, nothing stored" {
    trust_key ed --prefix=localhost/app
    refused "capsule: discovery of localhost/app: no ac-discovery template at https://localhost/app?ac-discovery=1 or its parents" \
        fetch localhost/app:1.36
    [ "$(requests '^GET /\?ac-discovery=1 ')" = 1 ]
}

@test "discovery: --pull-policy=never does not discover" {
    page app "ac-discovery localhost/app $TEMPLATE"
    refused "not found in the store" fetch --pull-policy=never localhost/app:1.36
    [ "$(requests 'ac-discovery')" = 0 ]
}

@test "trust: --prefix without KEY trusts the keys found by discovery (ac-discovery-pubkeys)" {
    page app "ac-discovery-pubkeys localhost/app https://localhost/keys/ed.asc"
    run capc trust --skip-fingerprint-review --prefix=localhost/app < /dev/null
    assert_status 0
    assert_output_contains "fingerprint $ED_FPR"
    cmp "$KEYS/ed.asc" "$TMP/etc/trustedkeys/prefix.d/localhost/app/${ED_FPR,,}"
}

@test "trust: --prefix without KEY and no pubkeys published is a one-line error" {
    run capc trust --skip-fingerprint-review --prefix=localhost/app < /dev/null
    assert_status 254
    assert_one_line
    assert_output_contains "discovery of localhost/app: no ac-discovery-pubkeys at https://localhost/app?ac-discovery=1 or its parents"
    [ ! -e "$TMP/etc/trustedkeys" ]
}

@test "trust: a key at an https URL is fetched with TLS verified" {
    run capc trust --skip-fingerprint-review --root https://localhost/keys/ed.asc < /dev/null
    assert_status 0
    assert_output_contains "Key https://localhost/keys/ed.asc: fingerprint $ED_FPR"
    cmp "$KEYS/ed.asc" "$TMP/etc/trustedkeys/root.d/${ED_FPR,,}"
    unset SSL_CERT_FILE
    rm -r "$TMP/etc/trustedkeys"
    run capc trust --skip-fingerprint-review --root https://localhost/keys/ed.asc < /dev/null
    assert_status 254
    assert_one_line
    assert_output_contains "trust: https://localhost/keys/ed.asc: SSL certificate problem"
    [ ! -e "$TMP/etc/trustedkeys" ]
}

@test "fetch --trust-keys-from-https: an unknown signer's key is discovered and trusted for its prefix" {
    page app "ac-discovery localhost/app $TEMPLATE" \
        "ac-discovery-pubkeys localhost/app https://localhost/keys/ed.asc"
    refused "signed by unknown key $ED_FPR" fetch localhost/app:1.36
    [ ! -e "$TMP/etc/trustedkeys" ]
    run --separate-stderr capc --trust-keys-from-https fetch localhost/app:1.36
    assert_status 0
    [[ "$stderr" == *"warning: trusting key $ED_FPR for prefix \"localhost/app\", fetched from https://localhost/keys/ed.asc"* ]]
    cmp "$KEYS/ed.asc" "$TMP/etc/trustedkeys/prefix.d/localhost/app/${ED_FPR,,}"
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT signed_by FROM images')" = "$ED_FPR" ]
}

@test "discovery: run and prepare fetch by name too, --trust-keys-from-https included" {
    page app "ac-discovery localhost/app $TEMPLATE" \
        "ac-discovery-pubkeys localhost/app https://localhost/keys/ed.asc"
    run capc prepare --stage1=fly localhost/app:1.36
    assert_status 254
    assert_one_line
    assert_output_contains "capsule: image 'localhost/app:1.36': fetch localhost/app:1.36 ($ACI_URL): verify signature '$ACI_URL.asc': signed by unknown key $ED_FPR"
    run capc --trust-keys-from-https run --stage1=fly localhost/app:1.36
    assert_status 0
    assert_output_contains "hello from busybox"
    [ -f "$TMP/etc/trustedkeys/prefix.d/localhost/app/${ED_FPR,,}" ]
}

@test "discovery: plain http is asked only with --insecure-options=http" {
    if (exec 3<> /dev/tcp/127.0.0.1/80) 2> /dev/null; then
        [ "${CI:-}" != true ] || { echo "port 80 is in use" >&2; return 1; }
        skip "port 80 is in use"
    fi
    local P="$TMP/plain" tls_pid=$HTTPS_PID tls_log=$HTTPS_LOG
    mkdir -p "$P/discovery" "$P/images/localhost"
    cp "$W/images/localhost/app-1.36-linux-amd64.aci"* "$P/images/localhost/"
    W=$P page app "ac-discovery localhost/app http://localhost/images/{name}-{version}-{os}-{arch}.{ext}"
    HTTPS_BIND_PORT=80 https_start "$P" plain
    PLAIN_PID=$HTTPS_PID
    HTTPS_PID=$tls_pid HTTPS_LOG=$tls_log
    trust_key ed --prefix=localhost/app
    refused "capsule: discovery of localhost/app: no ac-discovery template at https://localhost/app?ac-discovery=1 or its parents" \
        fetch localhost/app:1.36
    run --separate-stderr capc --insecure-options=http fetch localhost/app:1.36
    assert_status 0
    [[ "$stderr" == *"warning: fetching http://localhost/images/localhost/app-1.36-linux-amd64.aci over plain http"* ]]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT origin FROM images')" \
        = http://localhost/images/localhost/app-1.36-linux-amd64.aci ]
}
