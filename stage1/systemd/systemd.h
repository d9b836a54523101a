// SPDX-License-Identifier: Apache-2.0
#pragma once

// The systemd stage1: the host's systemd booted as each pod's PID 1 (Documentation/
// stage1-interface.md, "The systemd flavour"). One static multi-call binary; besides the
// interface's entrypoints it has two helpers the pod's units run from the read-only
// /capsule/stage1 inside the pod: `app-exited APP` (records the app's exit status) and
// `exec-in-app APP CMD...` (runs an appc event handler inside the app's rootfs).

#include "lib/proc_cgroup.h"
#include "lib/result.h"
#include "stage1/common/args.h"
#include "stage1/common/pod.h"
#include "stage1/systemd/units.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace capsule::stage1::sd {

int run(const Stage1Args&);
int enter(const Stage1Args&);
int stop(const Stage1Args&);
int gc(const Stage1Args&);
int app_exited(const std::vector<std::string>& args);
int exec_in_app(const std::vector<std::string>& args);

/// The host's systemd, booted in the pod.
inline constexpr const char* host_systemd = "/lib/systemd/systemd";
/// Inside the pod root: the stage1's own directory (read-only) and the pod's status directory.
inline constexpr const char* pod_helper_dir = "/capsule/stage1";
inline constexpr const char* pod_status_dir = "/capsule/status";
/// Inside the pod root: `<pod>/notify`, when stage0 made it; PID 1's NOTIFY_SOCKET.
inline constexpr const char* pod_notify_socket = "/run/host/notify";

/// A v1 or v2 cgroup hierarchy the pod has its own subtree in, as /proc/self/cgroup names it.
struct Hierarchy {
    std::string controllers; ///< "memory", "cpu,cpuacct", "name=systemd", "" (v2)
    std::string dir;         ///< the directory name under /sys/fs/cgroup: "cpu,cpuacct", "systemd", "unified"
};

/// What the pod's root needs, decided by `run` before it forks PID 1.
struct PodRootPlan {
    const Pod* pod { nullptr };
    std::string helper_dir; ///< the host directory holding this binary
    std::string console;    ///< the host path of the pty slave that becomes /dev/console
    std::string hostname;
    bool interactive { false };
    bool debug { false };
    bool inherit_env { false };
    bool notify { false };              ///< `<pod>/notify` exists: PID 1 reports readiness there
    bool unified_only { false };        ///< cgroup v2 alone: mount cgroup2 on /sys/fs/cgroup
    std::vector<Hierarchy> hierarchies; ///< to mount under /sys/fs/cgroup (hybrid/v1)
    InsecureOptions insecure;
};

/// In the child that becomes PID 1: a new mount namespace, the pod's root (apps, /usr, a
/// generated /etc with the units, /dev, /proc, /sys, cgroups), then pivot_root into it.
Status build_pod_root(const PodRootPlan&);

/// The unit of each app, resolved against its mounted rootfs (exec path, credentials, env).
Result<AppUnit> make_app_unit(const PodRootPlan&, const appc::RuntimeApp&, int rootfd);

// cgroups (cgroups.cpp)
/// /sys/fs/cgroup is cgroup v2 alone.
bool cgroup_unified();
/// The directory under /sys/fs/cgroup of the hierarchy /proc/PID/cgroup names `controllers`
/// ("" for the v2 root when `unified`); none for named hierarchies other than name=systemd.
std::optional<std::string> hierarchy_dir(const std::string& controllers, bool unified);
/// The host directory of an app unit's cgroup, in name=systemd (or v2).
std::string app_cgroup_dir(const std::string& subcgroup, std::string_view app, bool unified);
/// Move this process into the pod's cgroup (`subcgroup`) of the hierarchies without
/// controllers that systemd keeps its tree in (hybrid: name=systemd and unified); stage0 placed
/// it in the controllers' ones, and removes the pod's cgroup from every hierarchy at gc.
Status join_systemd_hierarchies(const std::string& subcgroup);
/// `<pod>/subcgroup`, without its newline.
Result<std::string> read_subcgroup(const std::string& pod_dir);

/// The pod's insecure options, from the pod manifest annotation stage0 writes.
InsecureOptions pod_insecure_options(const Pod&);

} // namespace capsule::stage1::sd
