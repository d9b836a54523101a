// SPDX-License-Identifier: Apache-2.0
#include "stage0/stage1_exec.h"

#include "lib/fs.h"
#include "lib/log.h"
#include "stage0/host_systemd.h"
#include "stage1/common/interface.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace capsule::stage0 {

namespace iface = capsule::stage1_interface;

std::string PodStage1::host_path(const std::string& entrypoint) const
{
    return entrypoint.empty() ? std::string() : tree + "/rootfs" + entrypoint;
}

Result<PodStage1> read_pod_stage1(const std::string& pod_path)
{
    PodStage1 s;
    s.tree = TRY_CTX(read_file(path_join(pod_path, iface::stage1_tree)), "stage1 of pod");
    auto text = TRY_CTX(read_file(path_join(s.tree, "manifest")), "stage1 of pod");
    auto manifest = TRY_CTX(appc::parse_image_manifest(text), "stage1 manifest '" + s.tree + "/manifest'");
    s.entrypoints = TRY_CTX(stage1_entrypoints(manifest), "stage1 '" + s.tree + "'");
    return s;
}

std::vector<std::string> run_entrypoint_args(const RunOptions& o, const std::string& uuid)
{
    std::vector<std::string> args;
    if (o.debug)
        args.push_back("--debug");
    if (o.interactive)
        args.push_back("--interactive");
    if (o.inherit_env)
        args.push_back("--inherit-env");
    if (!o.hostname.empty())
        args.push_back("--hostname=" + o.hostname);
    args.push_back("--net=host");
    args.push_back(uuid);
    return args;
}

static std::vector<char*> make_argv(const std::string& exe, const std::vector<std::string>& args)
{
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    return argv;
}

Status exec_entrypoint(const std::string& pod_path, const std::string& exe, const std::vector<std::string>& args)
{
    if (::chdir(pod_path.c_str()) < 0)
        return Error::from_errno("chdir '" + pod_path + "'");
    auto argv = make_argv(exe, args);
    ::execv(exe.c_str(), argv.data());
    return Error::from_errno("exec stage1 entrypoint '" + exe + "'");
}

Status exec_run(LockedPod& pod, const RunOptions& options)
{
    auto stage1 = TRY_CTX(read_pod_stage1(pod.path()), "pod " + pod.uuid());
    TRY(pod.move_to(PodDir::Run));
    TRY(enter_pod_unit(pod, options, stage1));
    // The lock fd crosses exec: the stage1 holds it for as long as the pod runs.
    int fd = pod.fd();
    int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0 || ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
        return Error::from_errno("pod " + pod.uuid() + ": lock fd");
    ::setenv(iface::lock_fd_env, std::to_string(fd).c_str(), 1);
    auto status = exec_entrypoint(
        pod.path(), stage1.host_path(stage1.entrypoints.run), run_entrypoint_args(options, pod.uuid()));
    ::unsetenv(iface::lock_fd_env);
    return std::move(status).wrap("pod " + pod.uuid());
}

Result<LockedPod> lock_prepared(const std::string& dir, std::string_view prefix)
{
    auto ref = TRY(find_pod(dir, prefix));
    if (ref.where != PodDir::Prepared)
        return Error(
            "pod " + ref.uuid + " is not prepared (it is " + std::string(state_name(probe_state(ref))) + ")", EINVAL);
    auto pod = LockedPod::lock(dir, ref);
    if (!pod && pod.error().code() == EWOULDBLOCK)
        return Error("pod " + ref.uuid + " is already being started", EBUSY);
    if (!pod && pod.error().code() == ENOENT)
        return Error("pod " + ref.uuid + " is not prepared any more (another command took it)", ENOENT);
    return pod;
}

Result<LockedPod> lock_for_run(const std::string& dir, std::string_view prefix, bool allow_exited)
{
    auto ref = TRY(find_pod(dir, prefix));
    if (!allow_exited || ref.where != PodDir::Run)
        return lock_prepared(dir, ref.uuid);
    auto pod = LockedPod::lock(dir, ref);
    if (!pod && pod.error().code() == EWOULDBLOCK)
        return Error("pod " + ref.uuid + " is running", EBUSY);
    if (!pod)
        return pod.release_error();
    // What the last run left that the next one writes again.
    ::unlink(path_join(pod->path(), iface::pid_file).c_str());
    TRY(remove_tree(path_join(pod->path(), iface::status_dir)));
    return pod;
}

Result<int> spawn_entrypoint(const std::string& pod_path, const std::string& exe, const std::vector<std::string>& args)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, pod_path.c_str());
    auto argv = make_argv(exe, args);
    pid_t pid = -1;
    int err = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0)
        return Error::from_errno("run stage1 entrypoint '" + exe + "'", err);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return Error::from_errno("wait for stage1 entrypoint '" + exe + "'");
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

} // namespace capsule::stage0
