#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule trust: armored keys into the local trust store, reviewed or explicitly not.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/gpg

setup_file() { gpg_keys_setup; }
teardown_file() { gpg_keys_teardown; }
setup() { capsule_setup; }
teardown() { capsule_teardown; }

# refused MESSAGE ARGS...: exit 254, one line, MESSAGE in it, no trust store written.
refused() {
    local msg=$1
    shift
    run capc "$@" < /dev/null
    assert_capsule_error "$msg"
    [ ! -e "$TMP/etc/trustedkeys" ]
}

@test "trust: --prefix writes the key under prefix.d/PREFIX/<fingerprint>" {
    run capc trust --skip-fingerprint-review --prefix=example.com/app "$KEYS/rsa.asc" < /dev/null
    assert_status 0
    local path="$TMP/etc/trustedkeys/prefix.d/example.com/app/${RSA_FPR,,}"
    assert_output_contains "fingerprint $RSA_FPR"
    assert_output_contains "uid: RSA Test <rsa@example.com>"
    assert_output_contains "Added key $RSA_FPR for prefix \"example.com/app\" at \"$path\""
    cmp "$path" "$KEYS/rsa.asc"
    [ "$(ls -A "$TMP/etc/trustedkeys/prefix.d/example.com/app")" = "${RSA_FPR,,}" ]
}

@test "trust: --root writes under root.d; several keys at once" {
    run capc trust --skip-fingerprint-review --root "$KEYS/ed.asc" "$KEYS/sub.asc" < /dev/null
    assert_status 0
    [ -f "$TMP/etc/trustedkeys/root.d/${ED_FPR,,}" ]
    [ -f "$TMP/etc/trustedkeys/root.d/${SUB_FPR,,}" ]
}

@test "trust: without a terminal, review cannot happen: refused, naming the flag" {
    refused "trust: stdin is not a terminal, so the fingerprint cannot be reviewed; pass --skip-fingerprint-review" trust --prefix=example.com/app "$KEYS/rsa.asc"
}

@test "trust: on a terminal the fingerprint is shown and 'yes' is asked for" {
    # script(1) (bsdutils, essential) gives capsule a pseudo-terminal as stdin.
    run script -qec "$CAPSULE --local-config=$TMP/etc trust --prefix=example.com/app $KEYS/ed.asc" /dev/null <<< "no"
    assert_output_contains "fingerprint $ED_FPR"
    assert_output_contains "Are you sure you want to trust this key (yes/no)?"
    assert_output_contains "not trusted (answer was not yes)"
    [ ! -e "$TMP/etc/trustedkeys/prefix.d/example.com/app/${ED_FPR,,}" ]
    run script -qec "$CAPSULE --local-config=$TMP/etc trust --prefix=example.com/app $KEYS/ed.asc" /dev/null <<< "yes"
    assert_output_contains "Added key $ED_FPR"
    [ -f "$TMP/etc/trustedkeys/prefix.d/example.com/app/${ED_FPR,,}" ]
}

@test "trust: exactly one of --prefix and --root" {
    refused "trust: give exactly one of --prefix=PREFIX or --root" trust --skip-fingerprint-review --root --prefix=example.com/app "$KEYS/rsa.asc"
    refused "trust: give exactly one of --prefix=PREFIX or --root" trust --skip-fingerprint-review "$KEYS/rsa.asc"
}

@test "trust: not a key, a missing file, a bad prefix, URLs, discovery" {
    echo "hello" > "$TMP/notakey"
    refused "trust: $TMP/notakey: not an armored OpenPGP public key" trust --skip-fingerprint-review --root "$TMP/notakey"
    printf -- '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n' > "$TMP/bad.asc"
    refused "trust: $TMP/bad.asc: " trust --skip-fingerprint-review --root "$TMP/bad.asc"
    refused "trust: $TMP/missing.asc: open '$TMP/missing.asc': No such file or directory" trust --skip-fingerprint-review --root "$TMP/missing.asc"
    refused "trust: --prefix: prefix '../etc' is not a valid appc name prefix" trust --skip-fingerprint-review --prefix=../etc "$KEYS/rsa.asc"
    refused "trust: http://127.0.0.1:1/key.asc: plain http is refused; pass --insecure-options=http to allow it" trust --skip-fingerprint-review --root http://127.0.0.1:1/key.asc
}

@test "trust: --help lists every flag" {
    run capc trust --help
    assert_status 0
    assert_output_contains "--prefix"
    assert_output_contains "--root"
    assert_output_contains "--skip-fingerprint-review"
}
