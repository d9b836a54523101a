// SPDX-License-Identifier: Apache-2.0
#pragma once

// How pods are shown by `list` and `status` (Documentation/pods.md documents the fields).

#include "stage0/pod_info.h"

#include <nlohmann/json.hpp>
#include <string>

namespace capsule::cmd {

/// The stable JSON form of a pod: uuid, state, created, started, pid, exited, apps[].
nlohmann::json pod_json(const stage0::PodInfo&);

/// rkt's `status` lines: state=, created=, started=, pid=, exited=, app-<name>=.
std::string pod_status_lines(const stage0::PodInfo&);

} // namespace capsule::cmd
