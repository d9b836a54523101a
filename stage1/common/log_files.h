// SPDX-License-Identifier: Apache-2.0
#pragma once

// An app's log files, for a stage1 that keeps no journal (fly): every line the app writes to
// stdout or stderr is appended to `logs/<app>.log` in the pod directory as
// `<RFC 3339 UTC time, microseconds> <stdout|stderr> <line>`, and the file is rotated
// (`<app>.log` -> `<app>.log.1` -> ... -> `<app>.log.3`) before it would pass a size cap.
// Documentation/stage1-interface.md, "The pod directory", is the contract `capsule logs` reads.

#include "lib/appc/pod_manifest.h"
#include "lib/fd.h"
#include "lib/result.h"
#include "stage1/common/interface.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace capsule::stage1 {

enum class LogStream { Stdout, Stderr };

/// The size one log file may reach before it is rotated, unless the pod annotation
/// `capsule/log-max-size` says otherwise.
inline constexpr uint64_t default_log_max_size = 1024 * 1024;
/// A line longer than this is written as several.
inline constexpr size_t log_max_line = 16 * 1024;

/// One line of a log file, with its newline.
std::string format_log_line(uint64_t realtime_usec, LogStream, std::string_view line);

/// The cap on one log file of the pod: its annotation `capsule/log-max-size` (a positive
/// number of bytes), else default_log_max_size; an error for a value that is not one.
Result<uint64_t> log_max_size(const appc::PodManifest&);

/// One app's log. Problems writing it are reported once, as a warning, and the app's
/// output is then only passed through.
class AppLog {
public:
    /// Make `<dir>` (the pod's `logs/`) if needed; the file itself is created with the first line.
    static Result<AppLog> open(const std::string& dir, const std::string& app, uint64_t max_size);

    /// A chunk read from one of the app's streams at `usec`: its complete lines, and pieces
    /// of log_max_line bytes of a longer one, are written; the rest waits for more.
    void add(LogStream, std::string_view chunk, uint64_t usec);
    /// The stream ended: write what is left of its last line.
    void finish(LogStream, uint64_t usec);

private:
    AppLog(UniqueFd dir, std::string app, uint64_t max_size);
    void line(LogStream, std::string_view, uint64_t usec);
    void flush();
    Status rotate();
    Status open_file();
    void failed(const Error&);

    UniqueFd m_dir;
    std::string m_app;
    uint64_t m_max_size;
    UniqueFd m_file;
    uint64_t m_size { 0 };
    std::string m_pending[2]; ///< per stream: the start of a line not yet complete
    std::string m_out;        ///< formatted lines not yet written
    bool m_broken { false };
};

} // namespace capsule::stage1
