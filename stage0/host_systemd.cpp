// SPDX-License-Identifier: Apache-2.0
#include "stage0/host_systemd.h"

#include "lib/appc/pod_manifest.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/proc_cgroup.h"
#include "stage0/pod_info.h"
#include "stage0/systemd.h"
#include "stage1/common/interface.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace capsule::stage0 {

namespace iface = capsule::stage1_interface;

namespace {

constexpr const char* machine_slice = "machine.slice";

/// This process's cgroup in the hierarchy systemd tracks processes with (name=systemd on v1
/// and hybrid hosts, the v2 one otherwise), without the leading slash.
Result<std::string> own_systemd_cgroup()
{
    std::string v2;
    for (auto& [controllers, path] : parse_proc_cgroup(TRY(read_file("/proc/self/cgroup")))) {
        auto relative = path.substr(std::min(path.find_first_not_of('/'), path.size()));
        if (controllers == "name=systemd")
            return relative;
        if (controllers.empty())
            v2 = relative;
    }
    if (v2.empty())
        return Error::msg("no systemd cgroup in /proc/self/cgroup");
    return v2;
}

std::vector<systemd::UnitProperty> limit_properties(const CgroupLimits& l)
{
    std::vector<systemd::UnitProperty> props;
    if (l.memory_bytes) {
        props.push_back({ "MemoryAccounting", true });
        props.push_back({ "MemoryMax", *l.memory_bytes });
    }
    if (l.cpu_millicores) {
        props.push_back({ "CPUAccounting", true });
        // 1000 millicores = one CPU = 1 s of CPU time per second.
        props.push_back({ "CPUQuotaPerSecUSec", *l.cpu_millicores * 1000 });
    }
    return props;
}

Result<std::vector<systemd::UnitProperty>> parse_properties(const std::vector<std::string>& assignments)
{
    std::vector<systemd::UnitProperty> props;
    for (auto& a : assignments)
        props.push_back(TRY_CTX(systemd::parse_unit_property(a), "--unit-property"));
    return props;
}

bool is_own_unit(const std::string& unit, const std::string& uuid)
{
    return unit == systemd::pod_unit_name(uuid, "scope") || unit == systemd::pod_unit_name(uuid, "service");
}

bool unit_busy(const systemd::UnitState& s)
{
    return s.active_state == "active" || s.active_state == "activating" || s.active_state == "deactivating"
        || s.active_state == "reloading";
}

/// The pod's app root for machined: the pod root for the systemd flavour (what its PID 1
/// sees), none for kvm (the apps' files are inside the VM), the one app's rootfs otherwise.
std::string machine_root(const std::string& pod_path, const PodStage1& stage1, const appc::PodManifest* m)
{
    if (stage1.entrypoints.flavour == "kvm")
        return {};
    if (stage1.entrypoints.flavour != "systemd" && m && m->apps.size() == 1)
        return path_join(pod_path, iface::stage2_root) + "/" + m->apps.front().name + "/rootfs";
    return path_join(pod_path, "stage1/rootfs");
}

/// Whether an app of the pod declares it speaks sd_notify itself.
bool apps_speak_notify(const appc::PodManifest* m)
{
    return m && std::any_of(m->apps.begin(), m->apps.end(), [](const appc::RuntimeApp& a) {
        for (auto& an : a.annotations)
            if (an.name == iface::annotation_supports_notify)
                return an.value == "true";
        return false;
    });
}

/// Where the systemd flavour's journal outlives the pod: `/var/log/journal/<machine-id>`, linked
/// as `<pod>/journal/<machine-id>` (the stage1 mounts it there). Only when the host keeps a
/// persistent journal we may write to.
void link_host_journal(const std::string& pod_path, const std::string& uuid)
{
    if (!is_directory(host_journal_dir) || ::access(host_journal_dir, W_OK) < 0)
        return;
    auto mid = iface::pod_machine_id(uuid);
    auto host = path_join(host_journal_dir, mid);
    auto link = path_join(pod_path, "journal/" + mid);
    if (::mkdir(host.c_str(), 02755) < 0 && errno != EEXIST) {
        spdlog::debug("pod {}: no journal in {}: {}", uuid, host, std::strerror(errno));
        return;
    }
    if (auto r = mkdir_p(path_join(pod_path, "journal")); !r)
        return;
    if (::symlink(host.c_str(), link.c_str()) < 0 && errno != EEXIST)
        spdlog::debug("pod {}: link {}: {}", uuid, link, std::strerror(errno));
}

// ---- the companion process ----------------------------------------------------------------

/// What the companion does for a pod, from outside the pod, while its stage1 runs.
struct Companion {
    std::string uuid;
    std::string pid_file;
    pid_t main_pid { 0 }; ///< the stage1 `run` process (this process, once it execs)
    bool register_machine { false };
    std::string machine_class { "container" }; ///< "vm" for the kvm flavour
    std::string root_directory;
    bool notify { false }; ///< $NOTIFY_SOCKET: READY=1 once the apps are started
    int relay_fd { -1 };   ///< `<pod>/notify`: relay what arrives (the apps' or the pod's systemd)
};

std::optional<pid_t> read_pid(const std::string& path)
{
    auto text = read_file(path);
    if (!text)
        return std::nullopt;
    pid_t pid = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), pid);
    if (ec != std::errc() || pid <= 0)
        return std::nullopt;
    return pid;
}

/// The lines of an sd_notify message the unit may hear from inside the pod: MAINPID and the
/// file descriptor store stay ours.
std::string relayed_lines(std::string_view message)
{
    std::string out;
    while (!message.empty()) {
        auto nl = message.find('\n');
        auto line = message.substr(0, nl);
        message = nl == std::string_view::npos ? std::string_view() : message.substr(nl + 1);
        if (line.empty() || line.starts_with("MAINPID=") || line.starts_with("FDSTORE") || line.starts_with("FDNAME=")
            || line.starts_with("FDPOLL") || line.starts_with("BARRIER="))
            continue;
        out.append(line).push_back('\n');
    }
    return out;
}

void companion_notify(const Companion& c, const std::string& state)
{
    if (auto r = systemd::notify(c.main_pid, state); !r)
        spdlog::warn("pod {}: sd_notify: {}", c.uuid, r.error().message());
}

[[noreturn]] void companion_main(const Companion& c)
{
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, c.main_pid, 0));
    bool started = false;
    for (;;) {
        if (!started) {
            if (auto pid = read_pid(c.pid_file)) {
                started = true;
                if (c.register_machine) {
                    systemd::MachineRegistration m;
                    m.name = systemd::pod_machine_name(c.uuid);
                    auto hex = iface::pod_machine_id(c.uuid);
                    for (size_t i = 0; i < 16 && 2 * i + 1 < hex.size(); i++)
                        m.id[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
                    m.leader = *pid;
                    m.machine_class = c.machine_class;
                    m.root_directory = c.root_directory;
                    auto bus = systemd::Bus::system();
                    auto r = bus ? bus->register_machine(m) : Status(bus.release_error());
                    if (!r)
                        spdlog::debug("pod {}: machined: {}", c.uuid, r.error().message());
                }
                if (c.notify && c.relay_fd < 0)
                    companion_notify(
                        c, "READY=1\nMAINPID=" + std::to_string(c.main_pid) + "\nSTATUS=pod " + c.uuid + " running");
                if (c.relay_fd < 0)
                    ::_exit(0);
            }
        }
        struct pollfd fds[2];
        int n = 0;
        if (pidfd >= 0)
            fds[n++] = { pidfd, POLLIN, 0 };
        if (c.relay_fd >= 0)
            fds[n++] = { c.relay_fd, POLLIN, 0 };
        int timeout = started ? (pidfd >= 0 ? -1 : 200) : 2;
        if (::poll(fds, n, timeout) < 0 && errno != EINTR)
            ::_exit(1);
        if (pidfd < 0 ? ::kill(c.main_pid, 0) < 0 && errno == ESRCH : (fds[0].revents & POLLIN) != 0)
            ::_exit(0);
        if (c.relay_fd >= 0) {
            char buf[4096];
            for (;;) {
                ssize_t len = ::recv(c.relay_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
                if (len <= 0)
                    break;
                auto lines = relayed_lines(std::string_view(buf, static_cast<size_t>(len)));
                if (!lines.empty())
                    companion_notify(c, lines);
            }
        }
    }
}

/// Start the companion as an orphan (double fork), so the stage1 this process becomes never
/// sees it as a child. It keeps stderr and the relay socket, nothing else: above all not the
/// pod lock, which would keep the pod "running".
Status start_companion(const Companion& c)
{
    pid_t child = ::fork();
    if (child < 0)
        return Error::from_errno("pod " + c.uuid + ": fork");
    if (child == 0) {
        if (::fork() != 0)
            ::_exit(0);
        ::setsid();
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            ::dup2(null, STDIN_FILENO);
            ::dup2(null, STDOUT_FILENO);
        }
        Companion mine = c;
        if (c.relay_fd >= 0) {
            ::dup2(c.relay_fd, 3);
            mine.relay_fd = 3;
        }
        ::close_range(mine.relay_fd >= 0 ? 4 : 3, ~0U, 0);
        ::prctl(PR_SET_NAME, "capsule-notify");
        for (int s : { SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE })
            ::signal(s, SIG_IGN);
        companion_main(mine);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) { }
    return {};
}

/// `<pod>/notify`, a datagram socket anyone in the pod may write to.
Result<int> bind_notify_socket(const std::string& pod_path)
{
    auto path = path_join(pod_path, iface::notify_socket);
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return Error::from_errno("notify socket");
    struct sockaddr_un addr { };
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        ::close(fd);
        return Error("notify socket '" + path + "': path too long", ENAMETOOLONG);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::chmod(path.c_str(), 0666) < 0) {
        int e = errno;
        ::close(fd);
        return Error::from_errno("notify socket '" + path + "'", e);
    }
    return fd;
}

/// Put this process into the new scope capsule-<uuid>.scope.
Status start_scope(systemd::Bus& bus, const LockedPod& pod, const RunOptions& o)
{
    std::vector<systemd::UnitProperty> props = {
        { "Description", "capsule pod " + pod.uuid() },
        { "Slice", std::string(machine_slice) },
        { "Delegate", true },
        { "CollectMode", std::string("inactive-or-failed") },
        { "TasksAccounting", true },
        { "PIDs", std::vector<uint32_t> { static_cast<uint32_t>(::getpid()) } },
    };
    for (auto& p : limit_properties(o.limits))
        props.push_back(std::move(p));
    for (auto& p : TRY(parse_properties(o.unit_properties)))
        props.push_back(std::move(p));
    return bus.start_transient_unit(systemd::pod_unit_name(pod.uuid(), "scope"), props, true);
}

/// Put this process (and so the pod) into the pod's cgroup via cgroupfs and record it in
/// `subcgroup`. Where cgroupfs refuses (read-only, a container without delegation) the pod
/// runs without one; `stats` and `update` then say so.
Status join_pod_cgroup(const LockedPod& pod, const CgroupLimits& limits)
{
    auto cg = create_pod_cgroup(pod.uuid(), limits);
    if (!cg) {
        int code = cg.error().code();
        if (code == EACCES || code == EROFS || code == EPERM || code == ENOENT) {
            spdlog::debug("pod {}: no cgroup: {}", pod.uuid(), cg.error().message());
            if (limits.memory_bytes || limits.cpu_millicores)
                spdlog::warn(
                    "pod {}: --memory/--cpu not applied (no cgroup: {}), ignoring", pod.uuid(), cg.error().message());
            return {};
        }
        return cg.release_error().wrap("pod " + pod.uuid() + ": cgroup");
    }
    return write_file(path_join(pod.path(), iface::subcgroup), cg->subcgroup + "\n");
}

} // namespace

HostMode host_mode()
{
    if (!systemd::booted())
        return HostMode::NoSystemd;
    const char* invocation = std::getenv("INVOCATION_ID");
    return invocation && *invocation ? HostMode::UnderUnit : HostMode::Shell;
}

std::string read_pod_unit(const std::string& pod_path)
{
    auto text = read_file(path_join(pod_path, pod_unit_file));
    if (!text)
        return {};
    auto s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

Status enter_pod_unit(LockedPod& pod, const RunOptions& o, const PodStage1& stage1)
{
    const auto& uuid = pod.uuid();
    // A pod that runs again (a restarted unit) starts clean.
    ::unlink(path_join(pod.path(), pod_unit_file).c_str());
    auto mode = host_mode();
    std::optional<systemd::Bus> bus;
    if (mode != HostMode::NoSystemd) {
        auto b = systemd::Bus::system();
        if (!b) {
            spdlog::debug("pod {}: systemd is booted but its bus is not reachable ({}); using cgroupfs", uuid,
                b.error().message());
            mode = HostMode::NoSystemd;
        } else {
            bus.emplace(b.release_value());
        }
    }
    if (mode == HostMode::NoSystemd) {
        if (!o.unit_properties.empty())
            spdlog::warn("pod {}: --unit-property ignored: the host does not run systemd", uuid);
        return join_pod_cgroup(pod, o.limits);
    }

    std::string unit;
    if (mode == HostMode::Shell) {
        TRY_CTX(start_scope(*bus, pod, o), "pod " + uuid);
        unit = systemd::pod_unit_name(uuid, "scope");
    } else {
        unit = TRY_CTX(systemd::unit_of_pid(0), "pod " + uuid + ": the unit capsule runs in");
        if (!o.unit_properties.empty() && !is_own_unit(unit, uuid))
            spdlog::warn("pod {}: --unit-property ignored: the pod runs in {} (set them there)", uuid, unit);
        if (auto limits = limit_properties(o.limits); !limits.empty())
            TRY_CTX(bus->set_unit_properties(unit, limits, true), "pod " + uuid + ": --memory/--cpu");
    }
    TRY(write_file(path_join(pod.path(), pod_unit_file), unit + "\n"));
    auto cgroup = TRY_CTX(own_systemd_cgroup(), "pod " + uuid);
    TRY(write_file(path_join(pod.path(), iface::subcgroup), cgroup + "\n"));
    if (stage1.entrypoints.flavour == "systemd")
        link_host_journal(pod.path(), uuid);

    Companion c;
    c.uuid = uuid;
    c.pid_file = path_join(pod.path(), iface::pid_file);
    c.main_pid = ::getpid();
    c.register_machine = true;
    if (stage1.entrypoints.flavour == "kvm")
        c.machine_class = "vm";
    // Read once for both; without it (never the case for a prepared pod) the defaults hold.
    std::optional<appc::PodManifest> manifest;
    if (auto text = read_file(path_join(pod.path(), iface::pod_manifest)))
        if (auto m = appc::parse_pod_manifest(*text))
            manifest = m.release_value();
    const appc::PodManifest* m = manifest ? &*manifest : nullptr;
    c.root_directory = machine_root(pod.path(), stage1, m);
    const char* notify_socket = std::getenv("NOTIFY_SOCKET");
    c.notify = mode == HostMode::UnderUnit && notify_socket && *notify_socket;
    int relay = -1;
    // The systemd flavour's PID 1 says READY=1 once every app unit has started; a fly app
    // speaks for itself only when its image says it does. Other stage1s get READY=1 at start.
    if (c.notify
        && (stage1.entrypoints.flavour == "systemd" || (stage1.entrypoints.flavour == "fly" && apps_speak_notify(m))))
        relay = TRY_CTX(bind_notify_socket(pod.path()), "pod " + uuid);
    c.relay_fd = relay;
    auto started = start_companion(c);
    if (relay >= 0)
        ::close(relay);
    return started;
}

Status check_detach(const DetachOptions& o)
{
    if (o.restart != "no" && o.restart != "on-failure" && o.restart != "always")
        return Error::msg("--restart=" + o.restart + ": expected no, on-failure or always");
    TRY(parse_properties(o.unit_properties));
    if (!systemd::booted())
        return Error("--detach needs systemd as the host's init (this host was not booted with systemd); run the "
                     "pod in the foreground or from a unit",
            ENOTSUP);
    TRY_CTX(systemd::Bus::system(), "--detach");
    return {};
}

Status start_detached(const std::string& uuid, const DetachOptions& o)
{
    auto bus = TRY_CTX(systemd::Bus::system(), "--detach");
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return Error::from_errno("--detach: readlink /proc/self/exe");
    exe[n] = '\0';
    std::vector<std::string> argv = { exe, "--dir=" + o.dir };
    if (o.debug)
        argv.push_back("--debug");
    for (auto a : { "run-prepared", "--allow-exited" })
        argv.emplace_back(a);
    argv.push_back(uuid);
    auto field = "CAPSULE_POD=" + uuid;
    std::vector<systemd::UnitProperty> props = {
        { "Description", "capsule pod " + uuid },
        { "Slice", std::string(machine_slice) },
        { "Type", std::string("notify") },
        { "NotifyAccess", std::string("main") },
        { "KillMode", std::string("mixed") },
        { "Delegate", true },
        { "Restart", o.restart },
        { "CollectMode", std::string("inactive-or-failed") },
        { "TasksAccounting", true },
        { "LogExtraFields", std::vector<std::vector<uint8_t>> { std::vector<uint8_t>(field.begin(), field.end()) } },
        { "ExecStart", std::vector<systemd::ExecCommand> { { exe, argv, false } } },
    };
    for (auto& p : TRY(parse_properties(o.unit_properties)))
        props.push_back(std::move(p));
    auto unit = systemd::pod_unit_name(uuid, "service");
    auto started = bus.start_transient_unit(unit, props, true);
    if (started)
        return {};
    // The start job also fails when the apps started and were done before READY=1 reached
    // systemd (a quick job): the pod did start then, and its unit's Restart= applies.
    if (path_exists(path_join(pod_path(o.dir, PodDir::Run, uuid), iface::pid_file)))
        return {};
    (void)bus.stop_unit(unit, true);
    (void)bus.reset_failed_unit(unit);
    return started.release_error().wrap("pod " + uuid + " did not start (journalctl -u " + unit + ")");
}

namespace {

/// A detached pod's service while it is active, activating (also between two runs of a
/// restarting one) or deactivating, with the bus it was asked on.
struct BusyUnit {
    systemd::Bus bus;
    std::string unit;
};

/// nullopt when the service is not busy, or the pod is not detached.
Result<std::optional<BusyUnit>> busy_detached_unit(const PodRef& ref)
{
    auto unit = read_pod_unit(ref.path);
    if (unit != systemd::pod_unit_name(ref.uuid, "service") || !systemd::booted())
        return std::optional<BusyUnit>();
    auto bus = TRY_CTX(systemd::Bus::system(), "pod " + ref.uuid);
    auto state = TRY(bus.unit_state(unit));
    if (!state || !unit_busy(*state))
        return std::optional<BusyUnit>();
    return std::optional<BusyUnit>(BusyUnit { std::move(bus), std::move(unit) });
}

} // namespace

Result<bool> stop_pod_unit(const PodRef& ref, bool force)
{
    auto busy = TRY(busy_detached_unit(ref));
    if (!busy)
        return false;
    if (force)
        TRY(busy->bus.kill_unit(busy->unit, "all", SIGKILL));
    TRY(busy->bus.stop_unit(busy->unit, true));
    return true;
}

bool pod_unit_busy(const PodRef& ref)
{
    auto busy = busy_detached_unit(ref);
    return busy && *busy;
}

Status release_pod_unit(const std::string& pod_path, const std::string& uuid)
{
    auto unit = read_pod_unit(pod_path);
    if (!is_own_unit(unit, uuid) || !systemd::booted())
        return {};
    auto bus = systemd::Bus::system();
    if (!bus) {
        spdlog::debug("pod {}: {}", uuid, bus.error().message());
        return {};
    }
    auto machine = systemd::pod_machine_name(uuid);
    if (auto exists = bus->machine_exists(machine); exists && *exists)
        TRY(bus->terminate_machine(machine));
    auto state = TRY(bus->unit_state(unit));
    if (!state)
        return {};
    if (state->active_state != "inactive" && state->active_state != "failed")
        TRY(bus->stop_unit(unit, true));
    return bus->reset_failed_unit(unit);
}

Status update_pod_limits(const std::string& dir, std::string_view prefix, const CgroupLimits& limits)
{
    auto ref = TRY(find_pod(dir, prefix));
    auto state = probe_state(ref);
    if (state != PodState::Running)
        return Error("pod " + ref.uuid + " is not running (it is " + std::string(state_name(state)) + ")", EINVAL);
    if (limits.memory_bytes && pod_flavour(ref) == "kvm")
        return Error(
            "pod " + ref.uuid + ": --memory: a kvm pod's VM is sized when it starts and cannot be resized", ENOTSUP);
    auto unit = read_pod_unit(ref.path);
    if (unit.empty() || !systemd::booted())
        return update_pod_cgroup(dir, ref.uuid, limits);
    auto bus = TRY_CTX(systemd::Bus::system(), "update pod " + ref.uuid);
    return bus.set_unit_properties(unit, limit_properties(limits), true).wrap("update pod " + ref.uuid);
}

} // namespace capsule::stage0
