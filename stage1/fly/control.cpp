// SPDX-License-Identifier: Apache-2.0
// fly `enter`, `stop` and `gc`.
#include "lib/fd.h"
#include "stage1/common/app_env.h"
#include "stage1/common/app_process.h"
#include "stage1/common/app_root.h"
#include "stage1/common/diag.h"
#include "stage1/fly/fly.h"

#include <csignal>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

namespace capsule::stage1::fly {

namespace {

Result<int> enter_pod(const Stage1Args& args)
{
    auto pod = TRY(load_pod(args.uuid));
    auto* app = TRY(pod_app(pod, args.app));
    pid_t pid = TRY_CTX(wait_for_pod_pid(pod.dir), "pod " + pod.uuid);
    auto proc = "/proc/" + std::to_string(pid);
    auto ns = TRY_CTX(open_fd(proc + "/ns/mnt", O_RDONLY), "pod " + pod.uuid + " is not running");
    auto root = TRY_CTX(open_fd(proc + "/root", O_PATH | O_DIRECTORY), "pod " + pod.uuid + " is not running");
    if (::setns(ns.get(), CLONE_NEWNS) < 0)
        return Error::from_errno("join the mount namespace of pid " + std::to_string(pid));
    TRY(enter_app_root(root.get(), *app));
    auto env = app_environment({ app->name, app->app ? &*app->app : nullptr, "", nullptr });
    if (const char* term = std::getenv("TERM"))
        env.push_back(std::string("TERM=") + term);
    return exec_command(enter_command(args), env, " in app '" + app->name + "'");
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
