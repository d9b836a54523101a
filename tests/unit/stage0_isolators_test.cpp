// SPDX-License-Identifier: Apache-2.0
#include "lib/appc/pod_manifest.h"
#include "stage0/isolators.h"
#include "stage0/pod_spec.h"

#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::stage0;
using nlohmann::json;

namespace {

std::vector<appc::Isolator> image_isolators(std::string_view isolators_json)
{
    auto m = appc::parse_image_manifest(R"({
      "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/iso",
      "app": { "exec": ["/bin/true"], "user": "0", "group": "0", "isolators": )"
        + std::string(isolators_json) + "}}");
    if (!m)
        FAIL(m.error().message());
    return m->app->isolators;
}

std::vector<appc::Isolator> merged(const AppSpec& spec, std::string_view isolators_json = "[]")
{
    auto r = app_isolators(spec, image_isolators(isolators_json), "example.com/iso");
    if (!r)
        FAIL(r.error().message());
    return r.release_value();
}

/// name → value, for comparing without caring about order.
json by_name(const std::vector<appc::Isolator>& isolators)
{
    json out = json::object();
    for (auto& i : isolators)
        out[i.name] = i.value;
    return out;
}

std::vector<std::string> names(const std::vector<appc::Isolator>& isolators)
{
    std::vector<std::string> out;
    for (auto& i : isolators)
        out.push_back(i.name);
    return out;
}

} // namespace

TEST_CASE("isolators: the image's pass through when no flag is given")
{
    auto img = R"([{"name": "os/linux/no-new-privileges", "value": true},
                  {"name": "resource/memory", "value": {"limit": "1G"}}])";
    auto out = merged({}, img);
    CHECK(names(out) == std::vector<std::string> { "os/linux/no-new-privileges", "resource/memory" });
    CHECK(out[1].value == json { { "limit", "1G" } });
    CHECK(merged({}).empty());
}

TEST_CASE("isolators: --memory and --cpu set the limit, keep the image's request")
{
    AppSpec spec { .memory = 64000000, .cpu_millicores = 500 };
    auto fresh = by_name(merged(spec));
    CHECK(fresh["resource/memory"] == json { { "limit", "64000000" } });
    CHECK(fresh["resource/cpu"] == json { { "limit", "500m" } });

    auto img = R"([{"name": "resource/cpu", "value": {"request": "250m", "limit": "4"}},
                  {"name": "os/linux/no-new-privileges", "value": true},
                  {"name": "resource/memory", "value": {"request": "32M", "limit": "1G"}}])";
    auto out = merged(spec, img);
    CHECK(names(out) == std::vector<std::string> { "resource/cpu", "os/linux/no-new-privileges", "resource/memory" });
    CHECK(out[0].value == json { { "request", "250m" }, { "limit", "500m" } });
    CHECK(out[2].value == json { { "request", "32M" }, { "limit", "64000000" } });
}

TEST_CASE("isolators: an image's request above the new limit is lowered to it")
{
    AppSpec spec { .memory = 64 << 20, .cpu_millicores = 100 };
    auto img = R"([{"name": "resource/memory", "value": {"request": "1Gi"}},
                  {"name": "resource/cpu", "value": {"request": "0.5"}}])";
    auto out = by_name(merged(spec, img));
    CHECK(out["resource/memory"] == json { { "request", "67108864" }, { "limit", "67108864" } });
    CHECK(out["resource/cpu"] == json { { "request", "100m" }, { "limit", "100m" } });
}

TEST_CASE("isolators: --cap-retain/--cap-remove replace both of the image's capability sets")
{
    auto img = R"([{"name": "os/linux/capabilities-remove-set", "value": {"set": ["CAP_MKNOD"]}},
                  {"name": "os/linux/no-new-privileges", "value": true}])";
    AppSpec retain { .capabilities = CapabilitySpec { SetMode::Retain, { "CAP_NET_ADMIN", "CAP_CHOWN" } } };
    auto out = merged(retain, img);
    REQUIRE(out.size() == 2);
    CHECK(out[0].name == "os/linux/capabilities-retain-set");
    CHECK(out[0].value == json { { "set", { "CAP_NET_ADMIN", "CAP_CHOWN" } } });

    AppSpec remove { .capabilities = CapabilitySpec { SetMode::Remove, { "CAP_KILL" } } };
    out = merged(remove, img);
    REQUIRE(out.size() == 2);
    CHECK(out[0].name == "os/linux/capabilities-remove-set");
    CHECK(out[0].value == json { { "set", { "CAP_KILL" } } });

    out = merged(remove);
    REQUIRE(out.size() == 1);
    CHECK(out[0].name == "os/linux/capabilities-remove-set");
}

TEST_CASE("isolators: --seccomp replaces both of the image's seccomp sets; errno only when given")
{
    auto img = R"([{"name": "os/linux/seccomp-retain-set", "value": {"set": ["@appc.io/all"]}},
                  {"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_CHOWN"]}}])";
    AppSpec spec { .seccomp = SeccompSpec { SetMode::Remove, { "@mount", "reboot" }, "EPERM" } };
    auto out = merged(spec, img);
    REQUIRE(out.size() == 2);
    CHECK(out[0].name == "os/linux/seccomp-remove-set");
    CHECK(out[0].value == json { { "set", { "@mount", "reboot" } }, { "errno", "EPERM" } });
    CHECK(out[1].name == "os/linux/capabilities-retain-set");

    AppSpec kill { .seccomp = SeccompSpec { SetMode::Retain, { "read", "write" }, std::nullopt } };
    out = merged(kill);
    REQUIRE(out.size() == 1);
    CHECK(out[0].name == "os/linux/seccomp-retain-set");
    CHECK(out[0].value == json { { "set", { "read", "write" } } });
}

TEST_CASE("isolators: an image with both sets of a kind is refused unless a flag chooses")
{
    auto caps = R"([{"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_CHOWN"]}},
                   {"name": "os/linux/capabilities-remove-set", "value": {"set": ["CAP_KILL"]}}])";
    auto r = app_isolators({}, image_isolators(caps), "example.com/iso");
    REQUIRE(!r);
    CHECK(r.error().message()
        == "image example.com/iso has both os/linux/capabilities-retain-set and os/linux/capabilities-remove-set "
           "(appc allows one); choose with --cap-retain or --cap-remove");
    AppSpec chosen { .capabilities = CapabilitySpec { SetMode::Retain, { "CAP_KILL" } } };
    CHECK(merged(chosen, caps).size() == 1);

    auto seccomp = R"([{"name": "os/linux/seccomp-retain-set", "value": {"set": ["read"]}},
                      {"name": "os/linux/seccomp-remove-set", "value": {"set": ["reboot"]}}])";
    r = app_isolators({}, image_isolators(seccomp), "example.com/iso");
    REQUIRE(!r);
    CHECK(r.error().message().ends_with("(appc allows one); choose with --seccomp"));
}

TEST_CASE("isolators: image values are validated when its manifest is parsed")
{
    auto bad = [](std::string_view isolators) {
        auto m = appc::parse_image_manifest(R"({
          "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/iso",
          "app": { "exec": ["/bin/true"], "user": "0", "group": "0", "isolators": )"
            + std::string(isolators) + "}}");
        REQUIRE(!m);
        return m.error().message();
    };
    CHECK(bad(R"([{"name": "resource/memory", "value": {"limit": "lots"}}])").find("not a valid quantity")
        != std::string::npos);
    CHECK(bad(R"([{"name": "os/linux/capabilities-retain-set", "value": {"set": ["NET_ADMIN"]}}])")
              .find("is not a capability name")
        != std::string::npos);
    CHECK(bad(R"([{"name": "os/linux/seccomp-remove-set", "value": {"set": []}}])").find("non-empty array")
        != std::string::npos);
    CHECK(bad(R"([{"name": "os/linux/seccomp-remove-set", "value": {"set": ["Re boot"]}}])")
              .find("not a system call name")
        != std::string::npos);
    CHECK(bad(R"([{"name": "os/linux/seccomp-remove-set", "value": {"set": ["reboot"], "errno": "EBOGUS"}}])")
              .find("errno: \"EBOGUS\" is not an errno name")
        != std::string::npos);
    // appc's own wildcards and an empty errno (blocked calls kill the app) are valid.
    auto ok = image_isolators(R"([{"name": "os/linux/seccomp-retain-set",
                                   "value": {"set": ["@appc.io/all"], "errno": ""}}])");
    CHECK(ok.size() == 1);
}

TEST_CASE("isolators: in the pod manifest, through its JSON")
{
    auto m = appc::parse_image_manifest(R"({
      "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/iso",
      "app": { "exec": ["/bin/true"], "user": "0", "group": "0",
               "isolators": [{"name": "resource/memory", "value": {"request": "1M", "limit": "1G"}}] }})");
    REQUIRE(m);
    ResolvedImage img { "sha512-bbbb", "example.com/iso", {}, m.release_value() };
    PodSpec spec;
    spec.apps.push_back({ .image = "x",
        .memory = 8 << 20,
        .capabilities = CapabilitySpec { SetMode::Remove, { "CAP_MKNOD" } },
        .seccomp = SeccompSpec { SetMode::Remove, { "@swap" }, "ENOSYS" } });
    auto pod = build_pod_manifest(spec, { img }, {});
    REQUIRE(pod);
    auto j = appc::to_json(*pod);
    auto& isolators = j["apps"][0]["app"]["isolators"];
    REQUIRE(isolators.size() == 3);
    CHECK(isolators[0]
        == json { { "name", "resource/memory" }, { "value", { { "request", "1M" }, { "limit", "8388608" } } } });
    CHECK(isolators[1]["name"] == "os/linux/capabilities-remove-set");
    CHECK(isolators[2]["value"]["errno"] == "ENOSYS");
    auto back = appc::parse_pod_manifest(j.dump());
    REQUIRE(back);
    CHECK(back->apps[0].app->isolators.size() == 3);

    spec.apps[0].capabilities.reset();
    spec.apps[0].seccomp.reset();
    auto bad = R"([{"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_CHOWN"]}},
                  {"name": "os/linux/capabilities-remove-set", "value": {"set": ["CAP_KILL"]}}])";
    img.manifest.app->isolators = image_isolators(bad);
    auto r = build_pod_manifest(spec, { img }, {});
    REQUIRE(!r);
    CHECK(r.error().message().starts_with("app 'iso': image example.com/iso has both"));
}
