// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/args.h"

#include "lib/fs.h"
#include "stage1/common/diag.h"

#include <optional>

namespace capsule::stage1 {

namespace {

Result<Entrypoint> entry_from(std::string_view name)
{
    if (name == "run")
        return Entrypoint::Run;
    if (name == "enter")
        return Entrypoint::Enter;
    if (name == "stop")
        return Entrypoint::Stop;
    if (name == "gc")
        return Entrypoint::Gc;
    return Error::msg("unknown entrypoint '" + std::string(name) + "' (expected run, enter, stop or gc)");
}

/// Applies one `--flag[=value]`; false if the entrypoint does not take it.
bool apply_flag(Stage1Args& a, std::string_view name, std::optional<std::string_view> value)
{
    auto e = a.entry;
    if (name == "debug" && !value)
        a.debug = true;
    else if (name == "interactive" && !value && e == Entrypoint::Run)
        a.interactive = true;
    else if (name == "inherit-env" && !value && e == Entrypoint::Run)
        a.inherit_env = true;
    else if (name == "force" && !value && e == Entrypoint::Stop)
        a.force = true;
    else if (name == "hostname" && value && e == Entrypoint::Run)
        a.hostname = *value;
    else if (name == "net" && value && e == Entrypoint::Run)
        a.net = *value;
    else if (name == "app" && value && e == Entrypoint::Enter)
        a.app = *value;
    else
        return false;
    return true;
}

} // namespace

Result<std::pair<Entrypoint, int>> pick_entrypoint(const std::vector<std::string>& argv)
{
    if (argv.empty())
        return Error::msg("no argv[0]");
    auto self = path_basename(argv[0]);
    if (auto e = entry_from(self))
        return std::make_pair(*e, 1);
    if (argv.size() < 2)
        return Error::msg("usage: " + self + " run|enter|stop|gc [FLAGS] UUID");
    auto e = TRY(entry_from(argv[1]));
    return std::make_pair(e, 2);
}

Result<Stage1Args> parse_stage1_args(Entrypoint entry, const std::vector<std::string>& args)
{
    Stage1Args a;
    a.entry = entry;
    size_t i = 0;
    for (; i < args.size(); i++) {
        std::string_view arg = args[i];
        if (arg == "--") {
            i++;
            break;
        }
        if (!arg.starts_with("--")) {
            if (!a.uuid.empty())
                break;
            a.uuid = arg;
            continue;
        }
        auto body = arg.substr(2);
        auto eq = body.find('=');
        std::optional<std::string_view> value;
        if (eq != std::string_view::npos)
            value = body.substr(eq + 1);
        if (!apply_flag(a, body.substr(0, eq), value))
            return Error::msg("unknown flag '" + std::string(arg) + "'");
    }
    for (; i < args.size(); i++)
        a.command.push_back(args[i]);
    if (a.uuid.empty())
        return Error::msg("no pod UUID given");
    if (!a.command.empty() && entry != Entrypoint::Enter)
        return Error::msg("unexpected argument '" + a.command.front() + "'");
    return a;
}

std::vector<std::string> enter_command(const Stage1Args& args)
{
    return args.command.empty() ? std::vector<std::string> { "/bin/sh" } : args.command;
}

int stage1_main(const char* flavour, const std::vector<std::string>& argv, const EntrypointTable& table)
{
    diag_init(flavour, false);
    auto picked = pick_entrypoint(argv);
    if (!picked) {
        diag_error(picked.error());
        return exit_stage1_error;
    }
    auto [entry, first] = *picked;
    auto args = parse_stage1_args(entry, std::vector<std::string>(argv.begin() + first, argv.end()));
    if (!args) {
        diag_error(args.error());
        return exit_stage1_error;
    }
    diag_init(flavour, args->debug);
    switch (entry) {
    case Entrypoint::Run:
        return table.run(*args);
    case Entrypoint::Enter:
        return table.enter(*args);
    case Entrypoint::Stop:
        return table.stop(*args);
    case Entrypoint::Gc:
        return table.gc(*args);
    }
    return exit_stage1_error;
}

} // namespace capsule::stage1
