// SPDX-License-Identifier: Apache-2.0
// systemd `enter`, `stop`, `gc` and the helpers the pod's units run.
#include "stage1/systemd/systemd.h"

#include "lib/fd.h"
#include "lib/fs.h"
#include "stage1/common/app_process.h"
#include "stage1/common/app_root.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace capsule::stage1::sd {

namespace iface = capsule::stage1_interface;

namespace {

int signal_number(std::string_view name)
{
    for (int s = 1; s < 32; s++)
        if (const char* abbrev = ::sigabbrev_np(s); abbrev && name == abbrev)
            return s;
    if (name.starts_with("RTMIN+"))
        return SIGRTMIN + std::atoi(std::string(name.substr(6)).c_str());
    return 0;
}

// ---- enter --------------------------------------------------------------------------------

/// What the app's main process is and has: enter gives its command exactly that, and no more.
struct AppProcess {
    pid_t pid { 0 };
    uid_t uid { 0 };
    gid_t gid { 0 };
    std::vector<gid_t> groups;
    uint64_t cap_inh { 0 }, cap_prm { 0 }, cap_eff { 0 }, cap_bnd { 0 }, cap_amb { 0 };
    bool no_new_privs { false };
    bool seccomp { false };
    std::vector<std::string> env;
    std::vector<std::pair<std::string, std::string>> cgroups; ///< controllers, path
    std::vector<std::vector<sock_filter>> filters;            ///< newest first
};

pid_t parent_of(pid_t pid)
{
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat)
        return 0;
    auto close = stat->rfind(')');
    if (close == std::string::npos)
        return 0;
    std::istringstream in(stat->substr(close + 2));
    char state;
    pid_t ppid = 0;
    in >> state >> ppid;
    return ppid;
}

Result<pid_t> app_main_pid(const std::string& subcgroup, pid_t pid1, const std::string& app, bool unified)
{
    auto text = read_file(app_cgroup_dir(subcgroup, app, unified) + "/cgroup.procs");
    if (!text)
        return Error("app '" + app + "' is not running", ESRCH);
    std::istringstream in(*text);
    for (pid_t p; in >> p;)
        if (parent_of(p) == pid1)
            return p;
    return Error("app '" + app + "' is not running", ESRCH);
}

Result<AppProcess> inspect(pid_t pid)
{
    AppProcess a;
    a.pid = pid;
    auto proc = "/proc/" + std::to_string(pid);
    auto status = TRY(read_file(proc + "/status"));
    std::istringstream in(status);
    for (std::string line; std::getline(in, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        auto key = line.substr(0, colon);
        std::istringstream v(line.substr(colon + 1));
        auto hex = [&v] {
            uint64_t x = 0;
            v >> std::hex >> x;
            return x;
        };
        if (key == "Uid") {
            uid_t r, e;
            v >> r >> e;
            a.uid = e;
        } else if (key == "Gid") {
            gid_t r, e;
            v >> r >> e;
            a.gid = e;
        } else if (key == "Groups") {
            for (gid_t g; v >> g;)
                a.groups.push_back(g);
        } else if (key == "CapInh") {
            a.cap_inh = hex();
        } else if (key == "CapPrm") {
            a.cap_prm = hex();
        } else if (key == "CapEff") {
            a.cap_eff = hex();
        } else if (key == "CapBnd") {
            a.cap_bnd = hex();
        } else if (key == "CapAmb") {
            a.cap_amb = hex();
        } else if (key == "NoNewPrivs") {
            int x = 0;
            v >> x;
            a.no_new_privs = x != 0;
        } else if (key == "Seccomp") {
            int x = 0;
            v >> x;
            a.seccomp = x == SECCOMP_MODE_FILTER;
        }
    }
    auto environ_text = TRY(read_file(proc + "/environ"));
    for (size_t start = 0; start < environ_text.size();) {
        auto end = environ_text.find('\0', start);
        if (end == std::string::npos)
            end = environ_text.size();
        if (end > start)
            a.env.push_back(environ_text.substr(start, end - start));
        start = end + 1;
    }
    a.cgroups = parse_proc_cgroup(TRY(read_file(proc + "/cgroup")));
    return a;
}

/// Copy the app's seccomp filters (the kernel hands them to a ptrace tracer, as CRIU uses it):
/// the entered command then runs under exactly the filter the app runs under.
Status copy_filters(AppProcess& a)
{
    if (!a.seccomp)
        return {};
    if (::ptrace(PTRACE_SEIZE, a.pid, nullptr, nullptr) < 0)
        return Error::from_errno("read the seccomp filter of pid " + std::to_string(a.pid) + ": attach");
    Status result;
    int ws;
    if (::ptrace(PTRACE_INTERRUPT, a.pid, nullptr, nullptr) < 0 || ::waitpid(a.pid, &ws, __WALL) < 0) {
        result = Error::from_errno("read the seccomp filter of pid " + std::to_string(a.pid) + ": stop");
    } else {
        for (long i = 0;; i++) {
            long n = ::ptrace(PTRACE_SECCOMP_GET_FILTER, a.pid, reinterpret_cast<void*>(i), nullptr);
            if (n < 0) {
                if (errno != ENOENT || i == 0)
                    result = Error::from_errno("read the seccomp filter of pid " + std::to_string(a.pid));
                break;
            }
            std::vector<sock_filter> prog(static_cast<size_t>(n));
            if (::ptrace(PTRACE_SECCOMP_GET_FILTER, a.pid, reinterpret_cast<void*>(i), prog.data()) < 0) {
                result = Error::from_errno("read the seccomp filter of pid " + std::to_string(a.pid));
                break;
            }
            a.filters.push_back(std::move(prog));
        }
    }
    ::ptrace(PTRACE_DETACH, a.pid, nullptr, nullptr);
    return result;
}

Status join_cgroups(const AppProcess& a, bool unified)
{
    auto self = std::to_string(::getpid());
    for (auto& [controllers, path] : a.cgroups) {
        auto dir = hierarchy_dir(controllers, unified);
        if (!dir || path == "/")
            continue;
        auto file = "/sys/fs/cgroup/" + *dir + path + "/cgroup.procs";
        if (!path_exists(file))
            continue;
        TRY(write_file(file, self).wrap("join the app's cgroup"));
    }
    return {};
}

Status take_credentials(const AppProcess& a)
{
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (!(a.cap_bnd & (1ULL << c)) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            return Error::from_errno("drop capability " + std::to_string(c));
    if (::setgroups(a.groups.size(), a.groups.data()) < 0 || ::setresgid(a.gid, a.gid, a.gid) < 0)
        return Error::from_errno("take the app's groups");
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || ::setresuid(a.uid, a.uid, a.uid) < 0)
        return Error::from_errno("take the app's user " + std::to_string(a.uid));
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = {};
    for (int i = 0; i < 2; i++) {
        data[i].effective = static_cast<uint32_t>(a.cap_eff >> (32 * i));
        data[i].permitted = static_cast<uint32_t>(a.cap_prm >> (32 * i));
        data[i].inheritable = static_cast<uint32_t>(a.cap_inh >> (32 * i));
    }
    if (::syscall(SYS_capset, &hdr, data) < 0)
        return Error::from_errno("take the app's capabilities");
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if ((a.cap_amb & (1ULL << c)) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            return Error::from_errno("raise ambient capability " + std::to_string(c));
    if (a.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return Error::from_errno("set no_new_privs");
    // Oldest filter first, as the app got them.
    for (auto it = a.filters.rbegin(); it != a.filters.rend(); ++it) {
        struct sock_fprog prog = { static_cast<unsigned short>(it->size()), const_cast<sock_filter*>(it->data()) };
        if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
            return Error::from_errno("apply the app's seccomp filter");
    }
    return {};
}

Result<int> enter_pod(const Stage1Args& args)
{
    auto pod = TRY(load_pod(args.uuid));
    auto* app = TRY(pod_app(pod, args.app));
    pid_t pid1 = TRY_CTX(wait_for_pod_pid(pod.dir), "pod " + pod.uuid);
    auto sub = TRY_CTX(read_subcgroup(pod.dir), "pod " + pod.uuid);
    bool unified = cgroup_unified();
    if (path_exists(pod.dir + "/" + std::string(iface::status_dir) + "/" + app->name))
        return Error("pod " + pod.uuid + ": app '" + app->name + "' has exited", ESRCH);
    pid_t main = -1;
    for (int i = 0; i < 150; i++) { // a pod just started may not have started its apps yet
        auto p = app_main_pid(sub, pid1, app->name, unified);
        if (p) {
            main = *p;
            break;
        }
        if (::kill(pid1, 0) < 0 || i == 149)
            return p.error().wrap("pod " + pod.uuid);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto a = TRY_CTX(inspect(main), "app '" + app->name + "'");
    TRY_CTX(copy_filters(a), "app '" + app->name + "'");
    auto proc = "/proc/" + std::to_string(main);
    std::vector<std::pair<UniqueFd, int>> ns;
    for (auto [name, type] : { std::pair { "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC },
             { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET }, { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS } })
        ns.emplace_back(TRY_CTX(open_fd(proc + "/ns/" + name, O_RDONLY | O_CLOEXEC), "app '" + app->name + "'"), type);
    auto root = TRY_CTX(open_fd(proc + "/root", O_PATH | O_DIRECTORY | O_CLOEXEC), "app '" + app->name + "'");
    TRY(join_cgroups(a, unified));
    for (auto& [fd, type] : ns)
        if (::setns(fd.get(), type) < 0)
            return Error::from_errno("join the app's namespaces");
    TRY(enter_app_root(root.get(), *app));
    auto env = a.env;
    if (const char* term = std::getenv("TERM"))
        env.push_back(std::string("TERM=") + term);
    int errpipe[2];
    if (::pipe2(errpipe, O_CLOEXEC) < 0)
        return Error::from_errno("pipe");
    pid_t child = ::fork(); // a child, to be in the pod's pid namespace
    if (child < 0)
        return Error::from_errno("fork");
    if (child == 0) {
        ::close(errpipe[0]);
        if (auto r = take_credentials(a); !r)
            report_to_parent(errpipe[1], r.error());
        report_to_parent(errpipe[1], exec_command(enter_command(args), env, " in app '" + app->name + "'"));
    }
    ::close(errpipe[1]);
    auto err = read_child_report(errpipe[0]);
    ::close(errpipe[0]);
    // Terminal signals reach the command (same process group); others are forwarded by hand.
    int ws = 0;
    while (::waitpid(child, &ws, 0) < 0 && errno == EINTR) { }
    if (!err.empty())
        return Error::msg(err);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

} // namespace

int enter(const Stage1Args& args)
{
    return exit_status(enter_pod(args));
}

int stop(const Stage1Args& args)
{
    // SIGRTMIN+4 asks the pod's systemd to stop: the apps' units stop in order, each within
    // its stop timeout, then PID 1 exits. SIGKILL to PID 1 ends the whole pid namespace.
    return signal_pod(args.uuid, args.force ? SIGKILL : SIGRTMIN + 4);
}

int gc(const Stage1Args& args)
{
    // The pod's mounts lived in its PID 1's mount namespace and went with it; its journal is in
    // the pod directory; its cgroups are under the pod's cgroup, which stage0 removes.
    diag_debug("gc of pod %s: nothing to undo", args.uuid.c_str());
    return 0;
}

int app_exited(const std::vector<std::string>& args)
{
    if (args.size() != 1) {
        diag_error(Error::msg("usage: app-exited APP"));
        return exit_stage1_error;
    }
    auto& app = args[0];
    std::string code = std::getenv("EXIT_CODE") ? std::getenv("EXIT_CODE") : "";
    std::string status = std::getenv("EXIT_STATUS") ? std::getenv("EXIT_STATUS") : "";
    int value = exit_stage1_error;
    if (code == "exited")
        value = std::atoi(status.c_str());
    else if (code == "killed" || code == "dumped")
        value = 128 + signal_number(status);
    auto dir = std::string(pod_status_dir);
    auto tmp = dir + "/." + app + ".tmp";
    if (auto r = write_file(tmp, std::to_string(value) + "\n"); !r) {
        diag_error(r.error());
        return exit_stage1_error;
    }
    if (::rename(tmp.c_str(), (dir + "/" + app).c_str()) < 0) {
        diag_error(Error::from_errno("record the exit status of app '" + app + "'"));
        return exit_stage1_error;
    }
    return 0;
}

int exec_in_app(const std::vector<std::string>& args)
{
    if (args.size() < 2) {
        diag_error(Error::msg("usage: exec-in-app APP CMD [ARGS...]"));
        return exit_stage1_error;
    }
    auto root = app_root_in_pod(args[0]);
    if (::chroot(root.c_str()) < 0 || ::chdir("/") < 0) {
        diag_error(Error::from_errno("enter the rootfs of app '" + args[0] + "'"));
        return exit_stage1_error;
    }
    // The handler gets the unit's environment, the app's.
    std::vector<std::string> env;
    for (char** e = environ; e && *e; e++)
        env.emplace_back(*e);
    diag_error(exec_command({ args.begin() + 1, args.end() }, env).wrap("event handler of app '" + args[0] + "'"));
    return exit_stage1_error;
}

} // namespace capsule::stage1::sd
