// SPDX-License-Identifier: Apache-2.0
#include "fetch/auth.h"
#include "fetch/fetch.h"
#include "fetch/http.h"

#include <doctest/doctest.h>

using namespace capsule::fetch;

TEST_CASE("references are classified by their text")
{
    CHECK(parse_ref("./x.aci").kind == RefKind::File);
    CHECK(parse_ref("/abs/x").kind == RefKind::File);
    CHECK(parse_ref("../x").kind == RefKind::File);
    CHECK(parse_ref("images/x.aci").kind == RefKind::File);
    CHECK(parse_ref("sha512-abc").kind == RefKind::ImageId);
    CHECK(parse_ref("example.com/app:v1").kind == RefKind::Name);
    CHECK(parse_ref("example.com/app").kind == RefKind::Name);
    auto d = parse_ref("docker://busybox");
    CHECK(d.kind == RefKind::Docker);
    CHECK(d.scheme == "docker");
    CHECK(d.rest == "busybox");
    CHECK(parse_ref("https://example.com/x.aci").scheme == "https");
    auto o = parse_ref("oci:/tmp/layout:tag");
    CHECK(o.kind == RefKind::OciLayout);
    CHECK(o.rest == "/tmp/layout:tag");
    CHECK(parse_ref("oci-archive:x.tar").kind == RefKind::OciArchive);
    CHECK(parse_ref("oci-archive:x.tar").rest == "x.tar");
    CHECK(parse_ref("docker-archive:x.tar").kind == RefKind::DockerArchive);
    CHECK(parse_ref("docker:busybox").kind == RefKind::Unsupported);
}

TEST_CASE("http(s) URLs are fetched, unknown schemes are refused")
{
    auto h = parse_ref("https://example.com/x.aci");
    CHECK(h.kind == RefKind::Https);
    CHECK(h.scheme == "https");
    CHECK(parse_ref("http://example.com/x.aci").kind == RefKind::Https);
    CHECK(parse_ref("HTTPS://example.com/x.aci").kind == RefKind::Https);
    CHECK(parse_ref("ftp://example.com/x.aci").kind == RefKind::Unsupported);
    CHECK(url_scheme("https://x") == Scheme::Https);
    CHECK(url_scheme("http://x") == Scheme::Http);
    CHECK(url_scheme("file:///x") == Scheme::Other);
}

TEST_CASE("HTTP status lines and headers")
{
    auto st = parse_status_line("HTTP/1.1 404 Not Found\r\n");
    REQUIRE(st);
    CHECK(st->code == 404);
    CHECK(st->reason == "Not Found");
    auto h2 = parse_status_line("HTTP/2 304 \r\n");
    REQUIRE(h2);
    CHECK(h2->code == 304);
    CHECK(h2->reason.empty());
    CHECK(!parse_status_line("ETag: \"x\"\r\n"));
    CHECK(!parse_status_line("HTTP/1.1 abc Nope\r\n"));
    auto e = parse_header("ETag:  \"abc\" \r\n");
    REQUIRE(e);
    CHECK(e->first == "etag");
    CHECK(e->second == "\"abc\"");
    CHECK(!parse_header("\r\n"));
    CHECK(!parse_header("no colon here\r\n"));
}

TEST_CASE("Cache-Control max-age")
{
    CHECK(cache_max_age("") == -1);
    CHECK(cache_max_age("public") == -1);
    CHECK(cache_max_age("max-age=3600") == 3600);
    CHECK(cache_max_age("public, Max-Age=60, must-revalidate") == 60);
    CHECK(cache_max_age("max-age=\"30\"") == 30);
    CHECK(cache_max_age("max-age=-5") == -1);
    CHECK(cache_max_age("max-age=abc") == -1);
    CHECK(cache_max_age("max-age=60, no-cache") == 0);
    CHECK(cache_max_age("no-store") == 0);
}

TEST_CASE("auth.d: rkt's format, basic and oauth (bearer)")
{
    CHECK(base64("") == "");
    CHECK(base64("f") == "Zg==");
    CHECK(base64("fo") == "Zm8=");
    CHECK(base64("foo") == "Zm9v");
    CHECK(base64("user:secret") == "dXNlcjpzZWNyZXQ=");
    AuthHeaders auth;
    REQUIRE(parse_auth_file(R"({"rktKind": "auth", "rktVersion": "v1", "domains": ["Example.com", "b.org:8443"],
        "type": "basic", "credentials": {"user": "user", "password": "secret"}})",
        auth));
    REQUIRE(parse_auth_file(R"({"rktKind": "auth", "rktVersion": "v1", "domains": ["c.net", "example.com"],
        "type": "oauth", "credentials": {"token": "t0k"}})",
        auth));
    CHECK(auth_for(auth, "https://example.com/x.aci") == "Basic dXNlcjpzZWNyZXQ="); // first file wins
    CHECK(auth_for(auth, "https://u@EXAMPLE.com:443/x.aci") == "Basic dXNlcjpzZWNyZXQ=");
    CHECK(auth_for(auth, "https://c.net/x") == "Bearer t0k");
    CHECK(auth_for(auth, "https://b.org:8443/x") == "Basic dXNlcjpzZWNyZXQ=");
    CHECK(auth_for(auth, "https://b.org/x").empty()); // the port is part of that domain
    CHECK(auth_for(auth, "https://evil.example.com/x").empty());
    CHECK(url_authority("https://user:pw@Host.example:8080/p?q") == "host.example:8080");
    CHECK(!parse_auth_file("[]", auth));
    CHECK(!parse_auth_file(R"({"rktKind": "auth", "rktVersion": "v2", "domains": ["a"]})", auth));
    CHECK(!parse_auth_file(R"({"rktKind": "auth", "rktVersion": "v1", "domains": [], "type": "basic"})", auth));
    auto bad = parse_auth_file(
        R"({"rktKind": "auth", "rktVersion": "v1", "domains": ["a"], "type": "basic", "credentials": {"user": "u"}})",
        auth);
    REQUIRE(!bad);
    CHECK(bad.error().message() == "credentials need a non-empty \"password\"");
}
