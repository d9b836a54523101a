// SPDX-License-Identifier: Apache-2.0
// `capsule stop [--force] UUID...`: stop running pods through their stage1.
#include "cmd/capsule/command.h"
#include "cmd/capsule/pod_setup.h"
#include "stage0/gc.h"

#include <cstdio>

namespace capsule::cmd {

namespace {

struct StopOptions {
    std::vector<std::string> uuids;
    bool force { false };
};

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<StopOptions>();
    auto* sub = add_subcommand(ctx, "stop", "Stop running pods (SIGTERM to the app; --force: SIGKILL)");
    sub->add_option("UUID", opts->uuids, "Pod UUIDs (unique prefixes are enough)")->required();
    sub->add_flag("--force", opts->force, "Kill the app (SIGKILL) instead of asking it to stop");
    sub->callback([opts, &g = ctx.globals, set = ctx.set_action] {
        set([opts, &g]() -> Result<int> {
            auto mode = opts->force ? stage0::StopMode::Force : stage0::StopMode::Graceful;
            return for_each_pod(
                g, opts->uuids, [&g, mode](const std::string& u) { return stage0::stop_pod(g.dir, u, mode); });
        });
    });
}

const CommandRegistration registration("stop", 43, setup);

} // namespace

} // namespace capsule::cmd
