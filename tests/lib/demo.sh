#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: build a busybox ACI from Debian's busybox-static, fetch it into a
# throwaway store and run it in a fly pod, printing what the app prints.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
capsule=$(readlink -f "$build/capsule")
work=$(mktemp -d /tmp/capsule-demo.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
BATS_RUN_TMPDIR=$work
# shellcheck source=images.bash
. "$here/images.bash"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

make_aci "$work/busybox.aci" example.com/busybox \
    '["/bin/sh", "-c", "echo \"hello from $AC_APP_NAME in a capsule pod: $(uname -s) $(busybox | head -1 | cut -d\" \" -f1-2)\""]' \
    gzip
d="--dir=$work/dir"
# Sign the image with a throwaway key and trust that key for the image's name.
export GNUPGHOME=$work/gnupg
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key 'capsule demo <demo@example.com>' ed25519 sign 1d 2>/dev/null
gpg --batch --quiet --armor --export demo@example.com > "$work/demo-key.asc"
gpg --batch --quiet --armor --detach-sign "$work/busybox.aci"
cfg="--local-config=$work/etc"
run "$capsule" "$d" "$cfg" trust --prefix=example.com/busybox --skip-fingerprint-review "$work/demo-key.asc"
run "$capsule" "$d" "$cfg" fetch "$work/busybox.aci"
run "$capsule" "$d" image list
run "$capsule" "$d" run --stage1=fly example.com/busybox
run "$capsule" "$d" run --stage1=fly --set-env=GREETING=hi example.com/busybox --exec=/bin/sh -- -c 'echo "$GREETING from $(pwd) as $(id -un)"; exit 3' || echo "(the pod exited with status $?)"
run "$capsule" "$d" list
run "$capsule" "$d" df
run "$capsule" "$d" gc --grace-period=0s
