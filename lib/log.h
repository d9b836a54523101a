// SPDX-License-Identifier: Apache-2.0
#pragma once

// Logging for stage0 and its libraries (spdlog). Library code logs at debug level only;
// the command line prints errors once, at the edge. Stage1 executables are static and
// do not use this (see stage1/common/diag.h).

#include <spdlog/spdlog.h>

namespace capsule {

enum class Verbosity { Quiet, Normal, Debug };

/// Configure the process-wide logger: stderr, "capsule: " prefix, level from verbosity.
void setup_logging(Verbosity);

} // namespace capsule
