// SPDX-License-Identifier: Apache-2.0
#include "lib/oci/image.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sys/utsname.h>

namespace capsule::oci {

using nlohmann::json;

namespace {

bool is_lower_hex(std::string_view s)
{
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<json> parse_json(std::string_view text, std::string_view what)
{
    if (text.size() > max_document_size)
        return Error(std::string(what) + " is larger than " + std::to_string(max_document_size >> 20) + " MiB", EFBIG);
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded())
        return Error(std::string(what) + " is not valid JSON", EINVAL);
    if (!j.is_object())
        return Error(std::string(what) + " is not a JSON object", EINVAL);
    return j;
}

/// A string field; "" when absent; an error when present with another type.
Result<std::string> str_field(const json& j, const char* key, std::string_view ctx)
{
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        return std::string();
    if (!it->is_string())
        return Error(std::string(ctx) + ": '" + key + "' is not a string", EINVAL);
    return it->get<std::string>();
}

Result<std::vector<std::string>> str_array(const json& j, const char* key, std::string_view ctx)
{
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        return out;
    if (!it->is_array())
        return Error(std::string(ctx) + ": '" + key + "' is not an array of strings", EINVAL);
    for (auto& v : *it) {
        if (!v.is_string())
            return Error(std::string(ctx) + ": '" + key + "' is not an array of strings", EINVAL);
        out.push_back(v.get<std::string>());
    }
    return out;
}

Result<std::map<std::string, std::string>> str_map(const json& j, const char* key, std::string_view ctx)
{
    std::map<std::string, std::string> out;
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        return out;
    if (!it->is_object())
        return Error(std::string(ctx) + ": '" + key + "' is not an object of strings", EINVAL);
    for (auto& [k, v] : it->items()) {
        if (!v.is_string())
            return Error(std::string(ctx) + ": '" + key + "." + k + "' is not a string", EINVAL);
        out[k] = v.get<std::string>();
    }
    return out;
}

/// The keys of an object-valued field ({"80/tcp": {}}), sorted.
Result<std::vector<std::string>> key_set(const json& j, const char* key, std::string_view ctx)
{
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        return out;
    if (!it->is_object())
        return Error(std::string(ctx) + ": '" + key + "' is not an object", EINVAL);
    for (auto& [k, v] : it->items())
        out.push_back(k);
    std::sort(out.begin(), out.end());
    return out;
}

Result<Descriptor> parse_descriptor(const json& j, const std::string& ctx)
{
    if (!j.is_object())
        return Error(ctx + " is not an object", EINVAL);
    Descriptor d;
    d.media_type = TRY(str_field(j, "mediaType", ctx));
    d.digest = TRY(str_field(j, "digest", ctx));
    if (!is_valid_digest(d.digest))
        return Error(ctx + ": invalid digest '" + d.digest + "'", EINVAL);
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
        return Error(ctx + ": missing or invalid size", EINVAL);
    d.size = size->get<int64_t>();
    d.annotations = TRY(str_map(j, "annotations", ctx));
    if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
        Platform pl;
        pl.os = TRY(str_field(*p, "os", ctx + " platform"));
        pl.architecture = TRY(str_field(*p, "architecture", ctx + " platform"));
        pl.variant = TRY(str_field(*p, "variant", ctx + " platform"));
        d.platform = pl;
    }
    return d;
}

Status check_schema_version(const json& j, std::string_view what)
{
    auto v = j.find("schemaVersion");
    if (v == j.end() || !v->is_number_integer())
        return Error(std::string(what) + " has no schemaVersion", EINVAL);
    if (v->get<int>() != 2)
        return Error(
            std::string(what) + " has schemaVersion " + std::to_string(v->get<int>()) + " (only schema 2 is supported)",
            ENOTSUP);
    return {};
}

/// The type a document claims for itself must not contradict the one it was served as.
Result<std::string> effective_type(const json& j, std::string_view served, std::string_view what)
{
    auto own = TRY(str_field(j, "mediaType", what));
    std::string s(served.substr(0, served.find(';')));
    while (!s.empty() && s.back() == ' ')
        s.pop_back();
    if (!s.empty() && !own.empty() && s != own)
        return Error(std::string(what) + " was served as '" + s + "' but says it is '" + own + "'", EINVAL);
    return own.empty() ? s : own;
}

} // namespace

bool is_valid_digest(std::string_view d)
{
    if (d.starts_with("sha256:"))
        return d.size() == 7 + 64 && is_lower_hex(d.substr(7));
    if (d.starts_with("sha512:"))
        return d.size() == 7 + 128 && is_lower_hex(d.substr(7));
    return false;
}

std::string digest_algorithm(std::string_view d)
{
    return is_valid_digest(d) ? std::string(d.substr(0, 6)) : std::string();
}

std::string digest_hex(std::string_view d)
{
    return is_valid_digest(d) ? std::string(d.substr(7)) : std::string();
}

std::string image_id_from_digest(std::string_view d)
{
    std::string s(d);
    if (auto c = s.find(':'); c != std::string::npos)
        s[c] = '-';
    return s;
}

std::string digest_from_image_id(std::string_view id)
{
    std::string s(id);
    if (auto c = s.find('-'); c != std::string::npos)
        s[c] = ':';
    return s;
}

std::string Platform::str() const
{
    return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

Platform host_platform()
{
    Platform p;
    struct utsname u;
    if (::uname(&u) == 0) {
        std::string m = u.machine;
        if (m == "x86_64")
            p.architecture = "amd64";
        else if (m == "aarch64")
            p.architecture = "arm64";
        else if (m.starts_with("armv7"))
            p.architecture = "arm", p.variant = "v7";
        else if (m == "i686" || m == "i386")
            p.architecture = "386";
        else
            p.architecture = m; // ppc64le, s390x, riscv64 are spelled alike
    }
    return p;
}

Result<Platform> parse_platform(std::string_view s)
{
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        auto slash = s.find('/', start);
        parts.emplace_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos)
            break;
        start = slash + 1;
    }
    auto bad = [&] {
        return Error("--platform=" + std::string(s) + ": expected OS/ARCH[/VARIANT], e.g. linux/amd64", EINVAL);
    };
    if (parts.size() < 2 || parts.size() > 3)
        return bad();
    for (auto& p : parts)
        if (p.empty()
            || !std::all_of(p.begin(), p.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '_'; }))
            return bad();
    Platform p;
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3)
        p.variant = parts[2];
    return p;
}

Result<LayerCompression> layer_compression(std::string_view t)
{
    if (t == media_oci_layer || t == media_docker_layer)
        return LayerCompression::None;
    if (t == media_oci_layer_gzip || t == media_docker_layer_gzip)
        return LayerCompression::Gzip;
    if (t == media_oci_layer_zstd)
        return LayerCompression::Zstd;
    if (t.find("nondistributable") != std::string_view::npos || t.find("foreign") != std::string_view::npos)
        return Error("non-distributable layer type '" + std::string(t) + "' is not supported", ENOTSUP);
    return Error("unknown layer media type '" + std::string(t) + "'", ENOTSUP);
}

bool is_index_media_type(std::string_view t)
{
    t = t.substr(0, t.find(';'));
    return t == media_oci_index || t == media_docker_list;
}

bool is_manifest_media_type(std::string_view t)
{
    t = t.substr(0, t.find(';'));
    return t == media_oci_manifest || t == media_docker_manifest;
}

Result<std::string> document_media_type(std::string_view text)
{
    auto j = TRY(parse_json(text, "manifest"));
    auto own = TRY(str_field(j, "mediaType", "manifest"));
    if (!own.empty())
        return own;
    if (j.contains("manifests"))
        return std::string(media_oci_index);
    if (j.contains("layers") || j.contains("config"))
        return std::string(media_oci_manifest);
    return Error("manifest has no mediaType and is neither an index nor an image manifest", EINVAL);
}

Result<Manifest> parse_manifest(std::string_view text, std::string_view media_type)
{
    auto j = TRY(parse_json(text, "manifest"));
    TRY(check_schema_version(j, "manifest"));
    Manifest m;
    m.media_type = TRY(effective_type(j, media_type, "manifest"));
    if (m.media_type.empty())
        m.media_type = std::string(media_oci_manifest);
    if (!is_manifest_media_type(m.media_type))
        return Error("unsupported manifest media type '" + m.media_type + "'", ENOTSUP);
    auto config = j.find("config");
    if (config == j.end())
        return Error("manifest has no config", EINVAL);
    m.config = TRY(parse_descriptor(*config, "manifest config"));
    auto layers = j.find("layers");
    if (layers == j.end() || !layers->is_array())
        return Error("manifest has no layers array", EINVAL);
    for (size_t i = 0; i < layers->size(); i++)
        m.layers.push_back(TRY(parse_descriptor((*layers)[i], "manifest layer " + std::to_string(i))));
    m.annotations = TRY(str_map(j, "annotations", "manifest"));
    return m;
}

Result<Index> parse_index(std::string_view text, std::string_view media_type)
{
    auto j = TRY(parse_json(text, "index"));
    TRY(check_schema_version(j, "index"));
    Index idx;
    idx.media_type = TRY(effective_type(j, media_type, "index"));
    if (idx.media_type.empty())
        idx.media_type = std::string(media_oci_index);
    if (!is_index_media_type(idx.media_type))
        return Error("unsupported index media type '" + idx.media_type + "'", ENOTSUP);
    auto list = j.find("manifests");
    if (list == j.end() || !list->is_array())
        return Error("index has no manifests array", EINVAL);
    for (size_t i = 0; i < list->size(); i++)
        idx.manifests.push_back(TRY(parse_descriptor((*list)[i], "index entry " + std::to_string(i))));
    idx.annotations = TRY(str_map(j, "annotations", "index"));
    return idx;
}

Result<Descriptor> select_platform(const Index& idx, const Platform& want)
{
    std::vector<std::string> have;
    const Descriptor* loose = nullptr;
    for (auto& d : idx.manifests) {
        if (!d.platform)
            continue;
        have.push_back(d.platform->str());
        if (d.platform->os != want.os || d.platform->architecture != want.architecture)
            continue;
        if (want.variant.empty() || d.platform->variant == want.variant) {
            if (!d.platform->variant.empty() && want.variant.empty() && !loose) {
                loose = &d; // keep looking for an entry without a variant
                continue;
            }
            return d;
        }
    }
    if (loose)
        return *loose;
    std::string list;
    for (auto& h : have)
        list += (list.empty() ? "" : ", ") + h;
    return Error("no image for platform " + want.str() + " in the index (it has: " + (list.empty() ? "none" : list)
            + "); choose one with --platform",
        ENOENT);
}

Result<ImageConfig> parse_config(std::string_view text)
{
    auto j = TRY(parse_json(text, "image config"));
    ImageConfig c;
    c.os = TRY(str_field(j, "os", "image config"));
    c.architecture = TRY(str_field(j, "architecture", "image config"));
    c.variant = TRY(str_field(j, "variant", "image config"));
    if (auto cfg = j.find("config"); cfg != j.end() && !cfg->is_null()) {
        if (!cfg->is_object())
            return Error("image config: 'config' is not an object", EINVAL);
        constexpr std::string_view ctx = "image config";
        c.entrypoint = TRY(str_array(*cfg, "Entrypoint", ctx));
        c.cmd = TRY(str_array(*cfg, "Cmd", ctx));
        c.env = TRY(str_array(*cfg, "Env", ctx));
        c.working_dir = TRY(str_field(*cfg, "WorkingDir", ctx));
        c.user = TRY(str_field(*cfg, "User", ctx));
        c.exposed_ports = TRY(key_set(*cfg, "ExposedPorts", ctx));
        c.volumes = TRY(key_set(*cfg, "Volumes", ctx));
        c.labels = TRY(str_map(*cfg, "Labels", ctx));
        c.stop_signal = TRY(str_field(*cfg, "StopSignal", ctx));
    }
    if (auto rootfs = j.find("rootfs"); rootfs != j.end() && rootfs->is_object())
        c.diff_ids = TRY(str_array(*rootfs, "diff_ids", "image config rootfs"));
    return c;
}

std::string DockerRef::endpoint() const
{
    return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

std::string DockerRef::name() const
{
    return registry + "/" + repository;
}

std::string DockerRef::str() const
{
    std::string s = name();
    if (!tag.empty())
        s += ":" + tag;
    if (!digest.empty())
        s += "@" + digest;
    return s;
}

namespace {

bool valid_path_component(std::string_view c)
{
    // [a-z0-9]+ separated by '.', '_', '__' or '-'s.
    if (c.empty() || !std::isalnum((unsigned char)c.front()) || !std::isalnum((unsigned char)c.back()))
        return false;
    for (char ch : c)
        if (!(std::islower((unsigned char)ch) || std::isdigit((unsigned char)ch) || ch == '.' || ch == '_'
                || ch == '-'))
            return false;
    return true;
}

bool valid_tag(std::string_view t)
{
    if (t.empty() || t.size() > 128 || t.front() == '.' || t.front() == '-')
        return false;
    return std::all_of(
        t.begin(), t.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-'; });
}

} // namespace

Result<DockerRef> parse_docker_ref(std::string_view text)
{
    auto fail = [&](const std::string& why) {
        return Error("invalid docker reference '" + std::string(text) + "': " + why, EINVAL);
    };
    if (text.empty())
        return fail("empty");
    std::string s(text);
    DockerRef r;
    if (auto at = s.find('@'); at != std::string::npos) {
        r.digest = s.substr(at + 1);
        s.resize(at);
        if (!is_valid_digest(r.digest))
            return fail("digest must be sha256:<64 hex> or sha512:<128 hex>");
    }
    auto slash = s.rfind('/');
    if (auto colon = s.rfind(':'); colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        r.tag = s.substr(colon + 1);
        s.resize(colon);
        if (!valid_tag(r.tag))
            return fail("invalid tag '" + r.tag + "'");
    }
    auto first = s.find('/');
    std::string head = first == std::string::npos ? std::string() : s.substr(0, first);
    if (!head.empty()
        && (head.find('.') != std::string::npos || head.find(':') != std::string::npos || head == "localhost")) {
        r.registry = head;
        r.repository = s.substr(first + 1);
    } else {
        r.registry = "docker.io";
        r.repository = s;
    }
    if (r.registry == "index.docker.io")
        r.registry = "docker.io";
    if (r.repository.empty())
        return fail("no repository name");
    for (size_t start = 0;;) {
        auto end = r.repository.find('/', start);
        auto comp
            = std::string_view(r.repository).substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!valid_path_component(comp))
            return fail("repository names are lowercase letters, digits and separators (. _ -)");
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    if (r.registry == "docker.io" && r.repository.find('/') == std::string::npos)
        r.repository = "library/" + r.repository;
    if (r.tag.empty() && r.digest.empty())
        r.tag = "latest";
    return r;
}

LayoutRef parse_layout_ref(std::string_view text)
{
    LayoutRef r { std::string(text), {} };
    auto slash = r.path.rfind('/');
    if (auto colon = r.path.rfind(':'); colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        r.tag = r.path.substr(colon + 1);
        r.path.resize(colon);
    }
    return r;
}

} // namespace capsule::oci
