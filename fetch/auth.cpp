// SPDX-License-Identifier: Apache-2.0
#include "fetch/auth.h"

#include "lib/fs.h"

#include <algorithm>
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
        return Error::msg("\"rktKind\" must be \"auth\"");
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

AuthHeaders load_auth(const std::string& local_config, const std::string& system_config)
{
    AuthHeaders out;
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
                continue; // hidden by the local dir's file of the same name
            auto text = read_file(f.string());
            Status parsed = text ? parse_auth_file(*text, out) : Status(text.release_error());
            if (!parsed)
                spdlog::warn("warning: auth.d: '{}': {}, ignoring", f.string(), parsed.error().message());
        }
    }
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
