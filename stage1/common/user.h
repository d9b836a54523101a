// SPDX-License-Identifier: Apache-2.0
#pragma once

// An app's credentials: appc `user`/`group` are numeric IDs or names looked up in the app
// rootfs's /etc/passwd and /etc/group (never the host's), read confined to the rootfs.

#include "lib/appc/pod_manifest.h"
#include "lib/appc/types.h"
#include "lib/result.h"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace capsule::stage1 {

struct Credentials {
    uid_t uid { 0 };
    gid_t gid { 0 };
    std::vector<gid_t> groups; ///< supplementary groups
    std::string home;          ///< from /etc/passwd, "" if unknown
    std::string name;          ///< the user's name in /etc/passwd, "" if it has none
};

/// Where supplementary groups come from.
enum class GroupMembership {
    FromImage, ///< the groups of /etc/group listing the user, plus `supplementaryGIDs` (appc)
    Exact,     ///< `supplementaryGIDs` only (stage0 resolved them; annotation_exact_groups)
};

/// Resolve from the text of /etc/passwd and /etc/group (either may be empty). Pure.
Result<Credentials> resolve_credentials(
    const appc::App&, std::string_view passwd, std::string_view group, GroupMembership = GroupMembership::FromImage);

/// The credentials of a pod's app, from the /etc/passwd and /etc/group of its root `rootfd`
/// (GroupMembership::Exact when stage0 marked the app with annotation_exact_groups).
Result<Credentials> app_credentials(const appc::RuntimeApp&, int rootfd);

/// Read `path` inside the root `rootfd` (confined); a missing file is an empty string.
Result<std::string> read_in_root(int rootfd, const std::string& path);

} // namespace capsule::stage1
