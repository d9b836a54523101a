// SPDX-License-Identifier: Apache-2.0
#pragma once

// Credentials for http(s) fetches, in rkt's format: `<config>/auth.d/*.json`
//   {"rktKind": "auth", "rktVersion": "v1", "domains": ["example.com"],
//    "type": "basic", "credentials": {"user": "…", "password": "…"}}
//   {"rktKind": "auth", "rktVersion": "v1", "domains": ["example.com"],
//    "type": "oauth", "credentials": {"token": "…"}}          (a bearer token)
// read from the local config dir (/etc/capsule) and the system one (/usr/lib/capsule); a
// file in the local dir hides the file of the same name in the system dir, and for a domain
// named in both, the local dir's credentials win.

#include "lib/result.h"

#include <map>
#include <string>
#include <string_view>

namespace capsule::fetch {

/// Domain (a host, or host:port) -> the value of the Authorization header to send.
using AuthHeaders = std::map<std::string, std::string>;

/// Every auth.d file, local first. Unreadable or malformed files are logged as warnings
/// and ignored.
AuthHeaders load_auth(const std::string& local_config, const std::string& system_config);

/// Parse one auth.d file into `out` (domains already in `out` are kept).
Status parse_auth_file(std::string_view text, AuthHeaders& out);

/// The Authorization header value for `url`: its host:port if listed, else its host; "" if none.
std::string auth_for(const AuthHeaders&, std::string_view url);

/// "host[:port]" of an http(s) URL, lowercased, without user info.
std::string url_authority(std::string_view url);

std::string base64(std::string_view);

} // namespace capsule::fetch
