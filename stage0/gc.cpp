// SPDX-License-Identifier: Apache-2.0
#include "stage0/gc.h"

#include "lib/fs.h"
#include "stage0/cgroup.h"
#include "stage0/host_systemd.h"
#include "stage0/pod_info.h"
#include "stage0/pod_state.h"
#include "stage0/stage1_exec.h"

#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>

namespace capsule::stage0 {

namespace {

using Clock = std::chrono::system_clock;

std::chrono::milliseconds age_of(const std::string& path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) < 0)
        return std::chrono::milliseconds::max();
    auto mtime = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
    auto now = Clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - mtime);
}

/// Runs the stage1 gc entrypoint, if the pod has one; failures are returned for the caller to
/// report (the pod is deleted anyway: fly keeps no state outside the pod directory).
Status run_stage1_gc(const LockedPod& pod)
{
    auto stage1 = read_pod_stage1(pod.path());
    if (!stage1 || stage1->entrypoints.gc.empty())
        return {};
    auto rc = TRY(spawn_entrypoint(pod.path(), stage1->host_path(stage1->entrypoints.gc), { pod.uuid() }));
    if (rc != 0)
        return Error::msg("pod " + pod.uuid() + ": stage1 gc exited with status " + std::to_string(rc));
    return {};
}

/// Lock a pod for a transition; `nullopt` when someone holds it or it moved away.
std::optional<LockedPod> try_lock(const std::string& dir, const PodRef& ref)
{
    auto pod = LockedPod::lock(dir, ref);
    if (!pod)
        return std::nullopt;
    return pod.release_value();
}

void mark(const std::string& dir, const PodRef& ref, const GcOptions& opts, GcReport& report)
{
    // Only lock what may be collected: a lock held by gc makes run-prepared fail.
    if (ref.where == PodDir::Prepared && age_of(path_join(ref.path, "pod")) < opts.expire_prepared)
        return;
    // A detached pod between two runs of its restarting service is not garbage.
    if (ref.where == PodDir::Run && pod_unit_busy(ref))
        return;
    auto pod = try_lock(dir, ref);
    if (!pod)
        return;
    bool dead = ref.where == PodDir::Embryo || ref.where == PodDir::Prepare || ref.where == PodDir::Prepared;
    Status r;
    if (ref.where == PodDir::Run) {
        r = pod->move_to(PodDir::ExitedGarbage);
        // The grace period counts from now.
        if (r)
            ::utimensat(AT_FDCWD, pod->path().c_str(), nullptr, 0);
        if (r)
            report.marked.push_back(ref.uuid);
    } else if (dead) {
        r = pod->move_to(PodDir::Garbage);
    }
    if (!r)
        report.warnings.push_back(r.error().message() + ", ignoring");
}

void sweep(const std::string& dir, const PodRef& ref, const GcOptions& opts, GcReport& report)
{
    if (ref.where == PodDir::ExitedGarbage && age_of(ref.path) < opts.grace_period)
        return;
    auto pod = try_lock(dir, ref);
    if (!pod)
        return;
    if (auto r = run_stage1_gc(*pod); !r)
        report.warnings.push_back(r.error().message() + ", ignoring");
    if (auto r = release_pod_unit(pod->path(), ref.uuid); !r)
        report.warnings.push_back("pod " + ref.uuid + ": " + r.error().message() + ", ignoring");
    if (auto r = remove_pod_cgroup(ref.uuid); !r)
        report.warnings.push_back("pod " + ref.uuid + ": " + r.error().message() + ", ignoring");
    if (auto r = pod->destroy(); !r)
        report.warnings.push_back(r.error().message() + ", ignoring");
    else
        report.removed.push_back(ref.uuid);
}

} // namespace

Result<GcReport> gc_pods(const std::string& dir, const GcOptions& opts)
{
    GcReport report;
    for (auto& ref : TRY(list_pods(dir)))
        if (ref.where != PodDir::ExitedGarbage && ref.where != PodDir::Garbage)
            mark(dir, ref, opts, report);
    if (opts.mark_only)
        return report;
    for (auto& ref : TRY(list_pods(dir)))
        if (ref.where == PodDir::ExitedGarbage || ref.where == PodDir::Garbage)
            sweep(dir, ref, opts, report);
    return report;
}

Result<std::string> remove_pod(const std::string& dir, std::string_view prefix)
{
    auto ref = TRY(find_pod(dir, prefix));
    auto pod = LockedPod::lock(dir, ref);
    if (!pod && pod.error().code() == EWOULDBLOCK) {
        if (ref.where == PodDir::Run)
            return Error("pod " + ref.uuid + " is running; stop it first (capsule stop " + ref.uuid + ")", EBUSY);
        return Error("pod " + ref.uuid + " is busy (" + std::string(state_name(probe_state(ref))) + ")", EBUSY);
    }
    if (!pod)
        return pod.release_error();
    if (ref.where == PodDir::Run || ref.where == PodDir::ExitedGarbage)
        TRY(run_stage1_gc(*pod));
    TRY_CTX(release_pod_unit(pod->path(), ref.uuid), "pod " + ref.uuid);
    TRY_CTX(remove_pod_cgroup(ref.uuid), "pod " + ref.uuid);
    TRY(pod->destroy());
    return ref.uuid;
}

Result<std::string> stop_pod(const std::string& dir, std::string_view prefix, StopMode mode)
{
    auto ref = TRY(find_pod(dir, prefix));
    if (TRY(stop_pod_unit(ref, mode == StopMode::Force)))
        return ref.uuid;
    auto state = probe_state(ref);
    if (state != PodState::Running)
        return Error("pod " + ref.uuid + " is not running (it is " + std::string(state_name(state)) + ")", EINVAL);
    auto stage1 = TRY_CTX(read_pod_stage1(ref.path), "pod " + ref.uuid);
    if (stage1.entrypoints.stop.empty())
        return Error::msg("pod " + ref.uuid + ": its stage1 has no stop entrypoint");
    std::vector<std::string> args;
    if (mode == StopMode::Force)
        args.push_back("--force");
    args.push_back(ref.uuid);
    auto rc = TRY(spawn_entrypoint(ref.path, stage1.host_path(stage1.entrypoints.stop), args));
    if (rc != 0)
        return Error::msg("pod " + ref.uuid + ": stage1 stop exited with status " + std::to_string(rc));
    return ref.uuid;
}

} // namespace capsule::stage0
