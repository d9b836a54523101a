// SPDX-License-Identifier: Apache-2.0
#pragma once

// HTTP(S) GET over libcurl (loaded on demand, fetch/curl_dl.h): TLS verified against the
// system CA store (or SSL_CERT_FILE / SSL_CERT_DIR), redirects followed but bounded and
// never downgraded to http unless allowed, connect and low-speed timeouts.

#include "lib/result.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::fetch {

enum class Scheme { Http, Https, Other };

Scheme url_scheme(std::string_view url);

struct HttpRequest {
    std::string url;
    bool allow_http { false };   ///< --insecure-options=http: plain http, and redirects to it
    bool insecure_tls { false }; ///< --insecure-options=tls: no certificate verification
    bool progress { false };     ///< a progress bar on stderr
    std::string if_none_match;   ///< an ETag to revalidate with ("" for a plain GET)
    /// The Authorization header's value (auth.d); libcurl drops it on a redirect to another host.
    std::string authorization;
    /// More request headers, "Name: value" (Accept, Range, …).
    std::vector<std::string> headers;
    /// Return statuses other than 200 (401, 404, …) in HttpResponse instead of as errors;
    /// their bodies are not passed to the sink (the first few KiB are kept in error_body).
    bool return_status { false };
    /// Resume a download: ask for the bytes from this offset on (a Range request). The
    /// server must answer 206 with that range, else the request fails (EIO).
    int64_t resume_from { 0 };
    /// Refuse bodies larger than this many bytes ("larger than N bytes"); 0 for no limit.
    size_t max_body { 0 };
    /// Redirects followed before the request fails with "redirect loop".
    long max_redirects { 10 };
};

struct HttpResponse {
    long status { 0 };                 ///< 200, or 304 when if_none_match still holds (any, with return_status)
    std::string reason;                ///< the status line's reason phrase
    std::string resolved_url;          ///< after redirects
    std::string etag;                  ///< "" if the server sent none
    int64_t max_age { -1 };            ///< Cache-Control max-age; 0 for no-cache/no-store; -1 if absent
    std::string content_type;          ///< "" if the server sent none (parameters kept)
    int64_t content_length { -1 };     ///< -1 if the server sent none
    std::string docker_content_digest; ///< Docker-Content-Digest ("" if none)
    /// Every WWW-Authenticate header of the final response, in order.
    std::vector<std::string> www_authenticate;
    std::string error_body; ///< the start of a non-2xx body (return_status only)
};

/// Receives the body of a 200 response; returns false to abort (with an error set).
using BodySink = std::function<Status(const char*, size_t)>;

/// GET `req.url`. Anything but 200 or 304 is an error: "HTTP 404 Not Found" (errno ENOENT
/// for 404 and 410), or libcurl's error text — unless `req.return_status` asks for the
/// status. Transport errors carry errno EAGAIN when retrying may help (connection reset,
/// timeout, a body cut short, 5xx and 429 answers), EKEYREJECTED for a certificate that does
/// not verify, EPROTO for a failed TLS handshake, ELOOP for too many redirects, EIO otherwise. The caller adds the URL
/// as context.
Result<HttpResponse> http_get(const HttpRequest& req, const BodySink& body);

/// Pure helpers, exposed for unit tests.
struct StatusLine {
    long code { 0 };
    std::string reason;
};
/// "HTTP/1.1 404 Not Found" -> {404, "Not Found"}; nullopt for anything else.
std::optional<StatusLine> parse_status_line(std::string_view line);
/// A header line "Name: value\r\n" -> {lowercased name, trimmed value}.
std::optional<std::pair<std::string, std::string>> parse_header(std::string_view line);
/// "HTTP 404 Not Found" for a status and its reason phrase.
std::string status_text(long code, std::string_view reason);
/// max-age from a Cache-Control value: seconds, 0 for no-cache/no-store, -1 when absent.
int64_t cache_max_age(std::string_view cache_control);

} // namespace capsule::fetch
