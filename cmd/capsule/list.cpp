// SPDX-License-Identifier: Apache-2.0
// `capsule list`: every pod, oldest first.
#include "cmd/capsule/command.h"
#include "cmd/capsule/pod_format.h"
#include "lib/units.h"

#include <cstdio>
#include <ctime>

namespace capsule::cmd {

namespace {

struct ListOptions {
    bool full { false };
    bool no_legend { false };
    std::string format { "text" };
};

std::vector<std::vector<std::string>> rows(const std::vector<stage0::PodInfo>& pods, bool full)
{
    auto now = static_cast<int64_t>(std::time(nullptr));
    auto when = [&](std::optional<int64_t> t) -> std::string {
        if (!t)
            return "-";
        return full ? format_rfc3339(*t) : human_age(*t, now);
    };
    std::vector<std::vector<std::string>> out;
    for (auto& p : pods) {
        std::string uuid = full ? p.ref.uuid : p.ref.uuid.substr(0, 8);
        std::string state(stage0::state_name(p.state));
        if (p.apps.empty()) {
            out.push_back({ uuid, "-", "-", state, when(p.created), when(p.started) });
            continue;
        }
        for (size_t i = 0; i < p.apps.size(); i++) {
            auto& a = p.apps[i];
            std::string image = a.image_name.empty() ? a.image_id : a.image_name;
            if (i == 0)
                out.push_back({ uuid, a.name, image, state, when(p.created), when(p.started) });
            else
                out.push_back({ "", a.name, image, "", "", "" });
        }
    }
    return out;
}

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<ListOptions>();
    auto* sub = add_subcommand(ctx, "list", "List pods: UUID, app, image, state, created, started");
    sub->add_flag("--full", opts->full, "Full UUIDs and timestamps");
    sub->add_flag("--no-legend", opts->no_legend, "No header line");
    sub->add_option("--format", opts->format, "text or json")->check(CLI::IsMember({ "text", "json" }));
    sub->callback([opts, &g = ctx.globals, set = ctx.set_action] {
        set([opts, &g]() -> Result<int> {
            auto pods = TRY(stage0::read_all_pods(g.dir));
            if (opts->format == "json") {
                nlohmann::json j = nlohmann::json::array();
                for (auto& p : pods)
                    j.push_back(pod_json(p));
                std::puts(j.dump(2).c_str());
                return 0;
            }
            std::vector<std::string> legend;
            if (!opts->no_legend)
                legend = { "UUID", "APP", "IMAGE NAME", "STATE", "CREATED", "STARTED" };
            print_table(legend, rows(pods, opts->full));
            return 0;
        });
    });
}

const CommandRegistration registration("list", 40, setup);

} // namespace

} // namespace capsule::cmd
