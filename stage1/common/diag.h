// SPDX-License-Identifier: Apache-2.0
#pragma once

// Diagnostics for the static stage1 executables (no spdlog): one line on stderr, prefixed
// "capsule: <flavour>: ", so a pod's failure reads like the rest of capsule's errors.

#include "lib/result.h"

namespace capsule::stage1 {

/// Set once at startup: the flavour name used as prefix, and whether --debug was given.
void diag_init(const char* flavour, bool debug);
/// Print an error line.
void diag_error(const Error&);
/// Print a printf-style line only with --debug.
[[gnu::format(printf, 1, 2)]] void diag_debug(const char* fmt, ...);
/// Print a printf-style warning line (non-fatal problems end in ", ignoring").
[[gnu::format(printf, 1, 2)]] void diag_warn(const char* fmt, ...);

/// Exit status of a stage1 for its own failures (same as capsule's).
inline constexpr int exit_stage1_error = 254;

/// An entrypoint's exit status: the value, or exit_stage1_error after printing the error.
inline int exit_status(const Result<int>& r)
{
    if (!r) {
        diag_error(r.error());
        return exit_stage1_error;
    }
    return *r;
}

} // namespace capsule::stage1
