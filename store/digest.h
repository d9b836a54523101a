// SPDX-License-Identifier: Apache-2.0
#pragma once

// Streaming SHA-512 (OpenSSL EVP) for image IDs, and compression sniffing by magic bytes.

#include "lib/result.h"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace capsule::store {

/// SHA-512 (or, with create(algo), SHA-256) over a stream of bytes.
class Sha512 {
public:
    static Result<Sha512> create();
    /// "sha256" or "sha512" (the algorithms of OCI digests and ACI image IDs).
    static Result<Sha512> create(std::string_view algo);
    Sha512(Sha512&&) noexcept;
    Sha512& operator=(Sha512&&) noexcept;
    ~Sha512();

    void update(const void* data, size_t size);
    /// Lowercase hex of the digest; the hasher is finished afterwards.
    std::string finish_hex();

private:
    Sha512() = default;
    struct Ctx;
    std::unique_ptr<Ctx> m_ctx;
};

/// The same hasher under the name OCI code uses for any algorithm.
using Hasher = Sha512;

/// SHA-512 of a whole buffer, as lowercase hex.
std::string sha512_hex(std::string_view data);
/// SHA-256 of a whole buffer, as lowercase hex.
std::string sha256_hex(std::string_view data);

/// "sha512-<hex>" from a hex digest, and the hex part of an ACI image ID ("" if malformed).
std::string aci_image_id(std::string_view hex);
std::string aci_id_hex(std::string_view id);

enum class Compression { None, Gzip, Bzip2, Xz, Zstd };

/// Detects the compression of an image file from its first bytes (at least 6 for xz).
Compression sniff_compression(std::span<const unsigned char> head);
std::string_view compression_name(Compression);

} // namespace capsule::store
