// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"
#include "stage0/stage1_exec.h"
#include "stage0/stage1_image.h"
#include "stage1/common/app_env.h"
#include "stage1/common/args.h"
#include "stage1/common/mounts.h"
#include "stage1/common/user.h"

#include <fcntl.h>
#include <unistd.h>

#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::stage1;

namespace {

constexpr const char* passwd = "root:x:0:0:root:/root:/bin/sh\n"
                               "user:x:1000:1000:user:/home/user:/bin/sh\n";
constexpr const char* group = "root:x:0:\nuser:x:1000:\nstaff:x:50:user,other\nwheel:x:10:root\n";

appc::App app_as(std::string user, std::string grp)
{
    appc::App a;
    a.user = std::move(user);
    a.group = std::move(grp);
    return a;
}

} // namespace

TEST_CASE("stage1 entrypoint selection by argv[0] or argv[1]")
{
    auto a = pick_entrypoint({ "/x/rootfs/stage1/run", "--debug", "u" });
    REQUIRE(a);
    CHECK(a->first == Entrypoint::Run);
    CHECK(a->second == 1);
    auto b = pick_entrypoint({ "/stage1/fly", "stop", "u" });
    REQUIRE(b);
    CHECK(b->first == Entrypoint::Stop);
    CHECK(b->second == 2);
    CHECK(!pick_entrypoint({ "/stage1/fly", "dance" }));
}

TEST_CASE("stage1 interface v1 flags")
{
    auto r = parse_stage1_args(Entrypoint::Run, { "--debug", "--interactive", "--hostname=h", "--net=host", "U" });
    REQUIRE(r);
    CHECK(r->debug);
    CHECK(r->interactive);
    CHECK(r->hostname == "h");
    CHECK(r->net == "host");
    CHECK(r->uuid == "U");
    auto e = parse_stage1_args(Entrypoint::Enter, { "--app=web", "U", "--", "ls", "-l" });
    REQUIRE(e);
    CHECK(e->app == "web");
    CHECK(e->command == std::vector<std::string> { "ls", "-l" });
    CHECK(parse_stage1_args(Entrypoint::Stop, { "--force", "U" })->force);
    CHECK(parse_stage1_args(Entrypoint::Run, { "--force", "U" }).error().message() == "unknown flag '--force'");
    CHECK(parse_stage1_args(Entrypoint::Gc, {}).error().message() == "no pod UUID given");
    CHECK(parse_stage1_args(Entrypoint::Gc, { "U", "extra" }).error().message() == "unexpected argument 'extra'");
}

TEST_CASE("stage0 reads the entrypoints from a stage1 manifest and checks the version")
{
    auto manifest = [](const char* annotations) {
        std::string json = R"({"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/s1","annotations":[)";
        return appc::parse_image_manifest(json + annotations + "]}").release_value();
    };
    auto ok = stage0::stage1_entrypoints(manifest(R"({"name":"capsule/stage1/interface-version","value":"1"},
        {"name":"capsule/stage1/run","value":"/stage1/run"},{"name":"capsule/stage1/stop","value":"/stage1/stop"})"));
    REQUIRE(ok);
    CHECK(ok->run == "/stage1/run");
    CHECK(ok->stop == "/stage1/stop");
    CHECK(ok->enter.empty());
    CHECK(stage0::stage1_entrypoints(manifest(R"({"name":"capsule/stage1/run","value":"/r"})")).error().message()
        == "not a stage1 image: annotation 'capsule/stage1/interface-version' is missing");
    CHECK(stage0::stage1_entrypoints(manifest(R"({"name":"capsule/stage1/interface-version","value":"3"},
        {"name":"capsule/stage1/run","value":"/r"})"))
              .error()
              .message()
        == "stage1 interface version 3 is not supported (this capsule speaks versions 1 to 2)");
    CHECK(stage0::stage1_entrypoints(manifest(R"({"name":"capsule/stage1/interface-version","value":"0"},
        {"name":"capsule/stage1/run","value":"/r"})"))
              .error()
              .message()
        == "stage1 interface version 0 is not supported (this capsule speaks versions 1 to 2)");
    CHECK(stage0::stage1_entrypoints(manifest(R"({"name":"capsule/stage1/interface-version","value":"2"},
        {"name":"capsule/stage1/run","value":"/r"})"))
              ->interface_version
        == 2);
    CHECK(stage0::stage1_entrypoints(manifest(R"({"name":"capsule/stage1/interface-version","value":"1"},
        {"name":"capsule/stage1/run","value":"../../bin/sh"})"))
              .error()
              .message()
        == "entrypoint '../../bin/sh' is not an absolute path inside the stage1");
    auto args = stage0::run_entrypoint_args({ .interactive = true, .hostname = "h", .debug = true }, "U");
    CHECK(args == std::vector<std::string> { "--debug", "--interactive", "--hostname=h", "--net=host", "U" });
    auto parsed = parse_stage1_args(Entrypoint::Run, args);
    CHECK(parsed); // what stage0 sends, the shipped stage1 accepts
}

TEST_CASE("credentials: numeric and named users and groups, supplementary groups")
{
    auto root = resolve_credentials(app_as("0", "0"), passwd, group);
    REQUIRE(root);
    CHECK(root->uid == 0);
    CHECK(root->home == "/root");
    CHECK(root->groups == std::vector<gid_t> { 10 });
    auto user = resolve_credentials(app_as("user", "user"), passwd, group);
    REQUIRE(user);
    CHECK(user->uid == 1000);
    CHECK(user->gid == 1000);
    CHECK(user->groups == std::vector<gid_t> { 50 });
    CHECK(user->home == "/home/user");
    auto unknown_uid = resolve_credentials(app_as("4242", "staff"), passwd, group);
    REQUIRE(unknown_uid);
    CHECK(unknown_uid->uid == 4242);
    CHECK(unknown_uid->gid == 50);
    CHECK(unknown_uid->groups.empty());
    auto extra = app_as("0", "0");
    extra.supplementary_gids = { 7, 10 };
    CHECK(resolve_credentials(extra, passwd, group)->groups == std::vector<gid_t> { 10, 7 });
    // Exact: supplementaryGIDs only (stage0 applied docker's rules).
    CHECK(resolve_credentials(extra, passwd, group, GroupMembership::Exact)->groups == std::vector<gid_t> { 7, 10 });
    CHECK(resolve_credentials(app_as("user", "0"), passwd, group, GroupMembership::Exact)->groups.empty());
    CHECK(resolve_credentials(app_as("bob", "0"), passwd, group).error().message()
        == "user 'bob' not found in the app's /etc/passwd");
    CHECK(resolve_credentials(app_as("0", "nogroup"), passwd, group).error().message()
        == "group 'nogroup' not found in the app's /etc/group");
    CHECK(!resolve_credentials(app_as("user", "0"), "", ""));
}

TEST_CASE("app environment: later wins, AC_APP_NAME last, the lock fd never leaks")
{
    appc::App app;
    app.environment = { { "PATH", "/app/bin" }, { "FROM", "app" } };
    std::string lock = "CAPSULE_LOCK_FD=3", from = "FROM=host", host_only = "HOST_ONLY=1", name = "AC_APP_NAME=x";
    char* host[] = { lock.data(), from.data(), host_only.data(), name.data(), nullptr };
    auto env = app_environment({ "web", &app, "/root", host });
    CHECK(env
        == std::vector<std::string> { "PATH=/app/bin", "HOME=/root", "FROM=app", "HOST_ONLY=1", "AC_APP_NAME=web" });
    auto clean = app_environment({ "web", nullptr, "", nullptr });
    CHECK(clean == std::vector<std::string> { std::string("PATH=") + default_path, "AC_APP_NAME=web" });
}

TEST_CASE("app environment: the host's notify socket is not inherited; the stage1's own wins")
{
    appc::App app;
    app.environment = { { "NOTIFY_SOCKET", "/from/manifest" } };
    std::string sock = "NOTIFY_SOCKET=/run/user/notify", usec = "WATCHDOG_USEC=1000", pid = "WATCHDOG_PID=1";
    char* host[] = { sock.data(), usec.data(), pid.data(), nullptr };
    auto inherited = app_environment({ "web", nullptr, "", host });
    CHECK(inherited == std::vector<std::string> { std::string("PATH=") + default_path, "AC_APP_NAME=web" });
    auto env = app_environment({ "web", &app, "", host, { "NOTIFY_SOCKET=/run/systemd/notify" } });
    CHECK(env
        == std::vector<std::string> {
            std::string("PATH=") + default_path, "NOTIFY_SOCKET=/run/systemd/notify", "AC_APP_NAME=web" });
}

TEST_CASE("overlay options escape separators")
{
    CHECK(overlay_escape("/a/b") == "/a/b");
    CHECK(overlay_escape("/a,b:c\\d") == "/a\\,b\\:c\\\\d");
    CHECK(overlay_options({ "/top", "/mid:x", "/bottom" }, "/u", "/w")
        == "lowerdir=/top:/mid\\:x:/bottom,upperdir=/u,workdir=/w");
    // A lower file of interface version 1 (one line, with or without newline) and of version 2.
    CHECK(parse_lower_list("/store/tree/x/rootfs") == std::vector<std::string> { "/store/tree/x/rootfs" });
    CHECK(parse_lower_list("/a\n/b\n\n") == std::vector<std::string> { "/a", "/b" });
}

TEST_CASE("targets inside a rootfs stay inside it, even through hostile symlinks")
{
    auto tmp = TempDir::create("/tmp", "capsule-stage1-test.").release_value();
    auto root = tmp.path() + "/root";
    auto outside = tmp.path() + "/outside";
    REQUIRE(mkdir_p(root + "/etc"));
    REQUIRE(mkdir_p(outside));
    REQUIRE(::symlink(outside.c_str(), (root + "/escape").c_str()) == 0);
    REQUIRE(::symlink("../../../../..", (root + "/up").c_str()) == 0);
    auto rootfd = open_fd(root, O_PATH | O_DIRECTORY).release_value();

    // The absolute symlink resolves inside the root, where its target does not exist: an
    // error, and nothing is created on the host side.
    auto fd = ensure_in_root(rootfd.get(), "/escape/data", TargetKind::Directory);
    REQUIRE(!fd);
    CHECK(fd.error().message() == "open '/escape' in the app rootfs: No such file or directory");
    CHECK(!path_exists(outside + "/data"));
    REQUIRE(::symlink("etc", (root + "/link").c_str()) == 0);
    REQUIRE(ensure_in_root(rootfd.get(), "/link/sub", TargetKind::Directory));
    CHECK(is_directory(root + "/etc/sub"));
    REQUIRE(ensure_in_root(rootfd.get(), "/up/etc/created", TargetKind::File));
    CHECK(path_exists(root + "/etc/created"));
    REQUIRE(ensure_in_root(rootfd.get(), "/a/b/c", TargetKind::Directory));
    CHECK(is_directory(root + "/a/b/c"));

    REQUIRE(write_file(root + "/etc/passwd", "root:x:0:0::/:/bin/sh\n"));
    CHECK(*read_in_root(rootfd.get(), "/up/etc/passwd") == "root:x:0:0::/:/bin/sh\n");
    CHECK(read_in_root(rootfd.get(), "/etc/group")->empty());
}
