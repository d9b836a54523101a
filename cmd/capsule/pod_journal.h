// SPDX-License-Identifier: Apache-2.0
#pragma once

// A pod's journal (`<poddir>/journal/<machine-id>/*.journal`, written by the journald the
// systemd stage1 runs inside the pod), read through sd-journal.
//
// libsystemd is loaded with dlopen() on first use rather than linked, like libcurl
// (fetch/curl_dl.h): linking it would add libsystemd, libgcrypt, libgpg-error and libcap to
// every start of `capsule` (Documentation/hacking.md), and only `logs` reads a journal.
// <systemd/sd-journal.h> is used for types only.

#include "lib/result.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sd_journal;

namespace capsule::cmd {

struct JournalApi;

/// What `logs` shows of one journal entry.
struct JournalEntry {
    uint64_t realtime_usec { 0 };
    std::string unit;       ///< _SYSTEMD_UNIT ("" when absent)
    std::string identifier; ///< SYSLOG_IDENTIFIER ("" when absent)
    std::string message;    ///< MESSAGE, raw bytes
    std::optional<int> priority;
};

/// The journal files of one directory and the subdirectories journald makes in it (one per
/// machine ID), with a read position. Errors name the directory and the errno text.
class PodJournal {
public:
    static Result<PodJournal> open(const std::string& directory);
    PodJournal(PodJournal&&) noexcept;
    PodJournal& operator=(PodJournal&&) = delete;
    PodJournal(const PodJournal&) = delete;
    PodJournal& operator=(const PodJournal&) = delete;
    ~PodJournal();

    /// Only entries with `FIELD=value`; matches on one field are OR'ed.
    Status add_match(std::string_view field_and_value);

    Status seek_head();
    Status seek_tail();
    /// Before the first entry at or after this time.
    Status seek_realtime(uint64_t usec);

    /// Move to the next entry: false at the end.
    Result<bool> next();
    /// Move back up to `n` entries: how many it moved.
    Result<uint64_t> previous(uint64_t n);
    /// The entry at the current position.
    Result<JournalEntry> entry();

    /// Wait up to `timeout` for entries or files to be added (inotify), and take them in.
    Status wait(std::chrono::microseconds timeout);

private:
    PodJournal(const JournalApi*, sd_journal*, std::string directory);
    Error failed(std::string_view what, int r) const;
    std::optional<std::string> field(std::string_view name);

    const JournalApi* m_api { nullptr };
    sd_journal* m_journal { nullptr };
    std::string m_directory;
};

} // namespace capsule::cmd
