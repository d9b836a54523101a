// SPDX-License-Identifier: Apache-2.0
#pragma once

// The pod directory as a stage1 sees it (its cwd; Documentation/stage1-interface.md): the pod
// manifest and per-app info stage0 wrote, and the files the stage1 writes back (`pid`,
// `status/<app>`), each written to a temp file and renamed, so readers never see half a file.

#include "lib/appc/pod_manifest.h"
#include "lib/fd.h"
#include "lib/result.h"

#include <optional>
#include <string>

namespace capsule::stage1 {

struct Pod {
    std::string dir; ///< absolute path of the pod directory
    std::string uuid;
    appc::PodManifest manifest;

    /// `<dir>/stage1/rootfs/opt/stage2/<app>/rootfs`.
    std::string app_rootfs(const std::string& app) const;
    /// `<dir>/appsinfo/<app>/<file>`.
    std::string app_info(const std::string& app, std::string_view file) const;
};

/// The app `name` of the pod (its first app when `name` is empty), or an error naming it.
Result<const appc::RuntimeApp*> pod_app(const Pod&, const std::string& name);

/// Load the pod in the current directory.
Result<Pod> load_pod(const std::string& uuid);

/// The pod lock handed over by stage0 (CAPSULE_LOCK_FD), made close-on-exec so apps do not
/// inherit it; the variable is removed from the environment.
Result<UniqueFd> take_lock_fd();

/// Write `data` to `<pod>/<rel>` atomically (temp + rename; no fsync: pod files are not
/// meant to survive a host crash).
Status write_pod_file(const Pod&, const std::string& rel, std::string_view data);

/// Read `pid` (the app's pid, written by run).
Result<pid_t> read_pod_pid(const std::string& dir);

/// Read `pid`, waiting up to 2 s for a pod that was just started and has not written it yet.
Result<pid_t> wait_for_pod_pid(const std::string& dir);

/// `stop`: send `sig` to the pid of the pod in the current directory; the exit status of the
/// entrypoint (0, or exit_stage1_error with one line on stderr).
int signal_pod(const std::string& uuid, int sig);

} // namespace capsule::stage1
