// SPDX-License-Identifier: Apache-2.0
#pragma once

// The OpenSSL side of OpenPGP signatures: the v4 hash construction and RSA / ed25519
// verification of the resulting digest. Internal to fetch/openpgp*.cpp.

#include "fetch/openpgp_packet.h"
#include "lib/result.h"

#include <memory>
#include <openssl/evp.h>

namespace capsule::openpgp {

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

/// A digest context for the signature's hash algorithm; SHA-1, MD5 and other digests
/// are refused (ENOTSUP): collisions in them are practical.
Result<MdCtxPtr> start_hash(const SignaturePacket&);

/// Feed `0x99 || len16 || body` (how RFC 4880 5.2.4 hashes a key).
void hash_key(EVP_MD_CTX*, const KeyPacket&);
/// Feed `0xB4 || len32 || uid`.
void hash_user_id(EVP_MD_CTX*, std::string_view uid);

/// Append the v4 trailer, finish the digest and verify the signature with `key`.
/// Any mismatch is EBADMSG.
Status finish_and_verify(EVP_MD_CTX*, const SignaturePacket&, const KeyPacket& key);

} // namespace capsule::openpgp
