#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule fetch over https from a real TLS server on 127.0.0.1 (tests/lib/https_server.py)
# with a test CA made by openssl; signatures made by the real gpg.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store
load ../lib/gpg
load ../lib/https

setup_file() {
    gpg_keys_setup
    https_ca_setup "$BATS_FILE_TMPDIR/ca"
}
teardown_file() { gpg_keys_teardown; }
setup() {
    capsule_setup
    PLAIN_PID=
    mkdir -p "$TMP/www"
    make_aci "$TMP/www/app.aci" example.com/app
    cp "$TMP/www/app.aci" "$TMP/www/unsigned.aci"
    sign "$ED_FPR" "$TMP/www/app.aci"
    trust_key ed --prefix=example.com/app
    # user:secret and a bearer token, for auth.d
    HTTPS_AUTH=("Basic dXNlcjpzZWNyZXQ=" "Bearer tok-123")
    https_start "$TMP/www"
    export SSL_CERT_FILE=$TEST_CA
}
teardown() {
    https_stop
    if [ -n "${PLAIN_PID:-}" ]; then
        kill "$PLAIN_PID" 2> /dev/null || true
        wait "$PLAIN_PID" 2> /dev/null || true
    fi
    capsule_teardown
}

@test "https: a signed image is downloaded, verified with the test CA and stored" {
    run --separate-stderr capc fetch "$HTTPS_URL/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [ "$stderr" = "capsule: signature verified for example.com/app by key $ED_FPR (Ed Test <ed@example.com>)" ]
    [ "$(requests '^GET /app.aci ')" = 1 ]
    [ "$(requests '^GET /app.aci.asc ')" = 1 ]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT origin, signed_by FROM images')" = "$HTTPS_URL/app.aci|$ED_FPR" ]
    # The download went through an unnamed file: nothing is left in tmp/.
    assert_empty_dir "$DIR/store/tmp"
}

@test "https: without the test CA the certificate is refused, nothing stored" {
    unset SSL_CERT_FILE
    refused "capsule: fetch $HTTPS_URL/app.aci: SSL certificate problem: unable to get local issuer certificate" \
        fetch "$HTTPS_URL/app.aci"
}

@test "https: a certificate for another host is refused, nothing stored" {
    https_stop
    https_start "$TMP/www" other
    refused "capsule: fetch $HTTPS_URL/app.aci: SSL: no alternative certificate subject name matches target host name '127.0.0.1'" \
        fetch "$HTTPS_URL/app.aci"
}

@test "https: a truncated download is refused, nothing stored" {
    refused "capsule: fetch $HTTPS_URL/truncate/app.aci: transfer closed with" fetch "$HTTPS_URL/truncate/app.aci"
}

@test "https: SSL_CERT_DIR is honoured as OpenSSL programs do" {
    unset SSL_CERT_FILE
    mkdir "$TMP/certs"
    cp "$TEST_CA" "$TMP/certs/ca.pem"
    openssl rehash "$TMP/certs" 2> /dev/null || c_rehash "$TMP/certs" > /dev/null
    SSL_CERT_DIR="$TMP/certs" run capc --quiet fetch "$HTTPS_URL/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
}

@test "https: --insecure-options=tls skips certificate verification, with a warning" {
    unset SSL_CERT_FILE
    run --separate-stderr capc --insecure-options=tls fetch "$HTTPS_URL/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [[ "$stderr" == *"capsule: warning: not verifying the TLS certificate of $HTTPS_URL/app.aci (--insecure-options=tls)"* ]]
    [[ "$stderr" == *"capsule: signature verified for example.com/app"* ]]
}

@test "https: plain http is refused without --insecure-options=http, and works with it" {
    https_stop
    https_start "$TMP/www" plain
    refused "capsule: fetch $HTTPS_URL/app.aci: plain http is refused; pass --insecure-options=http to allow it" \
        fetch "$HTTPS_URL/app.aci"
    [ "$(requests .)" = 0 ]
    run --separate-stderr capc --insecure-options=http fetch "$HTTPS_URL/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [[ "$stderr" == *"capsule: warning: fetching $HTTPS_URL/app.aci over plain http (--insecure-options=http)"* ]]
}

@test "https: a redirect from https to plain http is refused unless http is allowed" {
    https_stop
    https_start "$TMP/www" plain
    PLAIN_PID=$HTTPS_PID
    local plain_url=$HTTPS_URL plain_log=$HTTPS_LOG
    https_start "$TMP/www"
    refused "capsule: fetch $HTTPS_URL/redirect/$plain_url/app.aci: Protocol \"http\" not supported or disabled in libcurl (a redirect to plain http is refused; pass --insecure-options=http to allow it)" \
        fetch "$HTTPS_URL/redirect/$plain_url/app.aci"
    [ ! -s "$plain_log" ]
    run capc --quiet --insecure-options=http fetch "$HTTPS_URL/redirect/$plain_url/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [ "$(grep -c '^GET /app.aci ' "$plain_log")" = 1 ]
}

@test "https: 404 is one line and stores nothing" {
    refused "capsule: fetch $HTTPS_URL/nope.aci: HTTP 404 Not Found" fetch "$HTTPS_URL/nope.aci"
}

@test "https: a missing .asc names --insecure-options=image; with it the image is fetched" {
    refused "capsule: fetch $HTTPS_URL/unsigned.aci: image is not signed: '$HTTPS_URL/unsigned.aci.asc': HTTP 404 Not Found; pass --insecure-options=image" \
        fetch "$HTTPS_URL/unsigned.aci"
    run --separate-stderr capc --insecure-options=image fetch "$HTTPS_URL/unsigned.aci"
    assert_status 0
    [ -z "$stderr" ]
}

@test "https: a tampered image is refused and nothing is stored" {
    printf 'x' >> "$TMP/www/app.aci"
    refused "capsule: fetch $HTTPS_URL/app.aci: verify signature '$HTTPS_URL/app.aci.asc': bad signature" \
        fetch "$HTTPS_URL/app.aci"
}

@test "https: redirects are followed, and a redirect loop is bounded" {
    run --separate-stderr capc fetch "$HTTPS_URL/redirect/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT resolved_url FROM remotes')" = "$HTTPS_URL/app.aci" ]
    rm -rf "$DIR"
    refused "capsule: fetch $HTTPS_URL/loop: Maximum (10) redirects followed" fetch "$HTTPS_URL/loop"
}

@test "https: a second fetch with the default pull policy makes no request" {
    run capc --quiet fetch "$HTTPS_URL/app.aci"
    assert_status 0
    local id=$output
    : > "$HTTPS_LOG"
    run --separate-stderr capc fetch "$HTTPS_URL/app.aci"
    assert_status 0
    [ "$output" = "$id" ]
    [ "$(requests .)" = 0 ]
    # Nor once the server is gone.
    https_stop
    run capc fetch "$HTTPS_URL/app.aci"
    assert_status 0
    [ "$output" = "$id" ]
}

@test "https: --pull-policy=update revalidates with If-None-Match and gets the stored image on 304" {
    run capc --quiet fetch "$HTTPS_URL/app.aci"
    assert_status 0
    local id=$output etag
    etag=$(sqlite3 "$DIR/store/index.db" 'SELECT etag FROM remotes')
    [ -n "$etag" ]
    : > "$HTTPS_LOG"
    run capc fetch --pull-policy=update "$HTTPS_URL/app.aci"
    assert_status 0
    [ "$output" = "$id" ]
    [ "$(https_requests)" = "GET /app.aci if-none-match=$etag authorization=" ]
    [ "$(store_count)" = 1 ]
}

@test "https: --pull-policy=update fetches a changed image again" {
    run capc --quiet fetch "$HTTPS_URL/app.aci"
    assert_status 0
    local id=$output
    make_aci "$TMP/www/app.aci" example.com/app '' gzip
    sign "$ED_FPR" "$TMP/www/app.aci"
    run capc --quiet fetch --pull-policy=update "$HTTPS_URL/app.aci"
    assert_status 0
    [ "$(requests '^GET /app.aci.asc ')" = 2 ]
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT image_id FROM remotes')" = "$output" ]
}

@test "https: --pull-policy=update trusts Cache-Control max-age while it is fresh" {
    run capc --quiet fetch "$HTTPS_URL/fresh/app.aci"
    assert_status 0
    [ "$(sqlite3 "$DIR/store/index.db" 'SELECT max_age FROM remotes')" = 3600 ]
    : > "$HTTPS_LOG"
    run capc --quiet fetch --pull-policy=update "$HTTPS_URL/fresh/app.aci"
    assert_status 0
    [ "$(requests .)" = 0 ]
}

@test "https: --pull-policy=never for a URL never fetched fails without a request" {
    refused "capsule: fetch $HTTPS_URL/app.aci: not in the store (--pull-policy=never)" \
        fetch --pull-policy=never "$HTTPS_URL/app.aci"
    [ "$(requests .)" = 0 ]
}

@test "https: an image stored without verification is fetched again to be verified" {
    run capc --quiet --insecure-options=image fetch "$HTTPS_URL/unsigned.aci"
    assert_status 0
    cp "$TMP/www/app.aci.asc" "$TMP/www/unsigned.aci.asc"
    : > "$HTTPS_LOG"
    run --separate-stderr capc fetch "$HTTPS_URL/unsigned.aci"
    assert_status 0
    [[ "$stderr" == "capsule: signature verified for example.com/app"* ]]
    [ "$(requests '^GET /unsigned.aci.asc ')" = 1 ]
}

@test "https: run and prepare take https references" {
    require_root
    run capc run --stage1=fly "$HTTPS_URL/app.aci"
    assert_status 0
    assert_output_contains "hello from busybox"
    run capc prepare --stage1=fly "$HTTPS_URL/nope.aci"
    assert_status 254
    assert_one_line
    assert_output_contains "capsule: image '$HTTPS_URL/nope.aci': fetch $HTTPS_URL/nope.aci: HTTP 404 Not Found"
}

@test "https: without libcurl an https fetch fails with one line naming the package" {
    require_root
    local lib
    lib=$(ldconfig -p | awk '/libcurl\.so\.4 / {print $NF; exit}')
    [ -n "$lib" ]
    run unshare --mount sh -c "mount --bind /dev/null '$lib' && exec \"\$@\"" sh \
        "$CAPSULE" --dir="$DIR" --local-config="$TMP/etc" --system-config="$TMP/usr" fetch "$HTTPS_URL/app.aci"
    assert_status 254
    assert_one_line
    assert_output_contains "capsule: fetch $HTTPS_URL/app.aci: https fetch needs libcurl (package libcurl4): "
    assert_store_clean
    # Local files do not need it.
    run unshare --mount sh -c "mount --bind /dev/null '$lib' && exec \"\$@\"" sh \
        "$CAPSULE" --dir="$DIR" --insecure-options=image fetch "$TMP/www/unsigned.aci"
    assert_status 0
}

# auth_file DIR NAME DOMAIN TYPE CREDENTIALS_JSON
auth_file() {
    mkdir -p "$1/auth.d"
    printf '{"rktKind": "auth", "rktVersion": "v1", "domains": ["%s"], "type": "%s", "credentials": %s}\n' \
        "$3" "$4" "$5" > "$1/auth.d/$2.json"
}

@test "https: auth.d credentials, basic and bearer, sent only to their domain" {
    refused "capsule: fetch $HTTPS_URL/auth/app.aci: HTTP 401 Unauthorized" fetch "$HTTPS_URL/auth/app.aci"
    # Another domain's credentials are not sent.
    auth_file "$TMP/etc" other example.com basic '{"user": "user", "password": "secret"}'
    refused "HTTP 401 Unauthorized" fetch "$HTTPS_URL/auth/app.aci"
    grep -q ' authorization=$' "$HTTPS_LOG"
    ! grep -q 'authorization=Basic' "$HTTPS_LOG"
    # Basic, in the local config dir, for the host (any port).
    auth_file "$TMP/etc" local 127.0.0.1 basic '{"user": "user", "password": "secret"}'
    run --separate-stderr capc fetch "$HTTPS_URL/auth/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
    [ "$(grep -c "^GET /auth/app.aci.asc .*authorization=Basic dXNlcjpzZWNyZXQ=$" "$HTTPS_LOG")" = 1 ]
    # A bearer token (rkt's "oauth"), in the system config dir, for host:port.
    rm -rf "$DIR" "$TMP/etc/auth.d"
    auth_file "$TMP/usr" system "127.0.0.1:$HTTPS_PORT" oauth '{"token": "tok-123"}'
    run --separate-stderr capc fetch "$HTTPS_URL/auth/app.aci"
    assert_status 0
    [[ "$output" =~ ^sha512-[0-9a-f]{128}$ ]]
}

@test "https: a malformed auth.d file is a warning, ignored" {
    mkdir -p "$TMP/etc/auth.d"
    echo '{"rktKind": "auth", "rktVersion": "v1", "domains": ["127.0.0.1"], "type": "magic", "credentials": {}}' \
        > "$TMP/etc/auth.d/bad.json"
    run --separate-stderr capc fetch "$HTTPS_URL/app.aci"
    assert_status 0
    [[ "$stderr" == *"capsule: warning: auth.d: '$TMP/etc/auth.d/bad.json': \"type\" must be basic or oauth (a bearer token), not \"magic\", ignoring"* ]]
}
