// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/result.h"

#include <string>
#include <string_view>

namespace capsule {

/// A random (version 4) UUID in canonical lower-case form (8-4-4-4-12).
std::string make_uuid();
/// True for a canonical lower-case UUID.
bool is_uuid(std::string_view);
/// Accepts canonical or 32-hex-digit forms (any case); returns the canonical form.
Result<std::string> parse_uuid(std::string_view);

} // namespace capsule
