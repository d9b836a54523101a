// SPDX-License-Identifier: Apache-2.0
#pragma once

// What `run` and `prepare` share: turning their collected arguments into a prepared pod.

#include "cmd/capsule/app_args.h"
#include "cmd/capsule/command.h"
#include "stage0/pod_state.h"
#include "stage0/prepare.h"

#include <optional>
#include <string>
#include <vector>

namespace capsule::cmd {

/// Add `run`/`prepare`: they take everything after the command and parse it with
/// parse_run_args (CLI11 keeps the global flags and --help).
CLI::App* add_pod_subcommand(CommandContext&, const std::string& name, const std::string& description);

/// Parse, prepare and save the UUID (--uuid-file-save). `nullopt` when --help was asked for
/// (and printed).
Result<std::optional<stage0::LockedPod>> prepare_from_args(
    const GlobalOptions&, CLI::App& sub, const std::vector<std::string>& args, stage0::RunOptions* run_options);

/// Apply global flags that were given after the command (see RunArgs::globals).
Status apply_globals(GlobalOptions&, const std::vector<std::pair<std::string, std::string>>&);

/// "capsule: <message>" on stderr, for commands that report several failures.
void print_error(const Error&);

} // namespace capsule::cmd
