// SPDX-License-Identifier: Apache-2.0
#pragma once

// The systemd units a pod boots with: one service per app (confined to the app's rootfs, with
// its environment, credentials and isolators as unit properties) and the target that wants
// them. Pure text generation, unit-tested; the isolators' defaults live here too, so `enter`
// applies exactly what the app's unit applies.

#include "lib/appc/types.h"
#include "lib/insecure.h"
#include "lib/result.h"
#include "stage1/common/user.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::stage1::sd {

/// The capabilities an app keeps by default (rkt's and Docker's set), as CAP_ names.
const std::vector<std::string>& default_capabilities();

/// The system calls an app may not make by default (they fail with EPERM): kernel modules,
/// mounts and namespaces, clocks, tracing other processes, keyrings, reboot, swap.
const std::vector<std::string>& default_seccomp_denied();

/// What confines one app, from its isolators (appc) and the pod's --insecure-options.
struct Isolation {
    bool restrict_caps { true };
    std::vector<std::string> caps; ///< the bounding set, when restrict_caps
    bool no_new_privileges { true };
    bool seccomp { true };
    bool seccomp_allow_list { false };     ///< `syscalls` is the only ones allowed (retain-set)
    std::vector<std::string> syscalls;     ///< denied (remove-set/default) or allowed (retain-set)
    std::string seccomp_errno { "EPERM" }; ///< "": a refused call kills the app (SIGSYS)
    bool mask_paths { true };
    std::vector<std::string> masked; ///< of masked_paths(), those this kernel has
    std::optional<uint64_t> memory_bytes;
    std::optional<uint64_t> cpu_millicores;
};

/// Read the app's isolators. Unknown isolators are ignored (appc); bad values are errors.
Result<Isolation> app_isolation(const appc::App&, InsecureOptions);

/// /proc and /sys paths an app sees read-only, and those it cannot see at all (files are
/// covered with /dev/null, directories with an empty read-only tmpfs).
const std::vector<std::string>& read_only_paths();
const std::vector<std::string>& masked_paths();
bool masked_is_directory(std::string_view path);

/// The target the pod's systemd starts: it wants every app, which start before it.
inline constexpr const char* pod_target = "capsule-pod.target";

struct AppUnit {
    std::string name;                ///< the appc app name
    std::string pod_uuid;            ///< for the journal field CAPSULE_POD
    std::vector<std::string> argv;   ///< argv[0] absolute inside the app rootfs
    std::vector<std::string> env;    ///< NAME=value
    std::string working_dir { "/" }; ///< inside the app rootfs
    Credentials creds;
    Isolation iso;
    std::vector<std::vector<std::string>> pre_start; ///< appc event handlers
    std::vector<std::vector<std::string>> post_stop;
    bool interactive { false }; ///< stdin and stdout on the pod's console, no journal
    bool notify { false };      ///< the app speaks sd_notify: Type=notify, started once it says READY=1
    std::string helper;         ///< the stage1 binary inside the pod root
};

/// `capsule-app-<name>.service`.
std::string app_unit_name(std::string_view app);
/// Where an app's rootfs is inside the pod root.
std::string app_root_in_pod(std::string_view app);

/// The unit file of one app.
std::string app_unit_text(const AppUnit&);
/// `capsule-pod.target`: wants journald and every app.
std::string pod_target_text(const std::vector<std::string>& apps);

/// One word of an Exec*= line: quoted, with `\`, `"`, `%` (specifiers) and `$` (variables)
/// escaped, so any byte string reaches the process unchanged.
std::string exec_word(std::string_view);
/// A value for Environment=: quoted, `%` and `\` escaped ($ is literal there).
std::string setting_word(std::string_view);
/// A path for WorkingDirectory= (taken as the rest of the line, unquoted): `%` and `\` escaped.
std::string path_setting(std::string_view);

} // namespace capsule::stage1::sd
