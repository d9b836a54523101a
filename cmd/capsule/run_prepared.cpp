// SPDX-License-Identifier: Apache-2.0
// `capsule run-prepared UUID`: run a prepared pod in the foreground.
#include "cmd/capsule/command.h"
#include "stage0/stage1_exec.h"

namespace capsule::cmd {

namespace {

struct RunPreparedOptions {
    std::string uuid;
    bool interactive { false };
    bool allow_exited { false };
};

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<RunPreparedOptions>();
    auto* sub = add_subcommand(ctx, "run-prepared", "Run a prepared pod in the foreground; exit with its app's status");
    sub->add_option("UUID", opts->uuid, "Pod UUID (a unique prefix is enough)")->required();
    sub->add_flag("--interactive", opts->interactive, "Pass stdin to the app (also when given at prepare)");
    sub->add_flag("--allow-exited", opts->allow_exited,
        "Also run a pod that ran before and exited (as a detached pod's restarting unit does)");
    sub->callback([opts, &g = ctx.globals, set = ctx.set_action] {
        set([opts, &g]() -> Result<int> {
            auto pod = TRY(stage0::lock_for_run(g.dir, opts->uuid, opts->allow_exited));
            auto options = stage0::read_run_options(pod.path());
            options.interactive = options.interactive || opts->interactive;
            options.debug = g.debug;
            return stage0::exec_run(pod, options).release_error();
        });
    });
}

const CommandRegistration registration("run-prepared", 12, setup);

} // namespace

} // namespace capsule::cmd
