// SPDX-License-Identifier: Apache-2.0
#include "fetch/registry_client.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace capsule::fetch {

namespace {

/// Tokens and documents from a token server are small.
constexpr size_t max_token_response = 1 << 20;

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string percent_encode(std::string_view s)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

} // namespace

std::vector<AuthChallenge> parse_www_authenticate(const std::vector<std::string>& headers)
{
    std::vector<AuthChallenge> out;
    for (auto& header : headers) {
        std::string_view s = header;
        size_t i = 0;
        auto skip_ws = [&] {
            while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
                ++i;
        };
        auto token = [&] {
            size_t begin = i;
            while (i < s.size() && !std::strchr(" \t,=\"", s[i]))
                ++i;
            return s.substr(begin, i - begin);
        };
        bool in_challenge = false;
        while (i < s.size()) {
            skip_ws();
            if (i < s.size() && s[i] == ',') {
                ++i;
                continue;
            }
            auto name = token();
            if (name.empty()) {
                // A stray '=', or a quoted string outside a parameter: skip it whole.
                if (s[i] == '"')
                    i = std::min(s.size(), s.find('"', i + 1)) + 1;
                else
                    ++i;
                continue;
            }
            skip_ws();
            if (i >= s.size() || s[i] != '=') {
                // A word not followed by '=' starts the next challenge.
                out.push_back({ lower(name), {} });
                in_challenge = true;
                continue;
            }
            ++i;
            skip_ws();
            std::string value;
            if (i < s.size() && s[i] == '"') {
                for (++i; i < s.size() && s[i] != '"'; ++i) {
                    if (s[i] == '\\' && i + 1 < s.size())
                        ++i;
                    value += s[i];
                }
                if (i < s.size())
                    ++i;
            } else {
                value = token();
            }
            if (in_challenge)
                out.back().params[lower(name)] = value;
        }
    }
    return out;
}

Result<std::string> token_url(const AuthChallenge& c, std::string_view default_scope)
{
    auto realm = c.params.find("realm");
    if (realm == c.params.end() || realm->second.empty())
        return Error("the bearer challenge names no realm (token server)", EPROTO);
    if (url_scheme(realm->second) == Scheme::Other)
        return Error("the bearer challenge's realm '" + realm->second + "' is not an http(s) URL", EPROTO);
    std::string url = realm->second;
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    if (auto service = c.params.find("service"); service != c.params.end() && !service->second.empty()) {
        url += sep + std::string("service=") + percent_encode(service->second);
        sep = '&';
    }
    auto scope = c.params.find("scope");
    std::string_view s
        = scope != c.params.end() && !scope->second.empty() ? std::string_view(scope->second) : default_scope;
    if (!s.empty())
        url += sep + std::string("scope=") + percent_encode(s);
    return url;
}

std::string registry_url(const oci::DockerRef& ref, bool plain_http, std::string_view kind, std::string_view reference)
{
    return std::string(plain_http ? "http://" : "https://") + ref.endpoint() + "/v2/" + ref.repository + "/"
        + std::string(kind) + "/" + std::string(reference);
}

std::string manifest_accept_header()
{
    return "Accept: " + std::string(oci::media_oci_manifest) + ", " + std::string(oci::media_oci_index) + ", "
        + std::string(oci::media_docker_manifest) + ", " + std::string(oci::media_docker_list);
}

std::string registry_error_message(std::string_view body)
{
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return {};
    auto errors = j.find("errors");
    if (errors == j.end() || !errors->is_array() || errors->empty() || !errors->front().is_object())
        return {};
    auto& e = errors->front();
    auto code = e.value("code", std::string());
    auto message = e.value("message", std::string());
    if (code.empty())
        return message;
    return message.empty() ? code : code + ": " + message;
}

RegistryClient::RegistryClient(
    oci::DockerRef ref, bool plain_http, bool insecure_tls, std::optional<DockerCredentials> credentials)
    : m_ref(std::move(ref))
    , m_plain_http(plain_http)
    , m_insecure_tls(insecure_tls)
    , m_credentials(std::move(credentials))
{
}

HttpRequest RegistryClient::request(const std::string& url, const std::string& authorization) const
{
    HttpRequest req;
    req.url = url;
    req.allow_http = m_plain_http;
    req.insecure_tls = m_insecure_tls;
    req.authorization = authorization;
    req.return_status = true;
    return req;
}

Error RegistryClient::no_credentials() const
{
    return Error(m_ref.registry
            + " requires authentication and no credentials are configured for it (auth.d or ~/.docker/config.json)",
        EACCES);
}

Error RegistryClient::refused() const
{
    return Error(m_ref.registry + " refused the credentials for user '" + m_credentials->user + "'", EACCES);
}

Result<std::string> RegistryClient::fetch_token(const AuthChallenge& c)
{
    auto url = TRY(token_url(c, "repository:" + m_ref.repository + ":pull"));
    auto realm = c.params.at("realm");
    std::string basic;
    if (m_credentials)
        basic = "Basic " + base64(m_credentials->user + ":" + m_credentials->password);
    auto req = request(url, basic);
    req.max_body = max_token_response;
    std::string body;
    auto sink = [&](const char* data, size_t n) -> Status {
        body.append(data, n);
        return {};
    };
    spdlog::debug("docker://{}: asking {} for a token", m_ref.str(), url);
    auto resp = TRY_CTX(http_get(req, sink), "token server " + realm);
    if (resp.status == 401 || resp.status == 403)
        return m_credentials ? refused() : no_credentials();
    if (resp.status != 200) {
        auto msg = registry_error_message(resp.error_body);
        return Error(
            "token server " + realm + ": " + status_text(resp.status, resp.reason) + (msg.empty() ? "" : ": " + msg),
            resp.status >= 500 || resp.status == 429 ? EAGAIN : EIO);
    }
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object())
        for (auto* field : { "token", "access_token" })
            if (auto t = j.find(field); t != j.end() && t->is_string() && !t->get<std::string>().empty())
                return "Bearer " + t->get<std::string>();
    return Error("token server " + realm + ": its answer holds no token", EPROTO);
}

Result<std::string> RegistryClient::authenticate(const std::vector<AuthChallenge>& challenges)
{
    // Bearer first: a registry offering both prefers tokens.
    for (auto& c : challenges)
        if (c.scheme == "bearer")
            return fetch_token(c);
    for (auto& c : challenges) {
        if (c.scheme != "basic")
            continue;
        if (!m_credentials)
            return no_credentials();
        return "Basic " + base64(m_credentials->user + ":" + m_credentials->password);
    }
    if (challenges.empty())
        return Error(m_ref.registry + " answered 401 without a WWW-Authenticate challenge", EACCES);
    return Error(m_ref.registry + " asks for " + challenges.front().scheme
            + " authentication, which capsule does not support (basic and bearer only)",
        EACCES);
}

Result<HttpResponse> RegistryClient::get(const RegistryRequest& r, const BodySink& sink)
{
    auto url = registry_url(m_ref, m_plain_http, r.kind, r.reference);
    std::string authorization;
    {
        std::lock_guard lock(m_mutex);
        authorization = m_authorization;
    }
    for (int round = 0;; ++round) {
        auto req = request(url, authorization);
        req.headers = r.headers;
        req.max_body = r.max_body;
        req.resume_from = r.resume_from;
        auto got = http_get(req, sink);
        if (!got && got.error().code() == ELOOP)
            return Error("redirect loop: " + got.error().message(), ELOOP);
        auto resp = TRY(std::move(got));
        if (resp.status == 401 && round == 0) {
            std::lock_guard lock(m_mutex);
            // Another thread may have answered the challenge meanwhile (or a token expired).
            if (m_authorization == authorization)
                m_authorization = TRY(authenticate(parse_www_authenticate(resp.www_authenticate)));
            authorization = m_authorization;
            continue;
        }
        if (resp.status == 401)
            return m_credentials ? refused() : no_credentials();
        if (resp.status == 200 || (resp.status == 206 && r.resume_from > 0))
            return resp;
        auto msg = registry_error_message(resp.error_body);
        auto text = status_text(resp.status, resp.reason) + (msg.empty() ? "" : ": " + msg);
        if (resp.status == 403)
            return Error(m_ref.registry + " denied access to " + m_ref.repository + " (" + text + ")", EACCES);
        if (resp.status == 404)
            return Error("not found (" + text + ")", ENOENT);
        return Error(text, resp.status >= 500 || resp.status == 429 ? EAGAIN : EIO);
    }
}

} // namespace capsule::fetch
