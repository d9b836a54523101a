// SPDX-License-Identifier: Apache-2.0
#pragma once

// OpenPGP public keys and detached signatures, verified with OpenSSL (RFC 4880 v4; RSA
// PKCS#1 v1.5 and EdDSA ed25519; SHA-256/384/512). Errors carry errno codes callers can
// tell apart: ENOKEY (no such key), EKEYEXPIRED, EKEYREVOKED, EBADMSG (bad signature or
// malformed data), ENOTSUP (an algorithm or digest capsule refuses).

#include "fetch/openpgp_packet.h"
#include "lib/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::openpgp {

/// A key or subkey with what its self-signatures say about it.
struct Key {
    KeyPacket packet;
    bool bound { false };        ///< primary: has a valid self-signature; subkey: a valid binding
    bool revoked { false };      ///< a valid revocation signature exists
    bool can_sign { false };     ///< key flags allow signing (or no flags on a bound subkey)
    int64_t expires { 0 };       ///< unix seconds; 0 = never
    int64_t binding_time { -1 }; ///< creation time of the self-signature the fields above come from
};

/// A transferable public key (primary, user IDs, subkeys), self-signatures checked.
struct Certificate {
    Key primary;
    std::vector<Key> subkeys;
    std::vector<std::string> user_ids; ///< those with a valid self-signature, in file order
    std::string fingerprint() const { return primary.packet.fingerprint; }
};

/// Parse one or more public keys (armored "PUBLIC KEY BLOCK" or binary) and check their
/// self-signatures, binding and revocation signatures.
Result<std::vector<Certificate>> parse_certificates(std::string_view data);

/// Parse a detached signature (armored "SIGNATURE" or binary): one v4 signature packet.
Result<SignaturePacket> parse_detached_signature(std::string_view data);

/// Who made a verified signature.
struct Signer {
    std::string primary_fingerprint; ///< 40 upper-case hex
    std::string signing_fingerprint; ///< the primary's or a signing subkey's
    std::string user_id;             ///< the first valid user ID ("" if none)
};

/// The key ID or fingerprint a signature names as its issuer (upper-case hex).
std::string issuer_of(const SignaturePacket&);

/// Verify a detached binary-document (type 0x00) signature over the contents of `fd`
/// (read with pread from offset 0 in large chunks; the file offset is not moved), made by
/// a key in `certs` that is valid at `now` (unix seconds).
Result<Signer> verify_detached(const std::vector<Certificate>& certs, const SignaturePacket&, int fd, int64_t now);

} // namespace capsule::openpgp
