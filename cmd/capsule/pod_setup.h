// SPDX-License-Identifier: Apache-2.0
#pragma once

// What `run` and `prepare` share: turning their collected arguments into a prepared pod.

#include "cmd/capsule/app_args.h"
#include "cmd/capsule/command.h"
#include "stage0/host_systemd.h"
#include "stage0/pod_state.h"
#include "stage0/prepare.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace capsule::cmd {

/// Add `run`/`prepare`: they take everything after the command and parse it with
/// parse_run_args (CLI11 keeps the global flags and --help).
CLI::App* add_pod_subcommand(CommandContext&, const std::string& name, const std::string& description);

/// Parse, prepare and save the UUID (--uuid-file-save). `nullopt` when --help was asked for
/// (and printed). `detach` (run only; null for prepare, which refuses --detach) is set when
/// --detach was given, after checking systemd can take the pod.
Result<std::optional<stage0::LockedPod>> prepare_from_args(const GlobalOptions&, CLI::App& sub,
    const std::vector<std::string>& args, stage0::RunOptions* run_options,
    std::optional<stage0::DetachOptions>* detach = nullptr);

/// Apply global flags that were given after the command (see RunArgs::globals).
Status apply_globals(GlobalOptions&, const std::vector<std::pair<std::string, std::string>>&);

/// "capsule: <message>" on stderr, for commands that report several failures.
void print_error(const Error&);

/// For commands acting on several pods (stop, rm): run `act` on each UUID, print what it
/// returns (unless --quiet) or its error, and go on; 254 if any failed, else 0.
int for_each_pod(const GlobalOptions&, const std::vector<std::string>& uuids,
    const std::function<Result<std::string>(const std::string&)>& act);

} // namespace capsule::cmd
