// SPDX-License-Identifier: Apache-2.0
// `capsule run`: prepare a pod and run it in the foreground; exit with the app's status.
#include "cmd/capsule/pod_setup.h"
#include "stage0/stage1_exec.h"

namespace capsule::cmd {

namespace {

void setup(CommandContext& ctx)
{
    auto* sub = add_pod_subcommand(ctx, "run", "Prepare and run a pod in the foreground; exit with its app's status");
    sub->callback([sub, &g = ctx.globals, set = ctx.set_action] {
        set([sub, &g]() -> Result<int> {
            stage0::RunOptions options;
            auto pod = TRY(prepare_from_args(g, *sub, sub->remaining(), &options));
            if (!pod)
                return 0;
            // Replaces this process with the stage1 (which exits with the app's status).
            auto failed = stage0::exec_run(*pod, options);
            (void)pod->destroy();
            return failed.release_error();
        });
    });
}

const CommandRegistration registration("run", 10, setup);

} // namespace

} // namespace capsule::cmd
