// SPDX-License-Identifier: Apache-2.0
// `capsule cat-manifest UUID`: the pod's appc PodManifest.
#include "cmd/capsule/command.h"
#include "stage0/pod_info.h"

#include <cstdio>

namespace capsule::cmd {

namespace {

void setup(CommandContext& ctx)
{
    auto uuid = std::make_shared<std::string>();
    auto* sub = add_subcommand(ctx, "cat-manifest", "Print a pod's manifest (appc PodManifest JSON)");
    sub->add_option("UUID", *uuid, "Pod UUID (a unique prefix is enough)")->required();
    sub->callback([uuid, &g = ctx.globals, set = ctx.set_action] {
        set([uuid, &g]() -> Result<int> {
            auto ref = TRY(stage0::find_pod(g.dir, *uuid));
            auto text = stage0::read_pod_manifest_text(ref);
            if (!text && text.error().code() == ENOENT)
                return Error("pod " + ref.uuid + " has no manifest yet (it is "
                        + std::string(stage0::state_name(stage0::probe_state(ref))) + ")",
                    ENOENT);
            std::fputs(TRY(std::move(text)).c_str(), stdout);
            return 0;
        });
    });
}

const CommandRegistration registration("cat-manifest", 46, setup);

} // namespace

} // namespace capsule::cmd
