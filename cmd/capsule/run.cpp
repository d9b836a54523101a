// SPDX-License-Identifier: Apache-2.0
// `capsule run`: prepare a pod and run it in the foreground; exit with the app's status.
#include "cmd/capsule/pod_setup.h"
#include "stage0/host_systemd.h"
#include "stage0/stage1_exec.h"

#include <cstdio>

namespace capsule::cmd {

namespace {

void setup(CommandContext& ctx)
{
    auto* sub = add_pod_subcommand(ctx, "run", "Prepare and run a pod in the foreground; exit with its app's status");
    sub->callback([sub, &g = ctx.globals, set = ctx.set_action] {
        set([sub, &g]() -> Result<int> {
            stage0::RunOptions options;
            std::optional<stage0::DetachOptions> detach;
            auto pod = TRY(prepare_from_args(g, *sub, sub->remaining(), &options, &detach));
            if (!pod)
                return 0;
            if (detach) {
                // The service locks the pod when it starts it.
                auto uuid = pod->uuid();
                pod.reset();
                TRY(stage0::start_detached(uuid, *detach));
                std::printf("%s\n", uuid.c_str());
                return 0;
            }
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
