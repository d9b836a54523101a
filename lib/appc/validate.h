// SPDX-License-Identifier: Apache-2.0
#pragma once

// Value checks from appc spec 0.8.11 shared by the image and pod manifest parsers.

#include "lib/result.h"

#include <nlohmann/json.hpp>
#include <string_view>

namespace capsule::appc {

/// Semantic version 2.0.0: MAJOR.MINOR.PATCH[-prerelease][+build], no leading zeros.
bool is_semver(std::string_view);

/// The `os` label values the spec lists (linux, freebsd, darwin).
bool is_valid_os(std::string_view os);
/// An `arch` label value valid for `os` (any listed OS when `os` is empty).
bool is_valid_arch(std::string_view os, std::string_view arch);

/// Checks the value of the isolators capsule knows (resource/*, os/linux/capabilities-*,
/// os/linux/seccomp-*, os/linux/no-new-privileges); unknown isolator names are accepted as the spec says.
Status validate_isolator_value(std::string_view name, const nlohmann::json& value);

} // namespace capsule::appc
