// SPDX-License-Identifier: Apache-2.0
#pragma once

// The positional command line of `run` and `prepare`, as rkt had it:
//
//   [POD FLAGS] IMAGE [APP FLAGS] [-- ARGS...] [--- IMAGE [APP FLAGS] [-- ARGS...]]...
//
// Pod flags come before the first image; app flags follow the image they apply to; `--`
// ends an app's flags (the rest, up to `---`, is appended to its exec); `---` starts the next
// app. CLI11 cannot express per-image flags, so the subcommands collect everything and this
// parser (unit-tested) does the work.

#include "lib/result.h"
#include "stage0/pod_spec.h"

#include <string>
#include <vector>

namespace capsule::cmd {

struct RunArgs {
    stage0::PodSpec spec;
    bool help { false }; ///< --help/-h seen among the flags
    /// Global flags given after the command, before the first image (`--debug`, `--dir=…`):
    /// the command applies them over the global options.
    std::vector<std::pair<std::string, std::string>> globals;
};

/// Parse the arguments after `run`/`prepare`. Errors are one line naming the flag.
Result<RunArgs> parse_run_args(const std::vector<std::string>& args);

/// The flag reference for `--help` (pod flags, then app flags).
std::string run_args_help();

/// never | new | update (the value of --pull-policy, for fetch, run and prepare).
Result<fetch::PullPolicy> parse_pull_policy(std::string_view);

/// --memory=SIZE (a quantity: 64M, 1Gi) in bytes; --cpu=MILLICORES (500m, 2) in millicores.
Result<uint64_t> parse_memory_flag(std::string_view);
Result<uint64_t> parse_cpu_flag(std::string_view);

/// --cap-retain/--cap-remove=CAP[,CAP...] (`flag` without dashes, for messages): canonical
/// names (`net_admin` → CAP_NET_ADMIN), duplicates dropped; an unknown name is an error.
Result<std::vector<std::string>> parse_capability_list(std::string_view flag, std::string_view);

/// --seccomp=mode=retain|remove[,errno=ENAME],SYSCALL[,SYSCALL...], as rkt wrote it; SYSCALL
/// may be a systemd group (@mount). The errno name is checked and upper-cased.
Result<stage0::SeccompSpec> parse_seccomp_flag(std::string_view);

/// `volume=NAME,target=PATH` (the value of --mount).
Result<appc::PodMount> parse_mount_flag(std::string_view);

} // namespace capsule::cmd
