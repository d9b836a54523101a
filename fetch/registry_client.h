// SPDX-License-Identifier: Apache-2.0
#pragma once

// The HTTP side of a Docker Registry HTTP API v2 pull: `/v2/<repo>/manifests/…` and
// `/v2/<repo>/blobs/…` requests with the authentication the registry asks for. Requests go
// out anonymously first; a 401's WWW-Authenticate challenge says how to authenticate:
//   Basic realm="…"                               -> the configured user and password
//   Bearer realm="URL",service="S",scope="SCOPE"  -> GET URL?service=S&scope=SCOPE (with the
//       user and password as basic auth, when configured) -> {"token": …} or
//       {"access_token": …} -> "Authorization: Bearer …" for the rest of the pull.
// One client serves the threads of a pull; each request uses its thread's connection.

#include "fetch/auth.h"
#include "fetch/http.h"
#include "lib/oci/image.h"
#include "lib/result.h"

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::fetch {

/// One challenge of a WWW-Authenticate header: the scheme (lowercased) and its parameters
/// (names lowercased, quoted values unquoted).
struct AuthChallenge {
    std::string scheme;
    std::map<std::string, std::string> params;
};

/// Parse WWW-Authenticate values (one header may hold several challenges). Malformed parts
/// are skipped.
std::vector<AuthChallenge> parse_www_authenticate(const std::vector<std::string>& headers);

/// The token request for a bearer challenge: realm + "?service=…&scope=…" (percent-encoded;
/// `default_scope` when the challenge names none). An error when the realm is missing or is
/// not an http(s) URL.
Result<std::string> token_url(const AuthChallenge&, std::string_view default_scope);

/// "https://host:port/v2/<repository>/<kind>/<reference>" (kind: "manifests" or "blobs").
std::string registry_url(const oci::DockerRef&, bool plain_http, std::string_view kind, std::string_view reference);

/// The Accept header for manifests: OCI manifest and index, Docker schema 2 and manifest list.
std::string manifest_accept_header();

/// The message of a registry's JSON error body ({"errors":[{"code":…,"message":…}]}), "" if none.
std::string registry_error_message(std::string_view body);

struct RegistryRequest {
    std::string kind;      ///< "manifests" or "blobs"
    std::string reference; ///< a tag or a digest
    std::vector<std::string> headers;
    size_t max_body { 0 };
    int64_t resume_from { 0 };
};

class RegistryClient {
public:
    RegistryClient(oci::DockerRef ref, bool plain_http, bool insecure_tls, std::optional<DockerCredentials>);

    /// GET a manifest or blob, authenticating as the registry asks; the body goes to `sink`.
    /// Errors: "… not found (MANIFEST_UNKNOWN: …)" (ENOENT), authentication errors (EACCES),
    /// EAGAIN for what may be worth retrying (5xx, 429, a broken connection).
    Result<HttpResponse> get(const RegistryRequest&, const BodySink& sink);

    const oci::DockerRef& ref() const { return m_ref; }
    /// "host:port" as users name it ("docker.io" for Docker Hub).
    const std::string& registry() const { return m_ref.registry; }

private:
    HttpRequest request(const std::string& url, const std::string& authorization) const;
    /// The Authorization header to answer `challenges` with.
    Result<std::string> authenticate(const std::vector<AuthChallenge>& challenges);
    Result<std::string> fetch_token(const AuthChallenge&);
    Error no_credentials() const;
    Error refused() const;

    oci::DockerRef m_ref;
    bool m_plain_http;
    bool m_insecure_tls;
    std::optional<DockerCredentials> m_credentials;
    std::mutex m_mutex;
    std::string m_authorization; ///< what the last successful challenge answer was ("" anonymous)
};

} // namespace capsule::fetch
