# SPDX-License-Identifier: Apache-2.0
# OpenPGP fixtures made by the real gpg, once per bats file (setup_file), in a private
# GNUPGHOME. capsule verifies what gpg makes; it never calls gpg itself.
#
#   gpg_keys_setup        keys below, exported armored to $KEYS/<name>.asc, fingerprints in
#                         RSA_FPR ED_FPR SUB_FPR EXP_FPR REV_FPR
#   gpg_keys_teardown     stops the gpg-agent of that GNUPGHOME
#   sign FPR FILE [ARGS]  FILE.asc, armored detached signature (ARGS go to gpg)
#   capc ARGS...          capsule with this test's --dir and private config dirs

gpgb() {
    gpg --batch --quiet --no-tty --pinentry-mode loopback --passphrase '' "$@"
}

fpr_of() {
    gpg --with-colons --list-keys "$1" | awk -F: '/^fpr/ {print $10; exit}'
}

gpg_keys_setup() {
    export GNUPGHOME="$BATS_FILE_TMPDIR/gnupg" KEYS="$BATS_FILE_TMPDIR/keys"
    mkdir -p -m 700 "$GNUPGHOME"
    mkdir -p "$KEYS"
    gpgb --quick-gen-key 'RSA Test <rsa@example.com>' rsa3072 sign 1y
    gpgb --quick-gen-key 'Ed Test <ed@example.com>' ed25519 sign 1y
    # A certify-only primary with an ed25519 signing subkey.
    gpgb --quick-gen-key 'Sub Test <sub@example.com>' ed25519 cert 1y
    gpgb --quick-add-key "$(fpr_of sub@example.com)" ed25519 sign 1y
    # Valid for a day in 2020: signatures made then, verified now.
    gpgb --faked-system-time 20200101T000000 --quick-gen-key 'Expired Test <exp@example.com>' ed25519 sign 1d
    gpgb --quick-gen-key 'Revoked Test <rev@example.com>' ed25519 sign 1y
    RSA_FPR=$(fpr_of rsa@example.com) ED_FPR=$(fpr_of ed@example.com) SUB_FPR=$(fpr_of sub@example.com)
    EXP_FPR=$(fpr_of exp@example.com) REV_FPR=$(fpr_of rev@example.com)
    export RSA_FPR ED_FPR SUB_FPR EXP_FPR REV_FPR
    local n
    for n in rsa ed sub exp rev; do
        gpg --export --armor "$n@example.com" > "$KEYS/$n.asc"
    done
    # The revocation certificate gpg made at key generation, applied in a second keyring,
    # so this one can still sign with the key (gpg refuses to sign with a revoked key).
    local other="$BATS_FILE_TMPDIR/gnupg-revoked"
    mkdir -p -m 700 "$other"
    GNUPGHOME=$other gpgb --import "$KEYS/rev.asc"
    sed 's/^:-----/-----/' "$GNUPGHOME/openpgp-revocs.d/$REV_FPR.rev" | GNUPGHOME=$other gpgb --import
    GNUPGHOME=$other gpg --export --armor "$REV_FPR" > "$KEYS/revoked.asc"
    GNUPGHOME=$other gpgconf --kill gpg-agent 2>/dev/null || true
}

gpg_keys_teardown() {
    gpgconf --kill gpg-agent 2>/dev/null || true
}

sign() {
    local fpr=$1 file=$2
    shift 2
    gpgb --yes --local-user "$fpr" --armor --detach-sign -o "$file.asc" "$@" "$file"
}

capc() {
    "$CAPSULE" --dir="$DIR" --local-config="$TMP/etc" --system-config="$TMP/usr" "$@"
}

# refused MESSAGE ARGS...: capc ARGS (stdin closed) exits 254 with one line naming
# MESSAGE, and nothing is stored (needs tests/lib/store.bash).
refused() {
    local msg=$1
    shift
    run capc "$@" < /dev/null
    assert_capsule_error "$msg"
    assert_store_clean
}

# trust_key NAME (--prefix=P | --root): add $KEYS/NAME.asc to this test's local config.
trust_key() {
    capc trust --skip-fingerprint-review "$2" "$KEYS/$1.asc" > /dev/null
}
