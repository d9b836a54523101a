// SPDX-License-Identifier: Apache-2.0
// The guest's configuration as JSON, and the port names both sides use.
#include "stage1/kvm/kvm.h"

#include <nlohmann/json.hpp>

namespace capsule::stage1::kvm {

std::string port_name(bool stderr_stream, size_t app_index)
{
    return std::string(stderr_stream ? "capsule.err." : "capsule.out.") + std::to_string(app_index);
}

std::string guest_config_json(const GuestConfig& c)
{
    nlohmann::json apps = nlohmann::json::array();
    for (auto& a : c.apps) {
        nlohmann::json mounts = nlohmann::json::array();
        for (auto& m : a.mounts)
            mounts.push_back({ { "source", m.source }, { "target", m.target }, { "readOnly", m.read_only } });
        apps.push_back({ { "name", a.name }, { "root", a.root }, { "argv", a.argv }, { "env", a.env },
            { "workingDirectory", a.working_dir }, { "uid", a.uid }, { "gid", a.gid }, { "groups", a.groups },
            { "mounts", mounts } });
    }
    nlohmann::json j = { { "modules", c.modules }, { "hostname", c.hostname }, { "stopTimeoutSec", c.stop_timeout_sec },
        { "apps", apps } };
    return j.dump();
}

Result<GuestConfig> parse_guest_config(std::string_view text)
{
    try {
        auto j = nlohmann::json::parse(text);
        GuestConfig c;
        c.modules = j.at("modules").get<std::vector<std::string>>();
        c.hostname = j.at("hostname").get<std::string>();
        c.stop_timeout_sec = j.at("stopTimeoutSec").get<int>();
        for (auto& a : j.at("apps")) {
            GuestApp app;
            app.name = a.at("name").get<std::string>();
            app.root = a.at("root").get<std::string>();
            app.argv = a.at("argv").get<std::vector<std::string>>();
            app.env = a.at("env").get<std::vector<std::string>>();
            app.working_dir = a.at("workingDirectory").get<std::string>();
            app.uid = a.at("uid").get<uint32_t>();
            app.gid = a.at("gid").get<uint32_t>();
            app.groups = a.at("groups").get<std::vector<uint32_t>>();
            for (auto& m : a.at("mounts"))
                app.mounts.push_back({ m.at("source").get<std::string>(), m.at("target").get<std::string>(),
                    m.at("readOnly").get<bool>() });
            if (app.argv.empty())
                return Error::msg("app '" + app.name + "' has no argv");
            c.apps.push_back(std::move(app));
        }
        return c;
    } catch (const nlohmann::json::exception& e) {
        return Error::msg(std::string("the guest configuration: ") + e.what());
    }
}

} // namespace capsule::stage1::kvm
