// SPDX-License-Identifier: Apache-2.0
#include "fetch/openpgp_crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

namespace capsule::openpgp {

namespace {

struct PkeyDeleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct PkeyCtxDeleter {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
struct BnDeleter {
    void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
struct ParamBldDeleter {
    void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamDeleter {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};

const Error bad_signature("bad signature", EBADMSG);

/// `value` left-padded with zeros to `size` bytes (MPIs drop leading zeros).
Result<Bytes> pad_to(const Bytes& value, size_t size)
{
    if (value.size() > size)
        return bad_signature;
    Bytes out(size - value.size(), 0);
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

Result<PkeyPtr> rsa_key(const KeyPacket& key)
{
    BnPtr n(BN_bin2bn(key.rsa_n.data(), int(key.rsa_n.size()), nullptr));
    BnPtr e(BN_bin2bn(key.rsa_e.data(), int(key.rsa_e.size()), nullptr));
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
    if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get())
        || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()))
        return Error("cannot load RSA key", ENOMEM);
    std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0
        || EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
        return Error("cannot load RSA key " + key.fingerprint, EBADMSG);
    return PkeyPtr(pkey);
}

Status verify_rsa(
    const KeyPacket& key, const SignaturePacket& sig, const EVP_MD* md, const uint8_t* digest, size_t digest_len)
{
    if (sig.mpis.size() != 1)
        return bad_signature;
    auto pkey = TRY(rsa_key(key));
    auto value = TRY(pad_to(sig.mpis[0], size_t(EVP_PKEY_get_size(pkey.get()))));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0
        || EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0)
        return Error("cannot set up RSA verification", ENOMEM);
    if (EVP_PKEY_verify(ctx.get(), value.data(), value.size(), digest, digest_len) != 1)
        return bad_signature;
    return {};
}

Status verify_ed25519(const KeyPacket& key, const SignaturePacket& sig, const uint8_t* digest, size_t digest_len)
{
    if (sig.mpis.size() != 2)
        return bad_signature;
    PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.ed25519.data(), key.ed25519.size()));
    if (!pkey)
        return Error("cannot load ed25519 key " + key.fingerprint, EBADMSG);
    // OpenPGP's EdDSA signs the digest: the digest is the message given to Ed25519.
    auto r = TRY(pad_to(sig.mpis[0], 32));
    auto s = TRY(pad_to(sig.mpis[1], 32));
    r.insert(r.end(), s.begin(), s.end());
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
        return Error("cannot set up ed25519 verification", ENOMEM);
    if (EVP_DigestVerify(ctx.get(), r.data(), r.size(), digest, digest_len) != 1)
        return bad_signature;
    return {};
}

} // namespace

Result<MdCtxPtr> start_hash(const SignaturePacket& sig)
{
    const EVP_MD* md = nullptr;
    switch (HashAlgo(sig.hash_algo)) {
    case HashAlgo::Sha256:
        md = EVP_sha256();
        break;
    case HashAlgo::Sha384:
        md = EVP_sha384();
        break;
    case HashAlgo::Sha512:
        md = EVP_sha512();
        break;
    case HashAlgo::Sha1:
        return Error(
            "SHA-1 signatures are refused (the digest is broken); sign with --digest-algo SHA256 or stronger", ENOTSUP);
    case HashAlgo::Md5:
        return Error(
            "MD5 signatures are refused (the digest is broken); sign with --digest-algo SHA256 or stronger", ENOTSUP);
    default:
        return Error("unsupported signature digest algorithm " + std::to_string(sig.hash_algo)
                + " (SHA-256, SHA-384 and SHA-512 are supported)",
            ENOTSUP);
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
        return Error("cannot start digest", ENOMEM);
    return ctx;
}

void hash_key(EVP_MD_CTX* ctx, const KeyPacket& key)
{
    uint8_t head[3] = { 0x99, uint8_t(key.body.size() >> 8), uint8_t(key.body.size()) };
    EVP_DigestUpdate(ctx, head, sizeof head);
    EVP_DigestUpdate(ctx, key.body.data(), key.body.size());
}

void hash_user_id(EVP_MD_CTX* ctx, std::string_view uid)
{
    auto n = uid.size();
    uint8_t head[5] = { 0xB4, uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n) };
    EVP_DigestUpdate(ctx, head, sizeof head);
    EVP_DigestUpdate(ctx, uid.data(), uid.size());
}

Status finish_and_verify(EVP_MD_CTX* ctx, const SignaturePacket& sig, const KeyPacket& key)
{
    if (!key.usable)
        return Error(
            "key " + key.fingerprint + " uses an unsupported algorithm (" + std::to_string(key.algo) + ")", ENOTSUP);
    bool rsa = key.algo == uint8_t(PubAlgo::RsaEncryptSign) || key.algo == uint8_t(PubAlgo::RsaSignOnly);
    bool sig_rsa = sig.pub_algo == uint8_t(PubAlgo::RsaEncryptSign) || sig.pub_algo == uint8_t(PubAlgo::RsaSignOnly);
    if (rsa != sig_rsa || (!rsa && sig.pub_algo != key.algo))
        return bad_signature;
    EVP_DigestUpdate(ctx, sig.hashed.data(), sig.hashed.size());
    auto n = sig.hashed.size();
    uint8_t trailer[6] = { 0x04, 0xFF, uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n) };
    EVP_DigestUpdate(ctx, trailer, sizeof trailer);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const EVP_MD* md = EVP_MD_CTX_get0_md(ctx);
    if (EVP_DigestFinal_ex(ctx, digest, &len) != 1)
        return Error("cannot finish digest", ENOMEM);
    // The quick check: cheap, and a mismatch means the data or the signature changed.
    if (len < 2 || digest[0] != sig.left16[0] || digest[1] != sig.left16[1])
        return bad_signature;
    if (rsa)
        return verify_rsa(key, sig, md, digest, len);
    return verify_ed25519(key, sig, digest, len);
}

} // namespace capsule::openpgp
