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
#   5. systemd: the systemd flavour: capsule run --stage1=systemd IMG --exec=/bin/true  vs  --stage1=fly
#             vs  systemd-nspawn -b booting the same host systemd into a oneshot unit that exits it;
#             and the time from just before the command starts until the app runs (median)
#   6. host:  the host systemd integration, in the systemd test host (tests/lib/systemd_host.bash):
#             capsule run --stage1=fly from a shell there (a scope in machine.slice + machined)  vs
#             the same run without systemd (outside the test host)  vs  systemd-run --scope of the
#             floor (unshare -m chroot); and run --detach (returns once the app runs)  vs
#             systemd-run of the floor as a service waited for (--wait)
#   7. kvm:   the kvm flavour (a qemu VM per pod): capsule run --stage1=kvm IMG --exec=/bin/true  vs
#             --stage1=systemd  vs  --stage1=fly (median); the time from the start of capsule run
#             until the app's first line reaches the host, as a fraction of end to end; the qemu
#             process's peak RSS for the default guest size and for --memory=64Mi; the accelerator
#             (KVM or TCG, and why not KVM), and both when KVM is usable
# Usage: bench/run.sh [BUILD_DIR] [SECTION...]   SECTION: run fetch list pull systemd host kvm (default: all)
# Environment: RUNS (hyperfine runs, default 30), FETCH_RUNS (default 5), LIST_IMAGES (default 1000),
# PULL_RUNS (default 3), PULL_MB (default 200), SYSTEMD_RUNS (hyperfine runs, default 10),
# SYSTEMD_EXEC_RUNS (default 10), KVM_RUNS (default 5), KVM_TIMEOUT (seconds a kvm run may take
# before it counts as failed, default 8), KVM_BUDGET (seconds for the kvm section, default 85).
set -euo pipefail
build=$(readlink -f "${1:-build}")
[ $# -gt 0 ] && shift
capsule=$build/capsule
here=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-30}
FETCH_RUNS=${FETCH_RUNS:-5}
LIST_IMAGES=${LIST_IMAGES:-1000}

PULL_RUNS=${PULL_RUNS:-3}
PULL_MB=${PULL_MB:-200}
SYSTEMD_RUNS=${SYSTEMD_RUNS:-10}
SYSTEMD_EXEC_RUNS=${SYSTEMD_EXEC_RUNS:-10}
KVM_RUNS=${KVM_RUNS:-5}
KVM_TIMEOUT=${KVM_TIMEOUT:-8}
KVM_BUDGET=${KVM_BUDGET:-85}

all_sections=(run fetch list pull systemd host kvm)
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=("${all_sections[@]}")
for s in "${sections[@]}"; do
    [[ " ${all_sections[*]} " == *" $s "* ]] || { echo "bench: unknown section $s (${all_sections[*]})" >&2; exit 1; }
done
wants() { [[ " ${sections[*]} " == *" $1 "* ]]; }

tools=(hyperfine unshare python3)
wants run && tools+=(runc /usr/bin/time)
wants pull && tools+=(docker-registry skopeo umoci)
wants systemd && tools+=(systemd-nspawn)
wants host && tools+=(nsenter /usr/lib/systemd/systemd-machined)
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (mount namespaces, runc)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/capsule-bench.XXXXXX)
registry_pid=
systemd_cgroup=
host_started=
cleanup() {
    set +e
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
    "$capsule" --dir="$work/dir" gc --grace-period=0s >/dev/null 2>&1 || true
    kill_pods "$work/systemd/dir"
    "$capsule" --dir="$work/systemd/dir" gc --grace-period=0s >/dev/null 2>&1 || true
    [ -z "$systemd_cgroup" ] || cgroup_remove_tree "$systemd_cgroup" || true
    [ -z "$host_started" ] || systemd_host_stop >/dev/null 2>&1 || true
    if [ -d "$work/kvm/dir" ]; then
        kvm_kill_pods "$work/kvm/dir"
        "$capsule" --dir="$work/kvm/dir" gc --grace-period=0s >/dev/null 2>&1 || true
    fi
    chmod -R u+w "$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export BATS_RUN_TMPDIR=$work
# shellcheck source=../tests/lib/images.bash
. "$here/../tests/lib/images.bash"
# shellcheck source=../tests/lib/systemd_host.bash
. "$here/../tests/lib/systemd_host.bash"

median_of() { # hyperfine json -> median seconds of command N
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$1" "$2"
}
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }
ms() { python3 -c 'import sys; print(f"{float(sys.argv[1]) * 1000:.2f} ms")' "$1"; }
now() { date +%s.%N; }
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
secs() { python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f} s")' "$1"; }

echo "== capsule bench ($(nproc) cores, $(uname -r)) =="

# --- 1. run ---------------------------------------------------------------
bench_run() {
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
}

# --- 2. fetch -------------------------------------------------------------
bench_fetch() {
big=$work/big
make_aci_dir "$big" bench.local/big '["/bin/true"]'
mkdir -p "$big/rootfs/data"
for i in $(seq 1 50); do head -c 2000000 /dev/urandom > "$big/rootfs/data/blob$i"; done
make_aci_from "$big" "$work/big.aci"
rm -rf "$big"
size=$(stat -c %s "$work/big.aci")
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
cf=$(med "${cap_times[@]}")
rf=$(med "${ref_times[@]}")
mbs() { python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1e6 / float(sys.argv[2]):.0f} MB/s")' "$size" "$1"; }
echo "fetch: $((size / 1000000)) MB ACI: capsule fetch $(mbs "$cf"), sha512sum + tar -x $(mbs "$rf")"
echo "fetch: capsule/(sha512sum + tar -x) time = $(ratio "$cf" "$rf")x"
}

# --- 3. image list ----------------------------------------------------------
bench_list() {
ldir=$work/list
python3 "$here/make_many_acis.py" "$work/many" "$LIST_IMAGES"
"$capsule" --dir="$ldir" --insecure-options=image fetch "$work"/many/*.aci >/dev/null
hyperfine -N --warmup 3 --runs "$RUNS" --style none --export-json "$work/list.json" \
    -n list "$capsule --dir=$ldir image list" \
    -n floor "$capsule version" >/dev/null
lt=$(median_of "$work/list.json" 0)
vt=$(median_of "$work/list.json" 1)
echo "image list: $LIST_IMAGES images: $(ms "$lt") (target < 50 ms); capsule version (process floor) $(ms "$vt"), ratio $(ratio "$lt" "$vt")x"
}

# --- 4. pull from a registry -------------------------------------------------
# A plain-http registry on 127.0.0.1 without auth (what is measured is the pull, not TLS).
bench_pull() {
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
kill "$registry_pid" 2>/dev/null || true
wait "$registry_pid" 2>/dev/null || true
registry_pid=
}

# --- 5. systemd flavour -----------------------------------------------------------
# bench_systemd_rss: the memory of a pod's own systemd + journald (the flavour's overhead per pod),
# sampled while an app sleeps: peak RSS (VmHWM) summed, and PSS (shared host libraries counted
# once per sharer), which is what a second pod actually adds.
bench_systemd_rss() {
    if [ -z "$have_capsule" ]; then
        echo "systemd: pod overhead RSS: not measured (no systemd pod ran)"
        return
    fi
    local u=$sd/rss.uuid poddir= pid1 jpid i cpid
    rm -f "$u"
    ("$capsule" --dir="$sd/dir" run --stage1=systemd --uuid-file-save="$u" "$img" --exec=/bin/sleep -- 2 >/dev/null 2>&1) &
    cpid=$!
    for i in $(seq 1 200); do
        if [ -s "$u" ] && [ -s "$sd/dir/pods/run/$(cat "$u")/pid" ]; then
            poddir=$sd/dir/pods/run/$(cat "$u")
            break
        fi
        sleep 0.05
    done
    sleep 1
    pid1=$(cat "$poddir/pid" 2>/dev/null)
    jpid=$(pgrep -P "$pid1" -x systemd-journal 2>/dev/null | head -n 1)
    if [ -z "$pid1" ] || [ -z "$jpid" ]; then
        echo "systemd: pod overhead RSS: not measured (no pod PID 1 or journald found)"
        wait "$cpid" 2>/dev/null
        return
    fi
    local s_hwm j_hwm s_pss j_pss
    s_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid1/status")
    j_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$jpid/status")
    local s_anon j_anon
    s_anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid1/status")
    j_anon=$(awk '/^RssAnon/ {print $2}' "/proc/$jpid/status")
    s_pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid1/smaps_rollup")
    j_pss=$(awk '/^Pss:/ {print $2}' "/proc/$jpid/smaps_rollup")
    wait "$cpid" 2>/dev/null
    mib() { python3 -c "print(f'{$1 / 1024:.1f} MiB')"; }
    echo "systemd: pod overhead, peak RSS: systemd $(mib "$s_hwm") + journald $(mib "$j_hwm") = $(mib "$((s_hwm + j_hwm))") (target <= 15 MiB, aim 12 MiB)"
    echo "systemd: pod overhead, PSS: systemd $(mib "$s_pss") + journald $(mib "$j_pss") = $(mib "$((s_pss + j_pss))"); private (anonymous) $(mib "$((s_anon + j_anon))")"
}

# nspawn_tree DIR: a minimal tree for `systemd-nspawn -b` of the host's systemd: /usr bound read-only
# from the host at run time, the merged-/usr symlinks, an /etc with os-release and an empty
# machine-id (systemd makes a transient one), and two targets, each wanting a oneshot that exits
# the container when it is done: bench-true.target (/bin/true) and bench-date.target (writes the
# time, in ns, to /out/t). Nothing else is enabled, so only the units they pull in start.
nspawn_tree() {
    local t=$1 l name
    mkdir -p "$t"/{usr,etc/systemd/system,proc,sys,dev,run,tmp,var/tmp,root,out}
    for l in bin sbin lib lib32 lib64 libx32; do
        if [ -e "/usr/$l" ]; then ln -s "usr/$l" "$t/$l"; fi
    done
    cp /usr/lib/os-release "$t/etc/os-release"
    : > "$t/etc/machine-id"
    echo 'root:x:0:0:root:/root:/bin/sh' > "$t/etc/passwd"
    echo 'root:x:0:' > "$t/etc/group"
    for name in true date; do
        printf '[Unit]\nDescription=capsule bench (%s)\nWants=bench-%s.service\n' "$name" "$name" \
            > "$t/etc/systemd/system/bench-$name.target"
    done
    cat > "$t/etc/systemd/system/bench-true.service" <<'EOU'
[Unit]
Description=capsule bench: /bin/true
SuccessAction=exit-force
FailureAction=exit-force

[Service]
Type=oneshot
ExecStart=/bin/true
EOU
    cat > "$t/etc/systemd/system/bench-date.service" <<'EOU'
[Unit]
Description=capsule bench: the time the app runs
SuccessAction=exit-force
FailureAction=exit-force

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'date +%%s%%N > /out/t'
EOU
}

# kill_pods DIR: SIGKILL what is left of the pods of capsule --dir=DIR (a pod that did not end: its
# systemd takes SIGTERM as "re-execute"), by the PIDs in their cgroups, then remove those cgroups.
kill_pods() {
    local pod uuid pids
    for pod in "$1"/pods/*/*; do
        [ -d "$pod" ] || continue
        uuid=${pod##*/}
        pids=$(find /sys/fs/cgroup/capsule/"$uuid" /sys/fs/cgroup/*/capsule/"$uuid" -name cgroup.procs \
            -exec cat {} + 2>/dev/null | sort -un) || true
        # shellcheck disable=SC2086 # one PID per word
        [ -z "$pids" ] || kill -s KILL $pids 2>/dev/null || true
        cgroup_remove_tree "/capsule/$uuid" 2>/dev/null || true
    done
}

# ns_of_ts "SECONDS SS.UUUUUU": busybox `ts '%s %.S'` (busybox date has no %N) -> nanoseconds.
ns_of_ts() {
    local s f
    read -r s f <<<"$1"
    f=${f#*.}
    echo $((s * 1000000000 + 10#$f * 1000))
}

bench_systemd() {
    local sd=$work/systemd aci=$build/stage1-systemd.aci machine=capsule-bench-$$
    local tree out img nspawn_cmd have_capsule=1 i t0 line rc
    tree=$sd/tree
    out=$sd/out
    mkdir -p "$sd" "$out"
    nspawn_tree "$tree"
    # systemd-nspawn here: no system bus (--register=no --keep-unit); the console is a pipe.
    nspawn_cmd="systemd-nspawn --quiet --register=no --keep-unit --console=pipe --machine=$machine -D $tree --bind-ro=/usr --bind=$out:/out -b --"
    # Where PID 1 is not systemd, nspawn makes supervisor/ and payload/ cgroups under its own (in
    # name=systemd and cgroup2) and leaves payload/init.scope behind: there it runs in a cgroup of
    # this bench's, removed at the end.
    if [ ! -d /run/systemd/system ]; then
        systemd_cgroup=$(cgroup_tracking_hierarchies | awk 'NR == 1 {print $2}')
        systemd_cgroup=${systemd_cgroup%/}/capsule-bench.${work##*.}
    fi
    in_bench_cgroup() {
        local mnt _
        if [ -n "$systemd_cgroup" ]; then
            while read -r mnt _; do
                mkdir -p "$mnt$systemd_cgroup"
                echo "$BASHPID" > "$mnt$systemd_cgroup/cgroup.procs"
            done < <(cgroup_tracking_hierarchies)
        fi
        exec "$@"
    }

    if [ -f "$aci" ]; then
        make_aci "$sd/busybox.aci" bench.local/busybox-systemd
        img=$("$capsule" --dir="$sd/dir" --insecure-options=image fetch "$sd/busybox.aci")
        "$capsule" --dir="$sd/dir" run --stage1=fly "$img" --exec=/bin/true
        rc=0
        # (a subshell that waits, so that bash's "Killed" goes to /dev/null)
        (timeout --kill-after=5 30 "$capsule" --dir="$sd/dir" run --stage1=systemd "$img" --exec=/bin/true \
            >"$sd/warm.log" 2>&1; exit $?) 2>/dev/null || rc=$?
        if [ "$rc" != 0 ]; then
            [ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "(did not end within 30 s)" >> "$sd/warm.log"
            echo "systemd: capsule run --stage1=systemd failed (status $rc): $(tail -n 1 "$sd/warm.log"); capsule part skipped"
            have_capsule=
            kill_pods "$sd/dir"
        fi
    else
        echo "systemd: stage1-systemd.aci not built, skipped"
        have_capsule=
    fi

    # End to end. Every command runs under timeout(1) (the same ~1 ms for all three): a pod that does
    # not end must not hang the bench.
    local to="timeout --kill-after=5 60"
    (in_bench_cgroup hyperfine -N --warmup 2 --runs "$SYSTEMD_RUNS" --style none --export-json "$sd/nspawn.json" \
        -n nspawn "$to $nspawn_cmd systemd.unit=bench-true.target" >/dev/null)
    local nspawn_t cap_sd cap_fly
    nspawn_t=$(median_of "$sd/nspawn.json" 0)
    if [ -n "$have_capsule" ] && ! hyperfine -N --warmup 2 --runs "$SYSTEMD_RUNS" --style none --export-json "$sd/run.json" \
        -n capsule-systemd "$to $capsule --dir=$sd/dir run --stage1=systemd $img --exec=/bin/true" \
        -n capsule-fly "$to $capsule --dir=$sd/dir run --stage1=fly $img --exec=/bin/true" >/dev/null 2>"$sd/hyperfine.err"; then
        echo "systemd: capsule run --stage1=systemd failed or did not end within 60 s under hyperfine ($(tail -n 1 "$sd/hyperfine.err")); capsule part skipped"
        have_capsule=
        kill_pods "$sd/dir"
    fi
    if [ -n "$have_capsule" ]; then
        cap_sd=$(median_of "$sd/run.json" 0)
        cap_fly=$(median_of "$sd/run.json" 1)
        echo "systemd: capsule systemd $(ms "$cap_sd"), capsule fly $(ms "$cap_fly"), systemd-nspawn -b $(ms "$nspawn_t")"
        echo "systemd: capsule/nspawn = $(ratio "$cap_sd" "$nspawn_t")x (target <= 500 ms end to end, aim 250 ms)"
    else
        echo "systemd: systemd-nspawn -b $(ms "$nspawn_t") (boot, a oneshot /bin/true, exit)"
    fi

    # Time until the app runs: from just before the command starts to the app's own clock reading.
    local cap_exec=() nspawn_exec=()
    for i in $(seq 1 "$SYSTEMD_EXEC_RUNS"); do
        rm -f "$out/t"
        t0=$(date +%s%N)
        # shellcheck disable=SC2086 # the commands are words
        (in_bench_cgroup $to $nspawn_cmd systemd.unit=bench-date.target) </dev/null >/dev/null 2>>"$sd/nspawn.log"
        [ -s "$out/t" ] || { echo "bench: systemd-nspawn wrote no time:" >&2; tail "$sd/nspawn.log" >&2; exit 1; }
        nspawn_exec+=("$(( ($(cat "$out/t") - t0) / 1000 ))")
        if [ -n "$have_capsule" ]; then
            t0=$(date +%s%N)
            line=$( ($to "$capsule" --dir="$sd/dir" run --stage1=systemd "$img" --exec=/bin/sh -- -c "echo | ts '%s %.S'" \
                2>>"$sd/capsule.log"; exit $?) 2>/dev/null | grep -E '^[0-9]+ [0-9]+\.[0-9]+' | tail -n 1) || true
            if [ -z "$line" ]; then
                echo "systemd: the systemd pod printed no time ($(tail -n 1 "$sd/capsule.log")); capsule part skipped"
                have_capsule=
                kill_pods "$sd/dir"
                continue
            fi
            cap_exec+=("$(( ($(ns_of_ts "$line") - t0) / 1000 ))")
        fi
    done
    local ne ce
    ne=$(med "${nspawn_exec[@]}")
    if [ -n "$have_capsule" ]; then
        ce=$(med "${cap_exec[@]}")
        echo "systemd: time until the app runs (median of $SYSTEMD_EXEC_RUNS): capsule systemd $(ms "$(python3 -c "print($ce / 1e6)")"), systemd-nspawn -b $(ms "$(python3 -c "print($ne / 1e6)")"), ratio $(ratio "$ce" "$ne")x"
    else
        echo "systemd: time until the app runs (median of $SYSTEMD_EXEC_RUNS): systemd-nspawn -b $(ms "$(python3 -c "print($ne / 1e6)")")"
    fi
    bench_systemd_rss

    kill_pods "$sd/dir"
    "$capsule" --dir="$sd/dir" gc --grace-period=0s >/dev/null 2>&1 || true
    [ -z "$systemd_cgroup" ] || cgroup_remove_tree "$systemd_cgroup"
    systemd_cgroup=
    rmdir "/run/systemd/nspawn/propagate/$machine" "/run/systemd/nspawn/unix-export/$machine" 2>/dev/null || true
}

# --- 6. host systemd integration --------------------------------------------
bench_host() {
    local hd=$work/host rootfs id
    mkdir -p "$hd"
    rootfs=$hd/rootfs
    cp -a "$(busybox_rootfs_cached)" "$rootfs"
    make_aci "$hd/busybox.aci" bench.local/busybox-host
    id=$("$capsule" --dir="$hd/dir" --insecure-options=image fetch "$hd/busybox.aci")
    "$capsule" --dir="$hd/dir" run --stage1=fly "$id" --exec=/bin/true
    # The same runs outside (no systemd here), for the cost of the scope and machined.
    hyperfine -N --warmup 3 --runs "$RUNS" --style none --export-json "$hd/plain.json" \
        -n capsule-plain "$capsule --dir=$hd/dir run --stage1=fly $id --exec=/bin/true" >/dev/null
    BATS_TEST_TMPDIR=$hd TMP=$hd systemd_host_start "$hd" "$build" >/dev/null
    host_started=1
    systemd_host_exec hyperfine -N --warmup 3 --runs "$RUNS" --style none --export-json "$hd/scope.json" \
        -n capsule-scope "$capsule --dir=$hd/dir run --stage1=fly $id --exec=/bin/true" \
        -n systemd-run-scope "systemd-run --quiet --scope --slice=machine.slice unshare -m chroot $rootfs /bin/true" \
        -n capsule-detach "$capsule --dir=$hd/dir run --detach --stage1=fly $id --exec=/bin/sleep -- 0.01" \
        -n systemd-run-wait "systemd-run --quiet --wait --slice=machine.slice unshare -m chroot $rootfs /bin/sleep 0.01" >/dev/null
    local plain scope sdscope detach sdwait
    plain=$(median_of "$hd/plain.json" 0)
    scope=$(median_of "$hd/scope.json" 0)
    sdscope=$(median_of "$hd/scope.json" 1)
    detach=$(median_of "$hd/scope.json" 2)
    sdwait=$(median_of "$hd/scope.json" 3)
    echo "host: capsule fly without systemd $(ms "$plain"), in a scope + machined $(ms "$scope"), systemd-run --scope of the floor $(ms "$sdscope")"
    echo "host: scope/no-systemd = $(ratio "$scope" "$plain")x; capsule scope/systemd-run --scope = $(ratio "$scope" "$sdscope")x"
    echo "host: capsule run --detach (returns when the app runs) $(ms "$detach"), systemd-run --wait of the floor $(ms "$sdwait"), ratio $(ratio "$detach" "$sdwait")x"
    systemd_host_exec "$capsule" --dir="$hd/dir" gc --grace-period=0s >/dev/null 2>&1 || true
    systemd_host_stop >/dev/null
    host_started=
}

# --- 7. kvm flavour ------------------------------------------------------------------
# Every kvm run is under timeout(1) (KVM_TIMEOUT s; a TCG boot takes ~2 s): a guest that never comes
# up is counted and left out of the medians, not waited for. On SIGTERM the pod's waiter asks the
# guest to stop; a second signal kills qemu, and qemu dies with its waiter (PR_SET_PDEATHSIG) anyway.
# A kvm run starts only while the section's KVM_BUDGET seconds, and the share of them of the
# measurement it is part of, leave room for it to time out: guests that hang cost at most that.

# kvm_kill_pods DIR: stop --force what is left of the running pods of capsule --dir=DIR.
kvm_kill_pods() {
    local pod
    for pod in "$1"/pods/run/*; do
        [ -d "$pod" ] || continue
        "$capsule" --dir="$1" stop --force "${pod##*/}" >/dev/null 2>&1 || true
    done
}

# kvm_room: whether a kvm run that times out still ends within the section's budget and before
# kvm_phase_end (if set), the end of the share of the current measurement.
kvm_room() {
    local end=$kvm_deadline
    if [ -n "$kvm_phase_end" ] && [ "$kvm_phase_end" -lt "$end" ]; then end=$kvm_phase_end; fi
    [ $((end - SECONDS)) -ge $((KVM_TIMEOUT + 2)) ]
}

# kvm_note OK TRIED WHAT: what to say of KVM_RUNS runs of WHAT when fewer started (the budget) or
# fewer than started ended well.
kvm_note() {
    [ "$2" -ge "$KVM_RUNS" ] || echo -n "; only $2 of $KVM_RUNS $3 runs started (its share of KVM_BUDGET=$KVM_BUDGET s was up)"
    [ "$1" = "$2" ] || echo -n "; $(($2 - $1)) of $2 $3 runs failed or did not end within $KVM_TIMEOUT s (left out)"
}

# kvm_one LOG LINE CMD...: one run of CMD under $kvm_to: the seconds from just before it starts
# until LINE reaches this side on its stdout (LINE empty: until CMD exits); status 1 if it did not
# print LINE or exit 0 (what went wrong in LOG).
kvm_one() {
    local log=$1 want=$2 r t_line t_exit st
    shift 2
    # shellcheck disable=SC2086 # $kvm_to: the command's words
    r=$(python3 "$here/first_line.py" "$want" "$((KVM_TIMEOUT + 3))" $kvm_to "$@" 2>>"$log") || return 1
    read -r t_line t_exit st <<<"$r"
    if [ "$st" != 0 ]; then
        echo "capsule run exited with status $st$(kvm_timed_out "$st")" >> "$log"
        return 1
    elif [ -z "$want" ]; then
        echo "$t_exit"
    elif [ "$t_line" = - ]; then
        echo "the app's '$want' line did not come" >> "$log"
        return 1
    else
        echo "$t_line"
    fi
}

# kvm_pairs LOG CAPSULE_OPTS...: up to KVM_RUNS pairs (while kvm_room) of an end-to-end run of
# `capsule run --stage1=kvm` (an app that exits at once, timed to the exit) and a boot-to-app run
# (the app prints "ready", sleeps 1 s and exits; timed to its "ready" on this side), one after the
# other so that both see the same machine: "E2E_MEDIAN E2E_OK E2E_TRIED BOOT_MEDIAN BOOT_OK
# BOOT_TRIED", medians in seconds over the runs that went well ("-" if none).
kvm_pairs() {
    local log=$1 i t e2e=() boot=() e2e_n=0 boot_n=0 e2e_med=- boot_med=-
    shift
    for i in $(seq 1 "$KVM_RUNS"); do
        kvm_room || break
        e2e_n=$((e2e_n + 1))
        if t=$(kvm_one "$log" "" "$capsule" "$@" run --stage1=kvm "$img" --exec=/bin/true); then e2e+=("$t"); fi
        kvm_room || break
        boot_n=$((boot_n + 1))
        if t=$(kvm_one "$log" ready "$capsule" "$@" run --stage1=kvm "$img" --exec=/bin/sh -- -c 'echo ready; sleep 1'); then
            boot+=("$t")
        fi
    done
    [ ${#e2e[@]} = 0 ] || e2e_med=$(med "${e2e[@]}")
    [ ${#boot[@]} = 0 ] || boot_med=$(med "${boot[@]}")
    echo "$e2e_med ${#e2e[@]} $e2e_n $boot_med ${#boot[@]} $boot_n"
}

# kvm_timed_out STATUS: " (did not end within KVM_TIMEOUT s)" for timeout(1)'s statuses.
kvm_timed_out() {
    if [ "$1" = 124 ] || [ "$1" = 137 ]; then echo " (did not end within $KVM_TIMEOUT s)"; fi
}

# kvm_stats JSON N: "MEDIAN OK RUNS" of command N of a hyperfine -i export: the median seconds over
# the runs that exited 0 ("-" if none), how many those were, and of how many.
kvm_stats() {
    python3 - "$1" "$2" <<'PY'
import json, statistics, sys
try:
    r = json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]
except (OSError, ValueError, IndexError):
    r = {"times": [], "exit_codes": []}
ok = [t for t, c in zip(r["times"], r["exit_codes"]) if c == 0]
print(statistics.median(ok) if ok else "-", len(ok), len(r["times"]))
PY
}

# kvm_rss LOG APP_OPTS...: "PEAK_KIB GUEST_MIB" of the qemu of a kvm pod whose app sleeps 1 s: its
# VmHWM (a high-water mark) read until qemu exits, and its -m. qemu's PID is the pod's PID
# (capsule status) while it runs. Status 1 (the reason in LOG) if the run failed.
kvm_rss() {
    local log=$1 u=$kd/rss.uuid cpid pid='' hwm='' guest='' i s
    shift
    rm -f "$u"
    ($kvm_to "$capsule" --dir="$kd/dir" run --stage1=kvm --uuid-file-save="$u" "$img" "$@" \
        --exec=/bin/sleep -- 1 >/dev/null 2>>"$log"; exit $?) 2>/dev/null &
    cpid=$!
    for i in $(seq 1 $((KVM_TIMEOUT * 20))); do
        if [ -s "$u" ] && s=$("$capsule" --dir="$kd/dir" status "$(cat "$u")" 2>/dev/null); then
            pid=$(sed -n 's/^pid=//p' <<<"$s")
            [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-system-x86 ] && break
            pid=''
        fi
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -n "$pid" ]; then
        guest=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | sed -n '/^-m$/{n;p;q}')
        while s=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$s" ]; do
            hwm=$s
            sleep 0.05
        done
    fi
    i=0
    wait "$cpid" 2>/dev/null || i=$?
    if [ "$i" != 0 ]; then
        echo "capsule run exited with status $i$(kvm_timed_out "$i")" >> "$log"
        return 1
    fi
    if [ -z "$hwm" ] || [ -z "$guest" ]; then
        echo "no qemu process found for the pod" >> "$log"
        return 1
    fi
    echo "$hwm $guest"
}

# kvm_why_not: why the stage1 chose TCG for its kernel and qemu ($kernel, $qemu, from its qemu
# command line): kvm.json, /dev/kvm, or the probe boot it does once per kernel (its result cached
# in /run/capsule/kvm-probe), repeated here the same way for the reason.
kvm_why_not() {
    local err rc=0 cached
    if [ "$cfg_accel" = tcg ]; then
        echo "kvm.json sets the accelerator to tcg"
        return
    fi
    if [ ! -e /dev/kvm ]; then
        echo "no /dev/kvm"
        return
    fi
    if ! err=$(python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>&1); then
        echo "/dev/kvm cannot be opened: ${err##*: }"
        return
    fi
    cached=$(grep -Fx -e "tcg $kernel" -e "kvm $kernel" /run/capsule/kvm-probe 2>/dev/null | head -n 1) || true
    # The stage1's probe: boot the kernel under KVM without an initramfs, to its panic, within 3 s.
    (timeout --kill-after=1 3 "$qemu" -machine microvm -accel kvm -m 128 -nodefaults -no-user-config \
        -display none -no-reboot -serial null -kernel "$kernel" -append "console=ttyS0 reboot=t panic=-1 quiet" \
        </dev/null >/dev/null 2>"$kd/probe.err"; exit $?) 2>/dev/null || rc=$?
    case $rc in
    0) echo "the stage1's probe result is '${cached:-none}' (/run/capsule/kvm-probe), though a probe boot under KVM works now" ;;
    124 | 137) echo "the probe boot of $kernel under KVM did not finish within 3 s${cached:+; /run/capsule/kvm-probe says \"$cached\"}" ;;
    *) echo "the probe boot under KVM failed: qemu exited with status $rc: $(tail -n 1 "$kd/probe.err")" ;;
    esac
}

bench_kvm() {
    local kvm_deadline=$((SECONDS + KVM_BUDGET)) kvm_phase_end=''
    local kd=$work/kvm aci=$build/stage1-kvm.aci img rc i have_sd=1
    local to="timeout --kill-after=5 60" kvm_to="timeout --kill-after=1 $KVM_TIMEOUT"
    local qline='' accel kernel qemu cfg_accel accel_name=TCG
    mkdir -p "$kd"
    if [ ! -f "$aci" ]; then
        echo "kvm: stage1-kvm.aci not built, skipped"
        return
    fi
    make_aci "$kd/busybox.aci" bench.local/busybox-kvm
    img=$("$capsule" --dir="$kd/dir" --insecure-options=image fetch "$kd/busybox.aci")
    "$capsule" --dir="$kd/dir" run --stage1=fly "$img" --exec=/bin/true
    # Warm-up (the stage1 into the store, the KVM probe if not cached; a second try if the guest did
    # not come up), and what the stage1 chose, from its qemu command line (--debug): the accelerator,
    # the kernel and qemu.
    for i in 1 2; do
        rc=0
        ($kvm_to "$capsule" --dir="$kd/dir" --debug run --stage1=kvm "$img" --exec=/bin/true \
            >"$kd/warm.log" 2>&1; exit $?) 2>/dev/null || rc=$?
        qline=$(grep -m 1 'qemu command: ' "$kd/warm.log") || true
        if [ "$rc" = 0 ] || [ -z "$qline" ]; then
            break
        fi
    done
    if [ -z "$qline" ]; then
        echo "kvm: capsule run --stage1=kvm failed (status $rc) before qemu started: $(grep -v ' debug: ' "$kd/warm.log" | tail -n 1); skipped"
        kvm_kill_pods "$kd/dir"
        "$capsule" --dir="$kd/dir" gc --grace-period=0s >/dev/null 2>&1 || true
        return
    fi
    accel=$(sed -n 's/.* -accel \([a-z]*\).*/\1/p' <<<"$qline")
    kernel=$(sed -n 's/.* -kernel \([^ ]*\) .*/\1/p' <<<"$qline")
    qemu=$(sed -n 's/.*qemu command: \([^ ]*\) .*/\1/p' <<<"$qline")
    cfg_accel=$("$capsule" config | python3 -c 'import json, sys; print(json.load(sys.stdin)["kvm"]["accelerator"])')
    [ "$accel" = kvm ] && accel_name=KVM
    # The accelerator (printed last), found out now: the budget must not leave it out.
    local other='' accel_line why
    if [ "$accel" = kvm ]; then
        accel_line="accelerator KVM (the stage1's probe boot under KVM works here); TCG measured too"
        other=tcg
    else
        why=$(kvm_why_not)
        if grep -Fxq "kvm $kernel" /run/capsule/kvm-probe 2>/dev/null; then
            accel_line="KVM usable here but not used ($why); KVM measured too"
            other=kvm
        else
            accel_line="KVM not usable here ($why), TCG used"
        fi
    fi
    rc=0
    (timeout --kill-after=5 30 "$capsule" --dir="$kd/dir" run --stage1=systemd "$img" --exec=/bin/true \
        >"$kd/systemd.log" 2>&1; exit $?) 2>/dev/null || rc=$?
    if [ "$rc" != 0 ]; then
        echo "kvm: capsule run --stage1=systemd failed (status $rc): $(tail -n 1 "$kd/systemd.log"); compared with fly only"
        have_sd=''
        kill_pods "$kd/dir"
    fi

    # End to end (an app that exits at once) and boot to app (the app's first line on this side),
    # the kvm runs in pairs timed here (first_line.py); then systemd and fly end to end with
    # hyperfine (-i: failed runs left out and counted). No warm-up runs: each flavour has just run
    # once above. The pairs get 60 s of the budget (5 x ~6 s under TCG), RSS the rest.
    local t_kvm ok_kvm n_kvm boot ok_boot n_boot t_sd ok_sd t_fly ok_fly n line notes='' pct=''
    kvm_phase_end=$((SECONDS + 60))
    read -r t_kvm ok_kvm n_kvm boot ok_boot n_boot < <(kvm_pairs "$kd/pairs.log" --dir="$kd/dir")
    kvm_phase_end=''
    kvm_kill_pods "$kd/dir"
    local cmds=()
    [ -z "$have_sd" ] || cmds+=(-n systemd "$to $capsule --dir=$kd/dir run --stage1=systemd $img --exec=/bin/true")
    cmds+=(-n fly "$to $capsule --dir=$kd/dir run --stage1=fly $img --exec=/bin/true")
    hyperfine -N -i --warmup 0 --runs "$KVM_RUNS" --style none --export-json "$kd/run.json" "${cmds[@]}" \
        >/dev/null 2>&1
    if [ -n "$have_sd" ]; then
        read -r t_sd ok_sd n < <(kvm_stats "$kd/run.json" 0)
        read -r t_fly ok_fly _ < <(kvm_stats "$kd/run.json" 1)
        notes+=$(kvm_note "$ok_sd" "$n" systemd)
    else
        read -r t_fly ok_fly n < <(kvm_stats "$kd/run.json" 0)
    fi
    notes=$(kvm_note "$ok_kvm" "$n_kvm" kvm)$notes$(kvm_note "$ok_fly" "$n" fly)
    if [ "$ok_kvm" = 0 ]; then
        t_kvm=''
        line="capsule kvm not measured ($accel_name)"
    else
        line="capsule kvm $(ms "$t_kvm") ($accel_name)"
    fi
    [ -z "$have_sd" ] || [ "$ok_sd" = 0 ] || line+=", capsule systemd $(ms "$t_sd")"
    [ "$ok_fly" = 0 ] || line+=", capsule fly $(ms "$t_fly")"
    if [ -n "$t_kvm" ]; then
        local rs=''
        [ "$ok_fly" = 0 ] || rs="kvm/fly = $(ratio "$t_kvm" "$t_fly")x"
        [ -z "$have_sd" ] || [ "$ok_sd" = 0 ] || rs+="${rs:+, }kvm/systemd = $(ratio "$t_kvm" "$t_sd")x"
        line+="${rs:+; $rs}"
    fi
    echo "kvm: end to end (median of $KVM_RUNS runs): $line$notes"
    if [ "$ok_boot" = 0 ]; then
        line=''
        [ "$n_boot" = 0 ] || line=" (last: $(tail -n 1 "$kd/pairs.log"))"
        echo "kvm: boot to app: not measured$(kvm_note 0 "$n_boot" boot)$line"
    else
        [ -z "$t_kvm" ] || pct=", $(python3 -c 'import sys; print(f"{100 * float(sys.argv[1]) / float(sys.argv[2]):.0f}%")' "$boot" "$t_kvm") of end to end"
        echo "kvm: boot to app (median of $KVM_RUNS runs): $(ms "$boot") ($accel_name)$pct$(kvm_note "$ok_boot" "$n_boot" boot)"
    fi

    # qemu's peak RSS: the default guest, and --memory=64Mi (the smallest guest: 64 MiB + overhead);
    # a second try if the first run failed.
    local name r opts mb='' tries
    mib() { python3 -c "print(f'{$1 / 1024:.1f} MiB')"; }
    for name in default small; do
        opts=()
        [ "$name" = small ] && opts=(--memory=64Mi)
        tries=0
        r=''
        while [ -z "$r" ] && [ "$tries" -lt 2 ] && kvm_room; do
            tries=$((tries + 1))
            r=$(kvm_rss "$kd/rss.log" "${opts[@]}") || { r=''; kvm_kill_pods "$kd/dir"; }
        done
        if [ -n "$r" ]; then
            mb+="${mb:+, }${r#* } MiB guest $(mib "${r%% *}")"
        elif [ "$tries" = 0 ]; then
            mb+="${mb:+, }${opts[*]:-default size}: not measured (out of time, KVM_BUDGET=$KVM_BUDGET s)"
        else
            mb+="${mb:+, }${opts[*]:-default size}: not measured ($(tail -n 1 "$kd/rss.log"))"
        fi
    done
    echo "kvm: qemu peak RSS (VmHWM): $mb"
    echo "kvm: $accel_line"

    # With KVM usable, the other accelerator too (kvm.json in a local config dir: the effective kvm
    # settings with only the accelerator changed).
    if [ -n "$other" ]; then
        local oname=TCG t_o ok_o n_o b_o ok_b n_b
        [ "$other" = kvm ] && oname=KVM
        mkdir -p "$kd/config"
        "$capsule" config | python3 -c '
import json, sys
k = {key: v for key, v in json.load(sys.stdin)["kvm"].items() if v is not None}
k["accelerator"] = sys.argv[1]
print(json.dumps({"capsuleKind": "kvm", "capsuleVersion": "v1", **k}))' "$other" > "$kd/config/kvm.json"
        read -r t_o ok_o n_o b_o ok_b n_b < <(kvm_pairs "$kd/other.log" --local-config="$kd/config" --dir="$kd/dir")
        kvm_kill_pods "$kd/dir"
        line="with $oname (median of $KVM_RUNS runs):"
        if [ "$ok_o" = 0 ]; then
            line+=" end to end not measured"
        else
            line+=" end to end $(ms "$t_o")"
        fi
        if [ "$ok_b" = 0 ]; then
            line+=", boot to app not measured"
        else
            line+=", boot to app $(ms "$b_o")"
        fi
        [ "$ok_o" = 0 ] || [ -z "$t_kvm" ] || line+="; $oname/$accel_name end to end = $(ratio "$t_o" "$t_kvm")x"
        echo "kvm: $line$(kvm_note "$ok_o" "$n_o" "$oname end-to-end")$(kvm_note "$ok_b" "$n_b" "$oname boot")"
    fi

    kvm_kill_pods "$kd/dir"
    "$capsule" --dir="$kd/dir" gc --grace-period=0s >/dev/null 2>&1 || true
}

for s in "${sections[@]}"; do
    "bench_$s"
done
