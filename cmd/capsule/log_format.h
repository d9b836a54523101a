// SPDX-License-Identifier: Apache-2.0
#pragma once

// How `capsule logs` prints one line of an app's output, whichever store it came from (the
// journal of a systemd-flavour pod, the log files of a fly pod): Documentation/pods.md, "Logs".

#include <cstdint>
#include <optional>
#include <string>

namespace capsule::cmd {

enum class LogFormat { Short, Json, Cat };

/// One line of an app's output, as `logs` shows it.
struct LogRecord {
    uint64_t realtime_usec { 0 };
    std::string app;
    std::string message;               ///< raw bytes
    std::optional<int> priority;       ///< syslog priority (journal entries)
    std::optional<std::string> stream; ///< "stdout" or "stderr" (log files)
};

/// journalctl's `-o short` time: local, to the second (`Nov 28 05:18:30`).
std::string format_short_time(uint64_t usec);

/// The line `logs` prints for `r`, with its newline. short: `<time> <app>: <message>`; cat: the
/// message; json: `time`, `app`, `message`, `priority` (null when unknown) and, for a line
/// from a log file, `stream`.
std::string format_log_record(const LogRecord& r, LogFormat);

} // namespace capsule::cmd
