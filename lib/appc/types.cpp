// SPDX-License-Identifier: Apache-2.0
// ImageManifest parsing and validation against appc spec 0.8.11 (schema/types in
// github.com/appc/spec). Errors name the field as a JSON path: "labels[2].name: ...".
#include "lib/appc/types.h"

#include "lib/appc/validate.h"

#include <set>

namespace capsule::appc {

using nlohmann::json;

namespace {

Error field_error(std::string_view field, std::string_view why)
{
    return Error::msg(std::string(field) + ": " + std::string(why));
}

std::string show(const json& v)
{
    return v.dump();
}

Result<std::string> get_string(const json& obj, std::string_view key, std::string_view field, bool required)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        if (required)
            return field_error(field, "is required");
        return std::string();
    }
    if (!it->is_string())
        return field_error(field, "must be a string, not " + show(*it));
    return it->get<std::string>();
}

/// An optional array member: missing or null is an empty array.
Result<const json*> get_array(const json& obj, std::string_view key, std::string_view field)
{
    static const json empty = json::array();
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return &empty;
    if (!it->is_array())
        return field_error(field, "must be an array");
    return &*it;
}

Result<bool> get_bool(const json& obj, std::string_view key, std::string_view field)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return false;
    if (!it->is_boolean())
        return field_error(field, "must be true or false, not " + show(*it));
    return it->get<bool>();
}

Result<std::vector<std::string>> get_string_array(const json& obj, std::string_view key, std::string_view field)
{
    const json* arr = TRY(get_array(obj, key, field));
    std::vector<std::string> out;
    for (size_t i = 0; i < arr->size(); i++) {
        if (!(*arr)[i].is_string())
            return field_error(std::string(field) + "[" + std::to_string(i) + "]", "must be a string");
        out.push_back((*arr)[i].get<std::string>());
    }
    return out;
}

std::string index_field(std::string_view field, size_t i)
{
    return std::string(field) + "[" + std::to_string(i) + "]";
}

/// `[{"name": ..., "value": ...}]` with names checked by `valid` and unique.
Result<std::vector<NameValue>> parse_name_values(const json& obj, std::string_view key, std::string_view field,
    bool (*valid)(std::string_view), std::string_view what)
{
    const json* arr = TRY(get_array(obj, key, field));
    std::vector<NameValue> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < arr->size(); i++) {
        auto f = index_field(field, i);
        const json& item = (*arr)[i];
        if (!item.is_object())
            return field_error(f, "must be an object with name and value");
        NameValue nv;
        nv.name = TRY(get_string(item, "name", f + ".name", true));
        nv.value = TRY(get_string(item, "value", f + ".value", false));
        if (!valid(nv.name))
            return field_error(f + ".name", show(nv.name) + " is not a valid " + std::string(what));
        if (!seen.insert(nv.name).second)
            return field_error(f + ".name", show(nv.name) + " appears more than once");
        out.push_back(std::move(nv));
    }
    return out;
}

bool valid_env_name(std::string_view n)
{
    return !n.empty() && n.find('=') == std::string_view::npos && n.find('\0') == std::string_view::npos;
}

Result<std::vector<std::string>> parse_exec(
    const json& obj, std::string_view key, std::string_view field, ExecRule rule = ExecRule::Absolute)
{
    auto exec = TRY(get_string_array(obj, key, field));
    if (!exec.empty() && exec[0].empty())
        return field_error(std::string(field) + "[0]", "must not be empty");
    if (!exec.empty() && rule == ExecRule::Absolute && exec[0][0] != '/')
        return field_error(std::string(field) + "[0]", show(exec[0]) + " must be an absolute path");
    return exec;
}

Result<std::vector<EventHandler>> parse_event_handlers(const json& app)
{
    const json* arr = TRY(get_array(app, "eventHandlers", "app.eventHandlers"));
    std::vector<EventHandler> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < arr->size(); i++) {
        auto f = index_field("app.eventHandlers", i);
        const json& item = (*arr)[i];
        if (!item.is_object())
            return field_error(f, "must be an object");
        EventHandler h;
        h.name = TRY(get_string(item, "name", f + ".name", true));
        if (h.name != "pre-start" && h.name != "post-stop")
            return field_error(f + ".name", show(h.name) + " is not one of \"pre-start\", \"post-stop\"");
        if (!seen.insert(h.name).second)
            return field_error(f + ".name", show(h.name) + " appears more than once");
        h.exec = TRY(parse_exec(item, "exec", f + ".exec"));
        if (h.exec.empty())
            return field_error(f + ".exec", "must not be empty");
        out.push_back(std::move(h));
    }
    return out;
}

Result<std::vector<Isolator>> parse_isolators(const json& app)
{
    const json* arr = TRY(get_array(app, "isolators", "app.isolators"));
    std::vector<Isolator> out;
    for (size_t i = 0; i < arr->size(); i++) {
        auto f = index_field("app.isolators", i);
        const json& item = (*arr)[i];
        if (!item.is_object())
            return field_error(f, "must be an object with name and value");
        Isolator iso;
        iso.name = TRY(get_string(item, "name", f + ".name", true));
        if (!is_ac_identifier(iso.name))
            return field_error(f + ".name", show(iso.name) + " is not a valid AC identifier");
        auto v = item.find("value");
        if (v == item.end() || v->is_null())
            return field_error(f + ".value", "is required");
        iso.value = *v;
        TRY_CTX(validate_isolator_value(iso.name, iso.value), f + ".value");
        out.push_back(std::move(iso));
    }
    return out;
}

Result<std::vector<MountPoint>> parse_mount_points(const json& app)
{
    const json* arr = TRY(get_array(app, "mountPoints", "app.mountPoints"));
    std::vector<MountPoint> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < arr->size(); i++) {
        auto f = index_field("app.mountPoints", i);
        const json& item = (*arr)[i];
        if (!item.is_object())
            return field_error(f, "must be an object");
        MountPoint m;
        m.name = TRY(get_string(item, "name", f + ".name", true));
        if (!is_ac_name(m.name))
            return field_error(f + ".name", show(m.name) + " is not a valid AC name");
        if (!seen.insert(m.name).second)
            return field_error(f + ".name", show(m.name) + " appears more than once");
        m.path = TRY(get_string(item, "path", f + ".path", true));
        if (m.path.empty() || m.path[0] != '/')
            return field_error(f + ".path", show(m.path) + " must be an absolute path");
        m.read_only = TRY(get_bool(item, "readOnly", f + ".readOnly"));
        out.push_back(std::move(m));
    }
    return out;
}

Result<uint64_t> get_uint(const json& item, std::string_view key, std::string_view field, uint64_t fallback)
{
    auto it = item.find(key);
    if (it == item.end() || it->is_null())
        return fallback;
    if (!it->is_number_unsigned())
        return field_error(field, "must be a non-negative integer, not " + show(*it));
    return it->get<uint64_t>();
}

Result<std::vector<Port>> parse_ports(const json& app)
{
    const json* arr = TRY(get_array(app, "ports", "app.ports"));
    std::vector<Port> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < arr->size(); i++) {
        auto f = index_field("app.ports", i);
        const json& item = (*arr)[i];
        if (!item.is_object())
            return field_error(f, "must be an object");
        Port p;
        p.name = TRY(get_string(item, "name", f + ".name", true));
        if (!is_ac_name(p.name))
            return field_error(f + ".name", show(p.name) + " is not a valid AC name");
        if (!seen.insert(p.name).second)
            return field_error(f + ".name", show(p.name) + " appears more than once");
        p.protocol = TRY(get_string(item, "protocol", f + ".protocol", true));
        if (p.protocol.empty())
            return field_error(f + ".protocol", "must not be empty");
        uint64_t port = TRY(get_uint(item, "port", f + ".port", 0));
        if (port < 1 || port > 65535)
            return field_error(f + ".port", "must be between 1 and 65535");
        uint64_t count = TRY(get_uint(item, "count", f + ".count", 1));
        if (count < 1 || port + count - 1 > 65535)
            return field_error(f + ".count", "must be at least 1 and keep the range below 65536");
        p.port = static_cast<uint16_t>(port);
        p.count = static_cast<uint16_t>(count);
        p.socket_activated = TRY(get_bool(item, "socketActivated", f + ".socketActivated"));
        out.push_back(std::move(p));
    }
    return out;
}

Status validate_labels(const std::vector<NameValue>& labels)
{
    const NameValue* os = nullptr;
    const NameValue* arch = nullptr;
    for (auto& l : labels) {
        if (l.name == "os")
            os = &l;
        else if (l.name == "arch")
            arch = &l;
    }
    if (os && !is_valid_os(os->value))
        return field_error("labels", "os " + show(os->value) + " is not one of linux, freebsd, darwin");
    if (arch && !is_valid_arch(os ? os->value : "", arch->value))
        return field_error("labels",
            "arch " + show(arch->value) + " is not valid" + (os ? " for os " + show(os->value) : std::string()));
    return {};
}

} // namespace

std::optional<std::string> ImageManifest::label(std::string_view n) const
{
    for (auto& l : labels)
        if (l.name == n)
            return l.value;
    return std::nullopt;
}

std::optional<std::string> ImageManifest::annotation(std::string_view n) const
{
    for (auto& a : annotations)
        if (a.name == n)
            return a.value;
    return std::nullopt;
}

Result<App> parse_app(const json& app, ExecRule rule)
{
    if (!app.is_object())
        return field_error("app", "must be an object");
    App a;
    a.exec = TRY(parse_exec(app, "exec", "app.exec", rule));
    a.user = TRY(get_string(app, "user", "app.user", true));
    if (a.user.empty())
        return field_error("app.user", "must not be empty");
    a.group = TRY(get_string(app, "group", "app.group", true));
    if (a.group.empty())
        return field_error("app.group", "must not be empty");
    const json* gids = TRY(get_array(app, "supplementaryGIDs", "app.supplementaryGIDs"));
    for (size_t i = 0; i < gids->size(); i++) {
        const json& g = (*gids)[i];
        if (!g.is_number_unsigned() || g.get<uint64_t>() > UINT32_MAX)
            return field_error(index_field("app.supplementaryGIDs", i), "must be a non-negative integer");
        a.supplementary_gids.push_back(g.get<uint32_t>());
    }
    a.working_directory = TRY(get_string(app, "workingDirectory", "app.workingDirectory", false));
    if (!a.working_directory.empty() && a.working_directory[0] != '/')
        return field_error("app.workingDirectory", show(a.working_directory) + " must be an absolute path");
    a.environment
        = TRY(parse_name_values(app, "environment", "app.environment", valid_env_name, "environment variable name"));
    a.event_handlers = TRY(parse_event_handlers(app));
    a.isolators = TRY(parse_isolators(app));
    a.mount_points = TRY(parse_mount_points(app));
    a.ports = TRY(parse_ports(app));
    return a;
}

json to_json(const App& a)
{
    json j = json::object();
    j["exec"] = a.exec;
    j["user"] = a.user;
    j["group"] = a.group;
    if (!a.supplementary_gids.empty())
        j["supplementaryGIDs"] = a.supplementary_gids;
    if (!a.working_directory.empty())
        j["workingDirectory"] = a.working_directory;
    if (!a.environment.empty()) {
        j["environment"] = json::array();
        for (auto& e : a.environment)
            j["environment"].push_back({ { "name", e.name }, { "value", e.value } });
    }
    if (!a.event_handlers.empty()) {
        j["eventHandlers"] = json::array();
        for (auto& h : a.event_handlers)
            j["eventHandlers"].push_back({ { "name", h.name }, { "exec", h.exec } });
    }
    if (!a.isolators.empty()) {
        j["isolators"] = json::array();
        for (auto& i : a.isolators)
            j["isolators"].push_back({ { "name", i.name }, { "value", i.value } });
    }
    if (!a.mount_points.empty()) {
        j["mountPoints"] = json::array();
        for (auto& m : a.mount_points)
            j["mountPoints"].push_back({ { "name", m.name }, { "path", m.path }, { "readOnly", m.read_only } });
    }
    if (!a.ports.empty()) {
        j["ports"] = json::array();
        for (auto& p : a.ports)
            j["ports"].push_back({ { "name", p.name }, { "protocol", p.protocol }, { "port", p.port },
                { "count", p.count }, { "socketActivated", p.socket_activated } });
    }
    return j;
}

Result<ImageManifest> parse_image_manifest(std::string_view text)
{
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded())
        return Error::msg("manifest is not valid JSON");
    if (!doc.is_object())
        return Error::msg("manifest must be a JSON object");
    ImageManifest m;
    auto kind = TRY(get_string(doc, "acKind", "acKind", true));
    if (kind != "ImageManifest")
        return field_error("acKind", show(kind) + " is not \"ImageManifest\"");
    m.ac_version = TRY(get_string(doc, "acVersion", "acVersion", true));
    if (!is_semver(m.ac_version))
        return field_error("acVersion", show(m.ac_version) + " is not a semantic version");
    m.name = TRY(get_string(doc, "name", "name", true));
    if (!is_ac_name(m.name))
        return field_error("name", show(m.name) + " is not a valid AC name");
    m.labels = TRY(parse_name_values(doc, "labels", "labels", is_ac_identifier, "AC identifier"));
    TRY(validate_labels(m.labels));
    if (auto app = doc.find("app"); app != doc.end() && !app->is_null())
        m.app = TRY(parse_app(*app));
    m.annotations = TRY(parse_name_values(doc, "annotations", "annotations", is_ac_identifier, "AC identifier"));
    const json* deps = TRY(get_array(doc, "dependencies", "dependencies"));
    for (size_t i = 0; i < deps->size(); i++) {
        auto f = index_field("dependencies", i);
        if (!(*deps)[i].is_object())
            return field_error(f, "must be an object");
        auto dep = TRY(get_string((*deps)[i], "imageName", f + ".imageName", true));
        if (!is_ac_identifier(dep))
            return field_error(f + ".imageName", show(dep) + " is not a valid AC identifier");
    }
    (void)TRY(get_string_array(doc, "pathWhitelist", "pathWhitelist"));
    m.raw = std::move(doc);
    return m;
}

} // namespace capsule::appc
