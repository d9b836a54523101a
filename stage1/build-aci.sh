#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Packs a stage1 flavour's static executable and manifest into an ACI: the binary (stripped)
# at /stage1/FLAVOUR, one symlink per entrypoint (run, enter, stop, gc) beside it, named by
# the manifest's capsule/stage1/* annotations (Documentation/stage1-interface.md).
# usage: build-aci.sh FLAVOUR BINARY MANIFEST OUTPUT VERSION
set -eu
flavour=$1 binary=$2 manifest=$3 out=$4 version=$5
work=$(mktemp -d "${out}.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/stage1"
# Debug info stays in the build tree; the image carries the stripped binary (10x smaller).
strip --strip-all -o "$work/rootfs/stage1/$flavour" "$binary" 2>/dev/null || cp "$binary" "$work/rootfs/stage1/$flavour"
for entry in run enter stop gc; do
    ln -s "$flavour" "$work/rootfs/stage1/$entry"
done
sed "s/@VERSION@/$version/g" "$manifest" > "$work/manifest"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf "$work/out.aci" manifest rootfs
mv "$work/out.aci" "$out"
