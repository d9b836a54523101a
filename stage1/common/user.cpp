// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/user.h"

#include "stage1/common/interface.h"
#include "stage1/common/mounts.h"

#include "lib/fd.h"

#include <algorithm>
#include <charconv>
#include <fcntl.h>
#include <optional>
#include <sys/syscall.h>
#include <unistd.h>

namespace capsule::stage1 {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        size_t pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos)
            return out;
        start = pos + 1;
    }
}

std::optional<uint32_t> number(std::string_view s)
{
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

/// The fields of the line of a passwd/group file whose field `key_field` equals `key`.
std::optional<std::vector<std::string_view>> find_entry(std::string_view text, size_t key_field, std::string_view key)
{
    for (auto line : split(text, '\n')) {
        auto fields = split(line, ':');
        if (fields.size() > key_field + 1 && fields[key_field] == key)
            return fields;
    }
    return std::nullopt;
}

} // namespace

Result<Credentials> resolve_credentials(
    const appc::App& app, std::string_view passwd, std::string_view group, GroupMembership membership)
{
    Credentials c;
    std::string user = app.user.empty() ? "0" : app.user;
    std::string user_name;
    if (auto uid = number(user)) {
        c.uid = *uid;
        if (auto e = find_entry(passwd, 2, user); e && e->size() >= 6) {
            user_name = (*e)[0];
            c.home = (*e)[5];
        }
    } else {
        auto e = find_entry(passwd, 0, user);
        if (!e || e->size() < 4 || !number((*e)[2]))
            return Error::msg("user '" + user + "' not found in the app's /etc/passwd");
        c.uid = *number((*e)[2]);
        user_name = user;
        if (e->size() >= 6)
            c.home = (*e)[5];
    }
    c.name = user_name;
    std::string grp = app.group.empty() ? "0" : app.group;
    if (auto gid = number(grp)) {
        c.gid = *gid;
    } else {
        auto e = find_entry(group, 0, grp);
        if (!e || e->size() < 3 || !number((*e)[2]))
            return Error::msg("group '" + grp + "' not found in the app's /etc/group");
        c.gid = *number((*e)[2]);
    }
    if (!user_name.empty() && membership == GroupMembership::FromImage) {
        for (auto line : split(group, '\n')) {
            auto fields = split(line, ':');
            if (fields.size() < 4 || !number(fields[2]))
                continue;
            auto members = split(fields[3], ',');
            if (std::find(members.begin(), members.end(), user_name) != members.end())
                c.groups.push_back(*number(fields[2]));
        }
    }
    for (auto g : app.supplementary_gids)
        if (std::find(c.groups.begin(), c.groups.end(), g) == c.groups.end())
            c.groups.push_back(g);
    return c;
}

Result<std::string> read_in_root(int rootfd, const std::string& path)
{
    int fd = open_in_root(rootfd, path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT)
            return std::string();
        return Error::from_errno("open '" + path + "' in the app rootfs");
    }
    UniqueFd owned(fd);
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("read '" + path + "' in the app rootfs");
        if (n == 0)
            return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

Result<Credentials> app_credentials(const appc::RuntimeApp& app, int rootfd)
{
    if (!app.app)
        return Error::msg("app '" + app.name + "' has no app section");
    auto passwd = TRY(read_in_root(rootfd, "/etc/passwd"));
    auto group = TRY(read_in_root(rootfd, "/etc/group"));
    bool exact = false;
    for (auto& a : app.annotations)
        exact = exact || (a.name == stage1_interface::annotation_exact_groups && a.value == "true");
    return resolve_credentials(*app.app, passwd, group, exact ? GroupMembership::Exact : GroupMembership::FromImage);
}

} // namespace capsule::stage1
