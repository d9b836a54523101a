// SPDX-License-Identifier: Apache-2.0
// systemd `run`: the host's systemd as PID 1 of new pid, uts, ipc and cgroup namespaces (the
// network is the host's), booted into capsule-pod.target, which starts one unit per app.
//
// This process stays outside as the waiter: it holds the pod lock, copies the pod's console
// (a pty, as systemd-nspawn gives a container) to stdout, turns termination signals into an
// orderly stop of the pod (SIGRTMIN+4 to PID 1) and, once every app has recorded its exit
// status, stops the pod the same way. It exits with the first non-zero app status.
#include "stage1/systemd/systemd.h"

#include "lib/fs.h"
#include "stage1/common/app_process.h"
#include "stage1/common/app_root.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sched.h>
#include <sstream>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace capsule::stage1::sd {

namespace iface = capsule::stage1_interface;

namespace {

/// The hierarchies of /proc/self/cgroup where this process is in the pod's cgroup.
Result<std::vector<Hierarchy>> pod_hierarchies(const std::string& subcgroup, bool& unified_only)
{
    unified_only = cgroup_unified();
    std::vector<Hierarchy> out;
    bool have_systemd = false, have_v2 = false;
    for (auto& [controllers, path] : parse_proc_cgroup(TRY(read_file("/proc/self/cgroup")))) {
        auto dir = hierarchy_dir(controllers, unified_only);
        if (path != "/" + subcgroup || !dir)
            continue;
        have_v2 = have_v2 || controllers.empty();
        have_systemd = have_systemd || controllers == "name=systemd";
        if (!dir->empty()) // cgroup v2 alone is mounted on /sys/fs/cgroup itself
            out.push_back({ controllers, *dir });
    }
    if (unified_only ? !have_v2 : !have_systemd)
        return Error::msg("the pod is not in its own cgroup ('" + subcgroup + "') of the "
            + std::string(unified_only ? "unified" : "name=systemd") + " hierarchy, which its systemd needs");
    return out;
}

struct Console {
    UniqueFd master;
    std::string slave;
    /// Held by the waiter while the pod runs: the master then never reports a hangup in the
    /// moments no process of the pod has the console open.
    UniqueFd slave_fd;
};

Result<Console> open_console()
{
    Console c;
    int fd = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return Error::from_errno("open a pty for the pod's console");
    c.master.reset(fd);
    if (::grantpt(fd) < 0 || ::unlockpt(fd) < 0)
        return Error::from_errno("unlock the pod's console pty");
    char name[128];
    if (::ptsname_r(fd, name, sizeof name) != 0)
        return Error::from_errno("name the pod's console pty");
    c.slave = name;
    int sfd = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sfd < 0)
        return Error::from_errno("open the pod's console pty");
    c.slave_fd.reset(sfd);
    struct winsize ws;
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        ::ioctl(fd, TIOCSWINSZ, &ws);
    return c;
}

/// What journald writes to the console for an app's line is `[ 12.345678] app[pid]: text`
/// (the timestamp when printk has one). The waiter shows the text: alone in a one-app pod,
/// as `app: text` in a pod of several, so the output reads like the app's own.
class ConsoleFilter {
public:
    ConsoleFilter(std::vector<std::string> apps, bool raw)
        : m_apps(std::move(apps))
        , m_raw(raw)
    {
    }

    /// `crlf`: the pty turns "\n" into "\r\n" (systemd resets the console so); undo exactly that.
    void feed(std::string_view data, bool crlf)
    {
        std::string chunk;
        for (char c : data) {
            if (m_cr) {
                m_cr = false;
                if (!(crlf && c == '\n'))
                    chunk += '\r';
            }
            if (c == '\r') {
                m_cr = true;
                continue;
            }
            chunk += c;
        }
        if (m_raw) {
            emit(chunk);
            return;
        }
        m_line += chunk;
        size_t nl;
        while ((nl = m_line.find('\n')) != std::string::npos) {
            emit(rewrite(std::string_view(m_line).substr(0, nl)) + "\n");
            m_line.erase(0, nl + 1);
        }
    }

    void flush()
    {
        if (m_cr)
            m_line += '\r';
        m_cr = false;
        if (!m_line.empty())
            emit(m_raw ? m_line : rewrite(m_line));
        m_line.clear();
    }

private:
    std::string rewrite(std::string_view line) const
    {
        auto rest = line;
        if (rest.starts_with("[")) {
            auto close = rest.find("] ");
            if (close != std::string_view::npos
                && std::all_of(rest.begin() + 1, rest.begin() + static_cast<long>(close),
                    [](char c) { return c == ' ' || c == '.' || (c >= '0' && c <= '9'); }))
                rest.remove_prefix(close + 2);
        }
        for (auto& app : m_apps) {
            if (!rest.starts_with(app) || rest.size() <= app.size() || rest[app.size()] != '[')
                continue;
            auto tail = rest.substr(app.size() + 1);
            auto close = tail.find("]: ");
            if (close == std::string_view::npos || close == 0
                || !std::all_of(
                    tail.begin(), tail.begin() + static_cast<long>(close), [](char c) { return c >= '0' && c <= '9'; }))
                continue;
            auto text = tail.substr(close + 3);
            return m_apps.size() == 1 ? std::string(text) : app + ": " + std::string(text);
        }
        return std::string(line);
    }

    static void emit(std::string_view s)
    {
        if (!s.empty())
            (void)write_all(STDOUT_FILENO, s, "stdout");
    }

    std::vector<std::string> m_apps;
    bool m_raw;
    bool m_cr { false };
    std::string m_line;
};

/// Restores the caller's terminal when the pod ends.
class RawTerminal {
public:
    explicit RawTerminal(int fd)
    {
        if (::tcgetattr(fd, &m_saved) == 0) {
            struct termios raw = m_saved;
            ::cfmakeraw(&raw);
            if (::tcsetattr(fd, TCSANOW, &raw) == 0)
                m_fd = fd;
        }
    }
    ~RawTerminal()
    {
        if (m_fd >= 0)
            ::tcsetattr(m_fd, TCSANOW, &m_saved);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int m_fd { -1 };
    struct termios m_saved { };
};

void signal_apps(const Pod& pod, const std::string& subcgroup, bool unified_only, int sig)
{
    for (auto& app : pod.manifest.apps) {
        auto procs = read_file(app_cgroup_dir(subcgroup, app.name, unified_only) + "/cgroup.procs");
        if (!procs)
            continue;
        std::istringstream in(*procs);
        for (pid_t pid; in >> pid;)
            ::kill(pid, sig);
    }
}

bool all_exited(int statusfd, const Pod& pod)
{
    for (auto& app : pod.manifest.apps) {
        struct stat st;
        if (::fstatat(statusfd, app.name.c_str(), &st, 0) < 0)
            return false;
    }
    return true;
}

/// Wait (up to 5 s) until `pid` blocks or catches SIGRTMIN+4.
void wait_for_signal_handling(pid_t pid)
{
    auto path = "/proc/" + std::to_string(pid) + "/status";
    uint64_t bit = 1ULL << (SIGRTMIN + 4 - 1);
    for (int i = 0; i < 1000; i++) {
        auto text = read_file(path);
        if (!text)
            return;
        uint64_t blocked = 0, caught = 0;
        for (auto [key, out] : { std::pair { "SigBlk:", &blocked }, { "SigCgt:", &caught } })
            if (auto at = text->find(key); at != std::string::npos)
                *out = std::strtoull(text->c_str() + at + std::strlen(key), nullptr, 16);
        if ((blocked | caught) & bit)
            return;
        ::usleep(5000);
    }
}

[[noreturn]] void boot_systemd(const PodRootPlan& plan, int errfd)
{
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setsid();
    // The pod ends with its waiter (`run`), even when that is killed outright.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (auto r = build_pod_root(plan); !r)
        report_to_parent(errfd, r.error());
    std::string uuid_env = "container_uuid=" + iface::pod_machine_id(plan.pod->uuid);
    // As a container's init, systemd sends READY=1 once the pod target and every app started,
    // and STATUS= lines (the waiter adds STOPPING=1): stage0 relays them to the host's unit.
    std::string notify_env = std::string("NOTIFY_SOCKET=") + pod_notify_socket;
    const char* envp[] = { "container=capsule", uuid_env.c_str(), "SYSTEMD_UNIT_PATH=/etc/systemd/system",
        "SYSTEMD_GENERATOR_PATH=/run/capsule-no-generators",
        "SYSTEMD_ENVIRONMENT_GENERATOR_PATH=/run/capsule-no-generators", "LANG=C.UTF-8",
        plan.notify ? notify_env.c_str() : nullptr, nullptr };
    std::string unit = std::string("--unit=") + pod_target;
    // Quiet unless --debug: on a host whose cgroup layout differs from systemd's defaults, it
    // reports every hierarchy it cannot mount on the pod's read-only /sys/fs/cgroup.
    const char* argv[] = { host_systemd, "--system", unit.c_str(), "--show-status=no",
        plan.debug ? "--log-level=info" : "--log-level=crit", "--log-target=console", nullptr };
    ::execve(host_systemd, const_cast<char**>(argv), const_cast<char**>(envp));
    report_to_parent(errfd, Error::from_errno(std::string("exec the host's systemd '") + host_systemd + "'"));
}

/// With stage0's `<pod>/notify` (relayed to the host's unit): the pod is stopping. Its systemd
/// says only "STATUS=Activating special unit poweroff.target..." then. Relative to the pod
/// directory (the cwd), which a sockaddr_un may be too short to name.
void notify_stopping()
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    std::string_view path = iface::notify_socket;
    path.copy(sa.sun_path, sizeof sa.sun_path - 1);
    static constexpr std::string_view msg = "STOPPING=1";
    if (fd.get() < 0
        || ::sendto(fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa)
            < 0)
        diag_debug("notify STOPPING=1: %s, ignoring", std::strerror(errno));
}

struct Waiter {
    const Pod& pod;
    bool notify; ///< `<pod>/notify` exists
    pid_t pid1;
    int statusfd;
    std::string subcgroup;
    bool unified_only;
    int master;
    UniqueFd& slave;
    bool interactive;
};

/// The pod's status once PID 1 is gone: `status/<app>` for apps that have none yet (killed
/// with the pod) and the first non-zero app status.
int finish(const Waiter& w, int wstatus)
{
    int code = 0;
    for (auto& app : w.pod.manifest.apps) {
        auto path = w.pod.dir + "/" + std::string(iface::status_dir) + "/" + app.name;
        auto text = read_file(path);
        int status = -1;
        if (text) {
            status = std::atoi(text->c_str());
        } else if (WIFSIGNALED(wstatus)) {
            status = 128 + WTERMSIG(wstatus);
            (void)write_pod_file(w.pod, std::string(iface::status_dir) + "/" + app.name, std::to_string(status) + "\n");
        } else {
            diag_warn("app %s: the pod ended without its exit status", app.name.c_str());
            status = exit_stage1_error;
        }
        diag_debug("app %s exited with status %d", app.name.c_str(), status);
        if (code == 0 && status != 0)
            code = status;
    }
    return code;
}

int wait_pod(Waiter& w, int sigfd, ConsoleFilter& filter)
{
    int ino = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    UniqueFd ino_fd(ino);
    auto status_dir = w.pod.dir + "/" + std::string(iface::status_dir);
    if (ino >= 0)
        ::inotify_add_watch(ino, status_dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
    bool stopping = false;
    int interrupts = 0;
    bool stdin_open = w.interactive;
    auto request_stop = [&] {
        if (!stopping) {
            ::kill(w.pid1, SIGRTMIN + 4);
            if (w.notify)
                notify_stopping();
        }
        stopping = true;
    };
    if (all_exited(w.statusfd, w.pod))
        request_stop();
    char buf[16384];
    int wstatus = 0;
    bool pid1_gone = false;
    while (true) {
        struct pollfd fds[4] = { { sigfd, POLLIN, 0 }, { ino, POLLIN, 0 }, { w.master, POLLIN, 0 },
            { stdin_open ? STDIN_FILENO : -1, POLLIN, 0 } };
        int n = ::poll(fds, 4, pid1_gone ? 0 : -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = ::read(w.master, buf, sizeof buf);
            if (r > 0) {
                struct termios t;
                bool crlf = ::tcgetattr(w.master, &t) == 0 && (t.c_oflag & OPOST) && (t.c_oflag & ONLCR);
                filter.feed(std::string_view(buf, static_cast<size_t>(r)), crlf);
                continue; // drain the console before anything else
            }
            if (pid1_gone)
                break; // EIO or nothing left: every writer is gone
        } else if (pid1_gone) {
            break;
        }
        if (fds[3].revents & (POLLIN | POLLHUP)) {
            ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
            if (r > 0) {
                (void)write_all(w.master, std::string_view(buf, static_cast<size_t>(r)), "the pod's console");
            } else {
                stdin_open = false;
                (void)!::write(w.master, "\x04", 1); // end of input, as a terminal reports it
            }
        }
        if (fds[1].revents & POLLIN) {
            while (::read(ino, buf, sizeof buf) > 0) { }
            if (all_exited(w.statusfd, w.pod))
                request_stop();
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (::read(sigfd, &si, sizeof si) == sizeof si) {
                int sig = static_cast<int>(si.ssi_signo);
                if (sig == SIGCHLD) {
                    if (::waitpid(w.pid1, &wstatus, WNOHANG) == w.pid1) {
                        pid1_gone = true;
                        w.slave.reset(); // then the master reads what is left, and EIO
                    }
                } else if (sig == SIGTERM || sig == SIGINT) {
                    // An orderly stop: the apps get SIGTERM from their units; a second
                    // interrupt kills the pod.
                    if (++interrupts > 1)
                        ::kill(w.pid1, SIGKILL);
                    else
                        request_stop();
                } else {
                    signal_apps(w.pod, w.subcgroup, w.unified_only, sig);
                }
            }
        }
    }
    filter.flush();
    return finish(w, wstatus);
}

Result<int> run_pod(const Stage1Args& args)
{
    auto lock = TRY(take_lock_fd());
    if (!args.net.empty() && args.net != "host")
        return Error::msg("--net=" + args.net
            + ": the systemd stage1 shares the host network (private networks are "
              "not supported yet)");
    auto pod = TRY(load_pod(args.uuid));
    if (pod.manifest.apps.empty())
        return Error::msg("pod " + pod.uuid + " has no apps");
    if (args.interactive && pod.manifest.apps.size() != 1)
        return Error::msg("--interactive: the pod has " + std::to_string(pod.manifest.apps.size())
            + " apps; only a pod of one app can be interactive");
    if (::access(host_systemd, X_OK) < 0)
        return Error::from_errno(std::string("the systemd stage1 boots the host's systemd, '") + host_systemd + "'");
    auto sub = read_subcgroup(pod.dir);
    if (!sub)
        return Error::msg("pod " + pod.uuid
            + " has no cgroup of its own (cgroupfs is not writable here); the systemd "
              "stage1 needs one");
    auto subcgroup = *sub;

    PodRootPlan plan;
    plan.pod = &pod;
    TRY(join_systemd_hierarchies(subcgroup));
    plan.hierarchies = TRY(pod_hierarchies(subcgroup, plan.unified_only));
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return Error::from_errno("find the stage1 binary");
    plan.helper_dir = path_dirname(std::string(exe, static_cast<size_t>(n)));
    plan.hostname = args.hostname.empty() ? "capsule-" + pod.uuid.substr(0, 8) : args.hostname;
    plan.interactive = args.interactive;
    plan.debug = args.debug;
    plan.inherit_env = args.inherit_env;
    plan.insecure = pod_insecure_options(pod);
    plan.notify = pod_has_notify_socket(pod);
    for (auto d : { iface::status_dir, iface::journal_dir }) {
        auto p = pod.dir + "/" + std::string(d);
        if (::mkdir(p.c_str(), 0755) < 0 && errno != EEXIST)
            return Error::from_errno("create '" + p + "'");
    }
    auto statusfd = TRY(open_fd(pod.dir + "/" + std::string(iface::status_dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto console = TRY(open_console());
    plan.console = console.slave;

    if (::unshare(CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP) < 0)
        return Error::from_errno("unshare the pod's namespaces");
    if (::sethostname(plan.hostname.data(), plan.hostname.size()) < 0)
        return Error::from_errno("set the hostname '" + plan.hostname + "'");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (int s : forwarded_signals)
        sigaddset(&set, s);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        return Error::from_errno("signalfd");
    UniqueFd sigfd(sfd);

    int errpipe[2];
    if (::pipe2(errpipe, O_CLOEXEC) < 0)
        return Error::from_errno("pipe");
    pid_t pid = ::fork();
    if (pid < 0)
        return Error::from_errno("fork the pod's PID 1");
    if (pid == 0) {
        ::close(errpipe[0]);
        boot_systemd(plan, errpipe[1]);
    }
    ::close(errpipe[1]);
    auto err = read_child_report(errpipe[0]);
    ::close(errpipe[0]);
    if (!err.empty()) {
        int ws;
        ::waitpid(pid, &ws, 0);
        return Error::msg(err);
    }
    // A signal sent to a namespace's init before it handles it is dropped: `pid` (which `stop`
    // signals) appears once the pod's systemd takes SIGRTMIN+4 (blocked, for its signalfd).
    wait_for_signal_handling(pid);
    if (auto r = write_pod_file(pod, std::string(iface::pid_file), std::to_string(pid) + "\n"); !r)
        diag_warn("%s, ignoring", r.error().message().c_str());

    std::vector<std::string> names;
    for (auto& a : pod.manifest.apps)
        names.push_back(a.name);
    std::optional<RawTerminal> raw;
    if (args.interactive && ::isatty(STDIN_FILENO))
        raw.emplace(STDIN_FILENO);
    ConsoleFilter filter(names, args.interactive);
    Waiter w { pod, plan.notify, pid, statusfd.get(), subcgroup, plan.unified_only, console.master.get(),
        console.slave_fd, args.interactive };
    return wait_pod(w, sigfd.get(), filter);
}

} // namespace

int run(const Stage1Args& args)
{
    return exit_status(run_pod(args));
}

} // namespace capsule::stage1::sd
