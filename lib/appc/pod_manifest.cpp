// SPDX-License-Identifier: Apache-2.0
#include "lib/appc/pod_manifest.h"

#include <charconv>
#include <set>

namespace capsule::appc {

using nlohmann::json;

const RuntimeApp* PodManifest::find_app(std::string_view name) const
{
    for (auto& a : apps)
        if (a.name == name)
            return &a;
    return nullptr;
}

const Volume* PodManifest::find_volume(std::string_view name) const
{
    for (auto& v : volumes)
        if (v.name == name)
            return &v;
    return nullptr;
}

std::optional<std::string> PodManifest::annotation(std::string_view name) const
{
    for (auto& a : annotations)
        if (a.name == name)
            return a.value;
    return std::nullopt;
}

namespace {

json name_values(const std::vector<NameValue>& v)
{
    json out = json::array();
    for (auto& nv : v)
        out.push_back({ { "name", nv.name }, { "value", nv.value } });
    return out;
}

Result<std::vector<NameValue>> parse_name_values(const json& j, std::string_view what)
{
    std::vector<NameValue> out;
    if (j.is_null())
        return out;
    if (!j.is_array())
        return Error::msg(std::string(what) + ": not an array");
    for (auto& e : j) {
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string()
            || (e.contains("value") && !e["value"].is_string()))
            return Error::msg(std::string(what) + ": each entry needs a string name and value");
        out.push_back({ e["name"].get<std::string>(), e.value("value", std::string()) });
    }
    return out;
}

json volume_json(const Volume& v)
{
    json j = { { "name", v.name }, { "kind", v.kind } };
    if (v.kind == "host")
        j["source"] = v.source;
    j["readOnly"] = v.read_only;
    if (v.mode)
        j["mode"] = *v.mode;
    if (v.uid)
        j["uid"] = *v.uid;
    if (v.gid)
        j["gid"] = *v.gid;
    return j;
}

Result<Volume> parse_volume_json(const json& j)
{
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("kind")
        || !j["kind"].is_string())
        return Error::msg("volumes: each volume needs a name and a kind");
    Volume v;
    v.name = j["name"].get<std::string>();
    v.kind = j["kind"].get<std::string>();
    if (!is_ac_name(v.name))
        return Error::msg("volume '" + v.name + "': not a valid AC name");
    if (v.kind != "host" && v.kind != "empty")
        return Error::msg("volume '" + v.name + "': kind must be host or empty, not '" + v.kind + "'");
    v.source = j.value("source", std::string());
    if (v.kind == "host" && (v.source.empty() || v.source.front() != '/'))
        return Error::msg("volume '" + v.name + "': a host volume needs an absolute source");
    v.read_only = j.value("readOnly", false);
    if (j.contains("mode"))
        v.mode = j["mode"].get<std::string>();
    if (j.contains("uid"))
        v.uid = j["uid"].get<uint32_t>();
    if (j.contains("gid"))
        v.gid = j["gid"].get<uint32_t>();
    return v;
}

json app_json(const RuntimeApp& a)
{
    json j = { { "name", a.name } };
    json image = { { "id", a.image.id } };
    if (!a.image.name.empty())
        image["name"] = a.image.name;
    if (!a.image.labels.empty())
        image["labels"] = name_values(a.image.labels);
    j["image"] = std::move(image);
    if (a.app)
        j["app"] = to_json(*a.app);
    if (!a.mounts.empty()) {
        json mounts = json::array();
        for (auto& m : a.mounts)
            mounts.push_back({ { "volume", m.volume }, { "path", m.path } });
        j["mounts"] = std::move(mounts);
    }
    if (!a.annotations.empty())
        j["annotations"] = name_values(a.annotations);
    return j;
}

Result<RuntimeApp> parse_runtime_app(const json& j)
{
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
        return Error::msg("apps: each app needs a name");
    RuntimeApp a;
    a.name = j["name"].get<std::string>();
    auto ctx = "app '" + a.name + "'";
    if (!is_ac_name(a.name))
        return Error::msg(ctx + ": not a valid AC name");
    if (!j.contains("image") || !j["image"].is_object() || !j["image"].contains("id") || !j["image"]["id"].is_string())
        return Error::msg(ctx + ": image.id is missing");
    a.image.id = j["image"]["id"].get<std::string>();
    a.image.name = j["image"].value("name", std::string());
    a.image.labels = TRY_CTX(parse_name_values(j["image"].value("labels", json()), "image.labels"), ctx);
    if (j.contains("app") && !j["app"].is_null())
        a.app = TRY_CTX(parse_app(j["app"], ExecRule::SearchPath), ctx);
    if (j.contains("mounts")) {
        if (!j["mounts"].is_array())
            return Error::msg(ctx + ": mounts: not an array");
        for (auto& m : j["mounts"]) {
            if (!m.is_object() || !m.contains("volume") || !m.contains("path") || !m["volume"].is_string()
                || !m["path"].is_string())
                return Error::msg(ctx + ": mounts: each mount needs a volume and a path");
            a.mounts.push_back({ m["volume"].get<std::string>(), m["path"].get<std::string>() });
        }
    }
    a.annotations = TRY_CTX(parse_name_values(j.value("annotations", json()), "annotations"), ctx);
    return a;
}

Result<PodManifest> parse_document(const json& j)
{
    if (!j.is_object())
        return Error::msg("not a JSON object");
    if (j.value("acKind", std::string()) != "PodManifest")
        return Error::msg("acKind is not PodManifest");
    PodManifest m;
    m.ac_version = j.value("acVersion", std::string());
    if (m.ac_version.empty())
        return Error::msg("acVersion is missing");
    if (j.contains("apps")) {
        if (!j["apps"].is_array())
            return Error::msg("apps: not an array");
        for (auto& a : j["apps"])
            m.apps.push_back(TRY(parse_runtime_app(a)));
    }
    if (j.contains("volumes") && !j["volumes"].is_null()) {
        if (!j["volumes"].is_array())
            return Error::msg("volumes: not an array");
        for (auto& v : j["volumes"])
            m.volumes.push_back(TRY(parse_volume_json(v)));
    }
    if (j.contains("isolators") && j["isolators"].is_array())
        for (auto& i : j["isolators"])
            m.isolators.push_back({ i.value("name", std::string()), i.value("value", json()) });
    m.annotations = TRY(parse_name_values(j.value("annotations", json()), "annotations"));
    return m;
}

Status validate(const PodManifest& m)
{
    std::set<std::string> names;
    for (auto& a : m.apps) {
        if (!names.insert(a.name).second)
            return Error::msg("app name '" + a.name + "' is used twice");
        for (auto& mount : a.mounts)
            if (!m.find_volume(mount.volume))
                return Error::msg("app '" + a.name + "': mount of undefined volume '" + mount.volume + "'");
    }
    std::set<std::string> volumes;
    for (auto& v : m.volumes)
        if (!volumes.insert(v.name).second)
            return Error::msg("volume '" + v.name + "' is defined twice");
    return {};
}

} // namespace

json to_json(const PodManifest& m)
{
    json j = { { "acKind", "PodManifest" }, { "acVersion", m.ac_version } };
    json apps = json::array();
    for (auto& a : m.apps)
        apps.push_back(app_json(a));
    j["apps"] = std::move(apps);
    json volumes = json::array();
    for (auto& v : m.volumes)
        volumes.push_back(volume_json(v));
    j["volumes"] = std::move(volumes);
    json isolators = json::array();
    for (auto& i : m.isolators)
        isolators.push_back({ { "name", i.name }, { "value", i.value } });
    j["isolators"] = std::move(isolators);
    j["annotations"] = name_values(m.annotations);
    j["ports"] = json::array();
    return j;
}

Result<PodManifest> parse_pod_manifest(std::string_view text)
{
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded())
        return Error::msg("pod manifest: invalid JSON");
    Result<PodManifest> m = Error::msg("pod manifest: invalid");
    try {
        m = parse_document(j);
    } catch (const json::exception& e) {
        return Error::msg(std::string("pod manifest: ") + e.what());
    }
    if (!m)
        return m.release_error().wrap("pod manifest");
    TRY_CTX(validate(*m), "pod manifest");
    m->raw = std::move(j);
    return m;
}

namespace {

Result<uint32_t> parse_id(std::string_view key, std::string_view value)
{
    uint32_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || p != value.data() + value.size())
        return Error::msg(std::string(key) + "=" + std::string(value) + ": not a number");
    return n;
}

Status apply_volume_key(Volume& v, std::string_view key, std::string_view value)
{
    if (key == "kind")
        v.kind = value;
    else if (key == "source")
        v.source = value;
    else if (key == "readOnly") {
        if (value != "true" && value != "false")
            return Error::msg("readOnly must be true or false, not '" + std::string(value) + "'");
        v.read_only = value == "true";
    } else if (key == "mode") {
        if (value.empty() || value.find_first_not_of("01234567") != std::string_view::npos)
            return Error::msg("mode must be octal, not '" + std::string(value) + "'");
        v.mode = std::string(value);
    } else if (key == "uid")
        v.uid = TRY(parse_id(key, value));
    else if (key == "gid")
        v.gid = TRY(parse_id(key, value));
    else if (key != "recursive")
        return Error::msg("unknown key '" + std::string(key) + "'");
    return {};
}

} // namespace

Result<Volume> parse_volume_string(std::string_view s)
{
    auto ctx = "volume '" + std::string(s) + "'";
    Volume v;
    size_t start = 0;
    bool first = true;
    while (start <= s.size()) {
        size_t comma = s.find(',', start);
        std::string_view part
            = s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        start = comma == std::string_view::npos ? s.size() + 1 : comma + 1;
        if (first) {
            first = false;
            if (part.find('=') != std::string_view::npos || !is_ac_name(part))
                return Error::msg(ctx + ": must start with a volume name (an AC name)");
            v.name = part;
            continue;
        }
        auto eq = part.find('=');
        if (eq == std::string_view::npos)
            return Error::msg(ctx + ": expected key=value, got '" + std::string(part) + "'");
        TRY_CTX(apply_volume_key(v, part.substr(0, eq), part.substr(eq + 1)), ctx);
    }
    if (v.kind != "host" && v.kind != "empty")
        return Error::msg(ctx + ": kind must be host or empty");
    if (v.kind == "host" && (v.source.empty() || v.source.front() != '/'))
        return Error::msg(ctx + ": kind=host needs source=ABSOLUTE-PATH");
    if (v.kind == "empty" && !v.source.empty())
        return Error::msg(ctx + ": kind=empty takes no source");
    return v;
}

} // namespace capsule::appc
