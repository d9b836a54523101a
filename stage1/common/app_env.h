// SPDX-License-Identifier: Apache-2.0
#pragma once

// The environment an app starts with (later entries win, as in rkt):
//   PATH (a default) < HOME (from /etc/passwd) < the caller's environment (--inherit-env)
//   < the pod manifest's app environment (image env < --set-env < --environment) < AC_APP_NAME.

#include "lib/appc/types.h"

#include <string>
#include <vector>

namespace capsule::stage1 {

inline constexpr const char* default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct EnvInputs {
    std::string app_name;
    const appc::App* app { nullptr };
    std::string home;
    char** inherited { nullptr }; ///< the caller's environ with --inherit-env, else null
};

/// `NAME=value` strings, each name once.
std::vector<std::string> app_environment(const EnvInputs&);

} // namespace capsule::stage1
