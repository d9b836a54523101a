// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/pod_logfiles.h"

#include "lib/units.h"
#include "stage1/common/interface.h"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace capsule::cmd {

namespace iface = capsule::stage1_interface;

namespace {

/// Append the complete lines read from `fd` (to its end) to `out`; a line read in part
/// stays in `pending`.
Status read_lines(
    int fd, const std::string& path, std::string& pending, const std::string& app, std::vector<LogRecord>& out)
{
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("read '" + path + "'");
        if (n == 0)
            return {};
        pending.append(buf, static_cast<size_t>(n));
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
            if (auto r = parse_log_line(std::string_view(pending).substr(start, nl - start), app))
                out.push_back(std::move(*r));
        pending.erase(0, start);
    }
}

/// A last line without its newline (the writer ends every line: this is one it was writing).
void flush_pending(std::string& pending, const std::string& app, std::vector<LogRecord>& out)
{
    if (auto r = parse_log_line(pending, app))
        out.push_back(std::move(*r));
    pending.clear();
}

} // namespace

std::optional<uint64_t> parse_log_time(std::string_view s)
{
    // Exactly the writer's form (lib/units.h format_rfc3339_usec), nothing else RFC 3339 allows.
    if (s.size() != 27 || s[10] != 'T' || s[19] != '.' || s[26] != 'Z')
        return std::nullopt;
    auto usec = parse_rfc3339(s);
    if (!usec || *usec < 0)
        return std::nullopt;
    return static_cast<uint64_t>(*usec);
}

std::optional<LogRecord> parse_log_line(std::string_view line, const std::string& app)
{
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos)
        return std::nullopt;
    auto time = parse_log_time(line.substr(0, sp));
    auto rest = line.substr(sp + 1);
    size_t sp2 = rest.find(' ');
    auto stream = rest.substr(0, sp2);
    if (!time || (stream != "stdout" && stream != "stderr"))
        return std::nullopt;
    LogRecord r;
    r.realtime_usec = *time;
    r.app = app;
    r.stream = std::string(stream);
    if (sp2 != std::string_view::npos)
        r.message = std::string(rest.substr(sp2 + 1));
    return r;
}

std::vector<std::string> log_file_names(const std::string& app)
{
    std::vector<std::string> names;
    for (int i = iface::logs_rotated; i > 0; i--)
        names.push_back(app + ".log." + std::to_string(i));
    names.push_back(app + ".log");
    return names;
}

std::vector<LogRecord> select_records(const std::vector<std::vector<LogRecord>>& per_app,
    std::optional<uint64_t> since_usec, std::optional<uint64_t> tail)
{
    // Merged by time, each app's lines kept in their own order (a clock stepped back does
    // not reorder them).
    std::vector<size_t> next(per_app.size(), 0);
    std::vector<LogRecord> out;
    for (;;) {
        const LogRecord* best = nullptr;
        size_t from = 0;
        for (size_t i = 0; i < per_app.size(); i++) {
            if (next[i] < per_app[i].size() && (!best || per_app[i][next[i]].realtime_usec < best->realtime_usec)) {
                best = &per_app[i][next[i]];
                from = i;
            }
        }
        if (!best)
            break;
        next[from]++;
        if (!since_usec || best->realtime_usec >= *since_usec)
            out.push_back(*best);
    }
    if (tail && out.size() > *tail)
        out.erase(out.begin(), out.end() - static_cast<ptrdiff_t>(*tail));
    return out;
}

PodLogFiles::PodLogFiles(std::string dir, std::vector<AppFiles> apps, UniqueFd inotify)
    : m_dir(std::move(dir))
    , m_apps(std::move(apps))
    , m_inotify(std::move(inotify))
{
}

Result<PodLogFiles> PodLogFiles::open(const std::string& dir, std::vector<std::string> apps)
{
    std::vector<AppFiles> files;
    for (auto& a : apps)
        files.push_back({ std::move(a), UniqueFd(), 0, std::string() });
    // Without inotify, wait() sleeps: following still works, a little later.
    UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (in && ::inotify_add_watch(in.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
        in.reset();
    return PodLogFiles(dir, std::move(files), std::move(in));
}

std::string PodLogFiles::path(const std::string& name) const
{
    return m_dir + "/" + name;
}

namespace {

/// A log file opened for reading, with its inode (rotation renames it); nullopt if missing.
Result<std::optional<std::pair<UniqueFd, ino_t>>> open_log(const std::string& p)
{
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT)
            return std::optional<std::pair<UniqueFd, ino_t>>();
        return Error::from_errno("open '" + p + "'");
    }
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return Error::from_errno("stat '" + p + "'");
    return std::optional<std::pair<UniqueFd, ino_t>>(std::pair { std::move(fd), st.st_ino });
}

} // namespace

Status PodLogFiles::open_current(AppFiles& a)
{
    a.current.reset();
    a.ino = 0;
    a.pending.clear();
    auto opened = TRY(open_log(path(a.app + ".log")));
    if (opened) {
        a.current = std::move(opened->first);
        a.ino = opened->second;
    }
    return {};
}

Status PodLogFiles::read_whole(AppFiles& a, const std::string& name, std::vector<LogRecord>& out)
{
    auto p = path(name);
    auto opened = TRY(open_log(p));
    // Missing, or rotated since we opened it as the current file: read through that fd instead.
    if (!opened || (a.current && opened->second == a.ino))
        return {};
    std::string pending;
    TRY(read_lines(opened->first.get(), p, pending, a.app, out));
    flush_pending(pending, a.app, out);
    return {};
}

Status PodLogFiles::read_rotated_since(AppFiles& a, std::vector<LogRecord>& out)
{
    // The file we read is now `<app>.log.K` (or gone, rotated out): the newer ones follow it.
    int k = iface::logs_rotated + 1;
    for (int i = 1; a.current && i <= iface::logs_rotated; i++) {
        struct stat st;
        if (::stat(path(a.app + ".log." + std::to_string(i)).c_str(), &st) == 0 && st.st_ino == a.ino) {
            k = i;
            break;
        }
    }
    for (int i = k - 1; i > 0; i--)
        TRY(read_whole(a, a.app + ".log." + std::to_string(i), out));
    return {};
}

Result<std::vector<std::vector<LogRecord>>> PodLogFiles::read_all()
{
    std::vector<std::vector<LogRecord>> out;
    for (auto& a : m_apps) {
        auto& records = out.emplace_back();
        TRY(open_current(a));
        auto names = log_file_names(a.app);
        names.pop_back();
        for (auto& name : names)
            TRY(read_whole(a, name, records));
        if (a.current)
            TRY(read_lines(a.current.get(), path(a.app + ".log"), a.pending, a.app, records));
    }
    return out;
}

Result<std::vector<LogRecord>> PodLogFiles::read_new()
{
    std::vector<LogRecord> out;
    for (auto& a : m_apps) {
        auto p = path(a.app + ".log");
        if (a.current)
            TRY(read_lines(a.current.get(), p, a.pending, a.app, out));
        struct stat st;
        if (::stat(p.c_str(), &st) < 0) {
            if (errno == ENOENT)
                continue;
            return Error::from_errno("stat '" + p + "'");
        }
        if (a.current && st.st_ino == a.ino)
            continue;
        // Rotated (or made for the first time): the rotated files newer than ours, then the new one.
        flush_pending(a.pending, a.app, out);
        TRY(read_rotated_since(a, out));
        TRY(open_current(a));
        if (a.current)
            TRY(read_lines(a.current.get(), p, a.pending, a.app, out));
    }
    return out;
}

void PodLogFiles::wait(std::chrono::milliseconds timeout)
{
    if (!m_inotify) {
        std::this_thread::sleep_for(timeout);
        return;
    }
    struct pollfd p = { m_inotify.get(), POLLIN, 0 };
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
        return;
    alignas(struct inotify_event) char buf[4096];
    while (::read(m_inotify.get(), buf, sizeof buf) > 0) { }
}

} // namespace capsule::cmd
