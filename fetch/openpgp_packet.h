// SPDX-License-Identifier: Apache-2.0
#pragma once

// OpenPGP wire format (RFC 4880): ASCII armor, packet framing, and the two packet bodies
// capsule reads (v4 public keys and v4 signatures). No cryptography here: see openpgp.h.

#include "lib/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::openpgp {

using Bytes = std::vector<uint8_t>;

/// CRC-24 of RFC 4880 section 6.1 (the armor checksum).
uint32_t crc24(std::span<const uint8_t>);

/// True when `data` starts like ASCII armor ("-----BEGIN PGP ").
bool is_armored(std::string_view data);

/// Decode the first armored block of `text`; `expected` is the block type after
/// "BEGIN PGP " (e.g. "PUBLIC KEY BLOCK"). The CRC-24 line, when present, must match.
Result<Bytes> dearmor(std::string_view text, std::string_view expected);

enum class Tag : uint8_t {
    Signature = 2,
    PublicKey = 6,
    Trust = 12,
    UserId = 13,
    PublicSubkey = 14,
    UserAttribute = 17,
};

struct Packet {
    uint8_t tag { 0 };
    std::span<const uint8_t> body;
};

/// Split `data` into packets (old and new headers; partial body lengths are refused:
/// RFC 4880 allows them for data packets only).
Result<std::vector<Packet>> split_packets(std::span<const uint8_t> data);

/// Public-key algorithm IDs (RFC 4880 9.1, and 22 for gpg's "legacy" EdDSA).
enum class PubAlgo : uint8_t { RsaEncryptSign = 1, RsaSignOnly = 3, EdDsa = 22 };
/// Hash algorithm IDs (RFC 4880 9.4).
enum class HashAlgo : uint8_t { Md5 = 1, Sha1 = 2, Sha256 = 8, Sha384 = 9, Sha512 = 10, Sha224 = 11 };

/// A v4 public key or subkey packet.
struct KeyPacket {
    Bytes body; ///< the whole packet body: fingerprints and signatures hash it
    uint32_t creation { 0 };
    uint8_t algo { 0 };
    Bytes rsa_n, rsa_e;      ///< RSA
    Bytes ed25519;           ///< EdDSA: the 32-byte public point (0x40 prefix removed)
    bool usable { false };   ///< an algorithm capsule can verify with
    std::string fingerprint; ///< 40 upper-case hex digits (SHA-1 of the key, RFC 4880 12.2)
    std::array<uint8_t, 8> key_id {};
};

Result<KeyPacket> parse_key_packet(std::span<const uint8_t> body);

/// A v4 signature packet.
struct SignaturePacket {
    uint8_t type { 0 };
    uint8_t pub_algo { 0 };
    uint8_t hash_algo { 0 };
    Bytes hashed; ///< version .. end of hashed subpackets: hashed after the signed data
    std::array<uint8_t, 2> left16 {};
    std::vector<Bytes> mpis; ///< RSA: one; EdDSA: R and S
    int64_t creation { 0 };
    std::optional<uint32_t> sig_expiration; ///< seconds after creation
    std::optional<uint32_t> key_expiration; ///< seconds after the key's creation
    std::optional<uint8_t> key_flags;
    std::optional<std::array<uint8_t, 8>> issuer;
    std::optional<std::string> issuer_fingerprint; ///< upper-case hex
    Bytes embedded;                                ///< an embedded (back-)signature packet body
    bool unknown_critical { false };               ///< a hashed critical subpacket we do not know
};

Result<SignaturePacket> parse_signature_packet(std::span<const uint8_t> body);

/// Upper-case hex.
std::string to_hex(std::span<const uint8_t>);

} // namespace capsule::openpgp
