// SPDX-License-Identifier: Apache-2.0
#pragma once

// Pods as citizens of the host's systemd (Documentation/using-capsule-with-systemd.md).
//
// Three ways a pod meets systemd, chosen when it starts:
//   - from a shell (systemd booted, no $INVOCATION_ID): the pod gets the transient scope
//     capsule-<uuid>.scope in machine.slice (Delegate=yes; --memory/--cpu and --unit-property
//     as its properties);
//   - detached (`run --detach`): the transient service capsule-<uuid>.service runs
//     `capsule run-prepared --allow-exited <uuid>`, which then starts as below;
//   - under a unit's ExecStart= ($INVOCATION_ID): no unit of its own; the pod stays in the
//     unit's cgroup, and sends READY=1 (or relays its apps' sd_notify) to the unit.
// In every mode the pod is registered with machined as capsule-<uuid>, `<poddir>/unit` names
// the unit it runs in and `<poddir>/subcgroup` that unit's cgroup. Without systemd the pod
// gets a cgroupfs cgroup (stage0/cgroup.h), as before.

#include "stage0/cgroup.h"
#include "stage0/pod_state.h"
#include "stage0/prepare.h"
#include "stage0/stage1_exec.h"

#include <string>
#include <vector>

namespace capsule::stage0 {

enum class HostMode { NoSystemd, Shell, UnderUnit };

/// The mode a pod started now would run in (sd_booted(), $INVOCATION_ID).
HostMode host_mode();

/// Where a systemd-flavour pod's journal lives on a systemd host with a persistent journal:
/// `<this>/<pod machine id>/`, linked as `<poddir>/journal/<pod machine id>`; it outlives gc.
inline constexpr const char* host_journal_dir = "/var/log/journal";

/// Pod directory file (stage0): the systemd unit the pod runs in, one line.
inline constexpr std::string_view pod_unit_file = "unit";

/// Before the stage1 starts (exec_run, the pod in `run`, this process about to exec it): put
/// this process in the pod's unit or cgroup, record `unit`/`subcgroup`, link the journal, and
/// start the companion process that registers the machine and speaks sd_notify.
Status enter_pod_unit(LockedPod&, const RunOptions&, const PodStage1&);

/// What `run --detach` asks of systemd.
struct DetachOptions {
    std::string restart { "no" };             ///< no, on-failure, always
    std::vector<std::string> unit_properties; ///< --unit-property K=V
    std::string dir;                          ///< --dir (absolute)
    bool debug { false };
};

/// Refuse `--detach` (and check `--restart`/`--unit-property`) before anything is prepared.
Status check_detach(const DetachOptions&);

/// Start the prepared pod `uuid` (unlocked) as capsule-<uuid>.service and wait until its apps
/// are started. On failure the unit is stopped and forgotten; the pod stays (exited or
/// prepared) for `status` and `logs`.
Status start_detached(const std::string& uuid, const DetachOptions&);

/// The pod's unit (`<poddir>/unit`), "" when it ran without one.
std::string read_pod_unit(const std::string& pod_path);

/// `stop` of a detached pod: stop its service (--force: SIGKILL to all of it first). Returns
/// false when the pod is not detached (the caller uses the stage1's stop).
Result<bool> stop_pod_unit(const PodRef&, bool force);

/// `gc` mark: a detached pod whose service is still active or about to restart is not garbage.
bool pod_unit_busy(const PodRef&);

/// `gc` sweep / `rm`: stop and forget what systemd still holds of the pod (a failed unit, a
/// machine). Missing things are fine.
Status release_pod_unit(const std::string& pod_path, const std::string& uuid);

/// `update`: new limits for a running pod, through SetUnitProperties when it has a unit, else
/// cgroupfs.
Status update_pod_limits(const std::string& dir, std::string_view prefix, const CgroupLimits&);

} // namespace capsule::stage0
