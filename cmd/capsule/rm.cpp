// SPDX-License-Identifier: Apache-2.0
// `capsule rm UUID...`: remove pods that are not running.
#include "cmd/capsule/command.h"
#include "cmd/capsule/pod_setup.h"
#include "stage0/gc.h"

#include <cstdio>

namespace capsule::cmd {

namespace {

void setup(CommandContext& ctx)
{
    auto uuids = std::make_shared<std::vector<std::string>>();
    auto* sub = add_subcommand(ctx, "rm", "Remove pods (exited or prepared; never a running one)");
    sub->add_option("UUID", *uuids, "Pod UUIDs (unique prefixes are enough)")->required();
    sub->callback([uuids, &g = ctx.globals, set = ctx.set_action] {
        set([uuids, &g]() -> Result<int> {
            return for_each_pod(g, *uuids, [&g](const std::string& u) { return stage0::remove_pod(g.dir, u); });
        });
    });
}

const CommandRegistration registration("rm", 44, setup);

} // namespace

} // namespace capsule::cmd
