// SPDX-License-Identifier: Apache-2.0
#include "lib/appc/pod_manifest.h"
#include "stage0/pod_spec.h"

#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::stage0;

namespace {

ResolvedImage busybox_image()
{
    auto m = appc::parse_image_manifest(R"({
      "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/busybox",
      "labels": [{"name": "version", "value": "1.36"}],
      "app": {
        "exec": ["/bin/sh", "-c", "echo hi"], "user": "0", "group": "0",
        "environment": [{"name": "IMAGE_VAR", "value": "img"}, {"name": "SHARED", "value": "img"}],
        "mountPoints": [{"name": "data", "path": "/data", "readOnly": true}]
      }
    })");
    REQUIRE(m);
    return { "sha512-aaaa", "example.com/busybox", m->labels, m.release_value() };
}

PodSpec one_app(AppSpec app)
{
    PodSpec s;
    s.apps.push_back(std::move(app));
    return s;
}

std::string env_of(const appc::App& app, const std::string& name)
{
    for (auto& nv : app.environment)
        if (nv.name == name)
            return nv.value;
    return "<unset>";
}

} // namespace

TEST_CASE("pod manifest from an image: name, image, exec, defaults")
{
    auto m = build_pod_manifest(one_app({ .image = "x.aci" }), { busybox_image() }, {});
    REQUIRE(m);
    REQUIRE(m->apps.size() == 1);
    auto& a = m->apps[0];
    CHECK(a.name == "busybox");
    CHECK(a.image.id == "sha512-aaaa");
    CHECK(a.image.name == "example.com/busybox");
    CHECK(a.app->exec == std::vector<std::string> { "/bin/sh", "-c", "echo hi" });
    CHECK(a.mounts.empty());
}

TEST_CASE("--exec replaces the exec, -- ARGS are appended (rkt)")
{
    AppSpec app { .image = "x", .exec = "/bin/echo", .args = { "a", "b" } };
    auto m = build_pod_manifest(one_app(app), { busybox_image() }, {});
    CHECK(m->apps[0].app->exec == std::vector<std::string> { "/bin/echo", "a", "b" });
    AppSpec args_only { .image = "x", .args = { "more" } };
    auto m2 = build_pod_manifest(one_app(args_only), { busybox_image() }, {});
    CHECK(m2->apps[0].app->exec == std::vector<std::string> { "/bin/sh", "-c", "echo hi", "more" });
}

TEST_CASE("environment: image < --set-env < --environment")
{
    AppSpec app { .image = "x", .environment = { { "SHARED", "app" }, { "APP_ONLY", "1" } } };
    auto m = build_pod_manifest(one_app(app), { busybox_image() }, { { "SHARED", "pod" }, { "POD_ONLY", "2" } });
    REQUIRE(m);
    auto& env = *m->apps[0].app;
    CHECK(env_of(env, "IMAGE_VAR") == "img");
    CHECK(env_of(env, "SHARED") == "app");
    CHECK(env_of(env, "POD_ONLY") == "2");
    CHECK(env_of(env, "APP_ONLY") == "1");
    auto m2 = build_pod_manifest(one_app({ .image = "x" }), { busybox_image() }, { { "SHARED", "pod" } });
    CHECK(env_of(*m2->apps[0].app, "SHARED") == "pod");
}

TEST_CASE("user, group, working dir and name overrides")
{
    AppSpec app { .image = "x", .user = "user", .group = "staff", .working_dir = "/tmp", .name = "web" };
    auto m = build_pod_manifest(one_app(app), { busybox_image() }, {});
    REQUIRE(m);
    CHECK(m->apps[0].name == "web");
    CHECK(m->apps[0].app->user == "user");
    CHECK(m->apps[0].app->group == "staff");
    CHECK(m->apps[0].app->working_directory == "/tmp");
    app.working_dir = "relative";
    CHECK(build_pod_manifest(one_app(app), { busybox_image() }, {}).error().message()
        == "app 'web': --working-dir 'relative' is not absolute");
    app.working_dir.reset();
    app.name = "Not_AC";
    CHECK(build_pod_manifest(one_app(app), { busybox_image() }, {}).error().message()
        == "app name 'Not_AC' is not a valid AC name (lower-case letters, digits, -)");
}

TEST_CASE("mounts: explicit --mount, volumes fulfilling image mount points, undefined volumes")
{
    PodSpec s = one_app({ .image = "x", .mounts = { { "cache", "/var/cache" } } });
    s.volumes = { { "data", "empty" }, { "cache", "host", "/srv/cache" } };
    auto m = build_pod_manifest(s, { busybox_image() }, {});
    REQUIRE(m);
    auto& mounts = m->apps[0].mounts;
    REQUIRE(mounts.size() == 2);
    CHECK(mounts[0].volume == "cache");
    CHECK(mounts[0].path == "/var/cache");
    CHECK(mounts[1].volume == "data"); // the image's mount point "data"
    CHECK(mounts[1].path == "/data");

    PodSpec bad = one_app({ .image = "x", .mounts = { { "nope", "/x" } } });
    CHECK(build_pod_manifest(bad, { busybox_image() }, {}).error().message()
        == "app 'busybox': --mount of undefined volume 'nope' (define it with --volume=nope,kind=…)");
    PodSpec twice = one_app({ .image = "x" });
    twice.volumes = { { "v", "empty" }, { "v", "empty" } };
    CHECK(build_pod_manifest(twice, { busybox_image() }, {}).error().message() == "volume 'v' is defined twice");
}

TEST_CASE("two apps need distinct names")
{
    PodSpec s;
    s.apps = { { .image = "a" }, { .image = "b" } };
    auto m = build_pod_manifest(s, { busybox_image(), busybox_image() }, {});
    REQUIRE(!m);
    CHECK(m.error().message() == "app name 'busybox' is used twice in the pod; set one with --name");
    s.apps[1].name = "second";
    CHECK(build_pod_manifest(s, { busybox_image(), busybox_image() }, {}));
}

TEST_CASE("app names from image names; env files")
{
    CHECK(app_name_from_image("example.com/busybox") == "busybox");
    CHECK(app_name_from_image("example.com/My_App.v2") == "my-app-v2");
    CHECK(app_name_from_image("") == "app");
    auto env = parse_env_file("# comment\nA=1\n\n  B = x\nC=with=equals\n", "f");
    REQUIRE(!env); // "B " is not a valid name
    CHECK(env.error().message() == "'f' line 4: 'B ' is not a valid environment variable name");
    auto ok = parse_env_file("# comment\nA=1\r\n\nC=with=equals\n", "f");
    REQUIRE(ok);
    REQUIRE(ok->size() == 2);
    CHECK((*ok)[1].value == "with=equals");
}

TEST_CASE("pod manifest JSON round trip")
{
    PodSpec s = one_app({ .image = "x", .mounts = { { "cache", "/var/cache" } } });
    s.volumes = { { "cache", "host", "/srv/cache", true }, { "scratch", "empty", "", false, "0700", 1000, 1000 } };
    auto m = build_pod_manifest(s, { busybox_image() }, {});
    REQUIRE(m);
    auto text = appc::to_json(*m).dump();
    auto back = appc::parse_pod_manifest(text);
    REQUIRE(back);
    CHECK(back->ac_version == "0.8.11");
    CHECK(back->raw["acKind"] == "PodManifest");
    REQUIRE(back->apps.size() == 1);
    CHECK(back->apps[0].image.id == "sha512-aaaa");
    CHECK(back->apps[0].image.labels[0].value == "1.36");
    CHECK(back->apps[0].app->exec == m->apps[0].app->exec);
    CHECK(back->apps[0].mounts[0].path == "/var/cache");
    CHECK(back->find_volume("cache")->read_only);
    CHECK(*back->find_volume("scratch")->mode == "0700");
    CHECK(*back->find_volume("scratch")->uid == 1000);
    CHECK(appc::to_json(*back) == appc::to_json(*m));
}

TEST_CASE("pod manifest parse errors name the field")
{
    auto err = [](const char* json) { return appc::parse_pod_manifest(json).error().message(); };
    CHECK(err("nope") == "pod manifest: invalid JSON");
    CHECK(err(R"({"acKind":"ImageManifest","acVersion":"0.8.11"})") == "pod manifest: acKind is not PodManifest");
    CHECK(err(R"({"acKind":"PodManifest"})") == "pod manifest: acVersion is missing");
    CHECK(err(R"({"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a"}]})")
        == "pod manifest: app 'a': image.id is missing");
    CHECK(
        err(R"({"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a","image":{"id":"x"}},{"name":"a","image":{"id":"y"}}]})")
        == "pod manifest: app name 'a' is used twice");
    CHECK(
        err(R"({"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a","image":{"id":"x"},"mounts":[{"volume":"v","path":"/v"}]}]})")
        == "pod manifest: app 'a': mount of undefined volume 'v'");
    CHECK(err(R"({"acKind":"PodManifest","acVersion":"0.8.11","volumes":[{"name":"v","kind":"nfs"}]})")
        == "pod manifest: volume 'v': kind must be host or empty, not 'nfs'");
}

namespace {

/// An OCI image as prepare resolves it: the config's view and what docker's rules need.
ResolvedImage oci_image(std::vector<std::string> entrypoint, std::vector<std::string> cmd, std::string user = "")
{
    oci::ImageConfig c;
    c.entrypoint = entrypoint;
    c.cmd = cmd;
    c.user = user;
    c.env = { "A=1" };
    c.volumes = { "/data" };
    auto view = oci::image_manifest_view(c, "127.0.0.1:5000/busybox", { { "version", "latest" } });
    REQUIRE(view);
    oci::DockerApp d { entrypoint, cmd, user, "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        "root:x:0:\nappgrp:x:1001:\nextra:x:1002:app\n" };
    return { "sha256-bbbb", "127.0.0.1:5000/busybox", { { "version", "latest" } }, view.release_value(), d };
}

bool has_annotation(const appc::RuntimeApp& a, std::string_view name, std::string_view value)
{
    for (auto& nv : a.annotations)
        if (nv.name == name && nv.value == value)
            return true;
    return false;
}

} // namespace

TEST_CASE("OCI images: docker's exec override rules")
{
    using Strings = std::vector<std::string>;
    auto img = oci_image({ "/bin/sh", "-c" }, { "echo hi" });
    auto exec_of = [&](AppSpec app) {
        auto m = build_pod_manifest(one_app(app), { img }, {});
        REQUIRE(m);
        return m->apps[0].app->exec;
    };
    CHECK(exec_of({ .image = "x" }) == Strings { "/bin/sh", "-c", "echo hi" });
    CHECK(exec_of({ .image = "x", .args = { "echo x" } }) == Strings { "/bin/sh", "-c", "echo x" });
    CHECK(exec_of({ .image = "x", .exec = "/bin/echo" }) == Strings { "/bin/echo" });
    CHECK(exec_of({ .image = "x", .exec = "/bin/echo", .args = { "a", "b" } }) == Strings { "/bin/echo", "a", "b" });
    auto none = build_pod_manifest(one_app({ .image = "x" }), { oci_image({}, {}) }, {});
    REQUIRE_FALSE(none);
    CHECK(
        none.error().message() == "app 'busybox': image 127.0.0.1:5000/busybox has no Entrypoint or Cmd; give --exec");
}

TEST_CASE("OCI images: User resolved with docker's rules; --user/--group override")
{
    auto m = build_pod_manifest(one_app({ .image = "x" }), { oci_image({}, { "/bin/id" }, "app") }, {});
    REQUIRE(m);
    auto& a = m->apps[0];
    CHECK(a.app->user == "1000");
    CHECK(a.app->group == "1001");
    CHECK(a.app->supplementary_gids == std::vector<uint32_t> { 1002 });
    CHECK(has_annotation(a, "capsule/stage1/exact-groups", "true"));
    CHECK(a.app->mount_points.at(0).name == "volume-data");
    CHECK(env_of(*a.app, "A") == "1");

    auto root = build_pod_manifest(one_app({ .image = "x" }), { oci_image({}, { "/bin/id" }) }, {});
    REQUIRE(root);
    CHECK(root->apps[0].app->user == "0");
    CHECK(root->apps[0].app->group == "0");

    // --user alone keeps docker's group; no exact groups then (appc's meaning).
    auto user = build_pod_manifest(
        one_app({ .image = "x", .user = std::string("0") }), { oci_image({}, { "/bin/id" }, "app") }, {});
    REQUIRE(user);
    CHECK(user->apps[0].app->user == "0");
    CHECK(user->apps[0].app->group == "1001");
    CHECK(user->apps[0].app->supplementary_gids.empty());
    CHECK_FALSE(has_annotation(user->apps[0], "capsule/stage1/exact-groups", "true"));

    // A missing user is an error naming it and the image, unless both are overridden.
    auto missing = build_pod_manifest(one_app({ .image = "x" }), { oci_image({}, { "/bin/id" }, "nobody") }, {});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message()
        == "app 'busybox': image 127.0.0.1:5000/busybox: user 'nobody' not found in /etc/passwd");
    auto both = build_pod_manifest(one_app({ .image = "x", .user = std::string("0"), .group = std::string("0") }),
        { oci_image({}, { "/bin/id" }, "nobody") }, {});
    REQUIRE(both);
    CHECK(both->apps[0].app->user == "0");
}

TEST_CASE("OCI images: a relative Entrypoint or Cmd survives the pod manifest (searched in PATH by the stage1)")
{
    auto m = build_pod_manifest(one_app({ .image = "x" }), { oci_image({}, { "sh", "-c", "echo hi" }) }, {});
    REQUIRE(m);
    auto back = appc::parse_pod_manifest(appc::to_json(*m).dump());
    REQUIRE(back);
    CHECK(back->apps[0].app->exec == std::vector<std::string> { "sh", "-c", "echo hi" });
    // Image manifests keep appc's rule.
    CHECK(appc::parse_app(nlohmann::json::parse(R"({"exec":["sh"],"user":"0","group":"0"})")).error().message()
        == "app.exec[0]: \"sh\" must be an absolute path");
    CHECK(appc::parse_app(nlohmann::json::parse(R"({"exec":[""],"user":"0","group":"0"})"), appc::ExecRule::SearchPath)
              .error()
              .message()
        == "app.exec[0]: must not be empty");
}

TEST_CASE("the image's supports-systemd-notify annotation (an OCI image: its config label) reaches the pod app")
{
    auto aci = busybox_image();
    auto plain = build_pod_manifest(one_app({ .image = "x" }), { aci }, {});
    REQUIRE(plain);
    CHECK(plain->apps[0].annotations.empty());
    aci.manifest.annotations.push_back({ "appc.io/executor/supports-systemd-notify", "true" });
    auto m = build_pod_manifest(one_app({ .image = "x" }), { aci }, {});
    REQUIRE(m);
    CHECK(has_annotation(m->apps[0], "appc.io/executor/supports-systemd-notify", "true"));

    oci::ImageConfig c;
    c.cmd = { "/bin/true" };
    c.labels = { { "appc.io/executor/supports-systemd-notify", "true" } };
    auto view = oci::image_manifest_view(c, "127.0.0.1:5000/busybox", {});
    REQUIRE(view);
    ResolvedImage oci { "sha256-cccc", "127.0.0.1:5000/busybox", {}, view.release_value(),
        oci::DockerApp { {}, c.cmd, "", "root:x:0:0::/root:/bin/sh\n", "root:x:0:\n" } };
    auto o = build_pod_manifest(one_app({ .image = "x" }), { oci }, {});
    REQUIRE(o);
    CHECK(has_annotation(o->apps[0], "appc.io/executor/supports-systemd-notify", "true"));
}
