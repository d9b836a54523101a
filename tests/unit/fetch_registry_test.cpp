// SPDX-License-Identifier: Apache-2.0
#include "fetch/auth.h"
#include "fetch/registry_client.h"

#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace capsule;
using namespace capsule::fetch;

TEST_CASE("WWW-Authenticate: basic and bearer challenges, quoting, several in one header")
{
    auto c = parse_www_authenticate(
        { R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull")" });
    REQUIRE(c.size() == 1);
    CHECK(c[0].scheme == "bearer");
    CHECK(c[0].params.at("realm") == "https://auth.example/token");
    CHECK(c[0].params.at("service") == "registry.example");
    CHECK(c[0].params.at("scope") == "repository:team/app:pull");

    c = parse_www_authenticate({ R"(Basic realm="basic-realm")" });
    REQUIRE(c.size() == 1);
    CHECK(c[0].scheme == "basic");
    CHECK(c[0].params.at("realm") == "basic-realm");

    // Two challenges in one header, spaces around '=', a token value, an escaped quote, and
    // names in any case.
    c = parse_www_authenticate(
        { R"(BASIC Realm = "a \"quoted\" realm" , Bearer realm=https://t.example/x, Service=s)" });
    REQUIRE(c.size() == 2);
    CHECK(c[0].scheme == "basic");
    CHECK(c[0].params.at("realm") == "a \"quoted\" realm");
    CHECK(c[1].scheme == "bearer");
    CHECK(c[1].params.at("realm") == "https://t.example/x");
    CHECK(c[1].params.at("service") == "s");

    // One challenge per header, as several headers.
    c = parse_www_authenticate({ "Negotiate", R"(Bearer realm="r")" });
    REQUIRE(c.size() == 2);
    CHECK(c[0].scheme == "negotiate");
    CHECK(c[0].params.empty());
    CHECK(c[1].params.at("realm") == "r");

    CHECK(parse_www_authenticate({ "" }).empty());
    CHECK(parse_www_authenticate({ "=\"x\", ,," }).empty()); // parameters without a scheme
    c = parse_www_authenticate({ R"(Bearer realm="unterminated)" });
    REQUIRE(c.size() == 1);
    CHECK(c[0].params.at("realm") == "unterminated");
}

TEST_CASE("bearer token URL: service and scope, percent-encoded; the challenge's scope wins")
{
    AuthChallenge c { "bearer",
        { { "realm", "https://127.0.0.1:5001/token" }, { "service", "my registry" },
            { "scope", "repository:team/app:pull" } } };
    auto url = token_url(c, "repository:other:pull");
    REQUIRE(url);
    CHECK(*url == "https://127.0.0.1:5001/token?service=my%20registry&scope=repository%3Ateam%2Fapp%3Apull");

    c.params.erase("scope");
    c.params["realm"] = "https://t.example/auth?client=capsule";
    url = token_url(c, "repository:busybox:pull");
    REQUIRE(url);
    CHECK(*url == "https://t.example/auth?client=capsule&service=my%20registry&scope=repository%3Abusybox%3Apull");

    c.params.erase("realm");
    CHECK(!token_url(c, "x"));
    c.params["realm"] = "ftp://t.example/";
    CHECK(!token_url(c, "x"));
}

TEST_CASE("registry URLs and the manifest Accept header")
{
    auto ref = oci::parse_docker_ref("127.0.0.1:5000/team/app:v1");
    REQUIRE(ref);
    CHECK(registry_url(*ref, false, "manifests", "v1") == "https://127.0.0.1:5000/v2/team/app/manifests/v1");
    CHECK(registry_url(*ref, true, "blobs", "sha256:ab") == "http://127.0.0.1:5000/v2/team/app/blobs/sha256:ab");
    auto hub = oci::parse_docker_ref("busybox");
    REQUIRE(hub);
    CHECK(registry_url(*hub, false, "manifests", "latest")
        == "https://registry-1.docker.io/v2/library/busybox/manifests/latest");

    auto accept = manifest_accept_header();
    CHECK(accept.starts_with("Accept: "));
    for (auto t : { oci::media_oci_manifest, oci::media_oci_index, oci::media_docker_manifest, oci::media_docker_list })
        CHECK(accept.find(t) != std::string::npos);
}

TEST_CASE("registry error bodies")
{
    CHECK(registry_error_message(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})")
        == "MANIFEST_UNKNOWN: manifest unknown");
    CHECK(registry_error_message(R"({"errors":[{"code":"UNAUTHORIZED"}]})") == "UNAUTHORIZED");
    CHECK(registry_error_message("<html>502 Bad Gateway</html>").empty());
    CHECK(registry_error_message(R"({"errors":[]})").empty());
}

TEST_CASE("dockerAuth files in auth.d")
{
    DockerAuths auths;
    REQUIRE(parse_docker_auth_file(R"({"rktKind": "dockerAuth", "rktVersion": "v1",
        "registries": ["127.0.0.1:5000", "Registry.Example"], "credentials": {"user": "u", "password": "p:w"}})",
        auths));
    REQUIRE(parse_docker_auth_file(R"({"rktKind": "dockerAuth", "rktVersion": "v1",
        "registries": ["127.0.0.1:5000"], "credentials": {"user": "second", "password": "x"}})",
        auths));
    REQUIRE(auths.size() == 2);
    auto c = docker_credentials_for(auths, "127.0.0.1:5000");
    REQUIRE(c);
    CHECK(c->user == "u"); // the first file wins
    CHECK(c->password == "p:w");
    CHECK(docker_credentials_for(auths, "registry.example"));
    CHECK(docker_credentials_for(auths, "REGISTRY.example"));
    CHECK(!docker_credentials_for(auths, "127.0.0.1:5001"));

    auto bad = parse_docker_auth_file(
        R"({"rktKind": "dockerAuth", "rktVersion": "v1", "registries": ["r"], "credentials": {"user": "u"}})", auths);
    REQUIRE(!bad);
    CHECK(bad.error().message() == "credentials need a non-empty \"password\"");
    CHECK(!parse_docker_auth_file(R"({"rktKind": "dockerAuth", "rktVersion": "v1", "registries": []})", auths));
    CHECK(!parse_docker_auth_file(R"({"rktKind": "auth", "rktVersion": "v1"})", auths));
    // An auth file of the other kind says which kinds exist.
    AuthHeaders headers;
    auto other = parse_auth_file(R"({"rktKind": "dockerAuth"})", headers);
    REQUIRE(!other);
    CHECK(other.error().message().find("dockerAuth") != std::string::npos);
}

TEST_CASE("docker config.json: auths with base64 user:password, URL keys, Docker Hub")
{
    DockerAuths auths;
    REQUIRE(parse_docker_config(R"({
        "auths": {
            "127.0.0.1:5000": {"auth": "dXNlcjpwYXNzOndvcmQ="},
            "https://registry.example:8443/v2/": {"auth": "YTpi"},
            "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
            "helper.example": {},
            "legacy.example": {"username": "l", "password": "pw"}
        },
        "credsStore": "desktop"
    })",
        auths));
    auto c = docker_credentials_for(auths, "127.0.0.1:5000");
    REQUIRE(c);
    CHECK(*c == DockerCredentials { "user", "pass:word" });
    CHECK(*docker_credentials_for(auths, "registry.example:8443") == DockerCredentials { "a", "b" });
    CHECK(*docker_credentials_for(auths, "docker.io") == DockerCredentials { "hub", "secret" });
    CHECK(*docker_credentials_for(auths, "legacy.example") == DockerCredentials { "l", "pw" });
    CHECK(!docker_credentials_for(auths, "helper.example"));

    DockerAuths none;
    CHECK(parse_docker_config("{}", none));
    CHECK(none.empty());
    CHECK(!parse_docker_config("[1]", none));
    auto bad = parse_docker_config(R"({"auths": {"r": {"auth": "bm9jb2xvbg=="}}})", none); // "nocolon"
    REQUIRE(!bad);
    CHECK(bad.error().message().find("not base64 of user:password") != std::string::npos);
    CHECK(!parse_docker_config(R"({"auths": {"r": {"auth": "!!"}}})", none));
}

TEST_CASE("base64 decoding")
{
    CHECK(base64_decode("") == std::string());
    CHECK(base64_decode("Zg==") == std::string("f"));
    CHECK(base64_decode("Zm8") == std::string("fo"));
    CHECK(base64_decode("Zm9v") == std::string("foo"));
    CHECK(base64_decode("dXNlcjpzZWNyZXQ=") == std::string("user:secret"));
    CHECK(base64_decode("-_8=") == std::string("\xfb\xff", 2));
    CHECK(!base64_decode("Z"));
    CHECK(!base64_decode("Zm9v!"));
    for (std::string s : { "a", "ab", "abc", "abcd", "\x01\xff\x80 x" })
        CHECK(base64_decode(base64(s)) == s);
}

TEST_CASE("registry credentials: auth.d before ~/.docker/config.json")
{
    namespace fs = std::filesystem;
    auto root = fs::temp_directory_path() / ("capsule-registry-test-" + std::to_string(::getpid()));
    fs::create_directories(root / "etc/auth.d");
    fs::create_directories(root / "lib/auth.d");
    std::ofstream(root / "etc/auth.d/reg.json") << R"({"rktKind": "dockerAuth", "rktVersion": "v1",
        "registries": ["127.0.0.1:5000"], "credentials": {"user": "local", "password": "l"}})";
    std::ofstream(root / "etc/auth.d/http.json") << R"({"rktKind": "auth", "rktVersion": "v1",
        "domains": ["127.0.0.1"], "type": "basic", "credentials": {"user": "h", "password": "h"}})";
    std::ofstream(root / "lib/auth.d/sys.json") << R"({"rktKind": "dockerAuth", "rktVersion": "v1",
        "registries": ["127.0.0.1:5000", "127.0.0.1:6000"], "credentials": {"user": "system", "password": "s"}})";
    std::ofstream(root / "config.json") << R"({"auths": {"127.0.0.1:6000": {"auth": "ZG9ja2VyOmQ="},
        "127.0.0.1:7000": {"auth": "ZG9ja2VyOmQ="}}})";
    auto auths = load_docker_auth((root / "etc").string(), (root / "lib").string(), (root / "config.json").string());
    CHECK(auths.size() == 3);
    CHECK(docker_credentials_for(auths, "127.0.0.1:5000")->user == "local");
    CHECK(docker_credentials_for(auths, "127.0.0.1:6000")->user == "system");
    CHECK(docker_credentials_for(auths, "127.0.0.1:7000")->user == "docker");
    // The http(s) credentials do not see dockerAuth files (and no warning is needed).
    auto headers = load_auth((root / "etc").string(), (root / "lib").string());
    CHECK(headers.size() == 1);
    // No config.json: no error.
    CHECK(load_docker_auth((root / "etc").string(), (root / "lib").string(), (root / "missing.json").string()).size()
        == 2);
    fs::remove_all(root);
}

TEST_CASE("docker config.json location: $DOCKER_CONFIG, else $HOME/.docker")
{
    auto* home = std::getenv("HOME");
    std::string saved_home = home ? home : "";
    ::setenv("HOME", "/home/someone", 1);
    ::unsetenv("DOCKER_CONFIG");
    CHECK(default_docker_config() == "/home/someone/.docker/config.json");
    ::setenv("DOCKER_CONFIG", "/etc/dockercfg", 1);
    CHECK(default_docker_config() == "/etc/dockercfg/config.json");
    ::unsetenv("DOCKER_CONFIG");
    if (home)
        ::setenv("HOME", saved_home.c_str(), 1);
    else
        ::unsetenv("HOME");
}
