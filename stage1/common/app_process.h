// SPDX-License-Identifier: Apache-2.0
#pragma once

// Starting an app and waiting for it. The stage1 process forks once: the child enters the
// app's root and credentials and execs; a failure before exec comes back as data ({errno,
// message} over a close-on-exec pipe). The parent stays as a small waiter that forwards
// termination signals to the app and reports its exit status; when the app's output is
// captured, it also copies the app's stdout and stderr to its own and to the app's log.

#include "lib/fd.h"
#include "lib/result.h"
#include "stage1/common/log_files.h"
#include "stage1/common/user.h"

#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace capsule::stage1 {

struct AppLaunch {
    int rootfd { -1 };             ///< the app rootfs (chroot target)
    std::vector<std::string> argv; ///< argv[0] absolute, or searched in the app's PATH
    std::vector<std::string> env;
    std::string working_dir { "/" };
    Credentials creds;
    bool interactive { false };    ///< keep stdin; otherwise stdin is /dev/null
    bool capture_output { false }; ///< stdout and stderr are pipes the waiter reads
};

/// A started app, as its waiter holds it.
struct AppProcess {
    pid_t pid { -1 };
    UniqueFd signals; ///< signalfd of the forwarded signals and SIGCHLD
    UniqueFd out;     ///< with capture_output: the read ends of the app's stdout and stderr
    UniqueFd err;
};

class AppLog;
/// One of an app's captured output streams, as its waiter copies it: the fd it reads (reset at
/// the stream's end), its own fd it copies to, and which of the app's streams it is.
struct Pump {
    UniqueFd& from;
    int to;
    LogStream stream;
    bool echo { true }; ///< false once writing `to` failed (a reader that went away)
};
enum class Drain { Once, UntilEmpty };
/// Copy what `p.from` holds (one read, or until it is empty or ends) to `p.to` and to `log`
/// (if not null), waiting for a non-blocking `to` as cat would; at its end, close it. Its end,
/// or being drained, completes the stream's last line in the log.
void pump(Pump& p, AppLog* log, Drain drain);

/// The signals forwarded to the app when sent to the waiter by a process (kill(2), stop).
/// Terminal-generated ones already reach the app, which shares the foreground process group.
inline constexpr int forwarded_signals[] = { 1, 2, 3, 10, 12, 15 }; // HUP INT QUIT USR1 USR2 TERM

/// Block forwarded signals and SIGCHLD in the caller (the waiter), fork, and exec the app.
/// Returns once the exec succeeded.
Result<AppProcess> start_app(const AppLaunch&);

/// Wait for the app, forwarding signals; returns its exit status (128+N if killed by signal N).
/// Captured output is copied as it comes to the waiter's stdout and stderr (a reader that
/// went away does not stop it: SIGPIPE is ignored) and to `log` (if not null); once the app
/// exited, what is left in the pipes is read before this returns.
int wait_app(AppProcess&, AppLog* log);

/// execvp(3) `cmd` with exactly `env` as its environment; returns only on failure, as
/// "exec 'CMD'<where>: <why>".
Error exec_command(
    const std::vector<std::string>& cmd, const std::vector<std::string>& env, std::string_view where = "");

/// A forked child's failure before exec, told to its parent over a close-on-exec pipe: the
/// child writes the one-line message and exits 254; the parent reads to end of file, which
/// comes with the exec ("") or the child's exit (the message).
[[noreturn]] void report_to_parent(int fd, const Error&);
std::string read_child_report(int fd);
/// The argv of execv(3): pointers into `v`, null-terminated (`v` must outlive it).
std::vector<char*> cstrings(const std::vector<std::string>& v);
/// A forked child that reports to its parent: fork, and in the child run `child` with the
/// write end of a close-on-exec pipe (it execs, or report_to_parent()s; when it returns the
/// child exits 0). The parent reads the pipe to its end, which comes with the exec or the
/// child's exit (or with the end of a program whose output went there), and gets the child's
/// pid and what it wrote.
struct ChildReport {
    pid_t pid { -1 };
    std::string report;
};
Result<ChildReport> fork_reporting(const std::function<void(int fd)>& child);

} // namespace capsule::stage1
