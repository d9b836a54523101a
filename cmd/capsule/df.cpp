// SPDX-License-Identifier: Apache-2.0
// capsule df: disk use of images, rendered trees, OCI layer trees, temp data, pods and logs, apart.
#include "cmd/capsule/image_common.h"
#include "lib/fs.h"
#include "lib/units.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace capsule::cmd {

namespace {

struct Options {
    std::string format { "table" };
    bool no_legend { false };
};

Result<int> run(const GlobalOptions& g, const Options& o)
{
    if (o.format != "table" && o.format != "json")
        return Error::msg("df: --format=" + o.format + ": expected table or json");
    auto store = TRY(store::Store::open(g.dir));
    auto images = TRY(store->list());
    auto u = store->usage();
    struct Part {
        const char* key;
        const char* title;
        DiskUsage du;
        size_t count;
    };
    // The index is reported with the blobs: it describes them.
    DiskUsage blobs { u.blobs.bytes + u.index.bytes, u.blobs.files + u.index.files };
    std::vector<Part> parts = {
        { "images", "images (blobs)", blobs, images.size() },
        { "trees", "rendered trees", u.trees, images.size() },
        { "layers", "image layers", u.layers, u.layer_count },
        { "tmp", "temporary", u.tmp, 0 },
        { "pods", "pods", disk_usage(path_join(g.dir, "pods")), 0 },
        { "logs", "logs", disk_usage(path_join(g.dir, "logs")), 0 },
    };
    uint64_t total = 0;
    for (auto& p : parts)
        total += p.du.bytes;
    if (o.format == "json") {
        nlohmann::json j = nlohmann::json::object();
        for (auto& p : parts)
            j[p.key] = { { "bytes", p.du.bytes }, { "files", p.du.files } };
        j["images"]["count"] = images.size();
        j["layers"]["count"] = u.layer_count;
        j["total"] = { { "bytes", total } };
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (auto& p : parts)
        rows.push_back({ p.title, human_size(p.du.bytes), std::to_string(p.du.files) });
    rows.push_back({ "total", human_size(total), "" });
    print_table(o.no_legend ? std::vector<std::string> {} : std::vector<std::string> { "WHAT", "SIZE", "FILES" }, rows);
    return 0;
}

void setup(CommandContext& ctx)
{
    auto o = std::make_shared<Options>();
    auto* sub = add_subcommand(ctx, "df", "Show disk use: images, rendered trees, layers, temporary data, pods, logs");
    sub->add_option("--format", o->format, "Output format: table or json")->capture_default_str();
    sub->add_flag("--no-legend", o->no_legend, "Do not print the header line");
    sub->callback([&g = ctx.globals, set = ctx.set_action, o] { set([&g, o] { return run(g, *o); }); });
}

const CommandRegistration registration("df", 35, setup);

} // namespace

} // namespace capsule::cmd
