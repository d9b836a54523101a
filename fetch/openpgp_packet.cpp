// SPDX-License-Identifier: Apache-2.0
#include "fetch/openpgp_packet.h"

#include <openssl/evp.h>

namespace capsule::openpgp {

namespace {

/// Bounds-checked big-endian reader over a packet body.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> d)
        : m_data(d)
    {
    }
    size_t left() const { return m_data.size() - m_pos; }
    size_t pos() const { return m_pos; }
    Result<uint32_t> be(size_t n)
    {
        if (left() < n)
            return Error("truncated packet", EBADMSG);
        uint32_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = (v << 8) | m_data[m_pos++];
        return v;
    }
    Result<std::span<const uint8_t>> take(size_t n)
    {
        if (left() < n)
            return Error("truncated packet", EBADMSG);
        auto s = m_data.subspan(m_pos, n);
        m_pos += n;
        return s;
    }
    /// A multiprecision integer: 2-byte bit count, then the bytes.
    Result<Bytes> mpi()
    {
        uint32_t bits = TRY(be(2));
        auto s = TRY(take((bits + 7) / 8));
        return Bytes(s.begin(), s.end());
    }

private:
    std::span<const uint8_t> m_data;
    size_t m_pos { 0 };
};

constexpr uint8_t ed25519_oid[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 };

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

Result<Bytes> base64(std::string_view text)
{
    if (text.size() % 4 != 0)
        return Error("bad base64 in armor", EBADMSG);
    Bytes out(text.size() / 4 * 3);
    int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
    if (n < 0)
        return Error("bad base64 in armor", EBADMSG);
    // EVP_DecodeBlock keeps the bytes '=' padding stands for.
    size_t pad = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
    out.resize(size_t(n) - pad);
    return out;
}

Status parse_subpackets(std::span<const uint8_t> area, bool hashed, SignaturePacket& sig)
{
    Reader r(area);
    while (r.left() > 0) {
        uint32_t len = TRY(r.be(1));
        if (len >= 192 && len < 255)
            len = ((len - 192) << 8) + TRY(r.be(1)) + 192;
        else if (len == 255)
            len = TRY(r.be(4));
        if (len == 0)
            return Error("bad signature subpacket", EBADMSG);
        auto sp = TRY(r.take(len));
        uint8_t type = sp[0] & 0x7f;
        bool critical = sp[0] & 0x80;
        auto d = sp.subspan(1);
        Reader dr(d);
        switch (type) {
        case 2:
            if (hashed)
                sig.creation = TRY(dr.be(4));
            break;
        case 3:
            if (hashed)
                sig.sig_expiration = TRY(dr.be(4));
            break;
        case 9:
            if (hashed)
                sig.key_expiration = TRY(dr.be(4));
            break;
        case 27:
            if (hashed && !d.empty())
                sig.key_flags = d[0];
            break;
        case 16:
            if (d.size() != 8)
                return Error("bad issuer subpacket", EBADMSG);
            sig.issuer.emplace();
            std::copy(d.begin(), d.end(), sig.issuer->begin());
            break;
        case 33:
            if (d.size() == 21 && d[0] == 4)
                sig.issuer_fingerprint = to_hex(d.subspan(1));
            break;
        case 32:
            sig.embedded.assign(d.begin(), d.end());
            break;
        default:
            // RFC 4880 5.2.3.1: an unknown critical subpacket makes the signature invalid.
            if (critical && hashed)
                sig.unknown_critical = true;
        }
    }
    return {};
}

} // namespace

uint32_t crc24(std::span<const uint8_t> data)
{
    uint32_t crc = 0xB704CE;
    for (uint8_t b : data) {
        crc ^= uint32_t(b) << 16;
        for (int i = 0; i < 8; i++) {
            crc <<= 1;
            if (crc & 0x1000000)
                crc ^= 0x1864CFB;
        }
    }
    return crc & 0xFFFFFF;
}

bool is_armored(std::string_view data)
{
    auto p = data.find_first_not_of(" \t\r\n");
    return p != std::string_view::npos && data.substr(p).starts_with("-----BEGIN PGP ");
}

Result<Bytes> dearmor(std::string_view text, std::string_view expected)
{
    std::string begin = "-----BEGIN PGP " + std::string(expected) + "-----";
    std::string end = "-----END PGP " + std::string(expected) + "-----";
    auto b = text.find(begin);
    if (b == std::string_view::npos)
        return Error("no \"" + begin + "\" line", EBADMSG);
    text.remove_prefix(b + begin.size());
    bool in_headers = true;
    std::string body;
    std::optional<std::string> crc_text;
    bool ended = false;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = trim(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (in_headers) {
            // "Key: value" headers end at the first blank line.
            if (line.empty() || line.find(": ") == std::string_view::npos)
                in_headers = false;
            if (line.empty() || line.find(": ") != std::string_view::npos)
                continue;
        }
        if (line == end) {
            ended = true;
            break;
        }
        if (line.starts_with("=") && line.size() == 5)
            crc_text = std::string(line.substr(1));
        else
            body += line;
    }
    if (!ended)
        return Error("armor has no \"" + end + "\" line", EBADMSG);
    auto data = TRY_CTX(base64(body), "armor");
    if (crc_text) {
        auto crc = TRY_CTX(base64(*crc_text), "armor checksum");
        if (crc.size() != 3 || ((uint32_t(crc[0]) << 16) | (crc[1] << 8) | crc[2]) != crc24(data))
            return Error("armor checksum (CRC-24) mismatch", EBADMSG);
    }
    if (data.empty())
        return Error("armor holds no data", EBADMSG);
    return data;
}

Result<std::vector<Packet>> split_packets(std::span<const uint8_t> data)
{
    std::vector<Packet> out;
    Reader r(data);
    while (r.left() > 0) {
        uint8_t h = uint8_t(TRY(r.be(1)));
        if (!(h & 0x80))
            return Error("not an OpenPGP packet (bad header byte)", EBADMSG);
        uint8_t tag;
        size_t len;
        if (h & 0x40) {
            tag = h & 0x3f;
            uint32_t l = TRY(r.be(1));
            if (l < 192)
                len = l;
            else if (l < 224)
                len = ((l - 192) << 8) + TRY(r.be(1)) + 192;
            else if (l == 255)
                len = TRY(r.be(4));
            else
                return Error("partial body lengths are not supported here", EBADMSG);
        } else {
            tag = (h >> 2) & 0x0f;
            switch (h & 3) {
            case 0:
                len = TRY(r.be(1));
                break;
            case 1:
                len = TRY(r.be(2));
                break;
            case 2:
                len = TRY(r.be(4));
                break;
            default:
                len = r.left(); // indeterminate: to the end
            }
        }
        out.push_back({ tag, TRY(r.take(len)) });
    }
    if (out.empty())
        return Error("no OpenPGP packets", EBADMSG);
    return out;
}

Result<KeyPacket> parse_key_packet(std::span<const uint8_t> body)
{
    KeyPacket k;
    k.body.assign(body.begin(), body.end());
    Reader r(body);
    if (auto v = TRY(r.be(1)); v != 4)
        return Error("version " + std::to_string(v) + " keys are not supported", EBADMSG);
    k.creation = TRY(r.be(4));
    k.algo = uint8_t(TRY(r.be(1)));
    if (k.algo == uint8_t(PubAlgo::RsaEncryptSign) || k.algo == uint8_t(PubAlgo::RsaSignOnly)) {
        k.rsa_n = TRY(r.mpi());
        k.rsa_e = TRY(r.mpi());
        k.usable = !k.rsa_n.empty() && !k.rsa_e.empty();
    } else if (k.algo == uint8_t(PubAlgo::EdDsa)) {
        auto oid_len = TRY(r.be(1));
        auto oid = TRY(r.take(oid_len));
        auto point = TRY(r.mpi());
        if (std::equal(oid.begin(), oid.end(), std::begin(ed25519_oid), std::end(ed25519_oid)) && point.size() == 33
            && point[0] == 0x40) {
            k.ed25519.assign(point.begin() + 1, point.end());
            k.usable = true;
        }
    }
    // Other algorithms (ECDH, DSA, ...) are kept for their fingerprint, never used.
    Bytes prefixed { 0x99, uint8_t(body.size() >> 8), uint8_t(body.size()) };
    prefixed.insert(prefixed.end(), body.begin(), body.end());
    uint8_t md[20];
    unsigned int md_len = 0;
    if (body.size() > 0xffff || !EVP_Digest(prefixed.data(), prefixed.size(), md, &md_len, EVP_sha1(), nullptr))
        return Error("cannot compute key fingerprint", EBADMSG);
    k.fingerprint = to_hex(md);
    std::copy(md + 12, md + 20, k.key_id.begin());
    return k;
}

Result<SignaturePacket> parse_signature_packet(std::span<const uint8_t> body)
{
    SignaturePacket s;
    Reader r(body);
    if (auto v = TRY(r.be(1)); v != 4)
        return Error("version " + std::to_string(v) + " signatures are not supported", EBADMSG);
    s.type = uint8_t(TRY(r.be(1)));
    s.pub_algo = uint8_t(TRY(r.be(1)));
    s.hash_algo = uint8_t(TRY(r.be(1)));
    auto hashed_len = TRY(r.be(2));
    auto hashed = TRY(r.take(hashed_len));
    s.hashed.assign(body.begin(), body.begin() + long(r.pos()));
    TRY(parse_subpackets(hashed, true, s));
    auto unhashed = TRY(r.take(TRY(r.be(2))));
    TRY(parse_subpackets(unhashed, false, s));
    auto left = TRY(r.take(2));
    s.left16 = { left[0], left[1] };
    while (r.left() > 0)
        s.mpis.push_back(TRY(r.mpi()));
    if (s.mpis.empty())
        return Error("signature has no signature value", EBADMSG);
    return s;
}

std::string to_hex(std::span<const uint8_t> data)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(data.size() * 2);
    for (uint8_t b : data) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

} // namespace capsule::openpgp
