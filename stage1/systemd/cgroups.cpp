// SPDX-License-Identifier: Apache-2.0
// Where a pod's and its apps' cgroups are, as `run`, `enter` and the waiter look for them.
#include "stage1/systemd/systemd.h"

#include "lib/fs.h"
#include "stage1/common/interface.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace capsule::stage1::sd {

bool cgroup_unified()
{
    struct statfs st;
    return ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

std::optional<std::string> hierarchy_dir(const std::string& controllers, bool unified)
{
    if (controllers.empty())
        return unified ? "" : "unified";
    if (controllers == "name=systemd")
        return "systemd";
    if (controllers.starts_with("name="))
        return std::nullopt;
    return controllers;
}

std::string app_cgroup_dir(const std::string& subcgroup, std::string_view app, bool unified)
{
    return std::string("/sys/fs/cgroup/") + (unified ? "" : "systemd/") + subcgroup + "/system.slice/"
        + app_unit_name(app);
}

Status join_systemd_hierarchies(const std::string& subcgroup)
{
    if (cgroup_unified())
        return {}; // stage0 placed the pod in the one hierarchy there is
    auto self = std::to_string(::getpid());
    for (auto* name : { "systemd", "unified" }) {
        auto root = std::string("/sys/fs/cgroup/") + name;
        if (!path_exists(root + "/cgroup.procs"))
            continue;
        auto dir = root + "/" + subcgroup;
        TRY(mkdir_p(dir));
        TRY(write_file(dir + "/cgroup.procs", self).wrap("join cgroup '" + dir + "'"));
    }
    return {};
}

Result<std::string> read_subcgroup(const std::string& pod_dir)
{
    auto text = TRY(read_file(pod_dir + "/" + std::string(stage1_interface::subcgroup)));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

} // namespace capsule::stage1::sd
