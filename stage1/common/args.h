// SPDX-License-Identifier: Apache-2.0
#pragma once

// The entrypoint command lines of stage1 interface version 1:
//   run   [--debug] [--interactive] [--inherit-env] [--hostname=NAME] [--net=host] UUID
//   enter [--debug] [--app=NAME] UUID [--] [CMD ARGS...]
//   stop  [--debug] [--force] UUID
//   gc    [--debug] UUID
// Unknown flags are errors, so a stage0 and stage1 that disagree fail loudly.

#include "lib/result.h"

#include <string>
#include <vector>

namespace capsule::stage1 {

enum class Entrypoint { Run, Enter, Stop, Gc };

struct Stage1Args {
    Entrypoint entry { Entrypoint::Run };
    bool debug { false };
    bool interactive { false };
    bool inherit_env { false };
    bool force { false };
    std::string hostname;
    std::string net;
    std::string app;
    std::string uuid;
    std::vector<std::string> command; ///< enter: the command to run
};

/// Which entrypoint argv[0] (or, for the multi-call binary, argv[1]) names; the index of the
/// first argument after it.
Result<std::pair<Entrypoint, int>> pick_entrypoint(const std::vector<std::string>& argv);

/// Parse the arguments after the entrypoint name.
Result<Stage1Args> parse_stage1_args(Entrypoint, const std::vector<std::string>& args);

/// `enter`'s command (`/bin/sh` when none was given).
std::vector<std::string> enter_command(const Stage1Args&);

/// A flavour's implementation of each entrypoint.
struct EntrypointTable {
    int (*run)(const Stage1Args&);
    int (*enter)(const Stage1Args&);
    int (*stop)(const Stage1Args&);
    int (*gc)(const Stage1Args&);
};

/// The main() of a stage1 multi-call binary: pick the entrypoint, parse its arguments (errors
/// are one line prefixed with the flavour), set up diagnostics and call it.
int stage1_main(const char* flavour, const std::vector<std::string>& argv, const EntrypointTable&);

} // namespace capsule::stage1
