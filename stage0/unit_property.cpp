// SPDX-License-Identifier: Apache-2.0
// `--unit-property=NAME=VALUE` in unit-file syntax, parsed into the typed D-Bus property that
// StartTransientUnit takes, as systemd-run does it (src/shared/bus-unit-util.c). One table says
// which names are accepted, how their values are read and which property they become.

#include "stage0/systemd.h"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <limits>
#include <tuple>

namespace capsule::stage0::systemd {

namespace {

enum class Kind {
    String,       // s, anything
    Word,         // s, non-empty without whitespace (User=, Group=)
    Choice,       // s, one of `choices`
    Slice,        // s, a slice unit name
    Directory,    // s, an absolute path or ~ (WorkingDirectory=)
    Boolean,      // b
    Size,         // t, bytes with K/M/G/T… (base 1024) or infinity
    Count,        // t, a number or infinity (TasksMax=, Limit*=)
    Number,       // t, in [min, max]
    Percent,      // t, CPUQuota=N% as µs of CPU time per second
    TimeSpan,     // t, µs
    Unsigned32,   // u, in [min, max]
    Integer32,    // i, in [min, max]
    Signal,       // i, a signal name or number
    UnitNames,    // as, space-separated unit names
    Environment,  // as, space-separated NAME=VALUE words (quotes allowed)
    JournalField, // aay, one FIELD=value
};

struct Spec {
    std::string_view name; ///< as written in a unit file
    Kind kind;
    std::string_view dbus_name;  ///< the transient property
    std::string_view choices {}; ///< Choice: space-separated
    int64_t min { 0 };
    int64_t max { 0 };
};

constexpr int64_t u32_max = std::numeric_limits<uint32_t>::max();

// Sorted by name (checked by the unit tests through supported_unit_properties()).
constexpr Spec specs[] = {
    { "After", Kind::UnitNames, "After" },
    { "Before", Kind::UnitNames, "Before" },
    { "BindsTo", Kind::UnitNames, "BindsTo" },
    { "BlockIOWeight", Kind::Number, "BlockIOWeight", {}, 10, 1000 },
    { "CPUAccounting", Kind::Boolean, "CPUAccounting" },
    { "CPUQuota", Kind::Percent, "CPUQuotaPerSecUSec" },
    { "CPUShares", Kind::Number, "CPUShares", {}, 2, 262144 },
    { "CPUWeight", Kind::Number, "CPUWeight", {}, 1, 10000 },
    { "CollectMode", Kind::Choice, "CollectMode", "inactive inactive-or-failed" },
    { "Conflicts", Kind::UnitNames, "Conflicts" },
    { "Delegate", Kind::Boolean, "Delegate" },
    { "Description", Kind::String, "Description" },
    { "Environment", Kind::Environment, "Environment" },
    { "Group", Kind::Word, "Group" },
    { "IOAccounting", Kind::Boolean, "IOAccounting" },
    { "IOWeight", Kind::Number, "IOWeight", {}, 1, 10000 },
    { "KillMode", Kind::Choice, "KillMode", "control-group process mixed none" },
    { "KillSignal", Kind::Signal, "KillSignal" },
    { "LimitCORE", Kind::Count, "LimitCORE" },
    { "LimitMEMLOCK", Kind::Count, "LimitMEMLOCK" },
    { "LimitNOFILE", Kind::Count, "LimitNOFILE" },
    { "LimitNPROC", Kind::Count, "LimitNPROC" },
    { "LogExtraFields", Kind::JournalField, "LogExtraFields" },
    { "MemoryAccounting", Kind::Boolean, "MemoryAccounting" },
    { "MemoryHigh", Kind::Size, "MemoryHigh" },
    { "MemoryLimit", Kind::Size, "MemoryLimit" },
    { "MemoryLow", Kind::Size, "MemoryLow" },
    { "MemoryMax", Kind::Size, "MemoryMax" },
    { "MemoryMin", Kind::Size, "MemoryMin" },
    { "MemorySwapMax", Kind::Size, "MemorySwapMax" },
    { "Nice", Kind::Integer32, "Nice", {}, -20, 19 },
    { "NotifyAccess", Kind::Choice, "NotifyAccess", "none main exec all" },
    { "OOMPolicy", Kind::Choice, "OOMPolicy", "continue stop kill" },
    { "OOMScoreAdjust", Kind::Integer32, "OOMScoreAdjust", {}, -1000, 1000 },
    { "PartOf", Kind::UnitNames, "PartOf" },
    { "RemainAfterExit", Kind::Boolean, "RemainAfterExit" },
    { "Requires", Kind::UnitNames, "Requires" },
    { "Restart", Kind::Choice, "Restart", "no on-success on-failure on-abnormal on-watchdog on-abort always" },
    { "RestartSec", Kind::TimeSpan, "RestartUSec" },
    { "RuntimeMaxSec", Kind::TimeSpan, "RuntimeMaxUSec" },
    { "SendSIGKILL", Kind::Boolean, "SendSIGKILL" },
    { "Slice", Kind::Slice, "Slice" },
    { "StartLimitBurst", Kind::Unsigned32, "StartLimitBurst", {}, 0, u32_max },
    { "StartLimitIntervalSec", Kind::TimeSpan, "StartLimitIntervalUSec" },
    { "StartupCPUWeight", Kind::Number, "StartupCPUWeight", {}, 1, 10000 },
    { "StartupIOWeight", Kind::Number, "StartupIOWeight", {}, 1, 10000 },
    { "TasksAccounting", Kind::Boolean, "TasksAccounting" },
    { "TasksMax", Kind::Count, "TasksMax" },
    { "TimeoutStartSec", Kind::TimeSpan, "TimeoutStartUSec" },
    { "TimeoutStopSec", Kind::TimeSpan, "TimeoutStopUSec" },
    { "Type", Kind::Choice, "Type", "simple exec forking oneshot dbus notify notify-reload idle" },
    { "User", Kind::Word, "User" },
    { "Wants", Kind::UnitNames, "Wants" },
    { "WatchdogSec", Kind::TimeSpan, "WatchdogUSec" },
    { "WorkingDirectory", Kind::Directory, "WorkingDirectory" },
};

constexpr uint64_t infinity = std::numeric_limits<uint64_t>::max();

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}
bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/// `digits[.digits]` times `unit`, from the front of `s` (consumed); nullopt on no number or overflow.
std::optional<uint64_t> scaled_number(std::string_view& s, uint64_t unit)
{
    size_t i = 0;
    uint64_t whole = 0;
    for (; i < s.size() && is_digit(s[i]); i++) {
        if (whole > (infinity - (s[i] - '0')) / 10)
            return std::nullopt;
        whole = whole * 10 + (s[i] - '0');
    }
    if (i == 0)
        return std::nullopt;
    if (unit != 0 && whole > infinity / unit)
        return std::nullopt;
    uint64_t value = whole * unit;
    if (i < s.size() && s[i] == '.') {
        if (unit == 1)
            return std::nullopt; // no fractions of the smallest unit
        size_t start = ++i;
        uint64_t numerator = 0, denominator = 1;
        for (; i < s.size() && is_digit(s[i]); i++) {
            if (i - start >= 18)
                return std::nullopt;
            numerator = numerator * 10 + (s[i] - '0');
            denominator *= 10;
        }
        if (i == start)
            return std::nullopt;
        // Rounded down, as systemd does ("0.3G" is 322122547 bytes).
        auto fraction = static_cast<uint64_t>(static_cast<unsigned __int128>(unit) * numerator / denominator);
        if (value > infinity - fraction)
            return std::nullopt;
        value += fraction;
    }
    s.remove_prefix(i);
    return value;
}

std::optional<uint64_t> parse_unsigned(std::string_view s)
{
    auto n = scaled_number(s, 1);
    if (!n || !s.empty())
        return std::nullopt;
    return n;
}

std::optional<int64_t> parse_signed(std::string_view s)
{
    bool negative = s.starts_with('-');
    if (negative || s.starts_with('+'))
        s.remove_prefix(1);
    if (s.find('.') != std::string_view::npos)
        return std::nullopt;
    auto n = parse_unsigned(s);
    if (!n || *n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return std::nullopt;
    return negative ? -static_cast<int64_t>(*n) : static_cast<int64_t>(*n);
}

std::optional<bool> parse_boolean(std::string_view s)
{
    std::string lower(s);
    std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (auto yes : { "1", "yes", "y", "true", "t", "on" })
        if (lower == yes)
            return true;
    for (auto no : { "0", "no", "n", "false", "f", "off" })
        if (lower == no)
            return false;
    return std::nullopt;
}

/// parse_size(…, 1024) of systemd: "512", "1.5G", "64K", "infinity".
std::optional<uint64_t> parse_size(std::string_view s)
{
    if (s == "infinity")
        return infinity;
    static constexpr std::pair<char, uint64_t> suffixes[] = { { 'B', 1 }, { 'K', 1ULL << 10 }, { 'M', 1ULL << 20 },
        { 'G', 1ULL << 30 }, { 'T', 1ULL << 40 }, { 'P', 1ULL << 50 }, { 'E', 1ULL << 60 } };
    uint64_t unit = 1;
    if (!s.empty() && !is_digit(s.back())) {
        auto it = std::ranges::find(suffixes, s.back(), &std::pair<char, uint64_t>::first);
        if (it == std::end(suffixes))
            return std::nullopt;
        unit = it->second;
        s.remove_suffix(1);
    }
    auto n = scaled_number(s, unit);
    if (!n || !s.empty())
        return std::nullopt;
    return n;
}

/// parse_sec() of systemd: "5" (seconds), "100ms", "1min 30s", "2h30m", "1.5s", "infinity" → µs.
std::optional<uint64_t> parse_time_span(std::string_view s)
{
    if (s == "infinity")
        return infinity;
    static constexpr std::pair<std::string_view, uint64_t> units[] = {
        { "usec", 1 },
        { "us", 1 },
        { "µs", 1 },
        { "μs", 1 },
        { "msec", 1000 },
        { "ms", 1000 },
        { "seconds", 1000000 },
        { "second", 1000000 },
        { "sec", 1000000 },
        { "s", 1000000 },
        { "minutes", 60000000 },
        { "minute", 60000000 },
        { "min", 60000000 },
        { "m", 60000000 },
        { "hours", 3600000000 },
        { "hour", 3600000000 },
        { "hr", 3600000000 },
        { "h", 3600000000 },
        { "days", 86400000000 },
        { "day", 86400000000 },
        { "d", 86400000000 },
        { "weeks", 604800000000 },
        { "week", 604800000000 },
        { "w", 604800000000 },
        { "months", 2629800000000 },
        { "month", 2629800000000 },
        { "M", 2629800000000 },
        { "years", 31557600000000 },
        { "year", 31557600000000 },
        { "y", 31557600000000 },
    };
    uint64_t total = 0;
    bool any = false;
    for (;;) {
        while (!s.empty() && is_space(s.front()))
            s.remove_prefix(1);
        if (s.empty())
            return any ? std::optional(total) : std::nullopt;
        // The unit follows the number (after optional blanks), so read the number last.
        std::string_view number = s;
        size_t n = 0;
        while (n < s.size() && (is_digit(s[n]) || s[n] == '.'))
            n++;
        s.remove_prefix(n);
        while (!s.empty() && is_space(s.front()))
            s.remove_prefix(1);
        size_t u = 0;
        while (u < s.size() && !is_space(s[u]) && !is_digit(s[u]) && s[u] != '.')
            u++;
        uint64_t unit = 1000000;
        if (u > 0) {
            auto it = std::ranges::find(units, s.substr(0, u), &std::pair<std::string_view, uint64_t>::first);
            if (it == std::end(units))
                return std::nullopt;
            unit = it->second;
        }
        s.remove_prefix(u);
        number = number.substr(0, n);
        auto value = scaled_number(number, unit);
        if (!value || !number.empty() || total > infinity - 1 - *value)
            return std::nullopt;
        total += *value;
        any = true;
    }
}

/// CPUQuota=: "50%", "150%", "12.5%" (down to 0.01%) → µs of CPU time per second.
std::optional<uint64_t> parse_cpu_quota(std::string_view s)
{
    if (!s.ends_with('%'))
        return std::nullopt;
    s.remove_suffix(1);
    size_t dot = s.find('.');
    if (dot != std::string_view::npos && s.size() - dot - 1 > 2)
        return std::nullopt;
    auto permyriad = scaled_number(s, 100); // 1% = 100‱ = 10,000 µs per second
    if (!permyriad || !s.empty() || *permyriad == 0 || *permyriad > infinity / 100)
        return std::nullopt;
    return *permyriad * 100;
}

/// A signal as systemd's signal_from_string() reads it: SIGTERM, TERM, SIGRTMIN+4, RTMAX-1, 15.
std::optional<int32_t> parse_signal(std::string_view s)
{
    static constexpr std::pair<std::string_view, int> names[]
        = { { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL }, { "TRAP", SIGTRAP },
              { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
              { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
              { "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },
              { "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
              { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
              { "WINCH", SIGWINCH }, { "IO", SIGIO }, { "POLL", SIGPOLL }, { "PWR", SIGPWR }, { "SYS", SIGSYS } };
    if (auto n = parse_signed(s))
        return *n >= 1 && *n < NSIG ? std::optional(static_cast<int32_t>(*n)) : std::nullopt;
    if (s.starts_with("SIG"))
        s.remove_prefix(3);
    for (auto& [name, number] : names)
        if (s == name)
            return number;
    for (auto [prefix, base, sign] : { std::tuple { "RTMIN", SIGRTMIN, 1 }, std::tuple { "RTMAX", SIGRTMAX, -1 } }) {
        std::string_view p(prefix);
        if (!s.starts_with(p))
            continue;
        std::string_view rest = s.substr(p.size());
        if (rest.empty())
            return base;
        if (rest.front() != (sign > 0 ? '+' : '-'))
            return std::nullopt;
        auto offset = parse_unsigned(rest.substr(1));
        if (!offset || *offset > static_cast<uint64_t>(SIGRTMAX - SIGRTMIN))
            return std::nullopt;
        return base + sign * static_cast<int>(*offset);
    }
    return std::nullopt;
}

/// Space-separated words, with '…' and "…" quoting and backslash escapes (extract_first_word()
/// with EXTRACT_UNQUOTE). nullopt on an unterminated quote or a trailing backslash.
std::optional<std::vector<std::string>> split_words(std::string_view s)
{
    std::vector<std::string> words;
    size_t i = 0;
    for (;;) {
        while (i < s.size() && is_space(s[i]))
            i++;
        if (i == s.size())
            return words;
        std::string word;
        char quote = 0;
        for (; i < s.size() && (quote || !is_space(s[i])); i++) {
            char c = s[i];
            if (quote && c == quote)
                quote = 0;
            else if (!quote && (c == '"' || c == '\''))
                quote = c;
            else if (c == '\\' && quote != '\'') {
                if (++i == s.size())
                    return std::nullopt;
                word += s[i];
            } else
                word += c;
        }
        if (quote)
            return std::nullopt;
        words.push_back(std::move(word));
    }
}

bool is_unit_name(std::string_view s)
{
    size_t dot = s.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == s.size() || s.size() > 255)
        return false;
    return std::ranges::all_of(s, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)
            || std::string_view(":-_.\\@").find(c) != std::string_view::npos;
    });
}

bool is_environment_name(std::string_view s)
{
    return !s.empty() && !is_digit(s.front()) && std::ranges::all_of(s, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
    });
}

/// journald's rule for a field a client may set: A–Z, 0–9, _; not starting with _ or a digit.
bool is_journal_field(std::string_view s)
{
    return !s.empty() && s.size() <= 64 && s.front() != '_' && !is_digit(s.front())
        && std::ranges::all_of(s, [](char c) { return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_'; });
}

std::string choices_text(std::string_view choices)
{
    std::string out;
    for (char c : choices)
        out += c == ' ' ? std::string(", ") : std::string(1, c);
    return out;
}

bool is_choice(std::string_view choices, std::string_view value)
{
    while (!choices.empty()) {
        size_t end = choices.find(' ');
        if (choices.substr(0, end) == value)
            return !value.empty();
        if (end == std::string_view::npos)
            break;
        choices.remove_prefix(end + 1);
    }
    return false;
}

struct Invalid {
    std::string why;
};

Invalid out_of_range(const Spec& spec)
{
    return Invalid { "not a number in " + std::to_string(spec.min) + ".." + std::to_string(spec.max) };
}

/// The value, or why it is not one (the caller adds the assignment).
std::variant<PropertyValue, Invalid> parse_value(const Spec& spec, std::string_view value)
{
    switch (spec.kind) {
    case Kind::String:
        return PropertyValue(std::string(value));
    case Kind::Word:
        if (value.empty() || std::ranges::any_of(value, is_space))
            return Invalid { "not a single word" };
        return PropertyValue(std::string(value));
    case Kind::Choice:
        if (!is_choice(spec.choices, value))
            return Invalid { "not one of " + choices_text(spec.choices) };
        return PropertyValue(std::string(value));
    case Kind::Slice:
        if (!value.ends_with(".slice") || !is_unit_name(value))
            return Invalid { "not a slice name (like machine.slice)" };
        return PropertyValue(std::string(value));
    case Kind::Directory: {
        std::string_view path = value.starts_with('-') ? value.substr(1) : value;
        if (path != "~" && !path.starts_with('/'))
            return Invalid { "not an absolute path or ~" };
        return PropertyValue(std::string(value));
    }
    case Kind::Boolean:
        if (auto b = parse_boolean(value))
            return PropertyValue(*b);
        return Invalid { "not a boolean (yes, no, true, false, on, off, 1, 0)" };
    case Kind::Size:
        if (auto n = parse_size(value))
            return PropertyValue(*n);
        return Invalid { "not a size" };
    case Kind::Count:
        if (value == "infinity")
            return PropertyValue(infinity);
        if (auto n = parse_unsigned(value))
            return PropertyValue(*n);
        return Invalid { "not a number or infinity" };
    case Kind::Number:
        if (auto n = parse_unsigned(value);
            n && *n >= static_cast<uint64_t>(spec.min) && *n <= static_cast<uint64_t>(spec.max))
            return PropertyValue(*n);
        return out_of_range(spec);
    case Kind::Percent:
        if (auto usec = parse_cpu_quota(value))
            return PropertyValue(*usec);
        return Invalid { "not a percentage above 0 (like 50% or 200%)" };
    case Kind::TimeSpan:
        if (auto usec = parse_time_span(value))
            return PropertyValue(*usec);
        return Invalid { "not a time span (like 5s, 100ms, 1min 30s or infinity)" };
    case Kind::Unsigned32:
        if (auto n = parse_unsigned(value);
            n && *n >= static_cast<uint64_t>(spec.min) && *n <= static_cast<uint64_t>(spec.max))
            return PropertyValue(static_cast<uint32_t>(*n));
        return out_of_range(spec);
    case Kind::Integer32:
        if (auto n = parse_signed(value); n && *n >= spec.min && *n <= spec.max)
            return PropertyValue(static_cast<int32_t>(*n));
        return out_of_range(spec);
    case Kind::Signal:
        if (auto s = parse_signal(value))
            return PropertyValue(*s);
        return Invalid { "not a signal (like SIGTERM, TERM, SIGRTMIN+4 or 15)" };
    case Kind::UnitNames: {
        auto words = split_words(value);
        if (!words)
            return Invalid { "unterminated quote or escape" };
        for (auto& w : *words)
            if (!is_unit_name(w))
                return Invalid { "'" + w + "' is not a unit name" };
        return PropertyValue(std::move(*words));
    }
    case Kind::Environment: {
        auto words = split_words(value);
        if (!words)
            return Invalid { "unterminated quote or escape" };
        for (auto& w : *words)
            if (size_t eq = w.find('='); eq == std::string::npos || !is_environment_name(w.substr(0, eq)))
                return Invalid { "'" + w + "' is not NAME=VALUE" };
        return PropertyValue(std::move(*words));
    }
    case Kind::JournalField: {
        size_t eq = value.find('=');
        if (eq == std::string_view::npos || !is_journal_field(value.substr(0, eq)))
            return Invalid { "not FIELD=VALUE with FIELD of A-Z, 0-9 and _ (not starting with _ or a digit)" };
        return PropertyValue(std::vector<std::vector<uint8_t>> { std::vector<uint8_t>(value.begin(), value.end()) });
    }
    }
    return Invalid { "unknown kind" };
}

} // namespace

Result<UnitProperty> parse_unit_property(std::string_view assignment)
{
    size_t eq = assignment.find('=');
    if (eq == std::string_view::npos || eq == 0)
        return Error("unit property '" + std::string(assignment) + "': expected NAME=VALUE", EINVAL);
    std::string_view name = assignment.substr(0, eq);
    auto spec = std::ranges::find(specs, name, &Spec::name);
    if (spec == std::end(specs))
        return Error("unit property '" + std::string(name) + "' is not supported (see capsule-run(1))", EINVAL);
    auto parsed = parse_value(*spec, assignment.substr(eq + 1));
    if (auto* invalid = std::get_if<Invalid>(&parsed))
        return Error("unit property '" + std::string(assignment) + "': " + invalid->why, EINVAL);
    return UnitProperty { std::string(spec->dbus_name), std::get<PropertyValue>(std::move(parsed)) };
}

const std::vector<std::string>& supported_unit_properties()
{
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (auto& spec : specs)
            out.emplace_back(spec.name);
        std::ranges::sort(out);
        return out;
    }();
    return names;
}

} // namespace capsule::stage0::systemd
