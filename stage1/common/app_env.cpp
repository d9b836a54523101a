// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/app_env.h"

#include "stage1/common/interface.h"

#include <algorithm>
#include <string_view>

namespace capsule::stage1 {

namespace {

void set(std::vector<std::string>& env, std::string_view name, std::string_view value)
{
    auto it = std::find_if(env.begin(), env.end(), [&](const std::string& e) {
        return e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=';
    });
    std::string entry = std::string(name) + "=" + std::string(value);
    if (it != env.end())
        *it = std::move(entry);
    else
        env.push_back(std::move(entry));
}

} // namespace

std::vector<std::string> app_environment(const EnvInputs& in)
{
    std::vector<std::string> env;
    set(env, "PATH", default_path);
    if (!in.home.empty())
        set(env, "HOME", in.home);
    for (char** e = in.inherited; e && *e; e++) {
        std::string_view kv = *e;
        auto eq = kv.find('=');
        if (eq == std::string_view::npos || eq == 0)
            continue;
        auto name = kv.substr(0, eq);
        // The host's notify socket is capsule's: an app reaches it only through the stage1.
        if (name == stage1_interface::lock_fd_env || name == "NOTIFY_SOCKET" || name == "WATCHDOG_USEC"
            || name == "WATCHDOG_PID")
            continue;
        set(env, name, kv.substr(eq + 1));
    }
    if (in.app)
        for (auto& nv : in.app->environment)
            set(env, nv.name, nv.value);
    set(env, "AC_APP_NAME", in.app_name);
    for (auto& e : in.stage1_env)
        if (auto eq = e.find('='); eq != std::string::npos && eq > 0)
            set(env, std::string_view(e).substr(0, eq), std::string_view(e).substr(eq + 1));
    return env;
}

} // namespace capsule::stage1
