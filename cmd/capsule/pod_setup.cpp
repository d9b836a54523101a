// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/pod_setup.h"

#include "lib/fs.h"
#include "lib/log.h"

#include <cstdio>
#include <unistd.h>

namespace capsule::cmd {

CLI::App* add_pod_subcommand(CommandContext& ctx, const std::string& name, const std::string& description)
{
    auto* sub = add_subcommand(ctx, name, description);
    // Everything from the first image on (and unknown flags before it) is left for
    // parse_run_args; global flags before the image are still CLI11's.
    sub->prefix_command();
    sub->fallthrough(false); // else CLI11 hands the image to the parent, which rejects it
    sub->footer("Usage: capsule " + name + " [POD FLAGS] IMAGE [APP FLAGS] [-- ARGS...] [--- IMAGE ...]\n"
        + run_args_help()
        + "IMAGE: an ACI file, an https:// URL, docker://[REGISTRY/]NAME[:TAG|@DIGEST], oci:DIR[:TAG],\n"
          "oci-archive:FILE[:TAG], docker-archive:FILE, or a stored image ID (unique prefix) or name[:version]\n"
          "(see capsule fetch --help). For OCI images, --exec replaces the Entrypoint and -- ARGS the Cmd.\n"
          "Example: capsule "
        + name + " --volume=data,kind=host,source=/srv/data ./app.aci --mount=volume=data,target=/data -- -v");
    return sub;
}

Status apply_globals(GlobalOptions& g, const std::vector<std::pair<std::string, std::string>>& flags)
{
    for (auto& [name, value] : flags) {
        if (name == "dir")
            g.dir = value;
        else if (name == "local-config")
            g.local_config = value;
        else if (name == "system-config")
            g.system_config = value;
        else if (name == "user-config")
            g.user_config = value;
        else if (name == "trust-keys-from-https")
            g.trust_keys_from_https = value == "true";
        else if (name == "debug")
            g.debug = value == "true";
        else if (name == "quiet")
            g.quiet = value == "true";
    }
    if (g.debug)
        setup_logging(Verbosity::Debug);
    return {};
}

void print_error(const Error& e)
{
    std::fprintf(stderr, "capsule: %s\n", e.message().c_str());
}

int for_each_pod(const GlobalOptions& g, const std::vector<std::string>& uuids,
    const std::function<Result<std::string>(const std::string&)>& act)
{
    int rc = 0;
    for (auto& u : uuids) {
        auto r = act(u);
        if (!r) {
            print_error(r.error());
            rc = exit_capsule_error;
        } else if (!g.quiet) {
            std::printf("%s\n", r->c_str());
        }
    }
    return rc;
}

Result<std::optional<stage0::LockedPod>> prepare_from_args(const GlobalOptions& g, CLI::App& sub,
    const std::vector<std::string>& args, stage0::RunOptions* run_options, std::optional<stage0::DetachOptions>* detach)
{
    auto parsed = TRY(parse_run_args(args));
    if (parsed.help) {
        std::fputs(sub.help().c_str(), stdout);
        return std::optional<stage0::LockedPod> {};
    }
    auto& spec = parsed.spec;
    GlobalOptions local = g;
    TRY(apply_globals(local, parsed.globals));
    // The stage1 and the lower directories need absolute paths.
    local.dir = path_absolute(local.dir);
    if ((spec.detach || spec.restart) && !detach)
        return Error::msg(std::string(spec.detach ? "--detach" : "--restart") + " is a flag of capsule run");
    if (spec.restart && !spec.detach)
        return Error::msg("--restart needs --detach (a pod in the foreground is restarted by whoever runs it)");
    if (spec.detach) {
        stage0::DetachOptions d;
        d.restart = spec.restart.value_or("no");
        d.unit_properties = spec.unit_properties;
        d.dir = local.dir;
        d.debug = local.debug;
        if (spec.interactive)
            return Error::msg("--detach and --interactive exclude each other");
        // Before anything is fetched or prepared: a refused --detach leaves nothing behind.
        TRY(stage0::check_detach(d));
        *detach = std::move(d);
    }
    stage0::PrepareContext ctx { local.dir, local.system_config, local.insecure, local.local_config,
        local.trust_keys_from_https };
    ctx.progress = !local.quiet && ::isatty(STDERR_FILENO);
    if (!local.quiet)
        ctx.on_notice = [](const std::string& notice) { std::fprintf(stderr, "capsule: %s\n", notice.c_str()); };
    auto pod = TRY(stage0::prepare_pod(ctx, spec));
    if (spec.uuid_file_save) {
        if (auto r = write_file(*spec.uuid_file_save, pod.uuid() + "\n"); !r) {
            (void)pod.destroy();
            return r.release_error().wrap("--uuid-file-save");
        }
    }
    if (run_options) {
        run_options->interactive = spec.interactive;
        run_options->inherit_env = spec.inherit_env;
        run_options->hostname = spec.hostname.value_or("");
        run_options->debug = local.debug;
        auto saved = stage0::read_run_options(pod.path());
        run_options->limits = saved.limits;
        run_options->unit_properties = saved.unit_properties;
    }
    return std::optional<stage0::LockedPod>(std::move(pod));
}

} // namespace capsule::cmd
