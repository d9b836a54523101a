// SPDX-License-Identifier: Apache-2.0
#pragma once

// The stage1 interface, version 2 (Documentation/stage1-interface.md), as constants shared by
// stage0 (the caller) and the stage1s capsule ships. Header-only: stage0 includes it without
// linking any stage1 code. A third-party stage1 implements the documented contract instead.

#include <string>
#include <string_view>

namespace capsule::stage1_interface {

/// The interface version this tree speaks, advertised by stage1 images as the annotation
/// `capsule/stage1/interface-version`.
inline constexpr int version = 2;
/// The oldest version stage0 still drives: version 1 stage1s read one line of
/// `appsinfo/<app>/lower`, so their pods get a single (flattened) lower directory.
inline constexpr int min_version = 1;

// Stage1 image manifest annotations naming the entrypoints (paths inside the stage1 rootfs).
inline constexpr std::string_view annotation_run = "capsule/stage1/run";
inline constexpr std::string_view annotation_enter = "capsule/stage1/enter";
inline constexpr std::string_view annotation_stop = "capsule/stage1/stop";
inline constexpr std::string_view annotation_gc = "capsule/stage1/gc";
inline constexpr std::string_view annotation_version = "capsule/stage1/interface-version";
/// Optional: the flavour ("fly"); a fly stage1 runs exactly one app per pod.
inline constexpr std::string_view annotation_flavour = "capsule/stage1/flavour";

/// Environment variable naming the fd of the pod directory, locked exclusively (flock).
inline constexpr const char* lock_fd_env = "CAPSULE_LOCK_FD";

// Pod directory layout, relative to the pod directory (the entrypoints' cwd).
inline constexpr std::string_view pod_manifest = "pod";                     ///< appc PodManifest (stage0)
inline constexpr std::string_view stage1_id = "stage1/id";                  ///< stage1 image ID (stage0)
inline constexpr std::string_view stage1_tree = "stage1/tree";              ///< its rendered tree (stage0)
inline constexpr std::string_view stage2_root = "stage1/rootfs/opt/stage2"; ///< <app>/rootfs below
inline constexpr std::string_view appsinfo = "appsinfo";                    ///< appsinfo/<app>/… (stage0)
/// appsinfo/<app>/lower: the overlay's lower directories, one absolute path per line, topmost first.
inline constexpr std::string_view app_lower = "lower";
inline constexpr std::string_view app_upper = "upper";   ///< appsinfo/<app>/upper/
inline constexpr std::string_view app_work = "work";     ///< appsinfo/<app>/work/
inline constexpr std::string_view app_image = "image";   ///< appsinfo/<app>/image: image ID
inline constexpr std::string_view volumes = "volumes";   ///< volumes/<name>/ (kind=empty)
inline constexpr std::string_view pid_file = "pid";      ///< stage1: the app's pid
inline constexpr std::string_view status_dir = "status"; ///< stage1: status/<app> exit status
/// stage1, optional (fly): `logs/<app>.log` and its rotations `<app>.log.1` (newest) to `.3`,
/// lines `<RFC 3339 UTC time with microseconds> <stdout|stderr> <line>`.
inline constexpr std::string_view logs_dir = "logs";
/// How many rotated files of an app's log a stage1 keeps (`<app>.log.1` to `.3`).
inline constexpr int logs_rotated = 3;
/// stage0: the pod's cgroup ("capsule/<uuid>"), relative to each hierarchy's root; absent
/// when the pod runs without one.
inline constexpr std::string_view subcgroup = "subcgroup";

/// Pod manifest app annotation (value "true"): `supplementaryGIDs` is the app's complete list of
/// supplementary groups; the stage1 adds none from the image's /etc/group. stage0 sets it for
/// OCI images, whose user was resolved by docker's rules at prepare. Version 2.
inline constexpr std::string_view annotation_exact_groups = "capsule/stage1/exact-groups";

/// Pod manifest app annotation (value "true"), rkt's: the app speaks sd_notify(3). stage0 copies it
/// from the image manifest (an OCI image: its config label of the same name). Optional.
inline constexpr std::string_view annotation_supports_notify = "appc.io/executor/supports-systemd-notify";

/// stage0, optional: a unix datagram socket (mode 0666) whose messages stage0 relays to the
/// host's service manager ($NOTIFY_SOCKET of `capsule run`). Present only when the pod runs
/// under a unit that expects notifications; a stage1 tells it readiness (READY=1) through it.
inline constexpr std::string_view notify_socket = "notify";

/// stage1 (stage0 may create it first): the pod's journal directory, `journal/<machine-id>/`.
/// stage0 may make `journal/<machine-id>` a symlink to an absolute host directory (the host's
/// `/var/log/journal/<machine-id>`); the stage1 then writes the pod's journal files there.
inline constexpr std::string_view journal_dir = "journal";

/// The pod's machine ID (`/etc/machine-id` inside the pod, the journal's subdirectory): its UUID
/// without dashes.
inline std::string pod_machine_id(std::string_view uuid)
{
    std::string id;
    for (char c : uuid)
        if (c != '-')
            id += c;
    return id;
}

/// Pod manifest annotation, optional: the size in bytes at which a stage1 that writes `logs/`
/// rotates an app's log file (default 1 MiB).
inline constexpr std::string_view annotation_log_max_size = "capsule/log-max-size";

/// Pod manifest annotation: the run-time protections turned off with --insecure-options
/// (a comma-separated subset of capabilities, paths, seccomp); absent when none is.
inline constexpr std::string_view annotation_insecure_options = "capsule/insecure-options";

/// Pod manifest annotations for the kvm flavour, written by stage0 from the `kvm.json` config
/// (Documentation/stage1-kvm.md); each optional, the stage1 has a default for each.
/// The guest kernel: a bzImage path (default: the newest /boot/vmlinuz-*).
inline constexpr std::string_view annotation_kvm_kernel = "capsule/kvm/kernel";
/// The qemu binary: a path or a name searched in PATH (default: qemu-system-x86_64).
inline constexpr std::string_view annotation_kvm_qemu = "capsule/kvm/qemu";
/// "auto" (default: KVM when a timed probe boot works, TCG otherwise), "kvm" or "tcg".
inline constexpr std::string_view annotation_kvm_accelerator = "capsule/kvm/accelerator";

/// The kvm flavour's VM: its memory is the sum of the apps' resource/memory limits (this much
/// when none has one) plus kvm_guest_overhead for the guest's kernel and init (CLI.md).
inline constexpr unsigned long long kvm_default_app_memory = 512ULL << 20;
inline constexpr unsigned long long kvm_guest_overhead = 128ULL << 20;
/// What qemu itself needs beside the guest's memory (its code, TCG's translation cache); a kvm
/// pod's cgroup memory limit is the VM's memory plus this.
inline constexpr unsigned long long kvm_qemu_overhead = 192ULL << 20;

} // namespace capsule::stage1_interface
