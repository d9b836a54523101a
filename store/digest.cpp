// SPDX-License-Identifier: Apache-2.0
#include "store/digest.h"

#include <algorithm>
#include <openssl/evp.h>

namespace capsule::store {

struct Sha512::Ctx {
    EVP_MD_CTX* md { nullptr };
    ~Ctx() { EVP_MD_CTX_free(md); }
};

Result<Sha512> Sha512::create()
{
    return create("sha512");
}

Result<Sha512> Sha512::create(std::string_view algo)
{
    const EVP_MD* md = algo == "sha512" ? EVP_sha512() : algo == "sha256" ? EVP_sha256() : nullptr;
    if (!md)
        return Error("unsupported digest algorithm '" + std::string(algo) + "'", EINVAL);
    Sha512 h;
    h.m_ctx = std::make_unique<Ctx>();
    h.m_ctx->md = EVP_MD_CTX_new();
    if (!h.m_ctx->md || EVP_DigestInit_ex(h.m_ctx->md, md, nullptr) != 1)
        return Error::msg(std::string(algo) + ": cannot initialise OpenSSL digest");
    return h;
}

Sha512::Sha512(Sha512&&) noexcept = default;
Sha512& Sha512::operator=(Sha512&&) noexcept = default;
Sha512::~Sha512() = default;

void Sha512::update(const void* data, size_t size)
{
    EVP_DigestUpdate(m_ctx->md, data, size);
}

std::string Sha512::finish_hex()
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(m_ctx->md, digest, &len);
    static constexpr char hexdigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; i++) {
        out += hexdigits[digest[i] >> 4];
        out += hexdigits[digest[i] & 0xf];
    }
    return out;
}

std::string sha512_hex(std::string_view data)
{
    auto h = Sha512::create();
    if (!h)
        return {};
    h->update(data.data(), data.size());
    return h->finish_hex();
}

std::string sha256_hex(std::string_view data)
{
    auto h = Sha512::create("sha256");
    if (!h)
        return {};
    h->update(data.data(), data.size());
    return h->finish_hex();
}

std::string aci_image_id(std::string_view hex)
{
    return "sha512-" + std::string(hex);
}

std::string aci_id_hex(std::string_view id)
{
    constexpr std::string_view prefix = "sha512-";
    if (id.size() != prefix.size() + 128 || id.substr(0, prefix.size()) != prefix)
        return {};
    auto hex = id.substr(prefix.size());
    if (!std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
        return {};
    return std::string(hex);
}

Compression sniff_compression(std::span<const unsigned char> h)
{
    auto starts = [&](std::initializer_list<unsigned char> magic) {
        return h.size() >= magic.size() && std::equal(magic.begin(), magic.end(), h.begin());
    };
    if (starts({ 0x1f, 0x8b }))
        return Compression::Gzip;
    if (starts({ 'B', 'Z', 'h' }))
        return Compression::Bzip2;
    if (starts({ 0xfd, '7', 'z', 'X', 'Z', 0x00 }))
        return Compression::Xz;
    if (starts({ 0x28, 0xb5, 0x2f, 0xfd }))
        return Compression::Zstd;
    return Compression::None;
}

std::string_view compression_name(Compression c)
{
    switch (c) {
    case Compression::None:
        return "none";
    case Compression::Gzip:
        return "gzip";
    case Compression::Bzip2:
        return "bzip2";
    case Compression::Xz:
        return "xz";
    case Compression::Zstd:
        return "zstd";
    }
    return "unknown";
}

} // namespace capsule::store
