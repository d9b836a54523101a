// SPDX-License-Identifier: Apache-2.0
#include "fetch/auth.h"

#include "lib/fs.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <spdlog/spdlog.h>
#include <vector>

namespace capsule::fetch {

namespace fs = std::filesystem;

namespace {

Result<std::string> header_for(const nlohmann::json& j)
{
    auto type = j.value("type", std::string());
    auto creds = j.find("credentials");
    if (creds == j.end() || !creds->is_object())
        return Error::msg("\"credentials\" must be an object");
    auto field = [&](const char* name) -> Result<std::string> {
        auto f = creds->find(name);
        if (f == creds->end() || !f->is_string() || f->get<std::string>().empty())
            return Error::msg(std::string("credentials need a non-empty \"") + name + "\"");
        return f->get<std::string>();
    };
    if (type == "basic") {
        auto user = TRY(field("user"));
        auto password = TRY(field("password"));
        return "Basic " + base64(user + ":" + password);
    }
    if (type == "oauth" || type == "bearer")
        return "Bearer " + TRY(field("token"));
    return Error::msg("\"type\" must be basic or oauth (a bearer token), not \"" + type + "\"");
}

} // namespace

std::string base64(std::string_view in)
{
    static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        out += table[v >> 18];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (i + 1 == in.size()) {
        uint32_t v = uint8_t(in[i]) << 16;
        out += table[v >> 18];
        out += table[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out += table[v >> 18];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

Status parse_auth_file(std::string_view text, AuthHeaders& out)
{
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Error::msg("not a JSON object");
    if (j.value("rktKind", std::string()) != "auth")
        return Error::msg("\"rktKind\" must be \"auth\" or \"dockerAuth\"");
    if (j.value("rktVersion", std::string()) != "v1")
        return Error::msg("\"rktVersion\" must be \"v1\"");
    auto domains = j.find("domains");
    if (domains == j.end() || !domains->is_array() || domains->empty())
        return Error::msg("\"domains\" must be a non-empty list");
    for (auto& d : *domains)
        if (!d.is_string() || d.get<std::string>().empty())
            return Error::msg("\"domains\" must list host names");
    auto header = TRY(header_for(j));
    for (auto& d : *domains) {
        auto domain = d.get<std::string>();
        std::transform(domain.begin(), domain.end(), domain.begin(), [](unsigned char c) { return std::tolower(c); });
        out.emplace(domain, header);
    }
    return {};
}

namespace {

/// Calls `fn(path, text)` for every auth.d file, the local dir's first; a file in the local
/// dir hides the system dir's file of the same name.
template<typename Fn> void for_each_auth_file(const std::string& local_config, const std::string& system_config, Fn fn)
{
    std::set<std::string> seen;
    for (auto* config : { &local_config, &system_config }) {
        auto dir = *config + "/auth.d";
        std::error_code ec;
        std::vector<fs::path> files;
        for (auto& e : fs::directory_iterator(dir, ec))
            if (e.path().extension() == ".json")
                files.push_back(e.path());
        if (ec && ec != std::errc::no_such_file_or_directory)
            spdlog::warn("warning: auth.d: reading '{}': {}, ignoring", dir, ec.message());
        std::sort(files.begin(), files.end());
        for (auto& f : files) {
            if (!seen.insert(f.filename().string()).second)
                continue;
            auto text = read_file(f.string());
            if (!text) {
                spdlog::warn("warning: auth.d: '{}': {}, ignoring", f.string(), text.error().message());
                continue;
            }
            fn(f.string(), *text);
        }
    }
}

/// The "rktKind" of an auth.d file ("" when it is not a JSON object or has none).
std::string auth_kind(std::string_view text)
{
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return {};
    auto k = j.find("rktKind");
    return k != j.end() && k->is_string() ? k->get<std::string>() : std::string();
}

std::string lowercase(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

/// A config.json "auths" key as a registry name: "https://host:port/v1/" -> "host:port".
std::string registry_key(std::string_view key)
{
    auto registry = url_authority(key);
    if (registry == "index.docker.io" || registry == "registry-1.docker.io")
        return "docker.io";
    return registry;
}

} // namespace

AuthHeaders load_auth(const std::string& local_config, const std::string& system_config)
{
    AuthHeaders out;
    for_each_auth_file(local_config, system_config, [&](const std::string& path, const std::string& text) {
        if (auth_kind(text) == "dockerAuth")
            return;
        if (auto parsed = parse_auth_file(text, out); !parsed)
            spdlog::warn("warning: auth.d: '{}': {}, ignoring", path, parsed.error().message());
    });
    return out;
}

Status parse_docker_auth_file(std::string_view text, DockerAuths& out)
{
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Error::msg("not a JSON object");
    if (j.value("rktKind", std::string()) != "dockerAuth")
        return Error::msg("\"rktKind\" must be \"dockerAuth\"");
    if (j.value("rktVersion", std::string()) != "v1")
        return Error::msg("\"rktVersion\" must be \"v1\"");
    auto registries = j.find("registries");
    if (registries == j.end() || !registries->is_array() || registries->empty())
        return Error::msg("\"registries\" must be a non-empty list");
    for (auto& r : *registries)
        if (!r.is_string() || r.get<std::string>().empty())
            return Error::msg("\"registries\" must list registry hosts");
    auto creds = j.find("credentials");
    if (creds == j.end() || !creds->is_object())
        return Error::msg("\"credentials\" must be an object");
    DockerCredentials c;
    for (auto [name, field] : { std::pair { "user", &c.user }, std::pair { "password", &c.password } }) {
        auto f = creds->find(name);
        if (f == creds->end() || !f->is_string() || f->get<std::string>().empty())
            return Error::msg(std::string("credentials need a non-empty \"") + name + "\"");
        *field = f->get<std::string>();
    }
    for (auto& r : *registries)
        out.emplace(registry_key(r.get<std::string>()), c);
    return {};
}

Status parse_docker_config(std::string_view text, DockerAuths& out)
{
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Error::msg("not a JSON object");
    auto auths = j.find("auths");
    if (auths == j.end())
        return {};
    if (!auths->is_object())
        return Error::msg("\"auths\" must be an object");
    for (auto& [key, entry] : auths->items()) {
        if (!entry.is_object())
            continue;
        DockerCredentials c;
        if (auto a = entry.find("auth"); a != entry.end() && a->is_string() && !a->get<std::string>().empty()) {
            auto decoded = base64_decode(a->get<std::string>());
            auto colon = decoded ? decoded->find(':') : std::string::npos;
            if (colon == std::string::npos || colon == 0)
                return Error::msg("\"auths\": \"" + key + "\": \"auth\" is not base64 of user:password");
            c.user = decoded->substr(0, colon);
            c.password = decoded->substr(colon + 1);
        } else if (entry.contains("username") && entry.contains("password") && entry["username"].is_string()
            && entry["password"].is_string()) {
            c.user = entry["username"].get<std::string>();
            c.password = entry["password"].get<std::string>();
        }
        if (c.user.empty())
            continue; // an identity token or a credential helper's entry: not supported
        out.emplace(registry_key(key), c);
    }
    return {};
}

std::string default_docker_config()
{
    if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d)
        return std::string(d) + "/config.json";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.docker/config.json";
    return {};
}

DockerAuths load_docker_auth(
    const std::string& local_config, const std::string& system_config, const std::string& docker_config)
{
    DockerAuths out;
    for_each_auth_file(local_config, system_config, [&](const std::string& path, const std::string& text) {
        if (auth_kind(text) != "dockerAuth")
            return;
        if (auto parsed = parse_docker_auth_file(text, out); !parsed)
            spdlog::warn("warning: auth.d: '{}': {}, ignoring", path, parsed.error().message());
    });
    if (docker_config.empty())
        return out;
    auto text = read_file(docker_config);
    if (!text) {
        if (text.error().code() != ENOENT)
            spdlog::warn("warning: '{}': {}, ignoring", docker_config, text.error().message());
        return out;
    }
    if (auto parsed = parse_docker_config(*text, out); !parsed)
        spdlog::warn("warning: '{}': {}, ignoring", docker_config, parsed.error().message());
    return out;
}

std::optional<DockerCredentials> docker_credentials_for(const DockerAuths& auths, std::string_view registry)
{
    if (auto it = auths.find(lowercase(std::string(registry))); it != auths.end())
        return it->second;
    return std::nullopt;
}

std::optional<std::string> base64_decode(std::string_view in)
{
    while (!in.empty() && in.back() == '=')
        in.remove_suffix(1);
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
        int v;
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '+' || ch == '-')
            v = 62;
        else if (ch == '/' || ch == '_')
            v = 63;
        else
            return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6)
        return std::nullopt; // one stray character: not a whole byte
    return out;
}

std::string url_authority(std::string_view url)
{
    auto sep = url.find("://");
    if (sep != std::string_view::npos)
        url.remove_prefix(sep + 3);
    url = url.substr(0, url.find_first_of("/?#"));
    if (auto at = url.rfind('@'); at != std::string_view::npos)
        url.remove_prefix(at + 1);
    std::string out(url);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string auth_for(const AuthHeaders& auth, std::string_view url)
{
    auto authority = url_authority(url);
    if (auto it = auth.find(authority); it != auth.end())
        return it->second;
    // Without an explicit port in the auth.d domain, any port of that host.
    auto host = authority;
    if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(']', colon) == std::string::npos)
        host.resize(colon);
    if (auto it = auth.find(host); it != auth.end())
        return it->second;
    return {};
}

} // namespace capsule::fetch
