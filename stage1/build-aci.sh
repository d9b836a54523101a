#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Packs a stage1 flavour's static executable and manifest into an ACI.
# usage: build-aci.sh FLAVOUR BINARY MANIFEST OUTPUT VERSION
set -eu
flavour=$1 binary=$2 manifest=$3 out=$4 version=$5
work=$(mktemp -d "${out}.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/stage1"
cp "$binary" "$work/rootfs/stage1/$flavour"
for entry in run enter stop gc; do
    ln -s "$flavour" "$work/rootfs/stage1/$entry"
done
sed "s/@VERSION@/$version/g" "$manifest" > "$work/manifest"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf "$work/out.aci" manifest rootfs
mv "$work/out.aci" "$out"
