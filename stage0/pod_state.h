// SPDX-License-Identifier: Apache-2.0
#pragma once

// rkt's pod state machine, without a daemon (Documentation/pods.md):
//
//   $dir/pods/embryo/<uuid>          created and exclusively locked by `prepare`
//   $dir/pods/prepare/<uuid>         being prepared (locked); unlocked = aborted prepare
//   $dir/pods/prepared/<uuid>        ready for run-prepared (unlocked)
//   $dir/pods/run/<uuid>             locked by the stage1 while running; unlocked = exited
//   $dir/pods/exited-garbage/<uuid>  exited, marked by gc; swept after the grace period
//   $dir/pods/garbage/<uuid>         being deleted
//
// Transitions are rename(2)s done while holding the directory's flock(2), so a pod is in
// exactly one state, and whoever holds the lock owns the transition.

#include "lib/fd.h"
#include "lib/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::stage0 {

/// The directory a pod lives in.
enum class PodDir { Embryo, Prepare, Prepared, Run, ExitedGarbage, Garbage };

/// What `list`/`status` show, from the directory and its lock.
enum class PodState { Embryo, Preparing, AbortedPrepare, Prepared, Running, Exited, ExitedGarbage, Garbage };

/// All pod directories, in the order a pod moves through them.
inline constexpr PodDir all_pod_dirs[]
    = { PodDir::Embryo, PodDir::Prepare, PodDir::Prepared, PodDir::Run, PodDir::ExitedGarbage, PodDir::Garbage };

/// "embryo", "prepare", … (the directory name).
std::string_view dir_name(PodDir);
/// "embryo", "preparing", "aborted prepare", "prepared", "running", "exited", "exited garbage", "garbage".
std::string_view state_name(PodState);

/// `$dir/pods`.
std::string pods_root(const std::string& dir);
/// `$dir/pods/<state>/<uuid>`.
std::string pod_path(const std::string& dir, PodDir, const std::string& uuid);

/// A pod found on disk.
struct PodRef {
    std::string uuid;
    PodDir where { PodDir::Embryo };
    std::string path;
};

/// Every pod, grouped in directory order, sorted by UUID within each.
Result<std::vector<PodRef>> list_pods(const std::string& dir);

/// Pick the pod whose UUID starts with `prefix` (any case, dashes optional). Unknown or
/// ambiguous prefixes are errors naming the candidates. Pure: testable without a disk.
Result<std::string> match_uuid_prefix(const std::vector<std::string>& uuids, std::string_view prefix);
/// Find a pod by UUID prefix on disk.
Result<PodRef> find_pod(const std::string& dir, std::string_view prefix);

/// Probe a pod's state: takes and drops a shared lock where the directory alone does not tell.
PodState probe_state(const PodRef&);

/// A pod directory held under an exclusive flock. Transitions rename it while locked.
class LockedPod {
public:
    /// mkdir `embryo/<uuid>` (a fresh UUID) and lock it.
    static Result<LockedPod> create_embryo(const std::string& dir);
    /// Lock an existing pod without waiting; a held lock fails with code EWOULDBLOCK. Fails
    /// with ENOENT when the pod moved away before the lock was taken.
    static Result<LockedPod> lock(const std::string& dir, const PodRef&);

    const std::string& uuid() const { return m_ref.uuid; }
    const std::string& path() const { return m_ref.path; }
    PodDir where() const { return m_ref.where; }
    const PodRef& ref() const { return m_ref; }
    /// The locked directory fd (to hand to the stage1 as CAPSULE_LOCK_FD).
    int fd() const { return m_lock.fd(); }
    FileLock& lock_handle() { return m_lock; }

    /// rename(2) into `to`; the lock follows the directory.
    Status move_to(PodDir to);
    /// Move to garbage and delete (best effort on the delete; the rename is what counts).
    Status destroy();

private:
    std::string m_dir;
    PodRef m_ref;
    FileLock m_lock;
};

} // namespace capsule::stage0
