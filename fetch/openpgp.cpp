// SPDX-License-Identifier: Apache-2.0
#include "fetch/openpgp.h"

#include "fetch/openpgp_crypto.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace capsule::openpgp {

namespace {

/// The packets of one transferable public key, before any signature is checked.
struct RawCert {
    KeyPacket primary;
    std::vector<SignaturePacket> direct; ///< revocations and direct-key signatures
    std::vector<std::pair<std::string, std::vector<SignaturePacket>>> uids;
    std::vector<std::pair<KeyPacket, std::vector<SignaturePacket>>> subkeys;
};

bool issued_by(const SignaturePacket& sig, const KeyPacket& key)
{
    if (sig.issuer_fingerprint)
        return *sig.issuer_fingerprint == key.fingerprint;
    if (sig.issuer)
        return *sig.issuer == key.key_id;
    return true; // no issuer: try it
}

/// A self-signature made by `signer` over `primary` (+ `uid` or `subkey`), checked.
bool self_sig_valid(const SignaturePacket& sig, const KeyPacket& signer, const KeyPacket& primary,
    const std::string* uid, const KeyPacket* subkey)
{
    if (!issued_by(sig, signer) || sig.unknown_critical || sig.creation < int64_t(signer.creation))
        return false;
    auto ctx = start_hash(sig);
    if (!ctx)
        return false;
    hash_key(ctx->get(), primary);
    if (uid)
        hash_user_id(ctx->get(), *uid);
    if (subkey)
        hash_key(ctx->get(), *subkey);
    return bool(finish_and_verify(ctx->get(), sig, signer));
}

/// Take expiry and flags from the newest valid self-signature.
void apply_binding(Key& key, const SignaturePacket& sig)
{
    key.bound = true;
    if (sig.creation < key.binding_time)
        return;
    key.binding_time = sig.creation;
    key.expires = sig.key_expiration && *sig.key_expiration ? int64_t(key.packet.creation) + *sig.key_expiration : 0;
    key.can_sign = sig.key_flags ? (*sig.key_flags & 0x02) != 0 : true;
}

Certificate evaluate(RawCert raw)
{
    Certificate c;
    c.primary.packet = std::move(raw.primary);
    const auto& pk = c.primary.packet;
    for (auto& [uid, sigs] : raw.uids) {
        bool valid = false;
        for (auto& s : sigs)
            if (s.type >= 0x10 && s.type <= 0x13 && self_sig_valid(s, pk, pk, &uid, nullptr)) {
                apply_binding(c.primary, s);
                valid = true;
            }
        if (valid)
            c.user_ids.push_back(uid);
    }
    for (auto& s : raw.direct) {
        if (s.type == 0x1F && self_sig_valid(s, pk, pk, nullptr, nullptr))
            apply_binding(c.primary, s);
        if (s.type == 0x20 && self_sig_valid(s, pk, pk, nullptr, nullptr))
            c.primary.revoked = true;
    }
    for (auto& [packet, sigs] : raw.subkeys) {
        Key sub;
        sub.packet = std::move(packet);
        for (auto& s : sigs) {
            if (s.type == 0x18 && self_sig_valid(s, pk, pk, nullptr, &sub.packet)) {
                apply_binding(sub, s);
                // A signing subkey must cross-certify its primary (0x19 back-signature),
                // or anyone could claim someone else's subkey as their own.
                if (sub.can_sign && s.creation == sub.binding_time) {
                    auto back = parse_signature_packet(s.embedded);
                    sub.can_sign
                        = back && back->type == 0x19 && self_sig_valid(*back, sub.packet, pk, nullptr, &sub.packet);
                }
            }
            if (s.type == 0x28 && self_sig_valid(s, pk, pk, nullptr, &sub.packet))
                sub.revoked = true;
        }
        if (sub.bound)
            c.subkeys.push_back(std::move(sub));
    }
    return c;
}

/// Why `key` (of `cert`) cannot vouch for `sig` at `now`, if it cannot.
Status check_usable(const Certificate& cert, const Key& key, const SignaturePacket& sig, int64_t now)
{
    auto fpr = cert.fingerprint();
    if (!cert.primary.bound)
        return Error("key " + fpr + " has no valid self-signature", EBADMSG);
    if (cert.primary.revoked)
        return Error("key " + fpr + " is revoked", EKEYREVOKED);
    if (&key != &cert.primary && key.revoked)
        return Error("signing subkey " + key.packet.fingerprint + " of key " + fpr + " is revoked", EKEYREVOKED);
    if (!key.can_sign)
        return Error("key " + key.packet.fingerprint + " is not a signing key", EBADMSG);
    for (const Key* k : { &cert.primary, &key }) {
        if (k->expires && sig.creation >= k->expires)
            return Error("key " + k->packet.fingerprint + " had expired when the signature was made", EKEYEXPIRED);
        if (k->expires && now >= k->expires)
            return Error("key " + k->packet.fingerprint + " has expired", EKEYEXPIRED);
    }
    if (sig.creation < int64_t(key.packet.creation))
        return Error("signature predates its key " + key.packet.fingerprint, EBADMSG);
    if (sig.sig_expiration && *sig.sig_expiration && now >= sig.creation + *sig.sig_expiration)
        return Error("signature has expired", EKEYEXPIRED);
    return {};
}

Status hash_fd(EVP_MD_CTX* ctx, int fd)
{
    std::vector<uint8_t> buf(1 << 20);
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("read image");
        if (n == 0)
            return {};
        EVP_DigestUpdate(ctx, buf.data(), size_t(n));
        off += n;
    }
}

} // namespace

Result<std::vector<Certificate>> parse_certificates(std::string_view data)
{
    Bytes bin;
    if (is_armored(data))
        bin = TRY(dearmor(data, "PUBLIC KEY BLOCK"));
    else
        bin.assign(data.begin(), data.end());
    auto packets = TRY(split_packets(bin));
    std::vector<RawCert> raws;
    // Where the next signature packet belongs: 0 primary, 1 user ID, 2 subkey, 3 ignored.
    int target = 3;
    for (auto& p : packets) {
        auto tag = Tag(p.tag);
        if (tag == Tag::PublicKey) {
            raws.push_back({ TRY(parse_key_packet(p.body)), {}, {}, {} });
            target = 0;
            continue;
        }
        if (raws.empty())
            return Error("not a public key (first packet has tag " + std::to_string(p.tag) + ")", EBADMSG);
        auto& raw = raws.back();
        if (tag == Tag::UserId) {
            raw.uids.push_back({ std::string(p.body.begin(), p.body.end()), {} });
            target = 1;
        } else if (tag == Tag::PublicSubkey) {
            raw.subkeys.push_back({ TRY(parse_key_packet(p.body)), {} });
            target = 2;
        } else if (tag == Tag::Signature) {
            // Signatures of versions or shapes we do not read are not ours to vouch for: skip.
            auto sig = parse_signature_packet(p.body);
            if (!sig) {
                spdlog::debug("openpgp: skipping a signature packet: {}", sig.error().message());
                continue;
            }
            if (target == 0)
                raw.direct.push_back(sig.release_value());
            else if (target == 1)
                raw.uids.back().second.push_back(sig.release_value());
            else if (target == 2)
                raw.subkeys.back().second.push_back(sig.release_value());
        } else if (tag == Tag::UserAttribute) {
            target = 3;
        } else if (tag != Tag::Trust) {
            return Error("unexpected packet (tag " + std::to_string(p.tag) + ") in a public key", EBADMSG);
        }
    }
    if (raws.empty())
        return Error("no public key found", EBADMSG);
    std::vector<Certificate> out;
    for (auto& r : raws)
        out.push_back(evaluate(std::move(r)));
    return out;
}

Result<SignaturePacket> parse_detached_signature(std::string_view data)
{
    Bytes bin;
    if (is_armored(data))
        bin = TRY(dearmor(data, "SIGNATURE"));
    else
        bin.assign(data.begin(), data.end());
    auto packets = TRY(split_packets(bin));
    if (packets.size() != 1 || Tag(packets[0].tag) != Tag::Signature)
        return Error("not a detached OpenPGP signature", EBADMSG);
    return parse_signature_packet(packets[0].body);
}

std::string issuer_of(const SignaturePacket& sig)
{
    if (sig.issuer_fingerprint)
        return *sig.issuer_fingerprint;
    if (sig.issuer)
        return to_hex(*sig.issuer);
    return "(no issuer)";
}

Result<Signer> verify_detached(const std::vector<Certificate>& certs, const SignaturePacket& sig, int fd, int64_t now)
{
    if (sig.type != 0x00)
        return Error("signature type 0x" + to_hex(std::span(&sig.type, 1))
                + " is not a binary document signature (sign with gpg --detach-sign)",
            ENOTSUP);
    if (sig.unknown_critical)
        return Error("signature has an unknown critical subpacket", EBADMSG);
    if (!sig.issuer && !sig.issuer_fingerprint)
        return Error("signature names no issuer key", EBADMSG);
    // The same key may be in the set more than once (trusted for several prefixes, or an
    // older copy elsewhere): a revocation in any copy counts.
    for (auto& cert : certs) {
        bool issuer = issued_by(sig, cert.primary.packet);
        for (auto& sub : cert.subkeys) {
            if (issued_by(sig, sub.packet) && sub.revoked)
                return Error(
                    "signing subkey " + sub.packet.fingerprint + " of key " + cert.fingerprint() + " is revoked",
                    EKEYREVOKED);
            issuer = issuer || issued_by(sig, sub.packet);
        }
        if (issuer && cert.primary.revoked)
            return Error("key " + cert.fingerprint() + " is revoked", EKEYREVOKED);
    }
    for (auto& cert : certs) {
        const Key* key = nullptr;
        if (issued_by(sig, cert.primary.packet))
            key = &cert.primary;
        for (auto& sub : cert.subkeys)
            if (!key && issued_by(sig, sub.packet))
                key = &sub;
        if (!key)
            continue;
        TRY(check_usable(cert, *key, sig, now));
        auto ctx = TRY(start_hash(sig));
        TRY(hash_fd(ctx.get(), fd));
        TRY(finish_and_verify(ctx.get(), sig, key->packet));
        return Signer { cert.fingerprint(), key->packet.fingerprint,
            cert.user_ids.empty() ? std::string() : cert.user_ids.front() };
    }
    return Error("signed by unknown key " + issuer_of(sig), ENOKEY);
}

} // namespace capsule::openpgp
