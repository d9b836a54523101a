// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the transports in fetch/: signature verification and trust decisions, so
// local files and downloads are verified alike and say the same things.

#include "fetch/fetch.h"
#include "fetch/trust.h"

#include <string>
#include <string_view>
#include <vector>

namespace capsule::fetch {

/// "image is not signed: WHY; pass --insecure-options=image …" (EPERM).
Error not_signed(const std::string& why);

/// Verify the detached signature `text` (named `sig_name` in messages, quoted) of the
/// image in `fd` against every trusted key. `origin` names the image when the signer is
/// unknown and the message suggests `capsule trust --prefix=NAME`.
Result<openpgp::Signer> verify_signature_text(store::Store&, std::string_view text, const std::string& sig_name, int fd,
    const std::string& origin, const std::vector<TrustedKey>& keys);

/// The signer must be trusted for `name` (a prefix key or a root key).
Status check_trusted_for(const std::vector<TrustedKey>&, const openpgp::Signer&, const std::string& name);

/// Where a remote image came from, when it was found by discovery.
struct Discovered {
    std::string name; ///< the name discovery was asked for
    std::string asc;  ///< the signature's URL (else the image's URL + ".asc")
};

/// Fetch an http(s) URL of an ACI and its `.asc`, honouring the remote cache.
Result<store::ImageInfo> fetch_remote(
    store::Store&, const std::string& url, const FetchOptions&, const std::optional<Discovered>& discovered = {});

} // namespace capsule::fetch
