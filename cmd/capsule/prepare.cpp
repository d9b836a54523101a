// SPDX-License-Identifier: Apache-2.0
// `capsule prepare`: fetch the images and make a pod ready for run-prepared; print its UUID.
#include "cmd/capsule/pod_setup.h"

#include <cstdio>

namespace capsule::cmd {

namespace {

void setup(CommandContext& ctx)
{
    auto* sub = add_pod_subcommand(ctx, "prepare", "Prepare a pod for run-prepared and print its UUID");
    sub->callback([sub, &g = ctx.globals, set = ctx.set_action] {
        set([sub, &g]() -> Result<int> {
            auto pod = TRY(prepare_from_args(g, *sub, sub->remaining(), nullptr));
            if (pod)
                std::printf("%s\n", pod->uuid().c_str());
            return 0;
        });
    });
}

const CommandRegistration registration("prepare", 11, setup);

} // namespace

} // namespace capsule::cmd
