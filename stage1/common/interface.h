// SPDX-License-Identifier: Apache-2.0
#pragma once

// The stage1 interface, version 1 (Documentation/stage1-interface.md), as constants shared by
// stage0 (the caller) and the stage1s capsule ships. Header-only: stage0 includes it without
// linking any stage1 code. A third-party stage1 implements the documented contract instead.

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
/// stage0: the pod's cgroup ("capsule/<uuid>"), relative to each hierarchy's root; absent
/// when the pod runs without one.
inline constexpr std::string_view subcgroup = "subcgroup";

/// Pod manifest app annotation (value "true"): `supplementaryGIDs` is the app's complete list of
/// supplementary groups; the stage1 adds none from the image's /etc/group. stage0 sets it for
/// OCI images, whose user was resolved by docker's rules at prepare. Version 2.
inline constexpr std::string_view annotation_exact_groups = "capsule/stage1/exact-groups";

/// Pod manifest annotation: the run-time protections turned off with --insecure-options
/// (a comma-separated subset of capabilities, paths, seccomp); absent when none is.
inline constexpr std::string_view annotation_insecure_options = "capsule/insecure-options";

} // namespace capsule::stage1_interface
