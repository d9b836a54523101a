// SPDX-License-Identifier: Apache-2.0
#pragma once

// Ending pods: `stop` (through the stage1 stop entrypoint), `rm` and `gc` (rkt's mark and
// sweep: exited pods go to exited-garbage, and after the grace period the stage1 gc entrypoint
// runs and the pod is moved to garbage and deleted).

#include "lib/result.h"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::stage0 {

struct GcOptions {
    std::chrono::milliseconds grace_period { std::chrono::minutes(30) };
    std::chrono::milliseconds expire_prepared { std::chrono::hours(24) };
    bool mark_only { false };
};

struct GcReport {
    std::vector<std::string> marked;   ///< exited pods moved to exited-garbage
    std::vector<std::string> removed;  ///< pods deleted
    std::vector<std::string> warnings; ///< non-fatal problems (", ignoring")
};

/// One gc pass over `$dir/pods`. Running and preparing pods are never touched.
Result<GcReport> gc_pods(const std::string& dir, const GcOptions&);

/// Remove one pod (not running, not being prepared); returns its full UUID.
Result<std::string> remove_pod(const std::string& dir, std::string_view uuid_prefix);

enum class StopMode { Graceful, Force };
/// Ask the stage1 to stop a running pod; returns its full UUID.
Result<std::string> stop_pod(const std::string& dir, std::string_view uuid_prefix, StopMode);

} // namespace capsule::stage0
