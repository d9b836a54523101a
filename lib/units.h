// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/result.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace capsule {

/// Kubernetes/appc resource quantity: "64M" = 64e6, "64Mi" = 64*2^20, "1.5G", "500m" (milli).
/// Returns the value in base units, rounded up; `500m` of a byte quantity is rejected.
Result<uint64_t> parse_quantity(std::string_view);
/// CPU quantity in millicores: "500m" = 500, "2" = 2000, "0.5" = 500.
Result<uint64_t> parse_millicores(std::string_view);

/// Go-style durations as rkt accepted them: "30m", "24h", "1h30m", "10s", "500ms", "0", "0s".
Result<std::chrono::milliseconds> parse_duration(std::string_view);

/// "12.3 MiB"-style human size.
std::string human_size(uint64_t bytes);
/// "3 minutes ago"-style relative time for listings (from unix seconds).
std::string human_age(int64_t unix_seconds, int64_t now_unix_seconds);
/// RFC 3339 UTC ("2026-11-28T03:58:30Z") from unix seconds.
std::string format_rfc3339(int64_t unix_seconds);
/// RFC 3339 UTC with microseconds ("2026-11-28T03:58:30.000123Z") from unix microseconds.
std::string format_rfc3339_usec(uint64_t unix_usec);
/// RFC 3339: `2026-11-28T04:18:30Z`, `2026-11-28T06:18:30.5+02:00` (a space or `t` may stand
/// for `T`, `z` for `Z`; fractions beyond microseconds are cut). Unix microseconds; nullopt
/// when malformed or not a date (Feb 30).
std::optional<int64_t> parse_rfc3339(std::string_view);

} // namespace capsule
