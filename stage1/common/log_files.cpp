// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/log_files.h"

#include "lib/fs.h"
#include "lib/units.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::stage1 {

namespace iface = capsule::stage1_interface;

namespace {

constexpr size_t time_size = 27; // 2026-11-28T12:00:00.123456Z

std::string_view stream_name(LogStream s)
{
    return s == LogStream::Stdout ? "stdout" : "stderr";
}

size_t index(LogStream s)
{
    return s == LogStream::Stdout ? 0 : 1;
}

size_t formatted_size(LogStream s, std::string_view line)
{
    return time_size + 1 + stream_name(s).size() + 1 + line.size() + 1;
}

void append_log_line(std::string& out, uint64_t usec, LogStream s, std::string_view line)
{
    out += format_rfc3339_usec(usec);
    out += ' ';
    out += stream_name(s);
    out += ' ';
    out += line;
    out += '\n';
}

} // namespace

std::string format_log_line(uint64_t usec, LogStream s, std::string_view line)
{
    std::string out;
    append_log_line(out, usec, s, line);
    return out;
}

Result<uint64_t> log_max_size(const appc::PodManifest& manifest)
{
    auto v = manifest.annotation(iface::annotation_log_max_size);
    if (!v)
        return default_log_max_size;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n == 0)
        return Error::msg("pod annotation " + std::string(iface::annotation_log_max_size) + ": '" + *v
            + "' is not a positive number of bytes");
    return n;
}

AppLog::AppLog(UniqueFd dir, std::string app, uint64_t max_size)
    : m_dir(std::move(dir))
    , m_app(std::move(app))
    , m_max_size(max_size)
{
}

Result<AppLog> AppLog::open(const std::string& dir, const std::string& app, uint64_t max_size)
{
    if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST)
        return Error::from_errno("mkdir '" + dir + "'");
    auto fd = TRY(open_fd(dir, O_RDONLY | O_DIRECTORY));
    return AppLog(std::move(fd), app, max_size);
}

void AppLog::add(LogStream s, std::string_view chunk, uint64_t usec)
{
    auto& pending = m_pending[index(s)];
    while (!chunk.empty()) {
        size_t room = log_max_line - pending.size();
        size_t nl = chunk.find('\n');
        size_t take;
        if (nl != std::string_view::npos && nl <= room)
            take = nl;
        else if (chunk.size() > room) // no end of line within the limit: cut it there
            take = room;
        else {
            pending.append(chunk);
            break;
        }
        if (pending.empty()) {
            line(s, chunk.substr(0, take), usec);
        } else {
            pending.append(chunk.substr(0, take));
            line(s, pending, usec);
            pending.clear();
        }
        chunk.remove_prefix(take == nl ? take + 1 : take);
    }
    flush();
}

void AppLog::finish(LogStream s, uint64_t usec)
{
    auto& pending = m_pending[index(s)];
    if (!pending.empty())
        line(s, pending, usec);
    pending.clear();
    flush();
}

void AppLog::line(LogStream s, std::string_view text, uint64_t usec)
{
    if (m_broken)
        return;
    if (!m_file) {
        if (auto r = open_file(); !r)
            return failed(r.error());
    }
    uint64_t used = m_size + m_out.size();
    if (used > 0 && used + formatted_size(s, text) > m_max_size) {
        flush();
        if (auto r = rotate(); !r)
            return failed(r.error());
    }
    append_log_line(m_out, usec, s, text);
}

void AppLog::flush()
{
    if (m_broken || m_out.empty())
        return;
    if (auto r = write_all(m_file.get(), m_out, "'logs/" + m_app + ".log'"); !r)
        return failed(r.error());
    m_size += m_out.size();
    m_out.clear();
}

Status AppLog::open_file()
{
    auto name = m_app + ".log";
    m_file = TRY(openat_fd(m_dir.get(), name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0640));
    struct stat st;
    if (::fstat(m_file.get(), &st) < 0)
        return Error::from_errno("stat 'logs/" + name + "'");
    m_size = static_cast<uint64_t>(st.st_size);
    return {};
}

Status AppLog::rotate()
{
    auto base = m_app + ".log";
    for (int i = iface::logs_rotated; i > 0; i--) {
        auto from = i == 1 ? base : base + "." + std::to_string(i - 1);
        auto to = base + "." + std::to_string(i);
        if (::renameat(m_dir.get(), from.c_str(), m_dir.get(), to.c_str()) < 0 && errno != ENOENT)
            return Error::from_errno("rename 'logs/" + from + "' to '" + to + "'");
    }
    m_file.reset();
    return open_file();
}

void AppLog::failed(const Error& e)
{
    diag_warn("app log: %s, ignoring", e.message().c_str());
    m_broken = true;
    m_out.clear();
}

} // namespace capsule::stage1
