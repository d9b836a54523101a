// SPDX-License-Identifier: Apache-2.0
#pragma once

// Building an app's root inside the stage1's private mount namespace: the rootfs (overlay over
// the store's tree, or stage0's copy with --no-overlay), the host's /proc, /sys and /dev, and
// the pod volumes the app mounts (read-only when the volume or the image's mount point says so).

#include "lib/fd.h"
#include "stage1/common/pod.h"

namespace capsule::stage1 {

/// Mount everything; returns an fd of the app root (for chroot). Call in a private mount ns.
/// Without `host_api_dirs`, /proc, /sys and /dev are left to the caller (the systemd stage1's
/// units mount their own).
/// Without `volumes`, the pod volumes are left to the caller too (the kvm stage1 mounts them in
/// its guest).
Result<UniqueFd> setup_app_root(const Pod&, const appc::RuntimeApp&, bool host_api_dirs = true, bool volumes = true);
/// The app's image declares its mount point for `volume` read-only.
bool mount_point_read_only(const appc::RuntimeApp&, const std::string& volume);

/// Enter the app root `rootfd` (fchdir + chroot) and the app's working directory (or `/` when
/// that is gone): where `enter` runs its command.
Status enter_app_root(int rootfd, const appc::RuntimeApp&);

/// Resolve `cmd` (an app's exec[0]) to an absolute path in the root `rootfd`, as execvp(3) would
/// with the app's PATH (`path_env`) and working directory `wd`, so a stage1 that execs it
/// elsewhere (a unit's ExecStart=, a VM's init) names the binary and a missing one fails early.
Result<std::string> resolve_exec(
    int rootfd, const std::string& cmd, const std::string& path_env, const std::string& wd);
/// The value of `name` in `NAME=value` strings ("" when absent).
std::string env_value(const std::vector<std::string>& env, std::string_view name);
/// The pod manifest app carries `appc.io/executor/supports-systemd-notify` = "true".
bool app_supports_notify(const appc::RuntimeApp&);

/// `<pod>/notify` is a socket: stage0 relays what arrives there to the host's service manager.
bool pod_has_notify_socket(const Pod&);

/// Bind `<pod>/notify` on `path` inside the root `rootfd`, creating the directories and an empty
/// file as mount point there, confined to the root.
Status bind_notify_socket(const Pod&, int rootfd, const std::string& path);

/// The host source of a pod volume.
std::string volume_source(const Pod&, const appc::Volume&);

} // namespace capsule::stage1
