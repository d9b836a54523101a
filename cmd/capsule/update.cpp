// SPDX-License-Identifier: Apache-2.0
// `capsule update UUID --memory=SIZE --cpu=MILLICORES`: new limits for a running pod.
#include "cmd/capsule/app_args.h"
#include "cmd/capsule/command.h"
#include "stage0/host_systemd.h"

namespace capsule::cmd {

namespace {

struct UpdateOptions {
    std::string uuid;
    std::string memory;
    std::string cpu;
};

Result<int> update(const GlobalOptions& g, const UpdateOptions& o)
{
    stage0::CgroupLimits limits;
    if (!o.memory.empty())
        limits.memory_bytes = TRY(parse_memory_flag(o.memory));
    if (!o.cpu.empty())
        limits.cpu_millicores = TRY(parse_cpu_flag(o.cpu));
    if (!limits.memory_bytes && !limits.cpu_millicores)
        return Error::msg("update: nothing to change (give --memory or --cpu)");
    TRY(stage0::update_pod_limits(g.dir, o.uuid, limits));
    return 0;
}

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<UpdateOptions>();
    auto* sub = add_subcommand(ctx, "update", "Change a running pod's memory and CPU limits");
    sub->add_option("UUID", opts->uuid, "Pod UUID (a unique prefix is enough)")->required();
    sub->add_option("--memory", opts->memory, "Memory limit (64M, 1Gi…)")->type_name("SIZE");
    sub->add_option("--cpu", opts->cpu, "CPU limit in millicores (500m, 2…)")->type_name("MILLICORES");
    sub->callback([opts, &g = ctx.globals, set = ctx.set_action] {
        set([opts, &g]() -> Result<int> { return update(g, *opts); });
    });
}

const CommandRegistration registration("update", 43, setup);

} // namespace

} // namespace capsule::cmd
