// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/app_root.h"

#include "lib/fs.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"
#include "stage1/common/mounts.h"

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::stage1 {

namespace iface = capsule::stage1_interface;

std::string volume_source(const Pod& pod, const appc::Volume& v)
{
    if (v.kind == "host")
        return v.source;
    return pod.dir + "/" + std::string(iface::volumes) + "/" + v.name;
}

namespace {

Status mount_rootfs(const Pod& pod, const appc::RuntimeApp& app)
{
    auto lower_file = pod.app_info(app.name, iface::app_lower);
    if (!path_exists(lower_file))
        return {}; // --no-overlay: stage0 copied the tree in place
    // One directory per line, topmost first (interface version 1 wrote exactly one).
    auto lowers = parse_lower_list(TRY(read_file(lower_file)));
    auto rootfs = pod.app_rootfs(app.name);
    diag_debug("mounting overlay of %zu lower directories (top: %s) on %s", lowers.size(),
        lowers.empty() ? "none" : lowers.front().c_str(), rootfs.c_str());
    return mount_overlay(
        lowers, pod.app_info(app.name, iface::app_upper), pod.app_info(app.name, iface::app_work), rootfs);
}

Status mount_host_dirs(int rootfd)
{
    for (const char* dir : { "/proc", "/sys", "/dev" }) {
        auto target = TRY(ensure_in_root(rootfd, dir, TargetKind::Directory));
        TRY(bind_mount(dir, target.get(), dir, BindFlags::Recursive));
    }
    return {};
}

Status mount_volumes(const Pod& pod, const appc::RuntimeApp& app, int rootfd)
{
    for (auto& m : app.mounts) {
        auto* vol = pod.manifest.find_volume(m.volume);
        if (!vol)
            return Error::msg("mount of undefined volume '" + m.volume + "'");
        auto source = volume_source(pod, *vol);
        struct stat st;
        if (::stat(source.c_str(), &st) < 0)
            return Error::from_errno("volume '" + vol->name + "': source '" + source + "'");
        auto kind = S_ISDIR(st.st_mode) ? TargetKind::Directory : TargetKind::File;
        auto target = TRY_CTX(ensure_in_root(rootfd, m.path, kind), "volume '" + vol->name + "'");
        auto flags = BindFlags::Recursive;
        if (vol->read_only || mount_point_read_only(app, m.volume))
            flags = flags | BindFlags::ReadOnly;
        diag_debug("binding volume %s (%s) on %s", vol->name.c_str(), source.c_str(), m.path.c_str());
        TRY_CTX(bind_mount(source, target.get(), m.path, flags), "volume '" + vol->name + "'");
    }
    return {};
}

} // namespace

bool mount_point_read_only(const appc::RuntimeApp& app, const std::string& volume)
{
    if (!app.app)
        return false;
    for (auto& mp : app.app->mount_points)
        if (mp.name == volume && mp.read_only)
            return true;
    return false;
}

Result<UniqueFd> setup_app_root(const Pod& pod, const appc::RuntimeApp& app, bool host_api_dirs, bool volumes)
{
    TRY(mount_rootfs(pod, app));
    auto rootfs = pod.app_rootfs(app.name);
    auto rootfd = TRY(open_fd(rootfs, O_PATH | O_DIRECTORY));
    if (host_api_dirs)
        TRY(mount_host_dirs(rootfd.get()));
    if (volumes)
        TRY(mount_volumes(pod, app, rootfd.get()));
    return rootfd;
}

Result<std::string> resolve_exec(int rootfd, const std::string& cmd, const std::string& path_env, const std::string& wd)
{
    auto check = [&](const std::string& p) -> bool {
        int fd = open_in_root(rootfd, p, O_PATH);
        if (fd < 0)
            return false;
        struct stat st;
        bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
        ::close(fd);
        return ok;
    };
    if (cmd.starts_with("/")) {
        if (!check(cmd))
            return Error("exec '" + cmd + "': no such executable in the app's rootfs", ENOENT);
        return cmd;
    }
    if (cmd.find('/') != std::string::npos) {
        auto p = path_join(wd, cmd);
        if (!check(p))
            return Error("exec '" + cmd + "': no such executable in the app's rootfs (from '" + wd + "')", ENOENT);
        return p;
    }
    size_t start = 0;
    while (start <= path_env.size()) {
        size_t colon = path_env.find(':', start);
        if (colon == std::string::npos)
            colon = path_env.size();
        auto dir = path_env.substr(start, colon - start);
        if (dir.starts_with("/")) {
            auto p = path_join(dir, cmd);
            if (check(p))
                return p;
        }
        start = colon + 1;
    }
    return Error("exec '" + cmd + "': not found in the app's PATH", ENOENT);
}

std::string env_value(const std::vector<std::string>& env, std::string_view name)
{
    for (auto& e : env)
        if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=')
            return e.substr(name.size() + 1);
    return {};
}

bool app_supports_notify(const appc::RuntimeApp& app)
{
    return std::any_of(app.annotations.begin(), app.annotations.end(),
        [](auto& a) { return a.name == iface::annotation_supports_notify && a.value == "true"; });
}

bool pod_has_notify_socket(const Pod& pod)
{
    struct stat st;
    auto path = pod.dir + "/" + std::string(iface::notify_socket);
    return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

Status bind_notify_socket(const Pod& pod, int rootfd, const std::string& path)
{
    auto target = TRY(ensure_in_root(rootfd, path, TargetKind::File));
    return bind_mount(pod.dir + "/" + std::string(iface::notify_socket), target.get(), path, BindFlags::Plain);
}

Status enter_app_root(int rootfd, const appc::RuntimeApp& app)
{
    if (::fchdir(rootfd) < 0 || ::chroot(".") < 0)
        return Error::from_errno("enter the rootfs of app '" + app.name + "'");
    std::string wd = app.app && !app.app->working_directory.empty() ? app.app->working_directory : "/";
    if (::chdir(wd.c_str()) < 0 && ::chdir("/") < 0)
        return Error::from_errno("chdir '" + wd + "'");
    return {};
}

} // namespace capsule::stage1
