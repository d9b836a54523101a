// SPDX-License-Identifier: Apache-2.0
// `capsule stats UUID`: CPU, memory, IO and pids of a pod, from its cgroup.
#include "cmd/capsule/command.h"
#include "lib/units.h"
#include "stage0/cgroup.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace capsule::cmd {

namespace {

struct StatsOptions {
    std::string uuid;
    std::string format { "text" };
};

nlohmann::json or_null(const std::optional<uint64_t>& v)
{
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string size_or(const std::optional<uint64_t>& v, const char* missing)
{
    return v ? human_size(*v) : missing;
}

std::string count_or(const std::optional<uint64_t>& v, const char* missing)
{
    return v ? std::to_string(*v) : missing;
}

Result<int> show_stats(const GlobalOptions& g, const StatsOptions& o)
{
    auto cg = TRY(stage0::find_pod_cgroup(g.dir, o.uuid));
    auto s = stage0::read_cgroup_stats(cg);
    if (o.format == "json") {
        nlohmann::json j = {
            { "cgroup", cg.subcgroup },
            { "cpu", { { "usage_ns", or_null(s.cpu_usage_ns) } } },
            { "memory",
                { { "current", or_null(s.memory_current) }, { "peak", or_null(s.memory_peak) },
                    { "limit", or_null(s.memory_limit) } } },
            { "io", { { "read_bytes", or_null(s.io_read_bytes) }, { "write_bytes", or_null(s.io_write_bytes) } } },
            { "pids", { { "current", or_null(s.pids_current) }, { "limit", or_null(s.pids_limit) } } },
        };
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::printf("cgroup %s\n", cg.subcgroup.c_str());
    std::printf("cpu_usage_ns %s\n", count_or(s.cpu_usage_ns, "n/a").c_str());
    std::printf("memory_current %s\n", size_or(s.memory_current, "n/a").c_str());
    std::printf("memory_peak %s\n", size_or(s.memory_peak, "n/a").c_str());
    std::printf("memory_limit %s\n", size_or(s.memory_limit, "max").c_str());
    std::printf("io_read %s\n", size_or(s.io_read_bytes, "n/a").c_str());
    std::printf("io_write %s\n", size_or(s.io_write_bytes, "n/a").c_str());
    std::printf("pids_current %s\n", count_or(s.pids_current, "n/a").c_str());
    std::printf("pids_limit %s\n", count_or(s.pids_limit, "max").c_str());
    return 0;
}

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<StatsOptions>();
    auto* sub = add_subcommand(ctx, "stats", "Show a pod's CPU, memory, IO and pids use from its cgroup");
    sub->add_option("UUID", opts->uuid, "Pod UUID (a unique prefix is enough)")->required();
    sub->add_option("--format", opts->format, "text or json")->check(CLI::IsMember({ "text", "json" }));
    sub->callback([opts, &g = ctx.globals, set = ctx.set_action] {
        set([opts, &g]() -> Result<int> { return show_stats(g, *opts); });
    });
}

const CommandRegistration registration("stats", 42, setup);

} // namespace

} // namespace capsule::cmd
