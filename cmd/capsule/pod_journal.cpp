// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/pod_journal.h"

#include "lib/dl.h"

#include <charconv>
#include <cstring>
#include <systemd/sd-journal.h>
#include <utility>

namespace capsule::cmd {

/// The sd-journal functions `logs` calls, resolved with dlsym().
struct JournalApi {
    decltype(&::sd_journal_open_directory) open_directory;
    decltype(&::sd_journal_close) close;
    decltype(&::sd_journal_add_match) add_match;
    decltype(&::sd_journal_seek_head) seek_head;
    decltype(&::sd_journal_seek_tail) seek_tail;
    decltype(&::sd_journal_seek_realtime_usec) seek_realtime_usec;
    decltype(&::sd_journal_next) next;
    decltype(&::sd_journal_previous_skip) previous_skip;
    decltype(&::sd_journal_get_data) get_data;
    decltype(&::sd_journal_get_realtime_usec) get_realtime_usec;
    decltype(&::sd_journal_wait) wait;
};

namespace {

constexpr const char* library = "libsystemd.so.0";
constexpr const char* package_hint = "reading a pod's journal needs libsystemd (package libsystemd0): ";

Result<const JournalApi*> load_api()
{
    auto lib = TRY(DynamicLibrary::open(library, package_hint));
    static JournalApi api;
    lib.symbol("sd_journal_open_directory", api.open_directory);
    lib.symbol("sd_journal_close", api.close);
    lib.symbol("sd_journal_add_match", api.add_match);
    lib.symbol("sd_journal_seek_head", api.seek_head);
    lib.symbol("sd_journal_seek_tail", api.seek_tail);
    lib.symbol("sd_journal_seek_realtime_usec", api.seek_realtime_usec);
    lib.symbol("sd_journal_next", api.next);
    lib.symbol("sd_journal_previous_skip", api.previous_skip);
    lib.symbol("sd_journal_get_data", api.get_data);
    lib.symbol("sd_journal_get_realtime_usec", api.get_realtime_usec);
    lib.symbol("sd_journal_wait", api.wait);
    TRY(lib.check());
    return &api;
}

Result<const JournalApi*> journal_api()
{
    // Loaded once; an error is returned again to every caller.
    static Result<const JournalApi*> loaded = load_api();
    return loaded;
}

} // namespace

Result<PodJournal> PodJournal::open(const std::string& directory)
{
    auto api = TRY(journal_api());
    sd_journal* j = nullptr;
    // Files directly in `directory` and in its machine-ID subdirectories (journald's layout).
    int r = api->open_directory(&j, directory.c_str(), 0);
    if (r < 0)
        return Error::from_errno("open journal '" + directory + "'", -r);
    return PodJournal(api, j, directory);
}

PodJournal::PodJournal(const JournalApi* api, sd_journal* j, std::string directory)
    : m_api(api)
    , m_journal(j)
    , m_directory(std::move(directory))
{
}

PodJournal::PodJournal(PodJournal&& other) noexcept
    : m_api(other.m_api)
    , m_journal(std::exchange(other.m_journal, nullptr))
    , m_directory(std::move(other.m_directory))
{
}

PodJournal::~PodJournal()
{
    if (m_journal)
        m_api->close(m_journal);
}

Error PodJournal::failed(std::string_view what, int r) const
{
    return Error::from_errno("journal '" + m_directory + "': " + std::string(what), -r);
}

Status PodJournal::add_match(std::string_view field_and_value)
{
    int r = m_api->add_match(m_journal, field_and_value.data(), field_and_value.size());
    if (r < 0)
        return failed("match " + std::string(field_and_value), r);
    return {};
}

Status PodJournal::seek_head()
{
    if (int r = m_api->seek_head(m_journal); r < 0)
        return failed("seek to the start", r);
    return {};
}

Status PodJournal::seek_tail()
{
    if (int r = m_api->seek_tail(m_journal); r < 0)
        return failed("seek to the end", r);
    return {};
}

Status PodJournal::seek_realtime(uint64_t usec)
{
    if (int r = m_api->seek_realtime_usec(m_journal, usec); r < 0)
        return failed("seek to a time", r);
    return {};
}

Result<bool> PodJournal::next()
{
    int r = m_api->next(m_journal);
    if (r < 0)
        return failed("read the next entry", r);
    return r > 0;
}

Result<uint64_t> PodJournal::previous(uint64_t n)
{
    int r = m_api->previous_skip(m_journal, n);
    if (r < 0)
        return failed("read back", r);
    return static_cast<uint64_t>(r);
}

std::optional<std::string> PodJournal::field(std::string_view name)
{
    const void* data = nullptr;
    size_t size = 0;
    std::string key(name);
    if (m_api->get_data(m_journal, key.c_str(), &data, &size) < 0)
        return std::nullopt;
    // sd_journal_get_data returns "FIELD=value".
    std::string_view all(static_cast<const char*>(data), size);
    if (all.size() <= name.size() || all[name.size()] != '=')
        return std::string();
    return std::string(all.substr(name.size() + 1));
}

Result<JournalEntry> PodJournal::entry()
{
    JournalEntry e;
    if (int r = m_api->get_realtime_usec(m_journal, &e.realtime_usec); r < 0)
        return failed("read an entry's time", r);
    e.unit = field("_SYSTEMD_UNIT").value_or("");
    e.identifier = field("SYSLOG_IDENTIFIER").value_or("");
    e.message = field("MESSAGE").value_or("");
    if (auto p = field("PRIORITY")) {
        int v = 0;
        auto [end, ec] = std::from_chars(p->data(), p->data() + p->size(), v);
        if (ec == std::errc() && end == p->data() + p->size())
            e.priority = v;
    }
    return e;
}

Status PodJournal::wait(std::chrono::microseconds timeout)
{
    // sd_journal_wait() also processes what changed (new files, appended entries).
    int r = m_api->wait(m_journal, static_cast<uint64_t>(timeout.count()));
    if (r < 0)
        return failed("wait for entries", r);
    return {};
}

} // namespace capsule::cmd
