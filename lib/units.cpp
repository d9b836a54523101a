// SPDX-License-Identifier: Apache-2.0
#include "lib/units.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace capsule {

namespace {

struct Number {
    double value;
    std::string_view suffix;
};

Result<Number> split_number(std::string_view s, std::string_view what)
{
    size_t i = 0;
    bool dot = false;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !dot))) {
        dot = dot || s[i] == '.';
        i++;
    }
    if (i == 0 || (i == 1 && dot))
        return Error::msg("invalid " + std::string(what) + " '" + std::string(s) + "': expected a number");
    std::string num(s.substr(0, i));
    return Number { std::strtod(num.c_str(), nullptr), s.substr(i) };
}

} // namespace

Result<uint64_t> parse_quantity(std::string_view s)
{
    auto n = TRY(split_number(s, "quantity"));
    struct Suffix {
        std::string_view name;
        double factor;
    };
    static constexpr Suffix suffixes[] = {
        { "", 1 },
        { "k", 1e3 },
        { "K", 1e3 },
        { "M", 1e6 },
        { "G", 1e9 },
        { "T", 1e12 },
        { "P", 1e15 },
        { "E", 1e18 },
        { "Ki", 1024.0 },
        { "Mi", 1048576.0 },
        { "Gi", 1073741824.0 },
        { "Ti", 1099511627776.0 },
        { "Pi", 1125899906842624.0 },
        { "Ei", 1152921504606846976.0 },
    };
    for (auto& suf : suffixes) {
        if (n.suffix == suf.name) {
            double v = std::ceil(n.value * suf.factor);
            if (v > 1.8e19)
                return Error::msg("invalid quantity '" + std::string(s) + "': too large");
            return static_cast<uint64_t>(v);
        }
    }
    return Error::msg("invalid quantity '" + std::string(s) + "': unknown suffix '" + std::string(n.suffix)
        + "' (use k, M, G, T or Ki, Mi, Gi, Ti)");
}

Result<uint64_t> parse_millicores(std::string_view s)
{
    auto n = TRY(split_number(s, "CPU quantity"));
    if (n.suffix == "m")
        return static_cast<uint64_t>(std::ceil(n.value));
    if (n.suffix.empty())
        return static_cast<uint64_t>(std::ceil(n.value * 1000));
    return Error::msg(
        "invalid CPU quantity '" + std::string(s) + "': use cores (\"2\", \"0.5\") or millicores (\"500m\")");
}

Result<std::chrono::milliseconds> parse_duration(std::string_view s)
{
    auto bad = [&](std::string why) { return Error::msg("invalid duration '" + std::string(s) + "': " + why); };
    if (s.empty())
        return bad("empty");
    if (s == "0")
        return std::chrono::milliseconds(0);
    double total_ms = 0;
    std::string_view rest = s;
    while (!rest.empty()) {
        auto n = split_number(rest, "duration");
        if (!n)
            return bad("expected a number followed by a unit (ms, s, m, h)");
        size_t ulen = 0;
        while (ulen < n->suffix.size() && std::isalpha(static_cast<unsigned char>(n->suffix[ulen])))
            ulen++;
        std::string_view unit = n->suffix.substr(0, ulen);
        double factor;
        if (unit == "ms")
            factor = 1;
        else if (unit == "s")
            factor = 1000;
        else if (unit == "m")
            factor = 60e3;
        else if (unit == "h")
            factor = 3600e3;
        else if (unit == "d")
            factor = 86400e3;
        else
            return bad(unit.empty() ? "missing unit (ms, s, m, h)" : "unknown unit '" + std::string(unit) + "'");
        total_ms += n->value * factor;
        rest = n->suffix.substr(ulen);
    }
    return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

std::string human_size(uint64_t bytes)
{
    static const char* units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string human_age(int64_t t, int64_t now)
{
    if (t <= 0)
        return "-";
    int64_t d = now - t;
    char buf[48];
    if (d < 0)
        d = 0;
    if (d < 60)
        std::snprintf(buf, sizeof buf, "%lld seconds ago", static_cast<long long>(d));
    else if (d < 3600)
        std::snprintf(buf, sizeof buf, "%lld minutes ago", static_cast<long long>(d / 60));
    else if (d < 86400)
        std::snprintf(buf, sizeof buf, "%lld hours ago", static_cast<long long>(d / 3600));
    else
        std::snprintf(buf, sizeof buf, "%lld days ago", static_cast<long long>(d / 86400));
    return buf;
}

std::string format_rfc3339(int64_t unix_seconds)
{
    time_t t = static_cast<time_t>(unix_seconds);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string format_rfc3339_usec(uint64_t unix_usec)
{
    time_t t = static_cast<time_t>(unix_usec / 1'000'000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[48];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06lluZ", static_cast<unsigned long long>(unix_usec % 1'000'000));
    return buf;
}

namespace {

/// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    auto yoe = static_cast<unsigned>(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned days_in_month(int64_t y, unsigned m)
{
    static constexpr unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/// The n digits at s[at]; `ok` turns false when they are not all there.
int parse_digits(std::string_view s, size_t at, size_t n, bool& ok)
{
    int v = 0;
    if (at + n > s.size()) {
        ok = false;
        return 0;
    }
    auto [end, ec] = std::from_chars(s.data() + at, s.data() + at + n, v);
    if (ec != std::errc() || end != s.data() + at + n)
        ok = false;
    return v;
}

} // namespace

std::optional<int64_t> parse_rfc3339(std::string_view s)
{
    bool ok = s.size() >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't' || s[10] == ' ')
        && s[13] == ':' && s[16] == ':';
    int year = parse_digits(s, 0, 4, ok);
    int month = parse_digits(s, 5, 2, ok);
    int day = parse_digits(s, 8, 2, ok);
    int hour = parse_digits(s, 11, 2, ok);
    int minute = parse_digits(s, 14, 2, ok);
    int second = parse_digits(s, 17, 2, ok);
    if (!ok)
        return std::nullopt;
    size_t at = 19;
    int64_t usec = 0;
    if (at < s.size() && s[at] == '.') {
        size_t digits = 0;
        for (at++; at < s.size() && s[at] >= '0' && s[at] <= '9'; at++, digits++)
            if (digits < 6)
                usec = usec * 10 + (s[at] - '0');
        if (digits == 0)
            return std::nullopt;
        for (; digits < 6; digits++)
            usec *= 10;
    }
    int64_t offset = 0;
    if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
        at++;
    } else if (at < s.size() && (s[at] == '+' || s[at] == '-') && at + 6 == s.size() && s[at + 3] == ':') {
        offset = (parse_digits(s, at + 1, 2, ok) * 60 + parse_digits(s, at + 4, 2, ok)) * 60;
        if (s[at] == '-')
            offset = -offset;
        at += 6;
    } else {
        return std::nullopt;
    }
    if (!ok || at != s.size() || month < 1 || month > 12 || day < 1
        || static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 || minute > 59
        || second > 60)
        return std::nullopt;
    int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600
        + minute * 60 + second;
    return (secs - offset) * 1'000'000 + usec;
}

} // namespace capsule
