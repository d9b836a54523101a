// SPDX-License-Identifier: Apache-2.0
#pragma once

// What `list`, `status` and `cat-manifest` show about a pod, read from its directory
// (timestamps are file mtimes: `pod` = created, `pid` = started, `status/<app>` = exited).

#include "lib/appc/pod_manifest.h"
#include "stage0/pod_state.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace capsule::stage0 {

struct AppStatus {
    std::string name;
    std::string image_id;
    std::string image_name;
    std::optional<int> exit_code;       ///< set once the stage1 recorded it
    std::optional<int64_t> finished_at; ///< unix seconds
};

struct PodInfo {
    PodRef ref;
    PodState state { PodState::Embryo };
    int64_t created { 0 };          ///< unix seconds
    std::optional<int64_t> started; ///< unix seconds
    std::optional<int> pid;
    std::string unit; ///< the systemd unit it runs (ran) in; "" without one
    std::vector<AppStatus> apps;
    std::optional<appc::PodManifest> manifest;

    /// A pod that ran and stopped (exited, or marked for collection after it ran).
    bool exited() const;
};

/// Read what the pod directory tells; a missing or unreadable manifest leaves `apps` empty.
PodInfo read_pod_info(const PodRef&);
/// Read info for every pod, oldest first.
Result<std::vector<PodInfo>> read_all_pods(const std::string& dir);

/// `<poddir>/pod` as written at prepare.
Result<std::string> read_pod_manifest_text(const PodRef&);
/// The stage1 flavour a pod was made with (its stage1 image's `capsule/stage1/flavour`), if known.
std::optional<std::string> pod_flavour(const PodRef&);

/// Image IDs referenced by pods that are not being deleted (apps and stage1), for `image rm`
/// and `image gc`: an image in this set must stay in the store.
Result<std::set<std::string>> images_in_use(const std::string& dir);

} // namespace capsule::stage0
