// SPDX-License-Identifier: Apache-2.0
#pragma once

// Invoking a pod's stage1 entrypoints (Documentation/stage1-interface.md): the cwd is the pod
// directory, the entrypoint is a path inside the stage1 image's rendered rootfs.

#include "stage0/pod_state.h"
#include "stage0/prepare.h"
#include "stage0/stage1_image.h"

#include <string>
#include <vector>

namespace capsule::stage0 {

/// The stage1 a prepared pod was made with: its tree and entrypoints.
struct PodStage1 {
    std::string tree;
    Stage1Entrypoints entrypoints;

    /// Host path of an entrypoint ("" when the stage1 has none).
    std::string host_path(const std::string& entrypoint) const;
};

/// Read `stage1/tree` and the stage1 manifest it holds.
Result<PodStage1> read_pod_stage1(const std::string& pod_path);

/// The argv of the run entrypoint for these options (without argv[0]); interface version 1.
std::vector<std::string> run_entrypoint_args(const RunOptions&, const std::string& uuid);

/// Move a locked prepared pod to `run` and exec the stage1 run entrypoint, handing it the
/// pod lock as CAPSULE_LOCK_FD. Returns only on failure.
Status exec_run(LockedPod&, const RunOptions&);

/// Lock the prepared pod `prefix` for run-prepared (errors say which state it is in instead).
Result<LockedPod> lock_prepared(const std::string& dir, std::string_view prefix);

/// run-prepared: lock_prepared(), or with `allow_exited` also a pod that ran and exited (a
/// detached pod's unit restarting it), cleared of its last run's pid and statuses.
Result<LockedPod> lock_for_run(const std::string& dir, std::string_view prefix, bool allow_exited);

/// Spawn an entrypoint with the pod dir as cwd and wait: its exit status (128+N on signal N).
Result<int> spawn_entrypoint(const std::string& pod_path, const std::string& exe, const std::vector<std::string>& args);
/// Replace this process with an entrypoint (enter). Returns only on failure.
Status exec_entrypoint(const std::string& pod_path, const std::string& exe, const std::vector<std::string>& args);

} // namespace capsule::stage0
