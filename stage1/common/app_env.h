// SPDX-License-Identifier: Apache-2.0
#pragma once

// The environment an app starts with (later entries win, as in rkt):
//   PATH (a default) < HOME (from /etc/passwd) < the caller's environment (--inherit-env)
//   < the pod manifest's app environment (image env < --set-env < --environment) < AC_APP_NAME
//   < the stage1's own (NOTIFY_SOCKET for an app that speaks sd_notify).

#include "lib/appc/types.h"

#include <string>
#include <vector>

namespace capsule::stage1 {

inline constexpr const char* default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct EnvInputs {
    std::string app_name;
    const appc::App* app { nullptr };
    std::string home;
    char** inherited { nullptr };        ///< the caller's environ with --inherit-env, else null
    std::vector<std::string> stage1_env; ///< NAME=value, set last
};

/// `NAME=value` strings, each name once. Of the caller's environment, the pod lock and the
/// variables addressed to capsule's own process by a service manager (NOTIFY_SOCKET,
/// WATCHDOG_USEC, WATCHDOG_PID) are not inherited.
std::vector<std::string> app_environment(const EnvInputs&);

} // namespace capsule::stage1
