// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/pod.h"

#include "lib/fs.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"

#include <charconv>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

namespace capsule::stage1 {

namespace iface = capsule::stage1_interface;

std::string Pod::app_rootfs(const std::string& app) const
{
    return dir + "/" + std::string(iface::stage2_root) + "/" + app + "/rootfs";
}

std::string Pod::app_info(const std::string& app, std::string_view file) const
{
    return dir + "/" + std::string(iface::appsinfo) + "/" + app + "/" + std::string(file);
}

Result<Pod> load_pod(const std::string& uuid)
{
    Pod pod;
    pod.uuid = uuid;
    char buf[4096];
    if (!::getcwd(buf, sizeof buf))
        return Error::from_errno("getcwd");
    pod.dir = buf;
    auto text = TRY_CTX(read_file(pod.dir + "/" + std::string(iface::pod_manifest)), "pod " + uuid);
    pod.manifest = TRY_CTX(appc::parse_pod_manifest(text), "pod " + uuid);
    return pod;
}

Result<UniqueFd> take_lock_fd()
{
    const char* v = std::getenv(iface::lock_fd_env);
    if (!v || !*v)
        return Error::msg(std::string(iface::lock_fd_env) + " is not set (stage1 entrypoints are run by capsule)");
    int fd = -1;
    std::string_view s = v;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), fd);
    if (ec != std::errc() || p != s.data() + s.size() || fd < 0)
        return Error::msg(std::string(iface::lock_fd_env) + "='" + std::string(s) + "' is not an fd");
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return Error::from_errno(std::string(iface::lock_fd_env) + "=" + std::string(s));
    ::unsetenv(iface::lock_fd_env);
    return UniqueFd(fd);
}

Status write_pod_file(const Pod& pod, const std::string& rel, std::string_view data)
{
    auto path = pod.dir + "/" + rel;
    auto tmp = path_dirname(path) + "/." + path_basename(path) + ".tmp";
    TRY(write_file(tmp, data));
    if (::rename(tmp.c_str(), path.c_str()) < 0)
        return Error::from_errno("rename '" + tmp + "' to '" + path + "'");
    return {};
}

Result<pid_t> read_pod_pid(const std::string& dir)
{
    auto text = TRY(read_file(dir + "/" + std::string(iface::pid_file)));
    int pid = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (ec != std::errc() || pid <= 0)
        return Error::msg("'" + dir + "/pid': not a pid");
    return static_cast<pid_t>(pid);
}

Result<pid_t> wait_for_pod_pid(const std::string& dir)
{
    for (int i = 0;; i++) {
        auto pid = read_pod_pid(dir);
        if (pid || i == 100)
            return pid;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

int signal_pod(const std::string& uuid, int sig)
{
    char cwd[4096];
    auto pid = wait_for_pod_pid(::getcwd(cwd, sizeof cwd) ? cwd : ".");
    if (!pid) {
        diag_error(pid.error().wrap("pod " + uuid));
        return exit_stage1_error;
    }
    diag_debug("sending signal %d to pid %d", sig, *pid);
    if (::kill(*pid, sig) < 0 && errno != ESRCH) {
        diag_error(Error::from_errno("pod " + uuid + ": kill pid " + std::to_string(*pid)));
        return exit_stage1_error;
    }
    return 0;
}

Result<const appc::RuntimeApp*> pod_app(const Pod& pod, const std::string& name)
{
    const appc::RuntimeApp* app = pod.manifest.apps.empty() ? nullptr : &pod.manifest.apps.front();
    if (!name.empty())
        app = pod.manifest.find_app(name);
    if (!app)
        return Error::msg("pod " + pod.uuid + " has no app '" + name + "'");
    return app;
}

} // namespace capsule::stage1
