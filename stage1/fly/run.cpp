// SPDX-License-Identifier: Apache-2.0
// fly `run`: one app, a private mount namespace and a chroot; host network, pids and users.
#include "stage1/fly/fly.h"

#include "lib/fs.h"
#include "stage1/common/app_env.h"
#include "stage1/common/app_process.h"
#include "stage1/common/app_root.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"
#include "stage1/common/log_files.h"
#include "stage1/common/mounts.h"

#include <cstdlib>
#include <sys/stat.h>

extern char** environ;

namespace capsule::stage1::fly {

namespace iface = capsule::stage1_interface;

namespace {

Result<const appc::RuntimeApp*> the_app(const Pod& pod)
{
    if (pod.manifest.apps.size() != 1)
        return Error::msg("pod " + pod.uuid + ": the fly stage1 runs exactly one app, the pod has "
            + std::to_string(pod.manifest.apps.size()));
    auto& app = pod.manifest.apps.front();
    if (!app.app || app.app->exec.empty())
        return Error::msg("pod " + pod.uuid + ": app '" + app.name + "' has no exec");
    return &app;
}

/// Where an app that speaks sd_notify finds the pod's notify socket, as under systemd.
constexpr const char* app_notify_socket = "/run/systemd/notify";

/// An app that speaks sd_notify, in a pod whose stage0 relays notifications: the socket in
/// its root, and what sd_notify(3) and sd_watchdog_enabled(3) read. WATCHDOG_PID is not
/// passed: it names capsule's pid, not the app's.
Result<std::vector<std::string>> setup_notify(const Pod& pod, const appc::RuntimeApp& app, int rootfd)
{
    if (!pod_has_notify_socket(pod) || !app_supports_notify(app))
        return std::vector<std::string> {};
    TRY(bind_notify_socket(pod, rootfd, app_notify_socket));
    std::vector<std::string> env { std::string("NOTIFY_SOCKET=") + app_notify_socket };
    if (const char* usec = ::getenv("WATCHDOG_USEC"))
        env.push_back(std::string("WATCHDOG_USEC=") + usec);
    return env;
}

Result<AppLaunch> make_launch(const Stage1Args& args, const Pod& pod, const appc::RuntimeApp& app, int rootfd)
{
    AppLaunch l;
    l.rootfd = rootfd;
    l.argv = app.app->exec;
    l.interactive = args.interactive;
    l.capture_output = !args.interactive;
    if (!app.app->working_directory.empty())
        l.working_dir = app.app->working_directory;
    l.creds = TRY(app_credentials(app, rootfd));
    l.env = app_environment({ app.name, &*app.app, l.creds.home, args.inherit_env ? environ : nullptr,
        TRY(setup_notify(pod, app, rootfd)) });
    return l;
}

/// The app's log in `logs/`, unless it cannot be made: the output then only passes through.
std::optional<AppLog> open_log(const Pod& pod, const std::string& app)
{
    uint64_t max_size = default_log_max_size;
    if (auto m = log_max_size(pod.manifest))
        max_size = *m;
    else
        diag_warn("%s, ignoring", m.error().message().c_str());
    auto log = AppLog::open(pod.dir + "/" + std::string(iface::logs_dir), app, max_size);
    if (!log) {
        diag_warn("app log: %s, ignoring", log.error().message().c_str());
        return std::nullopt;
    }
    return std::move(*log);
}

Result<int> run_pod(const Stage1Args& args)
{
    // Held (close-on-exec) by this waiter for as long as the app runs: that is "running".
    auto lock = TRY(take_lock_fd());
    if (!args.net.empty() && args.net != "host")
        return Error::msg("--net=" + args.net + ": the fly stage1 only shares the host network");
    auto pod = TRY(load_pod(args.uuid));
    auto* app = TRY(the_app(pod));
    auto ctx = "app '" + app->name + "'";
    TRY(enter_private_mount_ns());
    auto rootfd = TRY_CTX(setup_app_root(pod, *app), ctx);
    auto launch = TRY_CTX(make_launch(args, pod, *app, rootfd.get()), ctx);
    auto log = args.interactive ? std::nullopt : open_log(pod, app->name);
    auto proc = TRY_CTX(start_app(launch), ctx);
    rootfd.reset();
    if (auto r = write_pod_file(pod, std::string(iface::pid_file), std::to_string(proc.pid) + "\n"); !r)
        diag_warn("%s, ignoring", r.error().message().c_str());
    int code = wait_app(proc, log ? &*log : nullptr);
    diag_debug("app %s exited with status %d", app->name.c_str(), code);
    ::mkdir((pod.dir + "/" + std::string(iface::status_dir)).c_str(), 0755);
    if (auto r = write_pod_file(pod, std::string(iface::status_dir) + "/" + app->name, std::to_string(code) + "\n"); !r)
        diag_warn("%s, ignoring", r.error().message().c_str());
    return code;
}

} // namespace

int run(const Stage1Args& args)
{
    return exit_status(run_pod(args));
}

} // namespace capsule::stage1::fly
