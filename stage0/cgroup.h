// SPDX-License-Identifier: Apache-2.0
#pragma once

// Pod cgroups through cgroupfs (no systemd): every pod gets `capsule/<uuid>` in the unified
// hierarchy (cgroup v2) or in the memory, cpu, cpuacct, pids and blkio hierarchies (v1 and
// hybrid). stage0 moves itself there just before it execs the stage1, so the whole pod tree
// lives in it; `<poddir>/subcgroup` records the path, relative to each hierarchy's root.

#include "lib/result.h"
#include "stage0/pod_state.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace capsule::stage0 {

enum class CgroupLayout { Unified, Legacy, None };

/// What is mounted at `root` (normally /sys/fs/cgroup): v2 alone, v1 (with or without a v2
/// hierarchy beside it, which carries no controllers in a hybrid setup), or nothing usable.
CgroupLayout detect_cgroup_layout(const std::string& root = "/sys/fs/cgroup");

struct CgroupLimits {
    std::optional<uint64_t> memory_bytes;
    std::optional<uint64_t> cpu_millicores;
};

/// The pod's cgroup: one directory per hierarchy (one for v2).
struct PodCgroup {
    CgroupLayout layout { CgroupLayout::None };
    std::string subcgroup;         ///< "capsule/<uuid>"
    std::vector<std::string> dirs; ///< absolute, existing or to be made

    /// The directory of a v1 controller ("memory", "cpuacct"…), or the v2 one; "" if none.
    std::string dir_for(const std::string& controller) const;
};

/// Where the pod `uuid`'s cgroup is (or would be), without touching anything.
PodCgroup pod_cgroup(const std::string& uuid, const std::string& root = "/sys/fs/cgroup");

/// The cgroup at `subcgroup` (relative to each hierarchy's root), e.g. a systemd unit's.
PodCgroup cgroup_at(const std::string& subcgroup, const std::string& root = "/sys/fs/cgroup");

/// Make the pod's cgroup, apply `limits` and move the calling process into it. Errors keep
/// errno (EACCES, EROFS, EPERM when cgroupfs is read-only or refused, as in a container).
Result<PodCgroup> create_pod_cgroup(const std::string& uuid, const CgroupLimits&);

/// Write limits into an existing pod cgroup (`update`).
Status apply_cgroup_limits(const PodCgroup&, const CgroupLimits&);

/// Remove the pod's cgroup directories (children first) in every hierarchy; the `capsule`
/// parents stay. Missing directories are fine.
Status remove_pod_cgroup(const std::string& uuid, const std::string& root = "/sys/fs/cgroup");

/// What `stats` shows; a missing value was not available from cgroupfs.
struct CgroupStats {
    std::optional<uint64_t> cpu_usage_ns;
    std::optional<uint64_t> memory_current;
    std::optional<uint64_t> memory_peak;
    std::optional<uint64_t> memory_limit; ///< nullopt: unlimited
    std::optional<uint64_t> io_read_bytes;
    std::optional<uint64_t> io_write_bytes;
    std::optional<uint64_t> pids_current;
    std::optional<uint64_t> pids_limit; ///< nullopt: unlimited
};

/// Read the statistics of an existing pod cgroup.
CgroupStats read_cgroup_stats(const PodCgroup&);

/// Whether any directory of the pod's cgroup exists.
bool cgroup_exists(const PodCgroup&);

/// The cgroup of pod `prefix` (`stats`, `update`); an error when it has none (it ran
/// without one, never ran, or was collected).
Result<PodCgroup> find_pod_cgroup(const std::string& dir, std::string_view prefix);

/// `update`: new limits for a running pod's cgroup.
Status update_pod_cgroup(const std::string& dir, std::string_view prefix, const CgroupLimits&);

} // namespace capsule::stage0
