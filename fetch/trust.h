// SPDX-License-Identifier: Apache-2.0
#pragma once

// The trust store, in rkt's layout (Documentation/signing-and-verification.md):
//   <config>/trustedkeys/root.d/<fingerprint>                 trusted for every image
//   <config>/trustedkeys/prefix.d/<prefix>/<fingerprint>      trusted for names under <prefix>
// in the local config dir (/etc/capsule) and the system one (/usr/lib/capsule); a file in
// the local dir hides the file at the same path in the system dir. <prefix> is the appc
// name prefix itself as nested directories (prefix.d/example.com/app/…), as rkt did.

#include "fetch/openpgp.h"
#include "lib/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::fetch {

/// A prefix is an appc identifier without empty, "." or ".." components.
Status check_trust_prefix(std::string_view prefix);

/// Whether a key trusted for `prefix` covers image `name`: whole path components only
/// (`example.com/app` covers `example.com/app` and `example.com/app/x`, not `example.com/apple`).
bool prefix_covers(std::string_view prefix, std::string_view name);

/// `<config>/trustedkeys/prefix.d/<prefix>` or, without a prefix, `<config>/trustedkeys/root.d`.
std::string trust_dir(const std::string& config, const std::optional<std::string>& prefix);

/// A key file in the trust store.
struct TrustedKey {
    std::string path;
    std::optional<std::string> prefix; ///< nullopt: a root key
    openpgp::Certificate cert;
};

/// Every trusted key, local config dir first. Unreadable or malformed key files are
/// logged as warnings and ignored.
Result<std::vector<TrustedKey>> load_trusted_keys(const std::string& local_config, const std::string& system_config);

/// Whether the key with this primary fingerprint is trusted for image `name`.
bool trusted_for(const std::vector<TrustedKey>&, std::string_view fingerprint, std::string_view name);

/// Write `armored` (one public key) into the local trust store, atomically; returns the path.
Result<std::string> add_trusted_key(
    const std::string& local_config, const std::optional<std::string>& prefix, std::string_view armored);

} // namespace capsule::fetch
