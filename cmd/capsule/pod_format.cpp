// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/pod_format.h"

#include "lib/units.h"

namespace capsule::cmd {

nlohmann::json pod_json(const stage0::PodInfo& p)
{
    nlohmann::json apps = nlohmann::json::array();
    for (auto& a : p.apps) {
        nlohmann::json app = { { "name", a.name }, { "image_id", a.image_id }, { "image_name", a.image_name },
            { "exit_code", nullptr } };
        if (a.exit_code)
            app["exit_code"] = *a.exit_code;
        apps.push_back(std::move(app));
    }
    nlohmann::json j = {
        { "uuid", p.ref.uuid },
        { "state", std::string(stage0::state_name(p.state)) },
        { "created", format_rfc3339(p.created) },
        { "created_at", p.created },
        { "started", nullptr },
        { "started_at", nullptr },
        { "pid", nullptr },
        { "exited", p.exited() },
        { "apps", std::move(apps) },
    };
    if (p.started) {
        j["started"] = format_rfc3339(*p.started);
        j["started_at"] = *p.started;
    }
    if (p.pid)
        j["pid"] = *p.pid;
    j["unit"] = p.unit.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.unit);
    return j;
}

std::string pod_status_lines(const stage0::PodInfo& p)
{
    std::string out = "state=" + std::string(stage0::state_name(p.state)) + "\n";
    out += "created=" + format_rfc3339(p.created) + "\n";
    if (p.started)
        out += "started=" + format_rfc3339(*p.started) + "\n";
    if (p.pid)
        out += "pid=" + std::to_string(*p.pid) + "\n";
    if (!p.unit.empty())
        out += "unit=" + p.unit + "\n";
    out += std::string("exited=") + (p.exited() ? "true" : "false") + "\n";
    for (auto& a : p.apps)
        if (a.exit_code)
            out += "app-" + a.name + "=" + std::to_string(*a.exit_code) + "\n";
    return out;
}

} // namespace capsule::cmd
