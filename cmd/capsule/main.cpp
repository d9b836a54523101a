// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/command.h"
#include "lib/log.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <vector>

namespace capsule::cmd {

namespace {

struct Registered {
    std::string_view command;
    int order;
    SetupFn setup;
};

struct Registry {
    std::vector<Registered> commands;
    static Registry& get()
    {
        static Registry r;
        return r;
    }
};

const char* env_or(const char* name, const char* fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

} // namespace

CommandRegistration::CommandRegistration(std::string_view command, int order, SetupFn fn)
{
    Registry::get().commands.push_back({ command, order, fn });
}

CLI::App* add_subcommand(CLI::App& parent, const std::string& name, const std::string& description)
{
    auto* sub = parent.add_subcommand(name, description);
    sub->fallthrough();
    return sub;
}

CLI::App* add_subcommand(CommandContext& ctx, const std::string& name, const std::string& description)
{
    return add_subcommand(ctx.parent, name, description);
}

void print_table(const std::vector<std::string>& legend, const std::vector<std::vector<std::string>>& rows)
{
    std::vector<size_t> width(legend.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        if (width.size() < row.size())
            width.resize(row.size(), 0);
        for (size_t i = 0; i < row.size(); i++)
            width[i] = std::max(width[i], row[i].size());
    };
    measure(legend);
    for (auto& r : rows)
        measure(r);
    auto print = [&](const std::vector<std::string>& row) {
        std::string line;
        for (size_t i = 0; i < row.size(); i++) {
            line += row[i];
            if (i + 1 < row.size())
                line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        std::puts(line.c_str());
    };
    if (!legend.empty())
        print(legend);
    for (auto& r : rows)
        print(r);
}

// The first word that is not a global flag (or a global flag's value): the command.
static std::string_view command_word(int argc, char** argv)
{
    for (int i = 1; i < argc; i++) {
        std::string_view a = argv[i];
        if (a == "--")
            return {};
        if (a.starts_with("-")) {
            bool takes_value = a == "--dir" || a == "--local-config" || a == "--system-config" || a == "--user-config"
                || a == "--insecure-options";
            if (takes_value)
                i++;
            continue;
        }
        return a;
    }
    return {};
}

static int run_main(int argc, char** argv)
{
    CLI::App app { "capsule: a daemonless pod runner (appc, OCI and Docker images; fly, systemd and kvm stage1s)",
        "capsule" };
    app.require_subcommand(1);
    app.footer("Run 'capsule COMMAND --help' for a command's flags; see capsule(1).");

    GlobalOptions g;
    g.dir = env_or("CAPSULE_DIR", g.dir.c_str());
    g.local_config = env_or("CAPSULE_LOCAL_CONFIG", g.local_config.c_str());
    g.system_config = env_or("CAPSULE_SYSTEM_CONFIG", g.system_config.c_str());
    g.user_config = env_or("CAPSULE_USER_CONFIG", "");
    auto* globals = app.add_option_group("Global flags");
    globals->add_option("--dir", g.dir, "Pod and store directory (env CAPSULE_DIR)")->capture_default_str();
    globals->add_option("--local-config", g.local_config, "Local configuration directory")->capture_default_str();
    globals->add_option("--system-config", g.system_config, "System configuration directory")->capture_default_str();
    globals->add_option("--user-config", g.user_config, "User configuration directory");
    globals->add_option("--insecure-options", g.insecure_options_text,
        "Turn protections off: none,http,image,tls,pubkey,capabilities,paths,seccomp,ondisk,all-fetch,all-run,all");
    globals->add_flag(
        "--trust-keys-from-https", g.trust_keys_from_https, "Trust keys fetched over HTTPS (appc discovery)");
    globals->add_flag("--debug", g.debug, "Print debug output");
    globals->add_flag("--quiet,-q", g.quiet, "Print only errors");

    Action action;
    auto& reg = Registry::get().commands;
    std::stable_sort(reg.begin(), reg.end(), [](auto& a, auto& b) { return a.order < b.order; });
    // Building every command's options costs more than some commands' work (`run` is on
    // the benchmark's hot path), so only the named command is set up when there is one.
    std::string_view word = command_word(argc, argv);
    bool known = std::any_of(reg.begin(), reg.end(), [&](auto& r) { return r.command == word; });
    if (!word.empty() && !known) {
        std::fprintf(stderr, "capsule: unknown command '%.*s' (see 'capsule --help')\n", static_cast<int>(word.size()),
            word.data());
        return exit_capsule_error;
    }
    CommandContext ctx { app, g, [&action](Action a) { action = std::move(a); } };
    for (auto& r : reg)
        if (!known || r.command == word)
            r.setup(ctx);
    // After the subcommands, so that only the top level offers it.
    app.set_help_all_flag("--help-all", "Show help for every command");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        std::fprintf(stderr, "capsule: %s (see 'capsule --help')\n", e.what());
        return exit_capsule_error;
    }

    setup_logging(g.debug ? Verbosity::Debug : g.quiet ? Verbosity::Quiet : Verbosity::Normal);
    auto insecure = InsecureOptions::parse(g.insecure_options_text);
    if (!insecure) {
        std::fprintf(stderr, "capsule: %s\n", insecure.error().message().c_str());
        return exit_capsule_error;
    }
    g.insecure = *insecure;
    if (!action) {
        std::fprintf(stderr, "capsule: no command given; run 'capsule --help'\n");
        return exit_capsule_error;
    }
    Result<int> r = Error::msg("internal error");
    try {
        r = action();
    } catch (const std::exception& e) {
        r = Error::msg(std::string("unexpected error: ") + e.what());
    }
    std::fflush(stdout);
    if (!r) {
        std::fprintf(stderr, "capsule: %s\n", r.error().message().c_str());
        return exit_capsule_error;
    }
    return *r;
}

} // namespace capsule::cmd

int main(int argc, char** argv)
{
    return capsule::cmd::run_main(argc, argv);
}
