// SPDX-License-Identifier: Apache-2.0
#include "lib/appc/types.h"
#include "lib/appc/validate.h"

#include <doctest/doctest.h>

using namespace capsule::appc;
using nlohmann::json;

namespace {

json good_manifest()
{
    return json::parse(R"({
      "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/busybox",
      "labels": [{"name": "version", "value": "1.36"}, {"name": "os", "value": "linux"},
                 {"name": "arch", "value": "amd64"}],
      "app": {"exec": ["/bin/sh", "-c", "true"], "user": "0", "group": "0",
              "environment": [{"name": "A", "value": "1"}],
              "mountPoints": [{"name": "data", "path": "/data", "readOnly": true}],
              "ports": [{"name": "http", "protocol": "tcp", "port": 80}],
              "isolators": [{"name": "resource/memory", "value": {"limit": "64Mi"}}],
              "eventHandlers": [{"name": "pre-start", "exec": ["/bin/true"]}]},
      "annotations": [{"name": "description", "value": "test"}]
    })");
}

/// Apply `edit` to a good manifest and parse it; returns the error message or "".
std::string error_after(const std::function<void(json&)>& edit)
{
    auto j = good_manifest();
    edit(j);
    auto r = parse_image_manifest(j.dump());
    return r ? std::string() : r.error().message();
}

} // namespace

TEST_CASE("a good manifest parses and keeps its fields")
{
    auto r = parse_image_manifest(good_manifest().dump());
    REQUIRE(r);
    CHECK(r->name == "example.com/busybox");
    CHECK(r->label("version") == "1.36");
    CHECK(r->annotation("description") == "test");
    REQUIRE(r->app);
    CHECK(r->app->exec.size() == 3);
    CHECK(r->app->mount_points[0].read_only);
    CHECK(r->app->ports[0].port == 80);
    CHECK(r->app->ports[0].count == 1);
    // to_json round-trips through parse_app.
    auto again = parse_app(to_json(*r->app));
    REQUIRE(again);
    CHECK(again->environment[0].value == "1");
    CHECK(again->isolators[0].name == "resource/memory");
}

TEST_CASE("an image without an app is valid (e.g. a base layer)")
{
    CHECK(error_after([](json& j) { j.erase("app"); }).empty());
}

TEST_CASE("bad manifests fail naming the field")
{
    struct Case {
        const char* what;
        std::function<void(json&)> edit;
        const char* expect;
    };
    std::vector<Case> cases = {
        { "wrong kind", [](json& j) { j["acKind"] = "PodManifest"; }, "acKind: \"PodManifest\" is not" },
        { "missing kind", [](json& j) { j.erase("acKind"); }, "acKind: is required" },
        { "bad version", [](json& j) { j["acVersion"] = "0.8"; }, "acVersion: \"0.8\" is not a semantic version" },
        { "version leading zero", [](json& j) { j["acVersion"] = "01.8.11"; }, "acVersion" },
        { "missing name", [](json& j) { j.erase("name"); }, "name: is required" },
        { "uppercase name", [](json& j) { j["name"] = "Example.com/x"; },
            "name: \"Example.com/x\" is not a valid AC name" },
        { "name with _", [](json& j) { j["name"] = "example.com/a_b"; }, "name:" },
        { "name ends with /", [](json& j) { j["name"] = "example.com/"; }, "name:" },
        { "name not a string", [](json& j) { j["name"] = 5; }, "name: must be a string" },
        { "bad label name", [](json& j) { j["labels"][0]["name"] = "Version"; }, "labels[0].name" },
        { "duplicate label", [](json& j) { j["labels"][1]["name"] = "version"; },
            "labels[1].name: \"version\" appears more than once" },
        { "bad os", [](json& j) { j["labels"][1]["value"] = "windows"; }, "labels: os \"windows\"" },
        { "bad arch", [](json& j) { j["labels"][2]["value"] = "x86_64"; },
            "labels: arch \"x86_64\" is not valid for os \"linux\"" },
        { "labels not array", [](json& j) { j["labels"] = "x"; }, "labels: must be an array" },
        { "relative exec", [](json& j) { j["app"]["exec"][0] = "bin/sh"; },
            "app.exec[0]: \"bin/sh\" must be an absolute path" },
        { "missing user", [](json& j) { j["app"].erase("user"); }, "app.user: is required" },
        { "empty group", [](json& j) { j["app"]["group"] = ""; }, "app.group: must not be empty" },
        { "relative workdir", [](json& j) { j["app"]["workingDirectory"] = "tmp"; }, "app.workingDirectory" },
        { "env with =", [](json& j) { j["app"]["environment"][0]["name"] = "A=B"; }, "app.environment[0].name" },
        { "bad isolator name", [](json& j) { j["app"]["isolators"][0]["name"] = "Resource/Memory"; },
            "app.isolators[0].name" },
        { "bad memory", [](json& j) { j["app"]["isolators"][0]["value"]["limit"] = "lots"; },
            "app.isolators[0].value: limit" },
        { "bad caps",
            [](json& j) {
                j["app"]["isolators"][0]
                    = { { "name", "os/linux/capabilities-retain-set" }, { "value", { { "set", { "chown" } } } } };
            },
            "app.isolators[0].value: set" },
        { "relative mount path", [](json& j) { j["app"]["mountPoints"][0]["path"] = "data"; },
            "app.mountPoints[0].path" },
        { "bad mount name", [](json& j) { j["app"]["mountPoints"][0]["name"] = "Data"; }, "app.mountPoints[0].name" },
        { "readOnly not bool", [](json& j) { j["app"]["mountPoints"][0]["readOnly"] = "yes"; },
            "app.mountPoints[0].readOnly" },
        { "port zero", [](json& j) { j["app"]["ports"][0]["port"] = 0; }, "app.ports[0].port" },
        { "port too big", [](json& j) { j["app"]["ports"][0]["port"] = 70000; }, "app.ports[0].port" },
        { "port range overflow",
            [](json& j) {
                j["app"]["ports"][0]["port"] = 65535;
                j["app"]["ports"][0]["count"] = 2;
            },
            "app.ports[0].count" },
        { "no protocol", [](json& j) { j["app"]["ports"][0].erase("protocol"); },
            "app.ports[0].protocol: is required" },
        { "bad event handler", [](json& j) { j["app"]["eventHandlers"][0]["name"] = "on-start"; },
            "app.eventHandlers[0].name" },
        { "bad annotation", [](json& j) { j["annotations"][0]["name"] = "Bad Name"; }, "annotations[0].name" },
        { "bad dependency",
            [](json& j) {
                j["dependencies"] = { { { "imageName", "Bad" } } };
            },
            "dependencies[0].imageName" },
    };
    for (auto& c : cases) {
        CAPTURE(c.what);
        auto msg = error_after(c.edit);
        CHECK(msg.find(c.expect) != std::string::npos);
    }
}

TEST_CASE("not JSON, or not an object")
{
    CHECK(parse_image_manifest("{").error().message() == "manifest is not valid JSON");
    CHECK(parse_image_manifest("[1]").error().message() == "manifest must be a JSON object");
}

TEST_CASE("AC names and identifiers")
{
    CHECK(is_ac_name("example.com/app"));
    CHECK(is_ac_name("sub-domain.example.com/org/product/release"));
    CHECK(!is_ac_name("example.com/~user/app"));
    CHECK(!is_ac_name(""));
    CHECK(!is_ac_name("-a"));
    CHECK(!is_ac_name("a--b"));
    CHECK(is_ac_identifier("example.com/user~x/app_v1"));
    CHECK(!is_ac_identifier("a_"));
    CHECK(!is_ac_identifier("A"));
    CHECK(is_semver("0.8.11"));
    CHECK(is_semver("1.0.0-rc.1+build.5"));
    CHECK(!is_semver("1.0"));
    CHECK(!is_semver("1.0.0-01"));
    CHECK(is_valid_arch("", "aarch64"));
    CHECK(!is_valid_arch("darwin", "amd64"));
}
