// SPDX-License-Identifier: Apache-2.0
#pragma once

// Mounting an app's world inside the stage1's private mount namespace. Everything here is
// undone by the kernel when the namespace's last process exits: no stray mounts, ever.
// Targets inside a rootfs are resolved fd-relative and confined to it (openat2
// RESOLVE_IN_ROOT), then mounted through /proc/self/fd, so an image's symlinks cannot
// redirect a mount onto the host.

#include "lib/fd.h"
#include "lib/overlay.h"
#include "lib/result.h"

#include <string>
#include <vector>

namespace capsule::stage1 {

/// unshare(CLONE_NEWNS) and make every mount private, so nothing propagates to the host.
Status enter_private_mount_ns();

using capsule::overlay_escape;
/// Mount an overlay (the lower directories, topmost first, read-only; upper + work writable)
/// on `target`.
Status mount_overlay(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
    const std::string& target);

/// openat2(2) of `path` confined to the root `rootfd` (RESOLVE_IN_ROOT, no magic links), always
/// close-on-exec: a raw fd, or -1 with errno.
int open_in_root(int rootfd, const std::string& path, int flags);

enum class TargetKind { Directory, File };
/// Open `path` inside the root `rootfd` (confined to it), creating missing directories and,
/// for TargetKind::File, an empty file as the last component. Returns an O_PATH fd.
Result<UniqueFd> ensure_in_root(int rootfd, const std::string& path, TargetKind);

enum class BindFlags { Plain = 0, Recursive = 1, ReadOnly = 2 };
inline BindFlags operator|(BindFlags a, BindFlags b)
{
    return static_cast<BindFlags>(static_cast<int>(a) | static_cast<int>(b));
}
inline bool has(BindFlags a, BindFlags b)
{
    return (static_cast<int>(a) & static_cast<int>(b)) != 0;
}

/// Bind `source` (a host path) onto the O_PATH `target_fd`; `what` names the target in errors.
Status bind_mount(const std::string& source, int target_fd, const std::string& what, BindFlags);

} // namespace capsule::stage1
