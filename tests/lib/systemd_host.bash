# SPDX-License-Identifier: Apache-2.0
# The systemd test host: the host's systemd booted as PID 1 of a new PID + mount (+ UTS + IPC)
# namespace, for tests of capsule's systemd integrations (the machine's own PID 1 is not
# systemd, and tests never talk to it anyway).
#
#   load ../lib/common
#   load ../lib/systemd_host
#   setup()    { capsule_setup; require_systemd_host; systemd_host_start; }   # shares $TMP with it
#   teardown() { systemd_host_stop; capsule_teardown; }
#   @test … { run systemd_host_exec systemd-run --wait --pipe echo hi; … }
#
# systemd_host_start [DIR...]   boot; DIRs (default: $TMP) are visible read-write inside at the
#                               same paths. Waits for `systemctl is-system-running --wait`
#                               (running or degraded) for up to SYSTEMD_HOST_TIMEOUT seconds.
# systemd_host_exec CMD...      run CMD inside (its PID, mount, UTS and IPC namespaces); its status
#                               and output
# require_systemd_host          root, systemd, machined, nsenter: skips without them, fails in CI
# systemd_host_stop             end what systemd_host_exec left running (SIGTERM, SIGKILL after 5 s),
#                               power off (SIGRTMIN+4), SIGKILL after SYSTEMD_HOST_STOP_TIMEOUT
#                               seconds (default 10), then remove the cgroups the host made; fails
#                               if it needed SIGKILL or if any cgroup remains
#
# After systemd_host_start:
#   SYSTEMD_HOST_PID     host PID of the test host's PID 1 (systemd)
#   SYSTEMD_HOST_CGROUP  its root cgroup, the same path in every hierarchy (e.g. /capsule-test-host.1a2b3c)
#   SYSTEMD_HOST_STATE   a private directory: console.log (PID 1's output), the init script
#   SYSTEMD_HOST_JOURNAL the host's /var/log/journal, seen from outside ($SYSTEMD_HOST_STATE/journal)
#
# What the host sees, and why:
# - its own /run, /tmp, /var/tmp (tmpfs) and /dev (tmpfs with null, zero, full, random, urandom,
#   tty, net/tun, fuse, a new devpts, shm; console is console.log). systemd-tmpfiles at boot
#   empties /tmp (`D /tmp`) and removes /var/tmp/systemd-private-* (other hosts' PrivateTmp=
#   directories); journald's sockets put a /dev/log symlink in /dev.
# - its own /sys/fs/cgroup tmpfs (read-only) with the machine's hierarchies bound in: PID 1 remounts
#   that tmpfs read-only, size 4 MiB, and the remount reaches the superblock, i.e. the machine's own
#   /sys/fs/cgroup for every process; it also makes mount points there for the controllers it would
#   mount (cpu,cpuacct, hugetlb, net_cls,net_prio, perf_event).
# - the machine's root filesystem read-only, except the shared DIRs; /proc/sys and /sys read-only
#   (PID 1 writes sysctls at boot: fs.file-max, fs.nr_open, net.unix.max_dgram_qlen).
#   SYSTEMD_HOST_RW_ROOT=1 leaves the root filesystem writable.
# - tmpfiles.d limited to /run; journald volatile, without /dev/kmsg or audit.
# - masked: every service, socket, timer and path unit the machine enabled in /etc/systemd/system
#   (its real daemons: postgresql, docker-registry, sysstat, timesyncd…), and by name the
#   maintenance jobs (apt-daily*, fstrim, e2scrub*, man-db, logrotate, tmpfiles-clean…), gettys,
#   network configuration, and sysinit units that touch the kernel or the disk (sysctl, binfmt,
#   modules, udev, fsck, remount-fs, sysusers, random-seed, utmp…). Extra: SYSTEMD_HOST_MASK="unit…".
# - cgroups: there is no cgroup namespace, the host works in the machine's real tree. It is started
#   in a cgroup of its own, SYSTEMD_HOST_CGROUP, created only in the hierarchies systemd tracks
#   processes with (name=systemd and the unified/cgroup2 one). systemd uses a v1 controller only
#   where its root path exists in that controller's hierarchy, so it leaves those alone (its
#   services stay in the memory/pids/… cgroups they were started in). Booted in the root cgroup,
#   it would take the whole tree as its own: every v1 controller would be used (its services moved
#   out of the cgroups, and limits, they were in), and at shutdown it removes every empty cgroup
#   under its root in name=systemd and unified, other tests' included. It also needs a private
#   /sys/fs/cgroup tmpfs (above). After PID 1 exits, its init.scope (and whatever a stage1 made
#   under SYSTEMD_HOST_CGROUP) is left: systemd_host_stop removes that tree in every hierarchy.
#   SYSTEMD_HOST_CONTROLLERS=1 also creates SYSTEMD_HOST_CGROUP, and starts the host in it, in the
#   v1 hierarchies of memory, cpu, cpuacct, pids and blkio (those mounted; joined ones such as
#   cpu,cpuacct count once), or of the controllers it lists ("memory pids"): the host's systemd
#   then manages them below its root, as a booted one does, so MemoryMax= of a scope shows in
#   /sys/fs/cgroup/memory$SYSTEMD_HOST_CGROUP/machine.slice/UNIT/memory.limit_in_bytes and
#   CPUQuota= in cpu.cfs_quota_us. Not for cpuset (a new cpuset cgroup has no CPUs) nor devices.
#   The cgroup v2 tree (unified) needs nothing: systemd enables controllers there itself.
#   systemd_host_stop removes those trees too.
# - a private, writable /var/log/journal: $SYSTEMD_HOST_STATE/journal bound there (when the machine
#   has no /var/log/journal, a tmpfs on /var/log holds it), so that journals written there (a
#   pod's, linked to the host's) are the test's and go with its $TMP. The host's own journald stays
#   volatile (in /run). SYSTEMD_HOST_JOURNAL is that directory, as seen from outside.
# Safe for bats files running in parallel: nothing shared but the read-only root; processes are
# signalled by PID only (the host's PID 1 and the unshare process started here).

: "${SYSTEMD_HOST_TIMEOUT:=30}"
: "${SYSTEMD_HOST_STOP_TIMEOUT:=10}"
SYSTEMD_HOST_BIN=${SYSTEMD_HOST_BIN:-/lib/systemd/systemd}
SYSTEMD_HOST_PID=
SYSTEMD_HOST_UNSHARE_PID=
SYSTEMD_HOST_CGROUP=
SYSTEMD_HOST_STATE=
SYSTEMD_HOST_JOURNAL=
# The v1 controllers SYSTEMD_HOST_CONTROLLERS=1 hands to the host's systemd.
SYSTEMD_HOST_CONTROLLERS_DEFAULT="memory cpu cpuacct pids blkio"

# Units masked by name (globs are matched against the unit files on this machine). Enabled
# services/sockets/timers/paths of /etc/systemd/system are added by _systemd_host_masks.
SYSTEMD_HOST_MASKS_BUILTIN=(
    # daemons and maintenance jobs on the shared disk and network
    'postgresql*' 'pg_*' 'docker-registry*' 'docker.*' 'containerd*' 'podman*' 'sysstat*'
    'apt-daily*' 'dpkg-db-backup*' 'fstrim*' 'e2scrub*' 'man-db*' 'logrotate*'
    'systemd-tmpfiles-clean*' 'packagekit*' 'cron*' 'anacron*' 'atd*' 'unattended-upgrades*'
    'ssh*' 'rsyslog*' 'nginx*' 'apache2*' 'exim4*' 'postfix*' 'smartmontools*' 'smartd*'
    'rc-local*' 'plocate-updatedb*' 'mlocate*' 'systemd-coredump*'
    # consoles
    'getty*' 'serial-getty*' 'console-getty*' 'container-getty*' 'autovt*'
    # network configuration and time (the host's network namespace is the machine's)
    'networking*' 'ifup*' 'ifupdown*' 'systemd-networkd*' 'systemd-resolved*' 'NetworkManager*'
    'wpa_supplicant*' 'dhcpcd*' 'isc-dhcp*' 'connman*' 'systemd-timesyncd*' 'chrony*' 'ntp*'
    # sysinit units that touch the kernel, devices or the disk
    'systemd-sysctl*' 'systemd-binfmt*' 'proc-sys-fs-binfmt_misc*' 'systemd-modules-load*'
    'kmod-static-nodes*' 'systemd-udev*' 'systemd-hwdb-update*' 'systemd-remount-fs*'
    'systemd-fsck*' 'systemd-quotacheck*' 'quotaon*' 'systemd-sysusers*' 'systemd-firstboot*'
    'systemd-machine-id-commit*' 'systemd-random-seed*' 'systemd-update-utmp*'
    'systemd-journal-flush*' 'systemd-journal-catalog-update*' 'systemd-update-done*' 'ldconfig*'
    'systemd-pstore*' 'systemd-repart*' 'systemd-pcrphase*' 'systemd-tmpfiles-setup-dev*'
    'systemd-boot-*' 'systemd-growfs*' 'systemd-hibernate-resume*' 'systemd-backlight*'
    'systemd-rfkill*' 'systemd-journald-audit.socket' 'sys-kernel-*.mount'
    'sys-fs-fuse-connections.mount' 'dev-hugepages.mount' 'var-lib-machines.mount'
    'lvm2*' 'mdmonitor*' 'multipathd*' 'iscsi*' 'nfs*' 'rpcbind*'
    # logind needs its state directory (/var/lib/systemd/linger) on the read-only root
    'systemd-logind.service'
)

# Units the machine enables that the test host keeps (targets, D-Bus, journald, machined).
_systemd_host_keep() {
    case "$1" in
        *.target | dbus.* | systemd-journald* | systemd-machined*) return 0 ;;
    esac
    return 1
}

# _systemd_host_masks: unit names to mask, one per line.
_systemd_host_masks() {
    local dirs=(/etc/systemd/system /lib/systemd/system /usr/lib/systemd/system /usr/local/lib/systemd/system)
    local pat d f u
    shopt -s nullglob
    for pat in "${SYSTEMD_HOST_MASKS_BUILTIN[@]}" ${SYSTEMD_HOST_MASK:-}; do
        if [[ "$pat" != *[*?[]* ]]; then
            echo "$pat"
            continue
        fi
        for d in "${dirs[@]}"; do
            for f in "$d"/$pat; do
                [ -f "$f" ] || [ -L "$f" ] && echo "${f##*/}"
            done
        done
    done
    # Everything this machine enabled (its own daemons and jobs), targets and the kept ones aside.
    for f in /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/*; do
        u=${f##*/}
        _systemd_host_keep "$u" || echo "$u"
    done
    shopt -u nullglob
}

# cgroup_tracking_hierarchies: "MOUNTPOINT PATH" of the hierarchies systemd tracks processes with
# (the name=systemd v1 one and the cgroup2 one), PATH being this process's cgroup there.
cgroup_tracking_hierarchies() {
    local mnt opts fstype line path
    while read -r mnt fstype opts; do
        path=
        if [ "$fstype" = cgroup2 ]; then
            path=$(sed -n 's/^0:://p' /proc/self/cgroup)
        elif [[ ",$opts," == *,name=systemd,* ]]; then
            line=$(grep -m1 ':name=systemd:' /proc/self/cgroup) && path=${line#*:name=systemd:}
        else
            continue
        fi
        [ -n "$path" ] && echo "$mnt $path"
    done < <(awk '{for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5, $(i+1), $(i+3)}' /proc/self/mountinfo)
}

# cgroup_controller_hierarchies CONTROLLER...: the mount point of each v1 hierarchy that has one
# of CONTROLLERs (a joined hierarchy once), never cpuset or devices.
cgroup_controller_hierarchies() {
    local want=" $* " mnt fstype opts o
    while read -r mnt fstype opts; do
        [ "$fstype" = cgroup ] || continue
        for o in ${opts//,/ }; do
            case "$o" in cpuset | devices) continue 2 ;; esac
        done
        for o in ${opts//,/ }; do
            if [[ "$want" == *" $o "* ]]; then
                echo "$mnt"
                break
            fi
        done
    done < <(awk '{for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup") print $5, $(i+1), $(i+3)}' /proc/self/mountinfo)
}

# cgroup_mounts: the mount point of every cgroup hierarchy.
cgroup_mounts() {
    awk '{for (i = 7; $i != "-"; i++); if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5}' /proc/self/mountinfo
}

# _systemd_host_alive PID: the process exists and is not a zombie.
_systemd_host_alive() {
    local state
    state=$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# require_systemd_host: root and the host's systemd (with machined); skips outside CI, fails in it.
require_systemd_host() {
    local missing='' f
    [ "$(id -u)" = 0 ] || missing="root"
    for f in "$SYSTEMD_HOST_BIN" /lib/systemd/systemd-machined; do
        [ -x "$f" ] || missing+=" $f"
    done
    for f in unshare nsenter systemctl machinectl; do
        command -v "$f" >/dev/null || missing+=" $f"
    done
    [ -z "$missing" ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "the systemd test host needs:$missing (make deps installs systemd, systemd-container)" >&2
        return 1
    fi
    skip "systemd test host needs:$missing"
}

systemd_host_start() {
    local shares=("$@") base=${TMP:-${BATS_TEST_TMPDIR:-/tmp}} mnt path tracking
    [ ${#shares[@]} -gt 0 ] || { [ -n "${TMP:-}" ] && shares=("$TMP"); }
    # The capsule under test and its stage1 images (a checkout may live under /tmp, which the
    # test host covers with its own).
    [ -z "${CAPSULE:-}" ] || shares+=("$(dirname "$CAPSULE")")
    if [ -n "$SYSTEMD_HOST_PID" ]; then
        echo "systemd_host_start: a test host is already running (PID $SYSTEMD_HOST_PID)" >&2
        return 1
    fi
    local tool
    for tool in unshare nsenter systemctl "$SYSTEMD_HOST_BIN"; do
        command -v "$tool" >/dev/null || { echo "systemd_host_start: $tool is missing" >&2; return 1; }
    done
    SYSTEMD_HOST_STATE=$(mktemp -d "$base/systemd-host.XXXXXX") || return 1

    # The host's root cgroup, in the tracking hierarchies only (see the header).
    tracking=$(cgroup_tracking_hierarchies)
    if [ -z "$tracking" ]; then
        echo "systemd_host_start: no name=systemd or cgroup2 hierarchy is mounted" >&2
        return 1
    fi
    local parent
    parent=$(awk 'NR == 1 {print $2}' <<<"$tracking")
    parent=${parent%/}
    SYSTEMD_HOST_CGROUP=$parent/capsule-test-host.${SYSTEMD_HOST_STATE##*.}
    local procs=()
    while read -r mnt path; do
        mkdir -p "$mnt$SYSTEMD_HOST_CGROUP" || return 1
        procs+=("$mnt$SYSTEMD_HOST_CGROUP/cgroup.procs")
    done <<<"$tracking"
    # The v1 controllers asked for (see the header): the same path in their hierarchies.
    local controllers=${SYSTEMD_HOST_CONTROLLERS:-}
    [ "$controllers" = 1 ] && controllers=$SYSTEMD_HOST_CONTROLLERS_DEFAULT
    [ "$controllers" = 0 ] && controllers=
    if [ -n "$controllers" ]; then
        while read -r mnt; do
            [ -n "$mnt" ] || continue
            mkdir -p "$mnt$SYSTEMD_HOST_CGROUP" || return 1
            procs+=("$mnt$SYSTEMD_HOST_CGROUP/cgroup.procs")
        done < <(cgroup_controller_hierarchies $controllers)
    fi
    SYSTEMD_HOST_JOURNAL=$SYSTEMD_HOST_STATE/journal
    mkdir -m 2755 "$SYSTEMD_HOST_JOURNAL" || return 1

    _systemd_host_masks | sort -u > "$SYSTEMD_HOST_STATE/masks"
    # tmpfiles.d: each file replaced by its lines for /run (the rest is the shared disk).
    mkdir -p "$SYSTEMD_HOST_STATE/tmpfiles.d"
    local f
    for f in /usr/lib/tmpfiles.d/*.conf /etc/tmpfiles.d/*.conf; do
        [ -f "$f" ] || continue
        awk '$2 == "/run" || index($2, "/run/") == 1' "$f" > "$SYSTEMD_HOST_STATE/tmpfiles.d/${f##*/}"
    done
    : > "$SYSTEMD_HOST_STATE/shares"
    [ ${#shares[@]} -eq 0 ] || printf '%s\n' "${shares[@]}" > "$SYSTEMD_HOST_STATE/shares"
    printf '%s\n' "${procs[@]}" > "$SYSTEMD_HOST_STATE/cgroups"

    # PID 1 of the new namespaces: join the cgroup, build the private mounts, exec systemd.
    cat > "$SYSTEMD_HOST_STATE/init.sh" <<'EOS'
set -eu
state=$1 rw_root=$2 sd=$3
while read -r p; do echo 0 > "$p"; done < "$state/cgroups"
mount --make-rprivate /
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
# Keep the shared directories (and this state directory) aside before covering /tmp.
mkdir -p /run/.capsule-test-host/share
i=0
while read -r d; do
    mkdir /run/.capsule-test-host/share/$i
    mount --rbind "$d" /run/.capsule-test-host/share/$i
    i=$((i + 1))
done < "$state/shares"
mkdir /run/.capsule-test-host/state
mount --bind "$state" /run/.capsule-test-host/state
st=/run/.capsule-test-host/state
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
# A private /var/log/journal (the state directory's journal/), for journals written to the disk.
if [ ! -d /var/log/journal ]; then
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var/log
    mkdir -m 2755 /var/log/journal
fi
mount --bind $st/journal /var/log/journal
if [ "$rw_root" != 1 ]; then mount -o remount,bind,ro /; fi
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -o remount,bind,ro /sys
# A private /dev.
dev=/run/.capsule-test-host/dev
mkdir $dev
mount -t tmpfs -o mode=0755,nosuid tmpfs $dev
for n in null zero full random urandom tty; do
    touch $dev/$n
    mount --bind /dev/$n $dev/$n
done
for n in net/tun fuse; do
    [ -c /dev/$n ] || continue
    mkdir -p "$(dirname $dev/$n)"
    touch $dev/$n
    mount --bind /dev/$n $dev/$n
done
# /dev/console (StandardOutput=console, messages before journald) is the console log.
touch $dev/console
mount --bind $st/console.log $dev/console
mkdir $dev/pts $dev/shm $dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $dev/pts
ln -s pts/ptmx $dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $dev/shm
ln -s /proc/self/fd $dev/fd
ln -s /proc/self/fd/0 $dev/stdin
ln -s /proc/self/fd/1 $dev/stdout
ln -s /proc/self/fd/2 $dev/stderr
mount --move $dev /dev
# A private /sys/fs/cgroup tmpfs, read-only, with the machine's hierarchies bound in: PID 1
# remounts that tmpfs read-only with a 4 MiB size (the superblock: on the machine's own, for
# everyone) and creates mount points in it for the controllers it would mount.
if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ]; then
    cg=/run/.capsule-test-host/cgroup
    mkdir $cg
    mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs $cg
    for h in /sys/fs/cgroup/*; do
        if [ -L "$h" ]; then
            cp -P "$h" $cg/
        elif mountpoint -q "$h"; then
            mkdir "$cg/${h##*/}"
            mount --bind "$h" "$cg/${h##*/}"
        fi
    done
    mount -o remount,bind,ro $cg
    mount --move $cg /sys/fs/cgroup
fi
# The shared directories, back at their own paths.
i=0
while read -r d; do
    mkdir -p "$d"
    mount --move /run/.capsule-test-host/share/$i "$d"
    i=$((i + 1))
done < $st/shares
# Configuration: masks, tmpfiles for /run only, a volatile journal.
mkdir -p /run/systemd/system /run/tmpfiles.d /run/systemd/journald.conf.d
while read -r u; do ln -sf /dev/null "/run/systemd/system/$u"; done < $st/masks
cp $st/tmpfiles.d/*.conf /run/tmpfiles.d/ 2>/dev/null || true
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nAudit=no\n' > /run/systemd/journald.conf.d/capsule-test-host.conf
umount $st
rmdir /run/.capsule-test-host/share/* 2>/dev/null || true
rmdir /run/.capsule-test-host/share /run/.capsule-test-host/state /run/.capsule-test-host/dev
rmdir /run/.capsule-test-host/cgroup 2>/dev/null || true
rmdir /run/.capsule-test-host
exec env -i container=capsule-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    "$sd" --system --unit=multi-user.target --show-status=no
EOS

    # --kill-child: if the unshare process dies (a killed test run), systemd gets SIGKILL.
    # fd 3 is bats' output: a background process holding it would hang bats.
    unshare --pid --fork --kill-child --mount --mount-proc --uts --ipc \
        sh "$SYSTEMD_HOST_STATE/init.sh" "$SYSTEMD_HOST_STATE" "${SYSTEMD_HOST_RW_ROOT:-0}" "$SYSTEMD_HOST_BIN" \
        </dev/null >"$SYSTEMD_HOST_STATE/console.log" 2>&1 3>&- &
    SYSTEMD_HOST_UNSHARE_PID=$!

    local deadline=$((SECONDS + SYSTEMD_HOST_TIMEOUT)) child out rc
    while [ -z "$SYSTEMD_HOST_PID" ]; do
        child=$(cat "/proc/$SYSTEMD_HOST_UNSHARE_PID/task/$SYSTEMD_HOST_UNSHARE_PID/children" 2>/dev/null) || true
        SYSTEMD_HOST_PID=${child%% *}
        SYSTEMD_HOST_PID=${SYSTEMD_HOST_PID// /}
        if [ -z "$SYSTEMD_HOST_PID" ]; then
            if ! _systemd_host_alive "$SYSTEMD_HOST_UNSHARE_PID" || [ $SECONDS -ge $deadline ]; then
                _systemd_host_fail "the namespaces were not set up"
                return 1
            fi
            sleep 0.02
        fi
    done
    # Until PID 1 is systemd and its private socket exists, systemctl fails at once: retry.
    while :; do
        if [ "$(readlink "/proc/$SYSTEMD_HOST_PID/exe" 2>/dev/null)" = "$(readlink -f "$SYSTEMD_HOST_BIN")" ]; then
            rc=0
            out=$(systemd_host_exec timeout $((deadline - SECONDS > 0 ? deadline - SECONDS : 1)) \
                systemctl is-system-running --wait 2>&1) || rc=$?
            case "${out##*$'\n'}" in
                running) return 0 ;;
                degraded)
                    echo "systemd_host_start: degraded: $(systemd_host_exec systemctl --failed --no-legend --plain 2>&1 | tr '\n' ';')" >&2
                    return 0 ;;
            esac
        fi
        if ! _systemd_host_alive "$SYSTEMD_HOST_PID"; then
            _systemd_host_fail "PID 1 exited during boot"
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            _systemd_host_fail "not running after ${SYSTEMD_HOST_TIMEOUT}s (is-system-running: ${out:-?}, status $rc)"
            return 1
        fi
        sleep 0.05
    done
}

# _systemd_host_fail WHY: say why and what the host printed, then take it down.
_systemd_host_fail() {
    echo "systemd_host_start: $1" >&2
    if [ -n "$SYSTEMD_HOST_PID" ] && _systemd_host_alive "$SYSTEMD_HOST_PID"; then
        echo "--- jobs:" >&2
        systemd_host_exec systemctl list-jobs --no-pager >&2 2>&1 || true
        echo "--- failed units:" >&2
        systemd_host_exec systemctl --failed --no-pager >&2 2>&1 || true
        echo "--- journal:" >&2
        systemd_host_exec journalctl -b --no-pager -n 40 >&2 2>&1 || true
    fi
    echo "--- console ($SYSTEMD_HOST_STATE/console.log):" >&2
    tail -n 40 "$SYSTEMD_HOST_STATE/console.log" >&2 2>/dev/null || true
    systemd_host_stop >&2 || true
}

# systemd_host_exec CMD...: CMD in the host's PID, mount, UTS and IPC namespaces, without the
# variables that would tie it to a unit of the outside world.
systemd_host_exec() {
    if [ -z "$SYSTEMD_HOST_PID" ]; then
        echo "systemd_host_exec: no test host is running" >&2
        return 1
    fi
    # The working directory is kept when the host sees it (the repository, a shared directory).
    local wd=/
    [ -d "/proc/$SYSTEMD_HOST_PID/root$PWD" ] && wd=$PWD
    nsenter -t "$SYSTEMD_HOST_PID" -m -p -u -i --wd="$wd" -- \
        env -u INVOCATION_ID -u NOTIFY_SOCKET -u JOURNAL_STREAM -u SYSTEMD_EXEC_PID -u LISTEN_PID \
        -u LISTEN_FDS -u LISTEN_FDNAMES -u WATCHDOG_PID -u WATCHDOG_USEC "$@"
}

# _systemd_host_continue_enterers PID1: SIGCONT the stopped processes outside the host that
# forked into its PID namespace (systemd_host_exec's nsenter). At shutdown, systemd stops every
# process of the namespace (SIGSTOP … SIGTERM … SIGCONT); nsenter, waiting for its child with
# WUNTRACED, then stops itself and never reaps the child, and the namespace cannot end.
_systemd_host_continue_enterers() {
    local ns p
    ns=$(stat -L -c %i "/proc/$1/ns/pid" 2>/dev/null) || return 0
    for p in $(stat -L -c '%i %n' /proc/[0-9]*/ns/pid_for_children 2>/dev/null | awk -v ns="$ns" '$1 == ns {split($2, a, "/"); print a[3]}'); do
        [ "$(stat -L -c %i "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] && continue
        [ "$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$p/stat" 2>/dev/null)" = T ] || continue
        kill -s CONT "$p" 2>/dev/null || true
    done
}

# _systemd_host_wait_exit PID1 SECONDS: wait for PID 1 to exit, unsticking nsenter meanwhile.
_systemd_host_wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2)) i=0
    while _systemd_host_alive "$pid" && [ $SECONDS -lt $deadline ]; do
        i=$((i + 1))
        [ $((i % 10)) = 0 ] && _systemd_host_continue_enterers "$pid"
        sleep 0.05
    done
    ! _systemd_host_alive "$pid"
}

# _systemd_host_entered PID1: the processes systemd_host_exec started that still run in PID1's PID
# namespace, the topmost of each tree (its parent, nsenter, is outside).
_systemd_host_entered() {
    local ns p pp
    ns=$(stat -L -c %i "/proc/$1/ns/pid" 2>/dev/null) || return 0
    for p in $(stat -L -c '%i %n' /proc/[0-9]*/ns/pid 2>/dev/null | awk -v ns="$ns" '$1 == ns {split($2, a, "/"); print a[3]}'); do
        [ "$p" = "$1" ] && continue
        pp=$(awk '{sub(/^.*\) /, ""); print $2}' "/proc/$p/stat" 2>/dev/null) || continue
        [ "$(stat -L -c %i "/proc/$pp/ns/pid" 2>/dev/null)" = "$ns" ] && continue
        echo "$p"
    done
}

# _systemd_host_end_entered PID1: SIGTERM to what systemd_host_exec left running (a pod in the
# background, say), SIGKILL to their trees after 5 s. systemd-shutdown would wait its whole
# stop timeout (90 s) for them: it is not their parent, so no SIGCHLD tells it they died.
_systemd_host_end_entered() {
    local entered p left deadline=$((SECONDS + 5))
    entered=$(_systemd_host_entered "$1")
    [ -n "$entered" ] || return 0
    # shellcheck disable=SC2086
    kill -s TERM $entered 2>/dev/null || true
    while :; do
        left=
        for p in $entered; do _systemd_host_alive "$p" && left+=" $p"; done
        [ -z "$left" ] && return 0
        [ $SECONDS -ge $deadline ] && break
        sleep 0.05
    done
    for p in $left; do
        # shellcheck disable=SC2046
        kill -s KILL $(_systemd_host_descendants "$p") 2>/dev/null || true
    done
}

systemd_host_stop() {
    local rc=0 pid=$SYSTEMD_HOST_PID upid=$SYSTEMD_HOST_UNSHARE_PID deadline
    if [ -n "$pid" ] && _systemd_host_alive "$pid"; then
        _systemd_host_end_entered "$pid"
        kill -s SIGRTMIN+4 "$pid" 2>/dev/null || true
        if ! _systemd_host_wait_exit "$pid" "$SYSTEMD_HOST_STOP_TIMEOUT"; then
            echo "systemd_host_stop: PID 1 ($pid) still running ${SYSTEMD_HOST_STOP_TIMEOUT}s after SIGRTMIN+4: SIGKILL" >&2
            _systemd_host_ps "$pid" >&2
            kill -s KILL "$pid" 2>/dev/null || true
            _systemd_host_wait_exit "$pid" 10 || echo "systemd_host_stop: PID 1 ($pid) survived SIGKILL for 10s" >&2
            rc=1
        fi
    fi
    if [ -n "$upid" ]; then
        # unshare exits with its child; reap it when it is ours (started in this shell).
        deadline=$((SECONDS + 5))
        while _systemd_host_alive "$upid" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
        _systemd_host_alive "$upid" && kill -s KILL "$upid" 2>/dev/null
        wait "$upid" 2>/dev/null || true
    fi
    if [ -n "$SYSTEMD_HOST_CGROUP" ]; then
        cgroup_remove_tree "$SYSTEMD_HOST_CGROUP" || rc=1
    fi
    # The state directory goes with the test's $TMP; one made elsewhere goes now.
    if [ -n "$SYSTEMD_HOST_STATE" ] && [[ -z "${TMP:-}" || "$SYSTEMD_HOST_STATE" != "$TMP"/* ]]; then
        rm -rf "$SYSTEMD_HOST_STATE"
    fi
    SYSTEMD_HOST_PID='' SYSTEMD_HOST_UNSHARE_PID='' SYSTEMD_HOST_CGROUP='' SYSTEMD_HOST_STATE='' SYSTEMD_HOST_JOURNAL=''
    return $rc
}

# _systemd_host_descendants PID: PID and its descendants.
_systemd_host_descendants() {
    local c
    echo "$1"
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do _systemd_host_descendants "$c"; done
}

# _systemd_host_ps [PID1]: the processes in PID1's PID namespace (entered ones included) and under
# it (nested namespaces included), or else those in the host's cgroup tree.
_systemd_host_ps() {
    local pids ns
    if [ -n "${1:-}" ] && ns=$(stat -L -c %i "/proc/$1/ns/pid" 2>/dev/null); then
        pids=$( { stat -L -c '%i %n' /proc/[0-9]*/ns/pid 2>/dev/null |
            awk -v ns="$ns" '$1 == ns {split($2, a, "/"); print a[3]}'; _systemd_host_descendants "$1"; } |
            sort -un | tr '\n' ',')
    else
        pids=$(find /sys/fs/cgroup/*"$SYSTEMD_HOST_CGROUP" /sys/fs/cgroup"$SYSTEMD_HOST_CGROUP" -name cgroup.procs \
            -exec cat {} + 2>/dev/null | sort -un | tr '\n' ',')
    fi
    [ -n "$pids" ] && ps -o pid=,stat=,args= -p "${pids%,}"
    return 0
}

# cgroup_remove_tree PATH: the cgroup PATH and what is under it, in every hierarchy, children
# first; its processes are dead or dying (a PID namespace that ended): retries for 5 s, then
# names what is left and fails.
cgroup_remove_tree() {
    local cg=$1 mnt left deadline=$((SECONDS + 5))
    [ -n "$cg" ] && [ "$cg" != / ] || return 0
    while :; do
        left=()
        while read -r mnt; do
            [ -d "$mnt$cg" ] || continue
            find "$mnt$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
            if [ -d "$mnt$cg" ]; then left+=("$mnt$cg"); fi
        done < <(cgroup_mounts)
        [ ${#left[@]} -eq 0 ] && return 0
        if [ $SECONDS -ge $deadline ]; then
            echo "cgroups left: ${left[*]}; processes in them:" >&2
            find "${left[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un | tr '\n' ' ' >&2
            echo >&2
            return 1
        fi
        sleep 0.05
    done
}
