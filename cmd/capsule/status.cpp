// SPDX-License-Identifier: Apache-2.0
// `capsule status UUID`: state, timestamps, pid and exit statuses of a pod.
#include "cmd/capsule/command.h"
#include "cmd/capsule/pod_format.h"
#include "lib/units.h"

#include <chrono>
#include <cstdio>
#include <thread>

namespace capsule::cmd {

namespace {

struct StatusOptions {
    std::string uuid;
    std::string wait; ///< "" (no wait), "forever", or a duration
    std::string format { "text" };
};

bool settled(stage0::PodState s)
{
    using S = stage0::PodState;
    return s != S::Embryo && s != S::Preparing && s != S::Prepared && s != S::Running;
}

/// Poll until the pod has exited (or failed to start), up to `timeout`.
Result<stage0::PodInfo> wait_for_exit(
    const std::string& dir, const std::string& uuid, std::optional<std::chrono::milliseconds> timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::hours(24 * 365));
    for (;;) {
        auto ref = TRY(stage0::find_pod(dir, uuid));
        auto info = stage0::read_pod_info(ref);
        if (settled(info.state))
            return info;
        if (std::chrono::steady_clock::now() >= deadline)
            return Error::msg("pod " + ref.uuid + " is still " + std::string(stage0::state_name(info.state))
                + " after waiting " + std::to_string(timeout->count()) + "ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

Result<int> show_status(const GlobalOptions& g, const StatusOptions& o)
{
    stage0::PodInfo info;
    if (o.wait.empty()) {
        info = stage0::read_pod_info(TRY(stage0::find_pod(g.dir, o.uuid)));
    } else {
        std::optional<std::chrono::milliseconds> timeout;
        if (o.wait != "forever")
            timeout = TRY_CTX(parse_duration(o.wait), "--wait");
        info = TRY(wait_for_exit(g.dir, o.uuid, timeout));
    }
    if (o.format == "json")
        std::puts(pod_json(info).dump(2).c_str());
    else
        std::fputs(pod_status_lines(info).c_str(), stdout);
    return 0;
}

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<StatusOptions>();
    auto* sub = add_subcommand(ctx, "status", "Show a pod's state, pid, timestamps and exit statuses");
    sub->add_option("UUID", opts->uuid, "Pod UUID (a unique prefix is enough)")->required();
    auto* wait = sub->add_option("--wait", opts->wait, "Wait for the pod to exit (--wait=DURATION: at most that long)")
                     ->expected(0, 1)
                     ->type_name("[=DURATION]");
    sub->add_option("--format", opts->format, "text or json")->check(CLI::IsMember({ "text", "json" }));
    sub->callback([opts, wait, &g = ctx.globals, set = ctx.set_action] {
        if (wait->count() > 0 && opts->wait.empty())
            opts->wait = "forever";
        set([opts, &g]() -> Result<int> { return show_status(g, *opts); });
    });
}

const CommandRegistration registration("status", 41, setup);

} // namespace

} // namespace capsule::cmd
