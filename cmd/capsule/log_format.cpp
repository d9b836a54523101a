// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/log_format.h"

#include "lib/units.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace capsule::cmd {

std::string format_short_time(uint64_t usec)
{
    time_t secs = static_cast<time_t>(usec / 1'000'000);
    struct tm tm;
    ::localtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%b %d %H:%M:%S", &tm);
    return buf;
}

std::string format_log_record(const LogRecord& r, LogFormat format)
{
    std::string line;
    switch (format) {
    case LogFormat::Short:
        line = format_short_time(r.realtime_usec) + " " + r.app + ": " + r.message;
        break;
    case LogFormat::Cat:
        line = r.message;
        break;
    case LogFormat::Json: {
        nlohmann::ordered_json j = {
            { "time", format_rfc3339_usec(r.realtime_usec) },
            { "app", r.app },
            { "message", r.message },
            { "priority", r.priority ? nlohmann::ordered_json(*r.priority) : nlohmann::ordered_json(nullptr) },
        };
        if (r.stream)
            j["stream"] = *r.stream;
        // Apps may print anything: bytes that are not UTF-8 become U+FFFD, not an exception.
        line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
        break;
    }
    }
    line += '\n';
    return line;
}

} // namespace capsule::cmd
