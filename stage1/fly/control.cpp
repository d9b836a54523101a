// SPDX-License-Identifier: Apache-2.0
// fly `enter`, `stop` and `gc`.
#include "lib/fd.h"
#include "stage1/common/app_env.h"
#include "stage1/common/diag.h"
#include "stage1/common/user.h"
#include "stage1/fly/fly.h"

#include <csignal>
#include <fcntl.h>
#include <sched.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace capsule::stage1::fly {

namespace {

Result<int> enter_pod(const Stage1Args& args)
{
    auto pod = TRY(load_pod(args.uuid));
    const appc::RuntimeApp* app = pod.manifest.apps.empty() ? nullptr : &pod.manifest.apps.front();
    if (!args.app.empty())
        app = pod.manifest.find_app(args.app);
    if (!app)
        return Error::msg("pod " + pod.uuid + " has no app '" + args.app + "'");
    pid_t pid = TRY_CTX(wait_for_pod_pid(pod.dir), "pod " + pod.uuid);
    auto proc = "/proc/" + std::to_string(pid);
    auto ns = TRY_CTX(open_fd(proc + "/ns/mnt", O_RDONLY), "pod " + pod.uuid + " is not running");
    auto root = TRY_CTX(open_fd(proc + "/root", O_PATH | O_DIRECTORY), "pod " + pod.uuid + " is not running");
    if (::setns(ns.get(), CLONE_NEWNS) < 0)
        return Error::from_errno("join the mount namespace of pid " + std::to_string(pid));
    if (::fchdir(root.get()) < 0 || ::chroot(".") < 0)
        return Error::from_errno("chroot into app '" + app->name + "'");
    std::string wd = app->app && !app->app->working_directory.empty() ? app->app->working_directory : "/";
    if (::chdir(wd.c_str()) < 0 && ::chdir("/") < 0)
        return Error::from_errno("chdir '" + wd + "'");
    std::vector<std::string> cmd = args.command.empty() ? std::vector<std::string> { "/bin/sh" } : args.command;
    auto env = app_environment({ app->name, app->app ? &*app->app : nullptr, "", nullptr });
    if (const char* term = std::getenv("TERM"))
        env.push_back(std::string("TERM=") + term);
    std::vector<char*> argv, envp;
    for (auto& s : cmd)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    environ = envp.data();
    ::execvp(argv[0], argv.data());
    return Error::from_errno("exec '" + cmd.front() + "' in app '" + app->name + "'");
}

} // namespace

int enter(const Stage1Args& args)
{
    auto r = enter_pod(args);
    diag_error(r ? Error::msg("enter returned") : r.error());
    return exit_stage1_error;
}

int stop(const Stage1Args& args)
{
    return signal_pod(args.uuid, args.force ? SIGKILL : SIGTERM);
}

int gc(const Stage1Args& args)
{
    // Nothing to undo: fly's mounts lived in the pod's private mount namespace and went away
    // with its last process; fly makes no cgroups, network namespaces or units.
    diag_debug("gc of pod %s: nothing to undo", args.uuid.c_str());
    return 0;
}

} // namespace capsule::stage1::fly
