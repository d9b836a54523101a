// SPDX-License-Identifier: Apache-2.0
#include "lib/oci/config_map.h"

#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::oci;

namespace {

using Strings = std::vector<std::string>;

const char* const passwd = "root:x:0:0:root:/root:/bin/sh\n"
                           "# a comment\n"
                           "\n"
                           "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                           "app:x:1000:1001:App:/home/app:/bin/sh\n"
                           "broken:x:notanumber:1::/:/bin/sh\n"
                           "dup:x:1000:7::/:/bin/sh\n";

const char* const group = "root:x:0:\n"
                          "daemon:x:1:app\n"
                          "appgrp:x:1001:\n"
                          "extra:x:1002:other,app\n"
                          "wheel:x:10:root\n"
                          "appgrp2:x:1001:app\n";

std::string env_of(const appc::App& app, const std::string& name)
{
    for (auto& nv : app.environment)
        if (nv.name == name)
            return nv.value;
    return "<unset>";
}

std::string annotation(const appc::ImageManifest& m, std::string_view name)
{
    return m.annotation(name).value_or("<unset>");
}

} // namespace

TEST_CASE("config view: exec, env in order, working dir, name and labels")
{
    ImageConfig c;
    c.entrypoint = { "/bin/sh", "-c" };
    c.cmd = { "echo hello-from-oci" };
    c.env = { "A=1", "PATH=/bin", "B=x=y", "EMPTY=" };
    c.working_dir = "/etc";
    c.labels = { { "org.example.k", "v" } };
    auto m = image_manifest_view(c, "127.0.0.1:5000/busybox", { { "version", "latest" } });
    REQUIRE(m);
    CHECK(m->name == "127.0.0.1:5000/busybox");
    CHECK(m->label("version") == "latest");
    REQUIRE(m->app);
    CHECK(m->app->exec == Strings { "/bin/sh", "-c", "echo hello-from-oci" });
    REQUIRE(m->app->environment.size() == 4);
    CHECK(m->app->environment[0].name == "A");
    CHECK(m->app->environment[1].name == "PATH");
    CHECK(env_of(*m->app, "PATH") == "/bin");
    CHECK(env_of(*m->app, "B") == "x=y");
    CHECK(env_of(*m->app, "EMPTY") == "");
    CHECK(m->app->working_directory == "/etc");
    CHECK(m->app->user == "0");
    CHECK(m->app->group == "0");
    CHECK(annotation(*m, annotation_entrypoint) == R"(["/bin/sh","-c"])");
    CHECK(annotation(*m, annotation_cmd) == R"(["echo hello-from-oci"])");
    CHECK(annotation(*m, "org.example.k") == "v");
}

TEST_CASE("config view: docker's defaults (PATH, working dir /)")
{
    ImageConfig c;
    c.cmd = { "/bin/sh" };
    c.env = { "A=1" };
    auto m = image_manifest_view(c, "x", {});
    REQUIRE(m);
    CHECK(env_of(*m->app, "PATH") == default_path);
    CHECK(env_of(*m->app, "A") == "1");
    CHECK(m->app->working_directory == "/");
    CHECK(annotation(*m, annotation_entrypoint) == "[]");
    CHECK(annotation(*m, annotation_user) == "");
}

TEST_CASE("config view: exposed ports and volumes")
{
    ImageConfig c;
    c.exposed_ports = { "53/udp", "8080/tcp", "9000", "7000-7002/tcp" };
    c.volumes = { "/data", "/var/lib/data", "/var/lib/Data", "/x_y" };
    auto m = image_manifest_view(c, "x", {});
    REQUIRE(m);
    auto& ports = m->app->ports;
    REQUIRE(ports.size() == 4);
    CHECK(ports[0].name == "53-udp");
    CHECK(ports[0].protocol == "udp");
    CHECK(ports[0].port == 53);
    CHECK(ports[1].name == "8080-tcp");
    CHECK(ports[1].protocol == "tcp");
    CHECK(ports[1].port == 8080);
    CHECK(ports[1].count == 1);
    CHECK(ports[2].name == "9000-tcp");
    CHECK(ports[3].name == "7000-7002-tcp");
    CHECK(ports[3].port == 7000);
    CHECK(ports[3].count == 3);
    auto& mps = m->app->mount_points;
    REQUIRE(mps.size() == 4);
    CHECK(mps[0].name == "volume-data");
    CHECK(mps[0].path == "/data");
    CHECK_FALSE(mps[0].read_only);
    CHECK(mps[1].name == "volume-var-lib-data");
    CHECK(mps[2].name == "volume-var-lib-data-2");
    CHECK(mps[3].name == "volume-x-y");
    for (auto& mp : mps)
        CHECK(appc::is_ac_name(mp.name));
    for (auto& p : ports)
        CHECK(appc::is_ac_name(p.name));
}

TEST_CASE("config view: bad exposed ports are errors naming the key")
{
    for (auto bad : { "http/tcp", "80/icmp", "0/tcp", "70000/tcp", "90-80/tcp", "/tcp" }) {
        ImageConfig c;
        c.exposed_ports = { bad };
        auto m = image_manifest_view(c, "x", {});
        REQUIRE_FALSE(m);
        CHECK(m.error().message().find(std::string("'") + bad + "'") != std::string::npos);
    }
}

TEST_CASE("volume names")
{
    CHECK(volume_name("/var/lib/data") == "volume-var-lib-data");
    CHECK(volume_name("/") == "volume");
    CHECK(volume_name("/a//b/") == "volume-a-b");
    CHECK(volume_name("/Cache.d") == "volume-cache-d");
}

TEST_CASE("docker's override rules for Entrypoint and Cmd")
{
    Strings ep { "/bin/sh", "-c" };
    Strings cmd { "echo hi" };
    CHECK(*docker_exec(ep, cmd, std::nullopt, {}, "img") == Strings { "/bin/sh", "-c", "echo hi" });
    // -- ARGS replace Cmd, keep Entrypoint.
    CHECK(*docker_exec(ep, cmd, std::nullopt, { "echo x" }, "img") == Strings { "/bin/sh", "-c", "echo x" });
    // --exec replaces Entrypoint and drops Cmd.
    CHECK(*docker_exec(ep, cmd, std::string("/bin/echo"), {}, "img") == Strings { "/bin/echo" });
    CHECK(*docker_exec(ep, cmd, std::string("/bin/echo"), { "a", "b" }, "img") == Strings { "/bin/echo", "a", "b" });
    // Cmd only.
    CHECK(*docker_exec({}, { "/bin/sh" }, std::nullopt, {}, "img") == Strings { "/bin/sh" });
    CHECK(*docker_exec({}, { "/bin/sh" }, std::nullopt, { "/bin/true" }, "img") == Strings { "/bin/true" });
    // Entrypoint only.
    CHECK(*docker_exec(ep, {}, std::nullopt, {}, "img") == ep);
    auto none = docker_exec({}, {}, std::nullopt, {}, "example/img");
    REQUIRE_FALSE(none);
    CHECK(none.error().message() == "image example/img has no Entrypoint or Cmd; give --exec");
}

TEST_CASE("docker's user semantics: empty, names, numbers")
{
    auto root = resolve_user("", passwd, group);
    REQUIRE(root);
    CHECK(root->uid == 0);
    CHECK(root->gid == 0);
    CHECK(root->supplementary_gids == std::vector<uint32_t> { 10 });

    auto app = resolve_user("app", passwd, group);
    REQUIRE(app);
    CHECK(app->uid == 1000);
    CHECK(app->gid == 1001); // the primary group
    CHECK(app->supplementary_gids == std::vector<uint32_t> { 1, 1002, 1001 });
    CHECK(app->name == "app");

    // A listed UID takes the entry's gid (first match wins) and its groups.
    auto n = resolve_user("1000", passwd, group);
    REQUIRE(n);
    CHECK(n->uid == 1000);
    CHECK(n->gid == 1001);
    CHECK(n->supplementary_gids == std::vector<uint32_t> { 1, 1002, 1001 });

    // An unlisted UID: gid 0, no groups.
    auto u = resolve_user("4242", passwd, group);
    REQUIRE(u);
    CHECK(u->uid == 4242);
    CHECK(u->gid == 0);
    CHECK(u->supplementary_gids.empty());
    CHECK(u->name.empty());

    // No /etc/passwd at all: numbers still work.
    auto bare = resolve_user("", "", "");
    REQUIRE(bare);
    CHECK(bare->uid == 0);
    CHECK(bare->gid == 0);
}

TEST_CASE("docker's user semantics: user:group")
{
    auto ag = resolve_user("app:root", passwd, group);
    REQUIRE(ag);
    CHECK(ag->uid == 1000);
    CHECK(ag->gid == 0);
    // An explicit group: no supplementary groups (as docker).
    CHECK(ag->supplementary_gids.empty());

    auto num = resolve_user("1000:55", passwd, group);
    REQUIRE(num);
    CHECK(num->uid == 1000);
    CHECK(num->gid == 55);

    auto mixed = resolve_user("4242:extra", passwd, group);
    REQUIRE(mixed);
    CHECK(mixed->uid == 4242);
    CHECK(mixed->gid == 1002);

    auto numeric_listed = resolve_user("app:1002", passwd, group);
    REQUIRE(numeric_listed);
    CHECK(numeric_listed->gid == 1002);

    auto only_group = resolve_user(":extra", passwd, group);
    REQUIRE(only_group);
    CHECK(only_group->uid == 0);
    CHECK(only_group->gid == 1002);

    // "user:" is "user".
    auto trailing = resolve_user("app:", passwd, group);
    REQUIRE(trailing);
    CHECK(trailing->gid == 1001);
}

TEST_CASE("docker's user semantics: errors name the user or group")
{
    auto missing = resolve_user("nobody", passwd, group);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message() == "user 'nobody' not found in /etc/passwd");
    auto no_file = resolve_user("app", "", group);
    REQUIRE_FALSE(no_file);
    CHECK(no_file.error().message() == "user 'app' not found in /etc/passwd (no such file)");
    auto bad_group = resolve_user("app:nogroup", passwd, group);
    REQUIRE_FALSE(bad_group);
    CHECK(bad_group.error().message() == "group 'nogroup' not found in /etc/group");
    auto broken = resolve_user("broken", passwd, group);
    REQUIRE_FALSE(broken);
    auto range = resolve_user("99999999999", passwd, group);
    REQUIRE_FALSE(range);
    CHECK(range.error().message() == "user '99999999999': UID out of range");
}
