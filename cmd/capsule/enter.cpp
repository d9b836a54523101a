// SPDX-License-Identifier: Apache-2.0
// `capsule enter [--app=NAME] UUID [CMD ARGS...]`: run a command inside a running pod.
#include "cmd/capsule/command.h"
#include "stage0/pod_state.h"
#include "stage0/stage1_exec.h"

namespace capsule::cmd {

namespace {

Result<int> enter(const GlobalOptions& g, const std::string& app, std::vector<std::string> rest)
{
    bool debug = g.debug;
    while (!rest.empty() && rest.front().starts_with("-")) {
        if (rest.front() != "--debug")
            return Error::msg("enter: unknown flag '" + rest.front() + "' before the pod UUID");
        rest.erase(rest.begin());
        debug = true;
    }
    if (rest.empty())
        return Error::msg("enter: no pod UUID given");
    auto ref = TRY(stage0::find_pod(g.dir, rest.front()));
    auto state = stage0::probe_state(ref);
    if (state != stage0::PodState::Running)
        return Error(
            "pod " + ref.uuid + " is not running (it is " + std::string(stage0::state_name(state)) + ")", EINVAL);
    auto stage1 = TRY_CTX(stage0::read_pod_stage1(ref.path), "pod " + ref.uuid);
    if (stage1.entrypoints.enter.empty())
        return Error::msg("pod " + ref.uuid + ": its stage1 does not support enter");
    std::vector<std::string> args;
    if (debug)
        args.push_back("--debug");
    if (!app.empty())
        args.push_back("--app=" + app);
    args.push_back(ref.uuid);
    args.push_back("--");
    args.insert(args.end(), rest.begin() + 1, rest.end());
    auto failed = stage0::exec_entrypoint(ref.path, stage1.host_path(stage1.entrypoints.enter), args);
    return failed.release_error();
}

void setup(CommandContext& ctx)
{
    auto app = std::make_shared<std::string>();
    auto* sub = add_subcommand(ctx, "enter", "Run a command inside a running pod (default /bin/sh)");
    sub->footer("Usage: capsule enter [--app=NAME] UUID [CMD ARGS...]");
    sub->add_option("--app", *app, "The app to enter (default: the pod's first)");
    // Everything from the UUID on is ours: the command's own flags must not reach CLI11.
    sub->prefix_command();
    sub->fallthrough(false);
    sub->callback([app, sub, &g = ctx.globals, set = ctx.set_action] {
        set([app, sub, &g]() -> Result<int> { return enter(g, *app, sub->remaining()); });
    });
}

const CommandRegistration registration("enter", 42, setup);

} // namespace

} // namespace capsule::cmd
