#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: capsule against its peers, measured in the same invocation, printed as
# ratios (machines here are noisy; absolute times alone are not evidence).
#   1. run:   capsule run --stage1=fly IMG --exec=/bin/true  vs  unshare -m chroot (floor)  vs  runc run
#   2. fetch: capsule fetch of a ~100 MB ACI  vs  sha512sum + tar -x of the same file
#   3. list:  capsule image list with 1,000 images in the store
# Environment: RUNS (hyperfine runs, default 30), FETCH_RUNS (default 5), LIST_IMAGES (default 1000).
set -euo pipefail
build=$(readlink -f "${1:-build}")
capsule=$build/capsule
here=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-30}
FETCH_RUNS=${FETCH_RUNS:-5}
LIST_IMAGES=${LIST_IMAGES:-1000}

for tool in hyperfine runc unshare /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (mount namespaces, runc)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/capsule-bench.XXXXXX)
cleanup() {
    "$capsule" --dir="$work/dir" gc --grace-period=0s >/dev/null 2>&1 || true
    chmod -R u+w "$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export BATS_RUN_TMPDIR=$work
# shellcheck source=../tests/lib/images.bash
. "$here/../tests/lib/images.bash"

median_of() { # hyperfine json -> median seconds of command N
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$1" "$2"
}
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }
ms() { python3 -c 'import sys; print(f"{float(sys.argv[1]) * 1000:.2f} ms")' "$1"; }

echo "== capsule bench ($(nproc) cores, $(uname -r)) =="

# --- 1. run ---------------------------------------------------------------
make_aci "$work/busybox.aci" bench.local/busybox
id=$("$capsule" --dir="$work/dir" --insecure-options=image fetch "$work/busybox.aci")
"$capsule" --dir="$work/dir" run --stage1=fly "$id" --exec=/bin/true # warm the stage1 into the store
bundle=$work/bundle
rootfs=$bundle/rootfs
mkdir -p "$bundle"
cp -a "$(busybox_rootfs_cached)" "$rootfs"
(cd "$bundle" && runc spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": "rootfs", "readonly": True}
json.dump(c, open(p, "w"))
PY
# runc run deletes its container when it exits, so one container name serves every run.
hyperfine -N --warmup 5 --runs "$RUNS" --style none --export-json "$work/run.json" \
    -n floor "unshare -m chroot $rootfs /bin/true" \
    -n capsule "$capsule --dir=$work/dir run --stage1=fly $id --exec=/bin/true" \
    -n runc "runc run --bundle $bundle capsule-bench-$$" >/dev/null
floor=$(median_of "$work/run.json" 0)
cap=$(median_of "$work/run.json" 1)
runc=$(median_of "$work/run.json" 2)
rss=$( { /usr/bin/time -f '%M' "$capsule" --dir="$work/dir" run --stage1=fly "$id" --exec=/bin/true; } 2>&1 | tail -1)
echo "run: floor (unshare -m chroot) $(ms "$floor"), capsule fly $(ms "$cap"), runc $(ms "$runc")"
echo "run: capsule/floor = $(ratio "$cap" "$floor")x (target <= 3x, aim 1.5x); capsule/runc = $(ratio "$cap" "$runc")x (target < 1x)"
echo "run: capsule peak RSS = $((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MiB (target <= 10 MiB)"
"$capsule" --dir="$work/dir" gc --grace-period=0s >/dev/null

# --- 2. fetch -------------------------------------------------------------
big=$work/big
make_aci_dir "$big" bench.local/big '["/bin/true"]'
mkdir -p "$big/rootfs/data"
for i in $(seq 1 50); do head -c 2000000 /dev/urandom > "$big/rootfs/data/blob$i"; done
make_aci_from "$big" "$work/big.aci"
rm -rf "$big"
size=$(stat -c %s "$work/big.aci")
now() { date +%s.%N; }
cap_times=() ref_times=()
for i in $(seq 1 "$FETCH_RUNS"); do
    t0=$(now)
    "$capsule" --dir="$work/fetch$i" --insecure-options=image fetch "$work/big.aci" >/dev/null
    t1=$(now)
    mkdir "$work/ref$i"
    sha512sum "$work/big.aci" >/dev/null && tar -xf "$work/big.aci" -C "$work/ref$i"
    t2=$(now)
    cap_times+=("$(python3 -c "print($t1 - $t0)")")
    ref_times+=("$(python3 -c "print($t2 - $t1)")")
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
cf=$(med "${cap_times[@]}")
rf=$(med "${ref_times[@]}")
mbs() { python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1e6 / float(sys.argv[2]):.0f} MB/s")' "$size" "$1"; }
echo "fetch: $((size / 1000000)) MB ACI: capsule fetch $(mbs "$cf"), sha512sum + tar -x $(mbs "$rf")"
echo "fetch: capsule/(sha512sum + tar -x) time = $(ratio "$cf" "$rf")x"

# --- 3. image list ----------------------------------------------------------
ldir=$work/list
python3 "$here/make_many_acis.py" "$work/many" "$LIST_IMAGES"
"$capsule" --dir="$ldir" --insecure-options=image fetch "$work"/many/*.aci >/dev/null
hyperfine -N --warmup 3 --runs "$RUNS" --style none --export-json "$work/list.json" \
    -n list "$capsule --dir=$ldir image list" \
    -n floor "$capsule version" >/dev/null
lt=$(median_of "$work/list.json" 0)
vt=$(median_of "$work/list.json" 1)
echo "image list: $LIST_IMAGES images: $(ms "$lt") (target < 50 ms); capsule version (process floor) $(ms "$vt"), ratio $(ratio "$lt" "$vt")x"
