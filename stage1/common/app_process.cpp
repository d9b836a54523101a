// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/app_process.h"

#include "stage1/common/diag.h"
#include "stage1/common/log_files.h"

#include "lib/fd.h"

#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <grp.h>
#include <optional>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace capsule::stage1 {

namespace {

struct ChildError {
    int err;
    char message[512];
};

sigset_t waiter_mask()
{
    sigset_t set;
    sigemptyset(&set);
    for (int s : forwarded_signals)
        sigaddset(&set, s);
    sigaddset(&set, SIGCHLD);
    return set;
}

[[noreturn]] void child_fail(int pipe_fd, const char* what, const std::string& arg)
{
    ChildError e {};
    e.err = errno;
    std::snprintf(e.message, sizeof e.message, "%s '%s'", what, arg.c_str());
    (void)!::write(pipe_fd, &e, sizeof e);
    ::_exit(127);
}

/// The child's ends: -1 for what it inherits.
struct ChildFds {
    int stdin_fd { -1 };
    int stdout_fd { -1 };
    int stderr_fd { -1 };
    int report { -1 }; ///< the close-on-exec pipe a failure goes to
};

/// In the child: become the app. Only returns through child_fail.
[[noreturn]] void become_app(const AppLaunch& l, char** argv, char** envp, const ChildFds& fds)
{
    int pipe_fd = fds.report;
    sigset_t empty;
    sigemptyset(&empty);
    for (int s : forwarded_signals)
        ::signal(s, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    if (fds.stdin_fd >= 0 && ::dup2(fds.stdin_fd, 0) < 0)
        child_fail(pipe_fd, "redirect stdin to", "/dev/null");
    if (fds.stdout_fd >= 0 && (::dup2(fds.stdout_fd, 1) < 0 || ::dup2(fds.stderr_fd, 2) < 0))
        child_fail(pipe_fd, "redirect stdout and stderr to", "the stage1");
    if (::fchdir(l.rootfd) < 0 || ::chroot(".") < 0)
        child_fail(pipe_fd, "chroot into", "the app rootfs");
    if (::chdir(l.working_dir.c_str()) < 0)
        child_fail(pipe_fd, "chdir to working directory", l.working_dir);
    if (::setgroups(l.creds.groups.size(), l.creds.groups.data()) < 0)
        child_fail(pipe_fd, "set supplementary groups", "");
    if (::setgid(l.creds.gid) < 0)
        child_fail(pipe_fd, "setgid", std::to_string(l.creds.gid));
    if (::setuid(l.creds.uid) < 0)
        child_fail(pipe_fd, "setuid", std::to_string(l.creds.uid));
    environ = envp;
    ::execvp(argv[0], argv);
    child_fail(pipe_fd, "exec", l.argv[0]);
}

/// A close-on-exec pipe whose read end does not block (the waiter polls it); the write end
/// is the app's, and blocks as a pipe does.
Status make_pipe(UniqueFd& rd, UniqueFd& wr)
{
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0)
        return Error::from_errno("pipe");
    rd = UniqueFd(p[0]);
    wr = UniqueFd(p[1]);
    if (::fcntl(rd.get(), F_SETFL, O_NONBLOCK) < 0)
        return Error::from_errno("make the app's output pipe non-blocking");
    return {};
}

uint64_t now_usec()
{
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

/// Take the pending signals: forward those a process sent; the app's exit status once it
/// exited.
std::optional<int> take_signals(const AppProcess& app)
{
    struct signalfd_siginfo si;
    while (::read(app.signals.get(), &si, sizeof si) == sizeof si) {
        // SI_USER/SI_QUEUE and friends are <= 0; the terminal's signals (SI_KERNEL) already
        // reached the app through its process group.
        if (si.ssi_signo != SIGCHLD && si.ssi_code <= 0)
            ::kill(app.pid, static_cast<int>(si.ssi_signo));
    }
    int status = 0;
    pid_t r = ::waitpid(app.pid, &status, WNOHANG);
    if (r == app.pid)
        return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (r < 0 && errno != EINTR)
        return exit_stage1_error;
    return std::nullopt;
}

} // namespace

Result<AppProcess> start_app(const AppLaunch& l)
{
    if (l.argv.empty())
        return Error::msg("the app has no exec");
    AppProcess app;
    UniqueFd devnull, out, err;
    if (!l.interactive)
        devnull = TRY(open_fd("/dev/null", O_RDONLY));
    if (l.capture_output) {
        TRY(make_pipe(app.out, out));
        TRY(make_pipe(app.err, err));
    }
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0)
        return Error::from_errno("pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    auto argv = cstrings(l.argv);
    auto envp = cstrings(l.env);
    sigset_t mask = waiter_mask();
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    app.signals = UniqueFd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!app.signals)
        return Error::from_errno("signalfd");
    pid_t pid = ::fork();
    if (pid < 0)
        return Error::from_errno("fork");
    if (pid == 0)
        become_app(l, argv.data(), envp.data(), { devnull.get(), out.get(), err.get(), wr.get() });
    wr.reset();
    out.reset();
    err.reset();
    ChildError e {};
    ssize_t n;
    do
        n = ::read(rd.get(), &e, sizeof e);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        app.pid = pid;
        return app;
    }
    ::waitpid(pid, nullptr, 0);
    return Error::from_errno(e.message, e.err);
}

int wait_app(AppProcess& app, AppLog* log)
{
    // Our stdout going away must not end the waiter: the app's output still goes to its log.
    ::signal(SIGPIPE, SIG_IGN);
    Pump pumps[2] = { { app.out, 1, LogStream::Stdout }, { app.err, 2, LogStream::Stderr } };
    for (;;) {
        struct pollfd fds[3] = {
            { app.signals.get(), POLLIN, 0 },
            { app.out.get(), POLLIN, 0 },
            { app.err.get(), POLLIN, 0 },
        };
        if (::poll(fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return exit_stage1_error;
        }
        for (int i = 0; i < 2; i++)
            if (fds[i + 1].revents)
                pump(pumps[i], log, Drain::Once);
        if (!fds[0].revents)
            continue;
        if (auto code = take_signals(app)) {
            // Everything the app wrote is in the pipes by now. Read to their end, or until
            // they are empty: a process the app left behind may keep them open.
            for (auto& p : pumps)
                if (p.from)
                    pump(p, log, Drain::UntilEmpty);
            return *code;
        }
    }
}

Error exec_command(const std::vector<std::string>& cmd, const std::vector<std::string>& env, std::string_view where)
{
    auto argv = cstrings(cmd);
    auto envp = cstrings(env);
    environ = envp.data();
    ::execvp(argv[0], argv.data());
    return Error::from_errno("exec '" + cmd.front() + "'" + std::string(where));
}

void report_to_parent(int fd, const Error& e)
{
    auto msg = e.message();
    (void)!::write(fd, msg.data(), msg.size());
    ::_exit(exit_stage1_error);
}

std::string read_child_report(int fd)
{
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return out;
        out.append(buf, static_cast<size_t>(r));
    }
}

std::vector<char*> cstrings(const std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

static void echo(Pump& p, std::string_view data)
{
    while (p.echo && !data.empty()) {
        ssize_t n = ::write(p.to, data.data(), data.size());
        if (n >= 0) {
            data.remove_prefix(static_cast<size_t>(n));
        } else if (errno == EAGAIN) {
            // Our stdout may be a non-blocking file shared with the caller: wait, as cat would.
            struct pollfd w = { p.to, POLLOUT, 0 };
            ::poll(&w, 1, -1);
        } else if (errno != EINTR) {
            p.echo = false; // EPIPE and the like: the app's output still goes to its log
        }
    }
}

void pump(Pump& p, AppLog* log, Drain drain)
{
    static char buf[64 * 1024];
    while (p.from) {
        ssize_t n = ::read(p.from.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (drain == Drain::Once)
                return;
            break;
        }
        if (n <= 0) {
            p.from.reset();
            break;
        }
        std::string_view chunk(buf, static_cast<size_t>(n));
        echo(p, chunk);
        if (log)
            log->add(p.stream, chunk, now_usec());
        if (drain == Drain::Once)
            return;
    }
    if (log)
        log->finish(p.stream, now_usec());
}

Result<ChildReport> fork_reporting(const std::function<void(int fd)>& child)
{
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0)
        return Error::from_errno("pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    pid_t pid = ::fork();
    if (pid < 0)
        return Error::from_errno("fork");
    if (pid == 0) {
        rd.reset();
        child(wr.get());
        ::_exit(0);
    }
    wr.reset();
    return ChildReport { pid, read_child_report(rd.get()) };
}

} // namespace capsule::stage1
