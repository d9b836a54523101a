// SPDX-License-Identifier: Apache-2.0
// `capsule gc`: collect exited pods (after a grace period), expired prepared pods and the
// remains of aborted prepares.
#include "stage0/gc.h"
#include "cmd/capsule/command.h"
#include "lib/fs.h"
#include "lib/units.h"
#include "store/store.h"

#include <cstdio>

namespace capsule::cmd {

namespace {

struct GcCmdOptions {
    std::string grace_period { "30m" };
    std::string expire_prepared { "24h" };
    bool mark_only { false };
};

Result<int> run_gc(const GlobalOptions& g, const GcCmdOptions& o)
{
    stage0::GcOptions opts;
    opts.grace_period = TRY_CTX(parse_duration(o.grace_period), "--grace-period");
    opts.expire_prepared = TRY_CTX(parse_duration(o.expire_prepared), "--expire-prepared");
    opts.mark_only = o.mark_only;
    auto report = TRY(stage0::gc_pods(g.dir, opts));
    for (auto& w : report.warnings)
        std::fprintf(stderr, "capsule: warning: %s\n", w.c_str());
    if (!g.quiet) {
        for (auto& u : report.marked)
            std::printf("Marked pod %s as garbage\n", u.c_str());
        for (auto& u : report.removed)
            std::printf("Removed pod %s\n", u.c_str());
    }
    // Interrupted imports are garbage too; `image gc` does the rest of the store.
    if (!o.mark_only && is_directory(g.dir + "/store")) {
        auto store = TRY(store::Store::open(g.dir));
        auto n = TRY(store->remove_leftovers());
        if (n > 0 && !g.quiet)
            std::printf("Removed %llu interrupted store writes\n", static_cast<unsigned long long>(n));
    }
    return 0;
}

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<GcCmdOptions>();
    auto* sub = add_subcommand(ctx, "gc", "Garbage-collect exited pods and leftovers of failed prepares");
    sub->add_option("--grace-period", opts->grace_period, "Keep exited pods this long after marking them")
        ->capture_default_str();
    sub->add_option("--expire-prepared", opts->expire_prepared, "Remove prepared pods older than this")
        ->capture_default_str();
    sub->add_flag("--mark-only", opts->mark_only, "Only mark exited pods; delete nothing");
    sub->callback([opts, &g = ctx.globals, set = ctx.set_action] {
        set([opts, &g]() -> Result<int> { return run_gc(g, *opts); });
    });
}

const CommandRegistration registration("gc", 45, setup);

} // namespace

} // namespace capsule::cmd
