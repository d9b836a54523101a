// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace capsule {

/// The lines of /proc/PID/cgroup (`ID:CONTROLLERS:PATH`) as {controllers, path}: controllers
/// "" for the cgroup v2 hierarchy, "name=systemd" for systemd's v1 one, "memory"… otherwise.
std::vector<std::pair<std::string, std::string>> parse_proc_cgroup(const std::string& text);

} // namespace capsule
