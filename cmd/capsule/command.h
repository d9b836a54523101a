// SPDX-License-Identifier: Apache-2.0
#pragma once

// Commands register themselves: each cmd/capsule/<verb>.cpp defines a static
// `CommandRegistration` whose setup function adds a CLI11 subcommand, binds the
// flags into a per-command Options struct, and sets the action to run. main()
// parses, runs the chosen action and prints its error once.

#include "lib/insecure.h"
#include "lib/result.h"

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

namespace capsule::cmd {

/// Exit status for capsule's own failures (never an app's status).
inline constexpr int exit_capsule_error = 254;

struct GlobalOptions {
    std::string dir { "/var/lib/capsule" };
    std::string local_config { "/etc/capsule" };
    std::string system_config { "/usr/lib/capsule" };
    std::string user_config;
    std::string insecure_options_text { "none" };
    InsecureOptions insecure;
    bool trust_keys_from_https { false };
    bool debug { false };
    bool quiet { false };
};

/// What an action returns: the process exit status, or an error printed as one line (exit 254).
using Action = std::function<Result<int>()>;

/// Handed to each command's setup: add the subcommand to `parent`, and call
/// `set_action` from its callback.
struct CommandContext {
    CLI::App& parent;
    const GlobalOptions& globals;
    std::function<void(Action)> set_action;
};

using SetupFn = void (*)(CommandContext&);

struct CommandRegistration {
    /// `command` is the top-level word the setup adds (several files may add to one);
    /// `order` sorts commands in --help (lower first).
    CommandRegistration(std::string_view command, int order, SetupFn);
};

/// Helper for setup functions: new subcommand whose global flags may also follow it.
CLI::App* add_subcommand(CommandContext&, const std::string& name, const std::string& description);
CLI::App* add_subcommand(CLI::App& parent, const std::string& name, const std::string& description);

/// Prints a table with aligned columns (two spaces apart); `legend` first unless empty.
void print_table(const std::vector<std::string>& legend, const std::vector<std::vector<std::string>>& rows);

} // namespace capsule::cmd
