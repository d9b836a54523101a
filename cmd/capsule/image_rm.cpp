// SPDX-License-Identifier: Apache-2.0
// capsule image rm ID|NAME... and capsule image gc [--grace-period=24h].
#include "cmd/capsule/image_common.h"
#include "lib/units.h"
#include "stage0/pod_info.h"

#include <cstdio>
#include <spdlog/spdlog.h>

namespace capsule::cmd {

store::InUseFn images_in_use_by_pods(const std::string& dir)
{
    // Called by the store under its exclusive lock, so no pod can start using an image
    // between the check and the removal.
    return [dir]() { return stage0::images_in_use(dir); };
}

namespace {

struct RmOptions {
    std::vector<std::string> images;
};

struct GcOptions {
    std::string grace_period { "24h" };
};

Result<int> rm(const GlobalOptions& g, const RmOptions& o)
{
    auto store = TRY(store::Store::open(g.dir));
    auto in_use = images_in_use_by_pods(g.dir);
    std::optional<Error> failed;
    for (auto& ref : o.images) {
        auto removed = store->remove(ref, in_use);
        if (!removed) {
            // Keep going: remove what can be removed, report each failure, exit 254.
            if (failed)
                std::fprintf(stderr, "capsule: %s\n", failed->message().c_str());
            failed = removed.release_error().wrap("image rm");
            continue;
        }
        spdlog::info("removed {} ({})", removed->id, removed->name);
    }
    if (failed)
        return *failed;
    return 0;
}

Result<int> gc(const GlobalOptions& g, const GcOptions& o)
{
    auto grace = TRY_CTX(parse_duration(o.grace_period), "image gc: --grace-period");
    auto store = TRY(store::Store::open(g.dir));
    store::GcOptions opts;
    opts.grace_period = std::chrono::duration_cast<std::chrono::seconds>(grace);
    opts.in_use = images_in_use_by_pods(g.dir);
    auto report = TRY_CTX(store->gc(opts), "image gc");
    for (auto& i : report.removed)
        spdlog::info("removed {} ({})", i.id, i.name);
    for (auto& id : report.skipped_in_use)
        spdlog::debug("kept {}: in use by a pod", id);
    spdlog::debug("image gc: {} tmp leftovers, {} orphaned blobs, {} orphaned trees removed", report.tmp_entries,
        report.orphaned_blobs, report.orphaned_trees);
    return 0;
}

void setup(CommandContext& ctx)
{
    auto* image = image_command(ctx);

    auto ro = std::make_shared<RmOptions>();
    auto* rm_cmd = add_subcommand(*image, "rm", "Remove images from the store");
    rm_cmd->footer("IMAGE is an image ID (or unique prefix) or a name[:version]. Images that pods use are kept.");
    rm_cmd->add_option("IMAGE", ro->images, "Images to remove")->required();
    rm_cmd->callback([&g = ctx.globals, set = ctx.set_action, ro] { set([&g, ro] { return rm(g, *ro); }); });

    auto go = std::make_shared<GcOptions>();
    auto* gc_cmd = add_subcommand(*image, "gc", "Remove unused images, interrupted imports and orphaned data");
    gc_cmd->add_option("--grace-period", go->grace_period, "Remove images not used for this long (e.g. 24h, 0s)")
        ->capture_default_str();
    gc_cmd->callback([&g = ctx.globals, set = ctx.set_action, go] { set([&g, go] { return gc(g, *go); }); });
}

const CommandRegistration registration("image", 31, setup);

} // namespace

} // namespace capsule::cmd
