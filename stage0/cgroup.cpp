// SPDX-License-Identifier: Apache-2.0
#include "stage0/cgroup.h"

#include "lib/fs.h"
#include "lib/log.h"
#include "stage1/common/interface.h"

#include <algorithm>
#include <charconv>
#include <dirent.h>
#include <linux/magic.h>
#include <sstream>
#include <sys/statfs.h>
#include <unistd.h>

namespace capsule::stage0 {

namespace {

/// The v1 hierarchies a pod joins (rkt's set); `cpu` and `cpuacct` are often one mount
/// (`cpu,cpuacct`, with the two names as symlinks), which pod_cgroup() dedupes.
constexpr const char* v1_controllers[] = { "memory", "cpu", "cpuacct", "pids", "blkio" };
constexpr const char* v2_controllers[] = { "memory", "cpu", "pids", "io" };
constexpr uint64_t cfs_period_us = 100000;

bool is_fs(const std::string& path, int64_t magic)
{
    struct statfs st;
    return ::statfs(path.c_str(), &st) == 0 && static_cast<int64_t>(st.f_type) == magic;
}

std::optional<uint64_t> parse_u64(std::string_view s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.remove_suffix(1);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty())
        return std::nullopt;
    return v;
}

std::string read_or_empty(const std::string& path)
{
    auto text = read_file(path);
    return text ? *text : std::string();
}

std::optional<uint64_t> read_u64(const std::string& path)
{
    auto text = read_file(path);
    return text ? parse_u64(*text) : std::nullopt;
}

/// cgroupfs wants one write(2) per value, on an existing file (no O_CREAT/O_TRUNC games).
Status write_value(const std::string& path, std::string_view value)
{
    return write_file(path, value).wrap("write '" + std::string(value) + "' to cgroup file");
}

/// Enable the controllers `dir`'s children need (v2); unavailable ones are skipped.
void enable_v2_controllers(const std::string& dir)
{
    auto available = read_or_empty(path_join(dir, "cgroup.controllers"));
    std::istringstream in(available);
    std::vector<std::string> have;
    for (std::string c; in >> c;)
        have.push_back(c);
    for (auto* c : v2_controllers) {
        if (std::find(have.begin(), have.end(), c) == have.end())
            continue;
        if (auto r = write_value(path_join(dir, "cgroup.subtree_control"), std::string("+") + c); !r)
            spdlog::debug("cgroup: enable {} in '{}': {}, ignoring", c, dir, r.error().message());
    }
}

Status remove_tree_of_cgroups(const std::string& dir)
{
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? Status {} : Error::from_errno("open cgroup '" + dir + "'");
    std::vector<std::string> children;
    while (auto* e = ::readdir(d))
        if (e->d_type == DT_DIR && std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
            children.push_back(path_join(dir, e->d_name));
    ::closedir(d);
    for (auto& c : children)
        TRY(remove_tree_of_cgroups(c));
    // A task that has exited (and been reaped) may still hold the cgroup for a moment, and
    // rmdir fails with EBUSY although cgroup.procs is empty: retry for up to a second then.
    for (int attempt = 0;; attempt++) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT)
            return {};
        int err = errno;
        if (err != EBUSY || attempt >= 100 || !read_or_empty(path_join(dir, "cgroup.procs")).empty())
            return Error::from_errno("remove cgroup '" + dir + "'", err);
        ::usleep(10000);
    }
}

} // namespace

CgroupLayout detect_cgroup_layout(const std::string& root)
{
    if (is_fs(root, CGROUP2_SUPER_MAGIC))
        return CgroupLayout::Unified;
    if (is_fs(path_join(root, "memory"), CGROUP_SUPER_MAGIC) || is_fs(path_join(root, "pids"), CGROUP_SUPER_MAGIC))
        return CgroupLayout::Legacy;
    return CgroupLayout::None;
}

std::string PodCgroup::dir_for(const std::string& controller) const
{
    if (layout == CgroupLayout::Unified)
        return dirs.empty() ? std::string() : dirs.front();
    for (auto& d : dirs) {
        // <root>/<hierarchy>/<subcgroup>: the hierarchy name lists its controllers.
        if (d.size() <= subcgroup.size() + 1 || !d.ends_with("/" + subcgroup))
            continue;
        auto hierarchy = path_basename(d.substr(0, d.size() - subcgroup.size() - 1));
        std::istringstream in(hierarchy);
        for (std::string c; std::getline(in, c, ',');)
            if (c == controller)
                return d;
    }
    return {};
}

PodCgroup pod_cgroup(const std::string& uuid, const std::string& root)
{
    return cgroup_at("capsule/" + uuid, root);
}

PodCgroup cgroup_at(const std::string& subcgroup, const std::string& root)
{
    PodCgroup cg;
    cg.layout = detect_cgroup_layout(root);
    cg.subcgroup = subcgroup;
    if (cg.layout == CgroupLayout::Unified) {
        cg.dirs.push_back(path_join(root, cg.subcgroup));
    } else if (cg.layout == CgroupLayout::Legacy) {
        std::vector<std::string> seen;
        for (auto* c : v1_controllers) {
            auto mount = path_join(root, c);
            if (!is_fs(mount, CGROUP_SUPER_MAGIC))
                continue;
            char real[4096];
            if (!::realpath(mount.c_str(), real))
                continue;
            if (std::find(seen.begin(), seen.end(), real) != seen.end())
                continue;
            seen.emplace_back(real);
            cg.dirs.push_back(path_join(real, cg.subcgroup));
        }
    }
    return cg;
}

Result<PodCgroup> create_pod_cgroup(const std::string& uuid, const CgroupLimits& limits)
{
    auto cg = pod_cgroup(uuid);
    if (cg.layout == CgroupLayout::None || cg.dirs.empty())
        return Error("no cgroup hierarchy at /sys/fs/cgroup", ENOENT);
    auto fail = [&cg](Error e) -> Error {
        for (auto& d : cg.dirs)
            (void)remove_tree_of_cgroups(d);
        return e;
    };
    for (auto& d : cg.dirs) {
        auto parent = path_dirname(d);
        if (::mkdir(parent.c_str(), 0755) < 0 && errno != EEXIST)
            return fail(Error::from_errno("create cgroup '" + parent + "'"));
        if (cg.layout == CgroupLayout::Unified) {
            enable_v2_controllers(path_dirname(parent));
            enable_v2_controllers(parent);
        }
        if (::mkdir(d.c_str(), 0755) < 0 && errno != EEXIST)
            return fail(Error::from_errno("create cgroup '" + d + "'"));
    }
    if (auto r = apply_cgroup_limits(cg, limits); !r)
        return fail(r.release_error());
    auto pid = std::to_string(::getpid());
    for (auto& d : cg.dirs)
        if (auto r = write_value(path_join(d, "cgroup.procs"), pid); !r)
            return fail(r.release_error());
    return cg;
}

Status apply_cgroup_limits(const PodCgroup& cg, const CgroupLimits& limits)
{
    bool v2 = cg.layout == CgroupLayout::Unified;
    if (limits.memory_bytes) {
        auto dir = cg.dir_for("memory");
        if (dir.empty())
            return Error("--memory: no memory controller for the pod's cgroup", ENOTSUP);
        TRY(write_value(
            path_join(dir, v2 ? "memory.max" : "memory.limit_in_bytes"), std::to_string(*limits.memory_bytes)));
    }
    if (limits.cpu_millicores) {
        auto dir = cg.dir_for("cpu");
        if (dir.empty())
            return Error("--cpu: no cpu controller for the pod's cgroup", ENOTSUP);
        // millicores/1000 of a CPU per period: quota_us = millicores * period_us / 1000.
        auto quota = std::to_string(*limits.cpu_millicores * cfs_period_us / 1000);
        if (v2) {
            TRY(write_value(path_join(dir, "cpu.max"), quota + " " + std::to_string(cfs_period_us)));
        } else {
            TRY(write_value(path_join(dir, "cpu.cfs_period_us"), std::to_string(cfs_period_us)));
            TRY(write_value(path_join(dir, "cpu.cfs_quota_us"), quota));
        }
    }
    return {};
}

Status remove_pod_cgroup(const std::string& uuid, const std::string& root)
{
    if (uuid.empty() || uuid.find('/') != std::string::npos || uuid.starts_with("."))
        return Error::msg("remove cgroup: bad pod UUID '" + uuid + "'");
    auto sub = "capsule/" + uuid;
    std::vector<std::string> dirs { path_join(root, sub) };
    if (DIR* d = ::opendir(root.c_str())) {
        while (auto* e = ::readdir(d))
            if (e->d_name[0] != '.')
                dirs.push_back(path_join(path_join(root, e->d_name), sub));
        ::closedir(d);
    }
    Status result;
    for (auto& dir : dirs)
        if (auto r = remove_tree_of_cgroups(dir); !r && result)
            result = r.release_error();
    return result;
}

bool cgroup_exists(const PodCgroup& cg)
{
    for (auto& d : cg.dirs)
        if (is_directory(d))
            return true;
    return false;
}

CgroupStats read_cgroup_stats(const PodCgroup& cg)
{
    CgroupStats s;
    auto limit = [](const std::string& path) -> std::optional<uint64_t> {
        auto v = read_u64(path); // "max" (v2) does not parse: unlimited
        // v1 reports "unlimited" as a huge page-rounded number.
        if (v && *v >= (uint64_t(1) << 62))
            return std::nullopt;
        return v;
    };
    if (cg.layout == CgroupLayout::Unified) {
        auto d = cg.dir_for("");
        std::istringstream cpu(read_or_empty(path_join(d, "cpu.stat")));
        for (std::string k, v; cpu >> k >> v;)
            if (k == "usage_usec")
                if (auto us = parse_u64(v))
                    s.cpu_usage_ns = *us * 1000;
        s.memory_current = read_u64(path_join(d, "memory.current"));
        s.memory_peak = read_u64(path_join(d, "memory.peak"));
        s.memory_limit = limit(path_join(d, "memory.max"));
        if (auto io = read_file(path_join(d, "io.stat"))) {
            // One line per device: "MAJ:MIN rbytes=N wbytes=N rios=N …".
            uint64_t rbytes = 0, wbytes = 0;
            std::istringstream in(*io);
            for (std::string f; in >> f;) {
                auto eq = f.find('=');
                if (eq == std::string::npos)
                    continue;
                auto v = parse_u64(std::string_view(f).substr(eq + 1)).value_or(0);
                if (f.starts_with("rbytes="))
                    rbytes += v;
                else if (f.starts_with("wbytes="))
                    wbytes += v;
            }
            s.io_read_bytes = rbytes;
            s.io_write_bytes = wbytes;
        }
        s.pids_current = read_u64(path_join(d, "pids.current"));
        s.pids_limit = limit(path_join(d, "pids.max"));
        return s;
    }
    if (auto d = cg.dir_for("cpuacct"); !d.empty())
        s.cpu_usage_ns = read_u64(path_join(d, "cpuacct.usage"));
    if (auto d = cg.dir_for("memory"); !d.empty()) {
        s.memory_current = read_u64(path_join(d, "memory.usage_in_bytes"));
        s.memory_peak = read_u64(path_join(d, "memory.max_usage_in_bytes"));
        s.memory_limit = limit(path_join(d, "memory.limit_in_bytes"));
    }
    if (auto d = cg.dir_for("blkio"); !d.empty()) {
        if (auto text = read_file(path_join(d, "blkio.throttle.io_service_bytes"))) {
            s.io_read_bytes = 0;
            s.io_write_bytes = 0;
            std::istringstream in(*text);
            for (std::string line; std::getline(in, line);) {
                std::istringstream fields(line);
                std::string dev, op, value;
                if (!(fields >> dev >> op >> value))
                    continue;
                auto v = parse_u64(value);
                if (op == "Read" && v)
                    *s.io_read_bytes += *v;
                else if (op == "Write" && v)
                    *s.io_write_bytes += *v;
            }
        }
    }
    if (auto d = cg.dir_for("pids"); !d.empty()) {
        s.pids_current = read_u64(path_join(d, "pids.current"));
        s.pids_limit = limit(path_join(d, "pids.max"));
    }
    return s;
}

Result<PodCgroup> find_pod_cgroup(const std::string& dir, std::string_view prefix)
{
    auto ref = TRY(find_pod(dir, prefix));
    // Recorded by stage0: capsule/<uuid>, or the systemd unit's cgroup.
    auto recorded = read_file(path_join(ref.path, stage1_interface::subcgroup));
    std::string sub = recorded ? *recorded : "";
    while (!sub.empty() && (sub.back() == '\n' || sub.back() == '/'))
        sub.pop_back();
    auto cg = cgroup_at(sub.empty() ? "capsule/" + ref.uuid : sub);
    if (!recorded || !cgroup_exists(cg))
        return Error("pod " + ref.uuid + " has no cgroup (it is " + std::string(state_name(probe_state(ref)))
                + "; pods run without one where cgroupfs is not writable)",
            ENOENT);
    return cg;
}

Status update_pod_cgroup(const std::string& dir, std::string_view prefix, const CgroupLimits& limits)
{
    auto ref = TRY(find_pod(dir, prefix));
    auto state = probe_state(ref);
    if (state != PodState::Running)
        return Error("pod " + ref.uuid + " is not running (it is " + std::string(state_name(state)) + ")", EINVAL);
    auto cg = TRY(find_pod_cgroup(dir, ref.uuid));
    return apply_cgroup_limits(cg, limits).wrap("update pod " + ref.uuid);
}

} // namespace capsule::stage0
