#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: capsule against its peers, measured in the same invocation, printed as
# ratios (machines here are noisy; absolute times alone are not evidence).
#   1. run:   capsule run --stage1=fly IMG --exec=/bin/true  vs  unshare -m chroot (floor)  vs  runc run
#   2. fetch: capsule fetch of a ~100 MB ACI  vs  sha512sum + tar -x of the same file
#   3. list:  capsule image list with 1,000 images in the store
#   4. pull:  capsule fetch of a ~200 MB 4-layer image from a local registry (its layers land
#             extracted in the store: that is capsule's unpacked form)  vs  skopeo copy to an OCI
#             layout + umoci unpack (an unpacked bundle); then a run of a cached small image vs the
#             200 MB one (must not grow with size)
# Environment: RUNS (hyperfine runs, default 30), FETCH_RUNS (default 5), LIST_IMAGES (default 1000),
# PULL_RUNS (default 3), PULL_MB (default 200).
set -euo pipefail
build=$(readlink -f "${1:-build}")
capsule=$build/capsule
here=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-30}
FETCH_RUNS=${FETCH_RUNS:-5}
LIST_IMAGES=${LIST_IMAGES:-1000}

PULL_RUNS=${PULL_RUNS:-3}
PULL_MB=${PULL_MB:-200}

for tool in hyperfine runc unshare /usr/bin/time python3 docker-registry skopeo umoci; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (mount namespaces, runc)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/capsule-bench.XXXXXX)
registry_pid=
cleanup() {
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
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

# --- 4. pull from a registry -------------------------------------------------
# A plain-http registry on 127.0.0.1 without auth (what is measured is the pull, not TLS).
reg=$work/registry
mkdir -p "$reg"
cat > "$reg/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $reg/storage
http:
  addr: 127.0.0.1:0
  secret: capsule-bench
EOF
env -i PATH="$PATH" docker-registry serve "$reg/config.yml" > "$reg/log" 2>&1 &
registry_pid=$!
port=
for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$reg/log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "bench: docker-registry did not start:" >&2; cat "$reg/log" >&2; exit 1; }
registry=127.0.0.1:$port

# Images: busybox (small), and busybox + 3 layers of random and compressible files, about
# PULL_MB MB in all, gzip-compressed by umoci.
layout=$work/layout
umoci init --layout "$layout"
umoci new --image "$layout:small"
tar --numeric-owner -C "$(busybox_rootfs_cached)" -cf "$work/layer.tar" .
umoci raw add-layer --image "$layout:small" "$work/layer.tar"
umoci config --image "$layout:small" --config.cmd /bin/sh --os linux --architecture amd64
umoci tag --image "$layout:small" big
per_layer=$((PULL_MB / 3))
for l in 1 2 3; do
    d=$work/layer$l
    mkdir -p "$d/data$l/text"
    # Half incompressible (2 MB files), half text that gzip shrinks (4 kB to 1 MB files).
    for i in $(seq 1 $((per_layer / 4))); do head -c 2000000 /dev/urandom > "$d/data$l/rand$i"; done
    python3 - "$d/data$l/text" $((per_layer / 2)) "$l" <<'PY'
import os, random, sys
out, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(int(sys.argv[3]))
words = ["w%d" % rnd.randint(0, 100000) for _ in range(5000)]
written, n = 0, 0
while written < mb * 1_000_000:
    size = rnd.choice([4_000, 20_000, 200_000, 1_000_000])
    text = " ".join(rnd.choice(words) for _ in range(size // 6)).encode()[:size]
    with open(os.path.join(out, "f%05d.txt" % n), "wb") as f:
        f.write(text)
    written += len(text)
    n += 1
PY
    tar --numeric-owner -C "$d" -cf "$work/layer.tar" .
    umoci raw add-layer --image "$layout:big" "$work/layer.tar"
    rm -rf "$d"
done
rm -f "$work/layer.tar"
skopeo copy --quiet --dest-tls-verify=false "oci:$layout:small" "docker://$registry/bench/small:latest"
skopeo copy --quiet --dest-tls-verify=false "oci:$layout:big" "docker://$registry/bench/big:latest"
compressed=$(du -sb "$reg/storage" | cut -f1)
rm -rf "$layout"

cap_times=() ref_times=()
for i in $(seq 1 "$PULL_RUNS"); do
    t0=$(now)
    # (its warning about plain http is shown only if the fetch fails)
    "$capsule" --dir="$work/pull$i" --insecure-options=image,http fetch "docker://$registry/bench/big:latest" \
        >/dev/null 2>"$work/pull.err" || { cat "$work/pull.err" >&2; exit 1; }
    t1=$(now)
    skopeo copy --quiet --src-tls-verify=false "docker://$registry/bench/big:latest" "oci:$work/skopeo$i:big"
    umoci unpack --image "$work/skopeo$i:big" "$work/bundle$i" >/dev/null
    t2=$(now)
    cap_times+=("$(python3 -c "print($t1 - $t0)")")
    ref_times+=("$(python3 -c "print($t2 - $t1)")")
    if [ "$i" != "$PULL_RUNS" ]; then
        rm -rf "$work/pull$i" "$work/skopeo$i" "$work/bundle$i"
    fi
done
cp=$(med "${cap_times[@]}")
rp=$(med "${ref_times[@]}")
secs() { python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f} s")' "$1"; }
echo "pull: $((compressed / 1000000)) MB compressed, 4 layers, local registry (plain http): capsule fetch (layers extracted into the store) vs skopeo copy + umoci unpack (a bundle)"
echo "pull: capsule $(secs "$cp"), skopeo+umoci $(secs "$rp"), ratio $(ratio "$rp" "$cp")x (target >= 1.5x, aim 3x)"

# A run of a cached image, the small one and the big one, named as docker:// references.
pdir=$work/pull$PULL_RUNS
"$capsule" --dir="$pdir" --insecure-options=image,http fetch "docker://$registry/bench/small:latest" \
    >/dev/null 2>"$work/pull.err" || { cat "$work/pull.err" >&2; exit 1; }
small_cmd="$capsule --dir=$pdir --insecure-options=image,http run --stage1=fly docker://$registry/bench/small:latest --exec=/bin/true"
big_cmd="$capsule --dir=$pdir --insecure-options=image,http run --stage1=fly docker://$registry/bench/big:latest --exec=/bin/true"
$small_cmd
$big_cmd
hyperfine -N --warmup 3 --runs "$RUNS" --style none --export-json "$work/cached.json" \
    -n small "$small_cmd" -n big "$big_cmd" >/dev/null
rs=$(median_of "$work/cached.json" 0)
rb=$(median_of "$work/cached.json" 1)
echo "run of a cached image: small $(ms "$rs"), $PULL_MB MB $(ms "$rb") (ratio $(ratio "$rb" "$rs")x: must not grow with size)"
"$capsule" --dir="$pdir" gc --grace-period=0s >/dev/null 2>&1 || true
