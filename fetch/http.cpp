// SPDX-License-Identifier: Apache-2.0
#include "fetch/http.h"

#include "fetch/curl_dl.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <spdlog/spdlog.h>

namespace capsule::fetch {

namespace {

constexpr long max_redirects = 10;
constexpr long connect_timeout_s = 30;
// Abort when fewer than this many bytes per second arrive for low_speed_time_s.
constexpr long low_speed_limit = 1024;
constexpr long low_speed_time_s = 30;

std::string_view trim(std::string_view s)
{
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

/// The start of an error page kept for the caller (registries explain errors in JSON).
constexpr size_t max_error_body = 4096;

/// State shared with libcurl's callbacks for one transfer.
struct Transfer {
    const BodySink* sink;
    const HttpRequest* req;
    StatusLine status;
    HttpResponse response;
    size_t received { 0 };
    Error sink_error;
    bool sink_failed { false };
    bool progress { false };
    bool progress_drawn { false };

    /// Is this the body the caller asked for (and not an error page or a redirect)?
    bool wanted() const { return status.code == 200 || (status.code == 206 && req->resume_from > 0); }
};

size_t on_header(char* data, size_t size, size_t n, void* user)
{
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    // Every response of a redirect chain starts with a status line: keep the last one's.
    if (auto st = parse_status_line(line)) {
        t->status = *st;
        auto& r = t->response;
        r.etag.clear();
        r.max_age = -1;
        r.content_type.clear();
        r.content_length = -1;
        r.docker_content_digest.clear();
        r.www_authenticate.clear();
        r.error_body.clear();
    } else if (auto h = parse_header(line)) {
        auto& r = t->response;
        if (h->first == "etag")
            r.etag = h->second;
        else if (h->first == "cache-control")
            r.max_age = cache_max_age(h->second);
        else if (h->first == "content-type")
            r.content_type = h->second;
        else if (h->first == "content-length" && !h->second.empty() && h->second.size() < 19
            && std::all_of(h->second.begin(), h->second.end(), ::isdigit))
            r.content_length = std::strtoll(h->second.c_str(), nullptr, 10);
        else if (h->first == "docker-content-digest")
            r.docker_content_digest = h->second;
        else if (h->first == "www-authenticate")
            r.www_authenticate.push_back(h->second);
    }
    return size * n;
}

Error too_large(size_t limit)
{
    return Error("larger than " + std::to_string(limit) + " bytes", EFBIG);
}

size_t on_body(char* data, size_t size, size_t n, void* user)
{
    auto* t = static_cast<Transfer*>(user);
    size_t bytes = size * n;
    if (!t->wanted()) {
        // An error page or a redirect's body: not the document.
        auto& e = t->response.error_body;
        e.append(data, std::min(bytes, max_error_body - std::min(max_error_body, e.size())));
        return bytes;
    }
    size_t limit = t->req->max_body;
    if (limit > 0
        && (t->received + bytes > limit
            || (t->received == 0 && t->response.content_length > static_cast<int64_t>(limit)))) {
        t->sink_error = too_large(limit);
        t->sink_failed = true;
        return 0;
    }
    t->received += bytes;
    if (auto r = (*t->sink)(data, bytes); !r) {
        t->sink_error = r.release_error();
        t->sink_failed = true;
        return 0;
    }
    return bytes;
}

/// May trying again help? (The connection broke, timed out, or the body was cut short.)
bool transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/// One easy handle per thread, reset for each transfer: its connection cache lets the
/// requests of a pull (challenge, token, manifests, blobs) share connections.
class ThreadHandle {
public:
    explicit ThreadHandle(const CurlApi& api)
        : m_api(api)
    {
    }
    ~ThreadHandle()
    {
        if (m_handle)
            m_api.easy_cleanup(m_handle);
    }
    CURL* get()
    {
        if (!m_handle)
            m_handle = m_api.easy_init();
        else
            m_api.easy_reset(m_handle);
        return m_handle;
    }

private:
    const CurlApi& m_api;
    CURL* m_handle { nullptr };
};

std::string mib(curl_off_t bytes)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return buf;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t)
{
    auto* t = static_cast<Transfer*>(user);
    if (t->status.code != 200 || now == 0)
        return 0;
    std::string line = "\rDownloading " + mib(now);
    if (total > 0) {
        int pct = static_cast<int>(now * 100 / total);
        int filled = pct * 30 / 100;
        line += " / " + mib(total) + " [" + std::string(filled, '=') + std::string(30 - filled, ' ') + "] "
            + std::to_string(pct) + "%";
    }
    std::fputs(line.c_str(), stderr);
    t->progress_drawn = true;
    return 0;
}

} // namespace

Scheme url_scheme(std::string_view url)
{
    auto l = lower(url.substr(0, 8));
    if (l.starts_with("https://"))
        return Scheme::Https;
    if (l.starts_with("http://"))
        return Scheme::Http;
    return Scheme::Other;
}

std::optional<StatusLine> parse_status_line(std::string_view line)
{
    if (!line.starts_with("HTTP/"))
        return std::nullopt;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos)
        return std::nullopt;
    auto rest = line.substr(sp + 1);
    auto sp2 = rest.find(' ');
    auto code_text = trim(rest.substr(0, sp2));
    if (code_text.size() != 3 || !std::all_of(code_text.begin(), code_text.end(), ::isdigit))
        return std::nullopt;
    StatusLine st;
    st.code = std::strtol(std::string(code_text).c_str(), nullptr, 10);
    if (sp2 != std::string_view::npos)
        st.reason = trim(rest.substr(sp2 + 1));
    return st;
}

std::optional<std::pair<std::string, std::string>> parse_header(std::string_view line)
{
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
        return std::nullopt;
    auto name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos)
        return std::nullopt;
    return std::pair { lower(name), std::string(trim(line.substr(colon + 1))) };
}

int64_t cache_max_age(std::string_view cc)
{
    int64_t age = -1;
    while (!cc.empty()) {
        auto comma = cc.find(',');
        auto item = trim(cc.substr(0, comma));
        cc = comma == std::string_view::npos ? std::string_view() : cc.substr(comma + 1);
        auto l = lower(item);
        if (l == "no-cache" || l == "no-store")
            return 0;
        if (l.starts_with("max-age=")) {
            auto v = l.substr(8);
            if (!v.empty() && v.front() == '"' && v.back() == '"' && v.size() >= 2)
                v = v.substr(1, v.size() - 2);
            if (v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit) || v.size() > 12)
                continue;
            age = std::strtoll(v.c_str(), nullptr, 10);
        }
    }
    return age;
}

std::string status_text(long code, std::string_view reason)
{
    std::string text = "HTTP " + std::to_string(code);
    if (!reason.empty())
        text += " " + std::string(reason);
    return text;
}

Result<HttpResponse> http_get(const HttpRequest& req, const BodySink& body)
{
    auto scheme = url_scheme(req.url);
    if (scheme == Scheme::Other)
        return Error::msg("not an http(s) URL");
    if (scheme == Scheme::Http && !req.allow_http)
        return Error("plain http is refused; pass --insecure-options=http to allow it", EPERM);
    const CurlApi& api = *TRY(curl_api());
    thread_local ThreadHandle handle(api);
    CURL* c = handle.get();
    if (!c)
        return Error::msg("libcurl: cannot create a transfer");
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, api.slist_free_all);
    auto add_header = [&](const std::string& h) {
        if (auto* l = api.slist_append(headers.get(), h.c_str())) {
            (void)headers.release();
            headers.reset(l);
        }
    };
    if (!req.if_none_match.empty())
        add_header("If-None-Match: " + req.if_none_match);
    if (!req.authorization.empty())
        add_header("Authorization: " + req.authorization);
    for (auto& h : req.headers)
        add_header(h);

    Transfer t;
    t.sink = &body;
    t.req = &req;
    t.progress = req.progress;
    char errbuf[CURL_ERROR_SIZE] = {};
    const char* protocols = req.allow_http ? "http,https" : "https";
    api.easy_setopt(c, CURLOPT_URL, req.url.c_str());
    api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols);
    api.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    api.easy_setopt(c, CURLOPT_MAXREDIRS, req.max_redirects);
    api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
    api.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, low_speed_limit);
    api.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, low_speed_time_s);
    api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(c, CURLOPT_USERAGENT, "capsule/" CAPSULE_VERSION);
    api.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    api.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    api.easy_setopt(c, CURLOPT_HEADERDATA, &t);
    api.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    api.easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (headers)
        api.easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    // As OpenSSL programs do: SSL_CERT_FILE / SSL_CERT_DIR replace the system CA store.
    if (const char* f = std::getenv("SSL_CERT_FILE"); f && *f)
        api.easy_setopt(c, CURLOPT_CAINFO, f);
    if (const char* d = std::getenv("SSL_CERT_DIR"); d && *d)
        api.easy_setopt(c, CURLOPT_CAPATH, d);
    if (req.insecure_tls) {
        api.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        api.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req.resume_from > 0)
        api.easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(req.resume_from));
    if (req.progress) {
        api.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        api.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        api.easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    }

    CURLcode rc = api.easy_perform(c);
    // The handle outlives this call: it must not point at this frame's buffers.
    api.easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    api.easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    if (t.progress_drawn)
        std::fputc('\n', stderr);
    if (t.sink_failed)
        return t.sink_error;
    if (rc == CURLE_TOO_MANY_REDIRECTS) {
        std::string text = errbuf[0] ? std::string(trim(errbuf)) : api.easy_strerror(rc);
        return Error(text, ELOOP);
    }
    if (rc != CURLE_OK) {
        std::string text = errbuf[0] ? std::string(trim(errbuf)) : api.easy_strerror(rc);
        if (rc == CURLE_UNSUPPORTED_PROTOCOL && !req.allow_http)
            text += " (a redirect to plain http is refused; pass --insecure-options=http to allow it)";
        int code = transient(rc) ? EAGAIN : EIO;
        if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
            code = EKEYREJECTED;
        else if (rc == CURLE_SSL_CONNECT_ERROR)
            code = EPROTO;
        return Error(text, code);
    }
    char* effective = nullptr;
    api.easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
    t.response.resolved_url = effective ? effective : req.url;
    t.response.status = t.status.code;
    t.response.reason = t.status.reason;
    if (t.wanted() || (t.status.code == 304 && !req.if_none_match.empty()) || req.return_status)
        return t.response;
    int code = EIO;
    if (t.status.code == 404 || t.status.code == 410)
        code = ENOENT;
    else if (t.status.code >= 500 || t.status.code == 429)
        code = EAGAIN;
    return Error(status_text(t.status.code, t.status.reason), code);
}

} // namespace capsule::fetch
