// SPDX-License-Identifier: Apache-2.0
#include "lib/oci/config_map.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

namespace capsule::oci {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> out;
    for (;;) {
        auto pos = s.find(sep);
        out.push_back(s.substr(0, pos));
        if (pos == std::string_view::npos)
            return out;
        s.remove_prefix(pos + 1);
    }
}

bool all_digits(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// A decimal ID; nullopt when not a number or out of range (docker allows 0..2^31-1).
std::optional<uint32_t> parse_id(std::string_view s)
{
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!all_digits(s) || ec != std::errc() || p != s.data() + s.size() || v > 0x7fffffffu)
        return std::nullopt;
    return v;
}

/// The entries of a passwd or group file: `name:password:id:…` lines whose ID parses.
/// Blank lines and `#` comments are skipped, as the C library does.
struct DbEntry {
    std::string_view name;
    uint32_t id;
    std::vector<std::string_view> fields;
};

std::vector<DbEntry> parse_db(std::string_view text)
{
    std::vector<DbEntry> out;
    for (auto line : split(text, '\n')) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        if (line.empty() || line.front() == '#')
            continue;
        auto fields = split(line, ':');
        if (fields.size() < 3 || fields[0].empty())
            continue;
        auto id = parse_id(fields[2]);
        if (!id)
            continue;
        out.push_back({ fields[0], *id, std::move(fields) });
    }
    return out;
}

std::string json_array(const std::vector<std::string>& v)
{
    return nlohmann::json(v).dump();
}

} // namespace

Result<appc::Port> port_from_exposed(std::string_view key)
{
    auto slash = key.find('/');
    std::string_view range = key.substr(0, slash);
    std::string proto = slash == std::string_view::npos ? "tcp" : std::string(key.substr(slash + 1));
    std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
    auto bad = [&](const std::string& why) { return Error::msg("ExposedPorts: '" + std::string(key) + "': " + why); };
    if (proto != "tcp" && proto != "udp" && proto != "sctp")
        return bad("unknown protocol '" + proto + "' (expected tcp, udp or sctp)");
    auto dash = range.find('-');
    auto first = parse_id(range.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : parse_id(range.substr(dash + 1));
    if (!first || !last || *first == 0 || *first > 65535 || *last > 65535 || *last < *first)
        return bad("not a port or port range");
    appc::Port p;
    p.name = std::string(range) + "-" + proto;
    p.protocol = proto;
    p.port = static_cast<uint16_t>(*first);
    p.count = static_cast<uint16_t>(*last - *first + 1);
    return p;
}

std::string volume_name(std::string_view path)
{
    std::string out = "volume";
    for (char c : path) {
        auto u = static_cast<unsigned char>(c);
        char mapped = std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
        if (mapped == '-' && out.back() == '-')
            continue;
        out += mapped;
    }
    while (out.back() == '-')
        out.pop_back();
    return out;
}

Result<appc::ImageManifest> image_manifest_view(
    const ImageConfig& config, const std::string& name, const std::vector<appc::NameValue>& labels)
{
    appc::ImageManifest m;
    m.ac_version = std::string(appc::ac_version);
    m.name = name;
    m.labels = labels;
    appc::App app;
    app.exec = config.entrypoint;
    app.exec.insert(app.exec.end(), config.cmd.begin(), config.cmd.end());
    app.user = "0";
    app.group = "0";
    bool has_path = false;
    for (auto& kv : config.env) {
        auto eq = kv.find('=');
        // Docker passes a bare "NAME" through as an empty variable; so do we.
        appc::NameValue nv { kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1) };
        if (nv.name.empty())
            continue;
        has_path = has_path || nv.name == "PATH";
        app.environment.push_back(std::move(nv));
    }
    if (!has_path)
        app.environment.insert(app.environment.begin(), { "PATH", std::string(default_path) });
    app.working_directory = config.working_dir.empty() ? "/" : config.working_dir;
    for (auto& key : config.exposed_ports)
        app.ports.push_back(TRY(port_from_exposed(key)));
    std::set<std::string> names;
    for (auto& path : config.volumes) {
        auto base = volume_name(path);
        auto n = base;
        for (int i = 2; !names.insert(n).second; i++)
            n = base + "-" + std::to_string(i);
        app.mount_points.push_back({ n, path, false });
    }
    m.app = std::move(app);
    m.annotations.push_back({ std::string(annotation_entrypoint), json_array(config.entrypoint) });
    m.annotations.push_back({ std::string(annotation_cmd), json_array(config.cmd) });
    m.annotations.push_back({ std::string(annotation_user), config.user });
    for (auto& [k, v] : config.labels)
        m.annotations.push_back({ k, v });
    return m;
}

Result<std::vector<std::string>> docker_exec(const std::vector<std::string>& entrypoint,
    const std::vector<std::string>& cmd, const std::optional<std::string>& exec, const std::vector<std::string>& args,
    std::string_view image)
{
    std::vector<std::string> out;
    if (exec)
        out.push_back(*exec);
    else
        out = entrypoint;
    if (!args.empty())
        out.insert(out.end(), args.begin(), args.end());
    else if (!exec)
        out.insert(out.end(), cmd.begin(), cmd.end());
    if (out.empty())
        return Error::msg("image " + std::string(image) + " has no Entrypoint or Cmd; give --exec");
    return out;
}

Result<ExecUser> resolve_user(std::string_view spec, std::string_view passwd, std::string_view group)
{
    auto colon = spec.find(':');
    std::string_view user_part = spec.substr(0, colon);
    std::optional<std::string_view> group_part;
    if (colon != std::string_view::npos)
        group_part = spec.substr(colon + 1);
    if (group_part && group_part->empty())
        group_part.reset();

    ExecUser out;
    bool numeric_user = all_digits(user_part);
    std::optional<uint32_t> uid = user_part.empty() ? std::optional<uint32_t>(0) : parse_id(user_part);
    if (numeric_user && !uid)
        return Error::msg("user '" + std::string(user_part) + "': UID out of range");
    auto users = parse_db(passwd);
    auto match = std::find_if(users.begin(), users.end(), [&](const DbEntry& e) {
        return uid && (numeric_user || user_part.empty()) ? e.id == *uid : e.name == user_part;
    });
    if (match != users.end()) {
        out.uid = match->id;
        out.name = std::string(match->name);
        auto gid = match->fields.size() > 3 ? parse_id(match->fields[3]) : std::nullopt;
        out.gid = gid.value_or(0);
    } else if (!numeric_user && !user_part.empty()) {
        return Error("user '" + std::string(user_part) + "' not found in /etc/passwd"
                + (passwd.empty() ? " (no such file)" : ""),
            ENOENT);
    } else {
        out.uid = *uid;
    }

    auto groups = parse_db(group);
    if (group_part) {
        bool numeric_group = all_digits(*group_part);
        auto gid = parse_id(*group_part);
        if (numeric_group && !gid)
            return Error::msg("group '" + std::string(*group_part) + "': GID out of range");
        auto g = std::find_if(groups.begin(), groups.end(),
            [&](const DbEntry& e) { return numeric_group ? e.id == *gid : e.name == *group_part; });
        if (g != groups.end())
            out.gid = g->id;
        else if (numeric_group)
            out.gid = *gid;
        else
            return Error("group '" + std::string(*group_part) + "' not found in /etc/group"
                    + (group.empty() ? " (no such file)" : ""),
                ENOENT);
        return out;
    }
    if (out.name.empty())
        return out;
    for (auto& g : groups) {
        if (g.fields.size() < 4)
            continue;
        auto members = split(g.fields[3], ',');
        if (std::find(members.begin(), members.end(), out.name) != members.end()
            && std::find(out.supplementary_gids.begin(), out.supplementary_gids.end(), g.id)
                == out.supplementary_gids.end())
            out.supplementary_gids.push_back(g.id);
    }
    return out;
}

} // namespace capsule::oci
