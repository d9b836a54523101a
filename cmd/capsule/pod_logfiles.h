// SPDX-License-Identifier: Apache-2.0
#pragma once

// The log files a stage1 that keeps no journal (fly) writes in the pod directory
// (Documentation/stage1-interface.md): `logs/<app>.log`, rotated to `<app>.log.1` (newest)
// up to `<app>.log.3`, each line `<RFC 3339 UTC time with microseconds> <stdout|stderr> <line>`.
// Read whole, and followed as the stage1 appends and rotates them.

#include "cmd/capsule/log_format.h"
#include "lib/fd.h"
#include "lib/result.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace capsule::cmd {

/// `2026-11-28T12:00:00.123456Z` (exactly the writer's form): Unix microseconds.
std::optional<uint64_t> parse_log_time(std::string_view);

/// One line of an app's log file, without its newline; nullopt when it is not one.
std::optional<LogRecord> parse_log_line(std::string_view line, const std::string& app);

/// The names of an app's files in `logs/`, oldest first: `<app>.log.3` … `<app>.log.1`, `<app>.log`.
std::vector<std::string> log_file_names(const std::string& app);

/// The records of several apps (each in its own order) merged by time, without those
/// before `since_usec`, and only the last `tail` of them.
std::vector<LogRecord> select_records(const std::vector<std::vector<LogRecord>>& per_app,
    std::optional<uint64_t> since_usec, std::optional<uint64_t> tail);

/// The log files of some of a pod's apps, with a read position for following them.
class PodLogFiles {
public:
    /// `dir` is the pod's `logs/`. Watches it (inotify) for wait().
    static Result<PodLogFiles> open(const std::string& dir, std::vector<std::string> apps);

    /// Everything in the files now, per app (oldest first); the position is then their end.
    Result<std::vector<std::vector<LogRecord>>> read_all();
    /// What was written since the last read, across rotations, in each app's order.
    Result<std::vector<LogRecord>> read_new();
    /// Wait up to `timeout` for a file to change.
    void wait(std::chrono::milliseconds timeout);

private:
    struct AppFiles {
        std::string app;
        UniqueFd current; ///< `<app>.log` as it was opened (it may have been rotated since)
        ino_t ino { 0 };
        std::string pending; ///< a line read in part
    };
    PodLogFiles(std::string dir, std::vector<AppFiles>, UniqueFd inotify);
    std::string path(const std::string& name) const;
    Status open_current(AppFiles&);
    Status read_rest(AppFiles&, int fd, const std::string& name, std::vector<LogRecord>& out);
    Status read_whole(AppFiles&, const std::string& name, std::vector<LogRecord>& out);
    Status read_rotated_since(AppFiles&, std::vector<LogRecord>& out);

    std::string m_dir;
    std::vector<AppFiles> m_apps;
    UniqueFd m_inotify;
};

} // namespace capsule::cmd
