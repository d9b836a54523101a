// SPDX-License-Identifier: Apache-2.0
#pragma once

// Credentials for http(s) fetches, in rkt's format: `<config>/auth.d/*.json`
//   {"rktKind": "auth", "rktVersion": "v1", "domains": ["example.com"],
//    "type": "basic", "credentials": {"user": "…", "password": "…"}}
//   {"rktKind": "auth", "rktVersion": "v1", "domains": ["example.com"],
//    "type": "oauth", "credentials": {"token": "…"}}          (a bearer token)
// and, for `docker://` registries,
//   {"rktKind": "dockerAuth", "rktVersion": "v1", "registries": ["127.0.0.1:5000"],
//    "credentials": {"user": "…", "password": "…"}}
// read from the local config dir (/etc/capsule) and the system one (/usr/lib/capsule); a
// file in the local dir hides the file of the same name in the system dir, and for a domain
// named in both, the local dir's credentials win. Registries without a dockerAuth entry use
// docker's own `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), its "auths".

#include "lib/result.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace capsule::fetch {

/// Domain (a host, or host:port) -> the value of the Authorization header to send.
using AuthHeaders = std::map<std::string, std::string>;

/// A registry's user name and password.
struct DockerCredentials {
    std::string user;
    std::string password;
    bool operator==(const DockerCredentials&) const = default;
};
/// Registry ("host[:port]", lowercased; "docker.io" for Docker Hub) -> credentials.
using DockerAuths = std::map<std::string, DockerCredentials>;

/// Every auth.d file of kind "auth", local first. Unreadable or malformed files are logged
/// as warnings and ignored (so are dockerAuth files, read by load_docker_auth()).
AuthHeaders load_auth(const std::string& local_config, const std::string& system_config);

/// Parse one auth.d file into `out` (domains already in `out` are kept). A dockerAuth file
/// is an error here.
Status parse_auth_file(std::string_view text, AuthHeaders& out);

/// Registry credentials: auth.d's dockerAuth files (local first), then docker's
/// config.json for registries they do not name. `docker_config` is the config.json path
/// ("" for none; a missing file is no error). Malformed files: warnings, ignored.
DockerAuths load_docker_auth(
    const std::string& local_config, const std::string& system_config, const std::string& docker_config);

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`; "" when neither is set.
std::string default_docker_config();

/// Parse one dockerAuth auth.d file into `out` (registries already in `out` are kept).
Status parse_docker_auth_file(std::string_view text, DockerAuths& out);

/// Parse docker's config.json ("auths": {"REGISTRY": {"auth": base64("user:password")}})
/// into `out` (registries already in `out` are kept). Keys may be URLs
/// ("https://127.0.0.1:5000/v2/"); Docker Hub's ("https://index.docker.io/v1/") becomes
/// "docker.io". Entries without a usable "auth" (credential helpers) are skipped.
Status parse_docker_config(std::string_view text, DockerAuths& out);

/// The credentials for `registry` ("host[:port]"), if any.
std::optional<DockerCredentials> docker_credentials_for(const DockerAuths&, std::string_view registry);

/// The Authorization header value for `url`: its host:port if listed, else its host; "" if none.
std::string auth_for(const AuthHeaders&, std::string_view url);

/// "host[:port]" of an http(s) URL, lowercased, without user info.
std::string url_authority(std::string_view url);

std::string base64(std::string_view);
/// Standard (or URL-safe) base64 with optional padding; nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view);

} // namespace capsule::fetch
