// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/app_process.h"

#include "stage1/common/diag.h"

#include "lib/fd.h"

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
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

/// In the child: become the app. Only returns through child_fail.
[[noreturn]] void become_app(const AppLaunch& l, char** argv, char** envp, int devnull, int pipe_fd)
{
    sigset_t empty;
    sigemptyset(&empty);
    for (int s : forwarded_signals)
        ::signal(s, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    if (devnull >= 0 && ::dup2(devnull, 0) < 0)
        child_fail(pipe_fd, "redirect stdin to", "/dev/null");
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

std::vector<char*> cstrings(const std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

} // namespace

Result<pid_t> start_app(const AppLaunch& l)
{
    if (l.argv.empty())
        return Error::msg("the app has no exec");
    UniqueFd devnull;
    if (!l.interactive)
        devnull = TRY(open_fd("/dev/null", O_RDONLY));
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0)
        return Error::from_errno("pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    auto argv = cstrings(l.argv);
    auto envp = cstrings(l.env);
    sigset_t mask = waiter_mask();
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    pid_t pid = ::fork();
    if (pid < 0)
        return Error::from_errno("fork");
    if (pid == 0)
        become_app(l, argv.data(), envp.data(), devnull.get(), wr.get());
    wr.reset();
    ChildError e {};
    ssize_t n;
    do
        n = ::read(rd.get(), &e, sizeof e);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return pid;
    ::waitpid(pid, nullptr, 0);
    return Error::from_errno(e.message, e.err);
}

int wait_app(pid_t pid)
{
    sigset_t mask = waiter_mask();
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        if (r < 0 && errno != EINTR)
            return 254;
        siginfo_t info;
        int sig = ::sigwaitinfo(&mask, &info);
        if (sig < 0 || sig == SIGCHLD)
            continue;
        // SI_USER/SI_QUEUE and friends are <= 0; the terminal's signals (SI_KERNEL) already
        // reached the app through its process group.
        if (info.si_code <= 0)
            ::kill(pid, sig);
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

} // namespace capsule::stage1
