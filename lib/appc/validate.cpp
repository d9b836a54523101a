// SPDX-License-Identifier: Apache-2.0
#include "lib/appc/validate.h"

#include "lib/appc/types.h"
#include "lib/linux_names.h"
#include "lib/units.h"

#include <algorithm>
#include <array>

namespace capsule::appc {

namespace {

bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Both AC types are "^[a-z0-9]+([SEP][a-z0-9]+)*$" for their own separator set.
bool matches_ac_pattern(std::string_view s, std::string_view separators)
{
    if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()))
        return false;
    bool after_separator = false;
    for (char c : s) {
        if (is_lower_alnum(c)) {
            after_separator = false;
        } else if (separators.find(c) != std::string_view::npos && !after_separator) {
            after_separator = true;
        } else {
            return false;
        }
    }
    return true;
}

bool is_numeric_identifier(std::string_view s)
{
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    return s.size() == 1 || s[0] != '0';
}

// Dot-separated identifiers of [0-9A-Za-z-]; numeric ones without leading zeros when `strict`.
bool is_dot_identifiers(std::string_view s, bool strict_numeric)
{
    if (s.empty())
        return false;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find('.', start);
        if (end == std::string_view::npos)
            end = s.size();
        auto part = s.substr(start, end - start);
        if (part.empty())
            return false;
        bool numeric = true;
        for (char c : part) {
            bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
            if (!alnum)
                return false;
            numeric = numeric && c >= '0' && c <= '9';
        }
        if (strict_numeric && numeric && !is_numeric_identifier(part))
            return false;
        start = end + 1;
    }
    return true;
}

struct OsArch {
    std::string_view os;
    std::array<std::string_view, 10> arches;
};

// appc spec 0.8.11, schema/types/labels.go (ValidOSArch).
constexpr OsArch valid_os_arch[] = {
    { "linux",
        { "amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b", "ppc64", "ppc64le", "s390x" } },
    { "freebsd", { "amd64", "i386", "arm" } },
    { "darwin", { "x86_64", "i386" } },
};

Status check_quantity_fields(const nlohmann::json& value, bool cpu)
{
    if (!value.is_object())
        return Error::msg("must be an object with request and/or limit");
    for (const char* key : { "request", "limit" }) {
        auto it = value.find(key);
        if (it == value.end() || it->is_null())
            continue;
        if (!it->is_string())
            return Error::msg(std::string(key) + ": must be a quantity string such as \"64Mi\"");
        auto s = it->get<std::string>();
        auto parsed = cpu ? parse_millicores(s).has_value() : parse_quantity(s).has_value();
        if (!parsed)
            return Error::msg(std::string(key) + ": \"" + s + "\" is not a valid quantity");
    }
    return {};
}

// appc: a non-empty set of syscall names or `@scope/wildcard` values, and an optional errno
// name ("" or absent: blocked calls kill the app).
Status check_seccomp_set(const nlohmann::json& value)
{
    if (!value.is_object())
        return Error::msg("must be an object with a set");
    auto set = value.find("set");
    if (set == value.end() || !set->is_array() || set->empty())
        return Error::msg("set: must be a non-empty array of system call names");
    for (auto& c : *set) {
        bool ok = c.is_string() && !c.get<std::string>().empty();
        if (ok && c.get<std::string>().front() != '@')
            ok = is_syscall_name(c.get<std::string>());
        if (!ok)
            return Error::msg("set: " + c.dump() + " is not a system call name");
    }
    auto err = value.find("errno");
    if (err == value.end() || err->is_null())
        return {};
    if (!err->is_string() || (!err->get<std::string>().empty() && !errno_from_name(err->get<std::string>())))
        return Error::msg("errno: " + err->dump() + " is not an errno name (EPERM, ENOSYS…)");
    return {};
}

} // namespace

bool is_ac_name(std::string_view s)
{
    return matches_ac_pattern(s, "-./");
}

bool is_ac_identifier(std::string_view s)
{
    return matches_ac_pattern(s, "-._~/");
}

bool is_semver(std::string_view s)
{
    auto plus = s.find('+');
    if (plus != std::string_view::npos) {
        if (!is_dot_identifiers(s.substr(plus + 1), false))
            return false;
        s = s.substr(0, plus);
    }
    auto dash = s.find('-');
    if (dash != std::string_view::npos) {
        if (!is_dot_identifiers(s.substr(dash + 1), true))
            return false;
        s = s.substr(0, dash);
    }
    int parts = 0;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find('.', start);
        if (end == std::string_view::npos)
            end = s.size();
        if (!is_numeric_identifier(s.substr(start, end - start)))
            return false;
        parts++;
        start = end + 1;
    }
    return parts == 3;
}

bool is_valid_os(std::string_view os)
{
    return std::any_of(std::begin(valid_os_arch), std::end(valid_os_arch), [&](auto& v) { return v.os == os; });
}

bool is_valid_arch(std::string_view os, std::string_view arch)
{
    if (arch.empty())
        return false;
    for (auto& v : valid_os_arch) {
        if (!os.empty() && v.os != os)
            continue;
        if (std::find(v.arches.begin(), v.arches.end(), arch) != v.arches.end())
            return true;
    }
    return false;
}

Status validate_isolator_value(std::string_view name, const nlohmann::json& value)
{
    if (name == "resource/memory")
        return check_quantity_fields(value, false);
    if (name == "resource/cpu")
        return check_quantity_fields(value, true);
    if (name == "os/linux/capabilities-retain-set" || name == "os/linux/capabilities-remove-set") {
        if (!value.is_object())
            return Error::msg("must be an object with a set");
        auto set = value.find("set");
        if (set == value.end() || !set->is_array() || set->empty())
            return Error::msg("set: must be a non-empty array of capability names");
        for (auto& c : *set)
            if (!c.is_string() || c.get<std::string>().rfind("CAP_", 0) != 0)
                return Error::msg("set: " + c.dump() + " is not a capability name (CAP_…)");
        return {};
    }
    if (name == "os/linux/seccomp-retain-set" || name == "os/linux/seccomp-remove-set")
        return check_seccomp_set(value);
    if (name == "os/linux/no-new-privileges" && !value.is_boolean())
        return Error::msg("must be true or false");
    return {};
}

} // namespace capsule::appc
