// SPDX-License-Identifier: Apache-2.0
// OpenPGP armor, packets and verification, with a fixed ed25519 key and signatures made by
// gpg 2.2 (the functional tests cover RSA, subkeys, expiry and revocation with live gpg).
#include "fetch/openpgp.h"
#include "fetch/trust.h"
#include "lib/fd.h"
#include "lib/fs.h"

#include <doctest/doctest.h>
#include <fcntl.h>

using namespace capsule;
using namespace capsule::openpgp;

namespace {

constexpr const char* ed_key = R"(-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawplDBYJKwYBBAHaRw8BAQdALrxWe8ATpUTDUHn6HaX3GUdhL4B+Myuxh8hC
cn5ziIi0GEVkIFRlc3QgPGVkQGV4YW1wbGUuY29tPoiWBBMWCAA+FiEEDW0JCu+7
Ur4QiX8+6K9A/JTVVyYFAmsKZQwCGwMFCQHhM4AFCwkIBwIGFQoJCAsCBBYCAwEC
HgECF4AACgkQ6K9A/JTVVyZ+ugD/b6YCbALWqT1sEqqJqONJN9QUQf8hKRzEtxeX
0xX5pL0BAJcnXlzlkP5khd2ARVXBD9VwV4/iQ+REYkx9ixS4dwwH
=NdA6
-----END PGP PUBLIC KEY BLOCK-----
)";
constexpr const char* ed_fpr = "0D6D090AEFBB52BE10897F3EE8AF40FC94D55726";
constexpr int64_t ed_created = 0x6B0A650C;
constexpr int64_t day = 86400;

// gpg --armor --detach-sign --digest-algo SHA256 over "hello capsule\n".
constexpr const char* ed_sig_sha256 = R"(-----BEGIN PGP SIGNATURE-----

iHUEABYIAB0WIQQNbQkK77tSvhCJfz7or0D8lNVXJgUCawplKQAKCRDor0D8lNVX
JqEdAQCCtUx9a22ENL9+VvEqVJ1zjCXiUYnds7Yd/U6TYk2QCwD/appnDunASO+J
r0C0Exr2SSMUIAlJkXzDq6Mm4n1KWQI=
=5Ouq
-----END PGP SIGNATURE-----
)";
// The same with --digest-algo SHA1.
constexpr const char* ed_sig_sha1 = R"(-----BEGIN PGP SIGNATURE-----

iHUEABYCAB0WIQQNbQkK77tSvhCJfz7or0D8lNVXJgUCawplKQAKCRDor0D8lNVX
Jlg4AQDLMfptRy3ZTjqD/6svfhRs9N40QgYpIKuF4D7Qh96FlwD/Ut+BIp7BJSsI
6zZ9qp4mmgwwB5fUYUe2LoPV/7glKQs=
=BGFq
-----END PGP SIGNATURE-----
)";

struct Doc {
    TempDir dir;
    UniqueFd fd;
};

Doc document(std::string_view text)
{
    auto dir = TempDir::create("/tmp", "capsule-openpgp-test-").release_value();
    REQUIRE(write_file(dir.path() + "/doc", text));
    auto fd = open_fd(dir.path() + "/doc", O_RDONLY).release_value();
    return { std::move(dir), std::move(fd) };
}

Result<Signer> verify(std::string_view doc, const char* sig, int64_t now)
{
    auto certs = parse_certificates(ed_key).release_value();
    auto s = parse_detached_signature(sig);
    if (!s)
        return s.release_error();
    auto d = document(doc);
    return verify_detached(certs, *s, d.fd.get(), now);
}

} // namespace

TEST_CASE("openpgp: CRC-24 of RFC 4880")
{
    CHECK(crc24({}) == 0xB704CE);
    const uint8_t abc[] = { 'a', 'b', 'c' };
    CHECK(crc24(abc) == 0xBA1C7B);
}

TEST_CASE("openpgp: armor decodes and its checksum is checked")
{
    auto bin = dearmor(ed_key, "PUBLIC KEY BLOCK");
    REQUIRE(bin);
    CHECK(bin->size() == 231);
    CHECK((*bin)[0] == 0x98); // old-format public key packet, 1-byte length

    std::string bad_crc(ed_key);
    bad_crc.replace(bad_crc.find("=NdA6"), 5, "=NdA7");
    auto e = dearmor(bad_crc, "PUBLIC KEY BLOCK");
    REQUIRE_FALSE(e);
    CHECK(e.error().message() == "armor checksum (CRC-24) mismatch");

    std::string flipped(ed_key);
    flipped[flipped.find("mDMEaw") + 8] = 'Q';
    CHECK_FALSE(dearmor(flipped, "PUBLIC KEY BLOCK"));

    CHECK_FALSE(dearmor(ed_key, "SIGNATURE"));
    std::string no_end(ed_key);
    no_end.resize(no_end.find("-----END"));
    CHECK(dearmor(no_end, "PUBLIC KEY BLOCK").error().message().find("no \"-----END") != std::string::npos);
}

TEST_CASE("openpgp: bad packets are refused with a message, never a crash")
{
    struct Case {
        std::vector<uint8_t> data;
        const char* message;
    };
    const Case cases[] = {
        { {}, "no OpenPGP packets" }, { { 0x00 }, "not an OpenPGP packet (bad header byte)" },
        { { 0x98, 0x10, 0x04 }, "truncated packet" },       // old header: length past the end
        { { 0xC6, 0xC0 }, "truncated packet" },             // new header: 2-byte length cut off
        { { 0xC6, 0xE1, 0x00 }, "partial body lengths" },   // partial lengths
        { { 0xC6, 0xFF, 0x00, 0x00 }, "truncated packet" }, // 5-byte length cut off
        { { 0x98, 0x01, 0x03 }, "version 3 keys are not supported" },
        { { 0xB4, 0x01, 'x' }, "not a public key" }, // a user ID first
    };
    for (auto& c : cases) {
        std::string text(c.data.begin(), c.data.end());
        auto r = parse_certificates(text);
        REQUIRE_FALSE(r);
        CHECK_MESSAGE(r.error().message().find(c.message) != std::string::npos, r.error().message());
    }
    CHECK(parse_detached_signature("garbage that is not a signature").error().code() == EBADMSG);
    CHECK_FALSE(parse_detached_signature(ed_key)); // a key is not a signature
}

TEST_CASE("openpgp: a gpg ed25519 key: fingerprint, user ID, self-signature")
{
    auto certs = parse_certificates(ed_key);
    REQUIRE(certs);
    REQUIRE(certs->size() == 1);
    auto& c = certs->front();
    CHECK(c.fingerprint() == ed_fpr);
    CHECK(c.primary.bound);
    CHECK(c.primary.can_sign);
    CHECK_FALSE(c.primary.revoked);
    CHECK(c.primary.expires > ed_created);
    REQUIRE(c.user_ids.size() == 1);
    CHECK(c.user_ids[0] == "Ed Test <ed@example.com>");
    // Binary (dearmored) input parses the same.
    auto bin = dearmor(ed_key, "PUBLIC KEY BLOCK").release_value();
    auto again = parse_certificates(std::string_view(reinterpret_cast<const char*>(bin.data()), bin.size()));
    REQUIRE(again);
    CHECK(again->front().fingerprint() == ed_fpr);
}

TEST_CASE("openpgp: detached ed25519 signature verifies, and tampering is caught")
{
    auto good = verify("hello capsule\n", ed_sig_sha256, ed_created + day);
    REQUIRE_MESSAGE(good, good.error().message());
    CHECK(good->primary_fingerprint == ed_fpr);
    CHECK(good->signing_fingerprint == ed_fpr);
    CHECK(good->user_id == "Ed Test <ed@example.com>");

    auto tampered = verify("hello capsulE\n", ed_sig_sha256, ed_created + day);
    REQUIRE_FALSE(tampered);
    CHECK(tampered.error().code() == EBADMSG);
    CHECK(tampered.error().message() == "bad signature");

    auto weak = verify("hello capsule\n", ed_sig_sha1, ed_created + day);
    REQUIRE_FALSE(weak);
    CHECK(weak.error().code() == ENOTSUP);
    CHECK(weak.error().message().find("SHA-1 signatures are refused") == 0);
}

TEST_CASE("openpgp: expiry is checked against the verification time")
{
    auto late = verify("hello capsule\n", ed_sig_sha256, ed_created + 2 * 365 * day);
    REQUIRE_FALSE(late);
    CHECK(late.error().code() == EKEYEXPIRED);
    CHECK(late.error().message() == std::string("key ") + ed_fpr + " has expired");
}

TEST_CASE("openpgp: a signature by a key not in the set names its issuer")
{
    auto s = parse_detached_signature(ed_sig_sha256).release_value();
    auto d = document("hello capsule\n");
    auto r = verify_detached({}, s, d.fd.get(), ed_created + day);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == ENOKEY);
    CHECK(r.error().message() == std::string("signed by unknown key ") + ed_fpr);
}

TEST_CASE("trust: prefixes cover whole path components")
{
    using capsule::fetch::prefix_covers;
    CHECK(prefix_covers("example.com/app", "example.com/app"));
    CHECK(prefix_covers("example.com/app", "example.com/app/x"));
    CHECK(prefix_covers("example.com", "example.com/app"));
    CHECK_FALSE(prefix_covers("example.com/app", "example.com/apple"));
    CHECK_FALSE(prefix_covers("example.com/app", "example.com"));
    CHECK_FALSE(prefix_covers("example.com/app/x", "example.com/app"));
    CHECK_FALSE(prefix_covers("", "example.com/app"));
}

TEST_CASE("trust: prefixes are names, their directories nest as rkt's did")
{
    using namespace capsule::fetch;
    CHECK(check_trust_prefix("example.com/app"));
    CHECK(check_trust_prefix("example.com"));
    for (auto bad : { "", "../etc", "example.com/../x", "example.com//app", "/abs", "Example.com", "a b" })
        CHECK_MESSAGE(!check_trust_prefix(bad), bad);
    CHECK(trust_dir("/etc/capsule", std::string("example.com/app"))
        == "/etc/capsule/trustedkeys/prefix.d/example.com/app");
    CHECK(trust_dir("/etc/capsule", std::nullopt) == "/etc/capsule/trustedkeys/root.d");
}

TEST_CASE("trust: keys are stored by fingerprint, local config hides system config")
{
    using namespace capsule::fetch;
    auto dir = TempDir::create("/tmp", "capsule-trust-test-").release_value();
    auto local = dir.path() + "/local", system = dir.path() + "/system";
    auto path = add_trusted_key(local, std::string("example.com/app"), ed_key);
    REQUIRE(path);
    CHECK(*path == local + "/trustedkeys/prefix.d/example.com/app/0d6d090aefbb52be10897f3ee8af40fc94d55726");
    REQUIRE(add_trusted_key(system, std::string("example.com/app"), ed_key));
    REQUIRE(mkdir_p(system + "/trustedkeys/root.d"));
    REQUIRE(write_file(system + "/trustedkeys/root.d/broken", "not a key"));
    auto keys = load_trusted_keys(local, system);
    REQUIRE(keys);
    REQUIRE(keys->size() == 1); // the system copy is hidden, the broken file ignored
    CHECK(keys->front().path == *path);
    CHECK(trusted_for(*keys, ed_fpr, "example.com/app/x"));
    CHECK_FALSE(trusted_for(*keys, ed_fpr, "example.com/apple"));
    CHECK_FALSE(add_trusted_key(local, std::nullopt, "not a key"));
}
