// SPDX-License-Identifier: Apache-2.0
#include "stage1/systemd/units.h"

#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::stage1::sd;

namespace {

appc::App app_with(std::vector<appc::Isolator> isolators)
{
    appc::App a;
    a.exec = { "/bin/true" };
    a.isolators = std::move(isolators);
    return a;
}

bool has_line(const std::string& text, const std::string& line)
{
    return text.find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("exec words survive systemd's quoting, specifiers and variables")
{
    CHECK(exec_word("plain") == "\"plain\"");
    CHECK(exec_word("a b") == "\"a b\"");
    CHECK(exec_word("100%") == "\"100%%\"");
    CHECK(exec_word("$HOME") == "\"$$HOME\"");
    CHECK(exec_word("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"");
    CHECK(setting_word("A=$B") == "\"A=$B\"");
    CHECK(path_setting("/srv/50%") == "/srv/50%%");
}

TEST_CASE("default isolation: rkt's capabilities, no_new_privs, the seccomp deny list, masked paths")
{
    auto iso = app_isolation(app_with({}), {});
    REQUIRE(iso);
    CHECK(iso->caps == default_capabilities());
    CHECK(iso->no_new_privileges);
    CHECK(iso->seccomp);
    CHECK_FALSE(iso->seccomp_allow_list);
    CHECK(iso->seccomp_errno == "EPERM");
    CHECK(iso->mask_paths);
    CHECK_FALSE(iso->memory_bytes);
}

TEST_CASE("isolators: memory, cpu, capability sets, seccomp sets, no-new-privileges")
{
    auto iso = app_isolation(
        app_with({ { "resource/memory", { { "limit", "64M" } } }, { "resource/cpu", { { "limit", "500m" } } },
            { "os/linux/capabilities-remove-set", { { "set", { "CAP_NET_RAW", "chown" } } } },
            { "os/linux/seccomp-retain-set", { { "set", { "@system-service", "read" } } } },
            { "os/linux/no-new-privileges", false } }),
        {});
    REQUIRE(iso);
    CHECK(*iso->memory_bytes == 64000000);
    CHECK(*iso->cpu_millicores == 500);
    CHECK(std::find(iso->caps.begin(), iso->caps.end(), "CAP_NET_RAW") == iso->caps.end());
    CHECK(std::find(iso->caps.begin(), iso->caps.end(), "CAP_CHOWN") == iso->caps.end());
    CHECK(iso->caps.size() == default_capabilities().size() - 2);
    CHECK(iso->seccomp_allow_list);
    CHECK(iso->syscalls == std::vector<std::string> { "@system-service", "read" });
    CHECK(iso->seccomp_errno.empty());
    CHECK_FALSE(iso->no_new_privileges);

    auto retain = app_isolation(
        app_with({ { "os/linux/capabilities-retain-set", { { "set", { "CAP_NET_BIND_SERVICE" } } } },
            { "os/linux/seccomp-remove-set",
                { { "set", { "@docker/default-blacklist", "@systemd/swap" } }, { "errno", "ENOSYS" } } } }),
        {});
    REQUIRE(retain);
    CHECK(retain->caps == std::vector<std::string> { "CAP_NET_BIND_SERVICE" });
    CHECK(retain->syscalls.size() == default_seccomp_denied().size() + 1);
    CHECK(retain->syscalls.back() == "@swap");
    CHECK(retain->seccomp_errno == "ENOSYS");
}

TEST_CASE("bad isolator values are one-line errors naming the isolator")
{
    auto bad = [](appc::Isolator i) {
        auto r = app_isolation(app_with({ std::move(i) }), {});
        REQUIRE_FALSE(r);
        return r.error().message();
    };
    CHECK(bad({ "resource/memory", { { "limit", "lots" } } }).find("resource/memory") != std::string::npos);
    CHECK(bad({ "os/linux/capabilities-retain-set", { { "set", { "CAP_NOT-A-CAP" } } } }).find("not a capability")
        != std::string::npos);
    CHECK(bad({ "os/linux/seccomp-remove-set", { { "set", { "Bad Name" } } } }).find("seccomp-remove-set")
        != std::string::npos);
    CHECK(bad({ "os/linux/seccomp-remove-set", { { "set", { "mount" } }, { "errno", "eperm" } } }).find("errno")
        != std::string::npos);
    CHECK(bad({ "os/linux/no-new-privileges", "yes" }).find("true or false") != std::string::npos);
}

TEST_CASE("insecure options turn the protections off")
{
    auto opts = InsecureOptions::parse("capabilities,seccomp,paths");
    REQUIRE(opts);
    auto iso = app_isolation(app_with({}), *opts);
    REQUIRE(iso);
    CHECK_FALSE(iso->restrict_caps);
    CHECK_FALSE(iso->seccomp);
    CHECK_FALSE(iso->mask_paths);
    AppUnit u;
    u.name = "web";
    u.argv = { "/bin/true" };
    u.iso = *iso;
    auto text = app_unit_text(u);
    CHECK(text.find("CapabilityBoundingSet=") == std::string::npos);
    CHECK(text.find("SystemCallFilter=") == std::string::npos);
    CHECK(text.find("BindReadOnlyPaths=") == std::string::npos);
    CHECK(has_line(text, "NoNewPrivileges=yes"));
}

TEST_CASE("an app unit: root, credentials, environment, limits, handlers and the exit hook")
{
    AppUnit u;
    u.name = "web";
    u.argv = { "/bin/sh", "-c", "echo $HOME 100%" };
    u.env = { "PATH=/bin", "AC_APP_NAME=web" };
    u.working_dir = "/srv";
    u.creds.uid = 1000;
    u.creds.gid = 1000;
    u.creds.groups = { 50, 60 };
    u.helper = "/capsule/stage1/systemd";
    u.pre_start = { { "/bin/prep", "x" } };
    u.post_stop = { { "/bin/clean" } };
    auto iso = app_isolation(
        app_with({ { "resource/memory", { { "limit", "1Gi" } } }, { "resource/cpu", { { "limit", "250m" } } } }), {});
    REQUIRE(iso);
    u.iso = *iso;
    auto t = app_unit_text(u);
    CHECK(app_unit_name("web") == "capsule-app-web.service");
    CHECK(has_line(t, "RootDirectory=/opt/stage2/web/rootfs"));
    CHECK(has_line(t, "WorkingDirectory=/srv"));
    CHECK(has_line(t, "User=1000"));
    CHECK(has_line(t, "Group=1000"));
    CHECK(has_line(t, "SupplementaryGroups=50 60"));
    CHECK(has_line(t, "Environment=\"AC_APP_NAME=web\""));
    CHECK(has_line(t, "ExecStart=\"/bin/sh\" \"-c\" \"echo $$HOME 100%%\""));
    CHECK(has_line(t, "MemoryMax=1073741824"));
    CHECK(has_line(t, "CPUQuota=25%"));
    CHECK(has_line(t, "SystemCallErrorNumber=EPERM"));
    CHECK(has_line(t, "StandardOutput=journal+console"));
    CHECK(has_line(t, "ExecStartPre=+\"/capsule/stage1/systemd\" exec-in-app \"web\" \"/bin/prep\" \"x\""));
    CHECK(has_line(t, "ExecStopPost=-+\"/capsule/stage1/systemd\" exec-in-app \"web\" \"/bin/clean\""));
    // The exit hook comes last, so it records the status after the post-stop handlers ran.
    CHECK(t.ends_with("ExecStopPost=+\"/capsule/stage1/systemd\" app-exited \"web\"\n"));
    CHECK(pod_target_text({ "web", "db" })
              .find("Wants=systemd-journald.service capsule-app-web.service capsule-app-db.service")
        != std::string::npos);
}

TEST_CASE("app units: journal fields, the pod target's ordering, Type=notify for apps that speak sd_notify")
{
    AppUnit u;
    u.name = "web";
    u.pod_uuid = "6f1e0c2a-0000-4000-8000-000000000001";
    u.argv = { "/bin/web" };
    u.helper = "/capsule/stage1/systemd";
    auto t = app_unit_text(u);
    CHECK(has_line(t, "LogExtraFields=CAPSULE_POD=6f1e0c2a-0000-4000-8000-000000000001"));
    CHECK(has_line(t, "LogExtraFields=CAPSULE_APP=web"));
    // The pod has started only once every app has.
    CHECK(has_line(t, "Before=capsule-pod.target"));
    CHECK(has_line(t, "Type=simple"));
    CHECK(t.find("NotifyAccess=") == std::string::npos);

    u.notify = true;
    t = app_unit_text(u);
    CHECK(has_line(t, "Type=notify"));
    CHECK(has_line(t, "NotifyAccess=main"));
    CHECK(t.find("Type=simple") == std::string::npos);
}
