// SPDX-License-Identifier: Apache-2.0
#pragma once
// The `limit` of appc's resource isolators, as a stage1 applies it.

#include "lib/result.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

namespace capsule::stage1 {

/// The `limit` of a `resource/memory` (`millicores` false: bytes, a quantity such as "64Mi")
/// or `resource/cpu` (`millicores` true: "500m" or cores) isolator value; an error naming the
/// isolator for a value without a valid limit.
Result<uint64_t> quantity_limit(const nlohmann::json& value, std::string_view isolator, bool millicores);

} // namespace capsule::stage1
