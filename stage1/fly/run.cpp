// SPDX-License-Identifier: Apache-2.0
// fly `run`: one app, a private mount namespace and a chroot; host network, pids and users.
#include "stage1/fly/fly.h"

#include "lib/fs.h"
#include "stage1/common/app_env.h"
#include "stage1/common/app_process.h"
#include "stage1/common/app_root.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"
#include "stage1/common/mounts.h"

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

Result<AppLaunch> make_launch(const Stage1Args& args, const appc::RuntimeApp& app, int rootfd)
{
    AppLaunch l;
    l.rootfd = rootfd;
    l.argv = app.app->exec;
    l.interactive = args.interactive;
    if (!app.app->working_directory.empty())
        l.working_dir = app.app->working_directory;
    l.creds = TRY(app_credentials(app, rootfd));
    l.env = app_environment({ app.name, &*app.app, l.creds.home, args.inherit_env ? environ : nullptr });
    return l;
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
    auto launch = TRY_CTX(make_launch(args, *app, rootfd.get()), ctx);
    pid_t pid = TRY_CTX(start_app(launch), ctx);
    rootfd.reset();
    if (auto r = write_pod_file(pod, std::string(iface::pid_file), std::to_string(pid) + "\n"); !r)
        diag_warn("%s, ignoring", r.error().message().c_str());
    int code = wait_app(pid);
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
