// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/app_args.h"

#include <cstdlib>
#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::cmd;

namespace {

RunArgs parse_ok(std::vector<std::string> args)
{
    auto r = parse_run_args(args);
    if (!r)
        FAIL(r.error().message());
    return r.release_value();
}

std::string parse_error(std::vector<std::string> args)
{
    auto r = parse_run_args(args);
    REQUIRE(!r);
    return r.error().message();
}

} // namespace

TEST_CASE("run args: pod flags before the image, app flags after it")
{
    auto a = parse_ok({ "--interactive", "--set-env=A=1", "--volume", "data,kind=empty", "--no-overlay", "img.aci",
        "--exec=/bin/sh", "--user", "1000", "--group=50", "--working-dir=/tmp", "--mount=volume=data,target=/data",
        "--environment=B=2", "--name=web" });
    CHECK(a.spec.interactive);
    CHECK(a.spec.no_overlay);
    REQUIRE(a.spec.set_env.size() == 1);
    CHECK(a.spec.set_env[0].name == "A");
    REQUIRE(a.spec.volumes.size() == 1);
    CHECK(a.spec.volumes[0].kind == "empty");
    REQUIRE(a.spec.apps.size() == 1);
    auto& app = a.spec.apps[0];
    CHECK(app.image == "img.aci");
    CHECK(*app.exec == "/bin/sh");
    CHECK(*app.user == "1000");
    CHECK(*app.group == "50");
    CHECK(*app.working_dir == "/tmp");
    REQUIRE(app.mounts.size() == 1);
    CHECK(app.mounts[0].volume == "data");
    CHECK(app.mounts[0].path == "/data");
    CHECK(app.environment[0].value == "2");
    CHECK(*app.name == "web");
}

TEST_CASE("run args: -- ends an app's flags and --- starts the next app")
{
    auto a = parse_ok({ "a.aci", "--exec=/bin/echo", "--", "--exec=not-a-flag", "x", "---", "b.aci", "--name=b" });
    REQUIRE(a.spec.apps.size() == 2);
    CHECK(a.spec.apps[0].args == std::vector<std::string> { "--exec=not-a-flag", "x" });
    CHECK(a.spec.apps[1].image == "b.aci");
    CHECK(*a.spec.apps[1].name == "b");
    CHECK(!a.spec.apps[1].exec);
}

TEST_CASE("run args: stage1 selection")
{
    using Kind = stage0::Stage1Selection::Kind;
    CHECK(parse_ok({ "img" }).spec.stage1.kind == Kind::Flavour);
    ::unsetenv("CAPSULE_STAGE1");
    CHECK(parse_ok({ "img" }).spec.stage1.value == "systemd");
    ::setenv("CAPSULE_STAGE1", "fly", 1);
    CHECK(parse_ok({ "img" }).spec.stage1.value == "fly");
    ::unsetenv("CAPSULE_STAGE1");
    auto kvm = parse_ok({ "--stage1=kvm", "img" });
    CHECK(kvm.spec.stage1.kind == Kind::Flavour);
    CHECK(kvm.spec.stage1.value == "kvm");
    auto p = parse_ok({ "--stage1-path=/x/s1.aci", "img" });
    CHECK(p.spec.stage1.kind == Kind::Path);
    CHECK(p.spec.stage1.value == "/x/s1.aci");
    CHECK(parse_ok({ "--stage1-hash", "sha512-ab", "img" }).spec.stage1.kind == Kind::Hash);
    CHECK(parse_ok({ "--stage1-name=example.com/s1", "img" }).spec.stage1.kind == Kind::Name);
}

TEST_CASE("run args: global flags after the command are handed back")
{
    auto a = parse_ok({ "--debug", "--dir=/x", "-q", "img" });
    REQUIRE(a.globals.size() == 3);
    CHECK(a.globals[0] == std::pair<std::string, std::string> { "debug", "true" });
    CHECK(a.globals[1] == std::pair<std::string, std::string> { "dir", "/x" });
    CHECK(parse_error({ "img", "--debug" }) == "--debug is a global flag: give it before the first image");
}

TEST_CASE("run args: help anywhere before --")
{
    CHECK(parse_ok({ "--help" }).help);
    CHECK(parse_ok({ "img", "-h" }).help);
}

TEST_CASE("run args: errors are one clear line")
{
    CHECK(parse_error({}) == "no image given");
    CHECK(parse_error({ "--bogus", "img" }) == "unknown flag '--bogus' (see 'capsule run --help')");
    CHECK(parse_error({ "img", "--bogus=1" }) == "unknown flag '--bogus' (see 'capsule run --help')");
    CHECK(parse_error({ "img", "-x" }) == "unknown flag '-x' (see 'capsule run --help')");
    CHECK(parse_error({ "img", "--volume=v,kind=empty" }) == "--volume is a pod flag: give it before the first image");
    CHECK(parse_error({ "--exec=/bin/sh", "img" }) == "--exec is an app flag: give it after the image it applies to");
    CHECK(parse_error({ "img", "--exec" }) == "--exec needs a value");
    CHECK(parse_error({ "img", "other" }).starts_with("unexpected argument 'other'"));
    CHECK(parse_error({ "img", "---" }) == "'---' must be followed by an image");
    CHECK(parse_error({ "---", "img" }) == "'---' must separate two images");
    CHECK(parse_error({ "--", "x" }) == "'--' must follow an image (its arguments come after it)");
    CHECK(parse_error({ "--interactive=maybe", "img" }) == "--interactive: expected true or false, not 'maybe'");
    CHECK(parse_error({ "--net=default", "img" }) == "--net=default: only --net=host is supported by this build");
    CHECK(parse_error({ "--set-env=1X=2", "img" }) == "--set-env: '1X' is not a valid environment variable name");
    CHECK(parse_error({ "--set-env=novalue", "img" }) == "--set-env: 'novalue': expected NAME=VALUE");
}

TEST_CASE("run args: --volume and --mount syntax")
{
    auto a = parse_ok({ "--volume=src,kind=host,source=/srv,readOnly=true", "img" });
    CHECK(a.spec.volumes[0].source == "/srv");
    CHECK(a.spec.volumes[0].read_only);
    CHECK(parse_error({ "--volume=foo", "img" }) == "--volume: volume 'foo': kind must be host or empty");
    CHECK(parse_error({ "--volume=foo,kind=host", "img" })
        == "--volume: volume 'foo,kind=host': kind=host needs source=ABSOLUTE-PATH");
    CHECK(parse_error({ "--volume=foo,kind=host,source=rel", "img" })
        == "--volume: volume 'foo,kind=host,source=rel': kind=host needs source=ABSOLUTE-PATH");
    CHECK(parse_error({ "--volume=Bad_Name,kind=empty", "img" })
        == "--volume: volume 'Bad_Name,kind=empty': must start with a volume name (an AC name)");
    CHECK(parse_error({ "--volume=v,kind=empty,readOnly=yes", "img" })
        == "--volume: volume 'v,kind=empty,readOnly=yes': readOnly must be true or false, not 'yes'");
    CHECK(parse_error({ "--volume=v,kind=empty,colour=red", "img" })
        == "--volume: volume 'v,kind=empty,colour=red': unknown key 'colour'");
    CHECK(parse_error({ "img", "--mount=volume=v" }) == "--mount 'volume=v': expected volume=NAME,target=PATH");
    CHECK(parse_error({ "img", "--mount=vol=v,target=/x" }) == "--mount 'vol=v,target=/x': unknown key 'vol'");
}

TEST_CASE("run args: help text lists pod and app flags")
{
    auto help = run_args_help();
    CHECK(help.find("--volume=VALUE") != std::string::npos);
    CHECK(help.find("--exec=VALUE") != std::string::npos);
    CHECK(help.find("--debug") == std::string::npos);
}

TEST_CASE("run args: --pull-policy and --platform are pod flags")
{
    auto a = parse_ok({ "--pull-policy=never", "--platform=linux/arm64/v8", "img" });
    REQUIRE(a.spec.pull_policy);
    CHECK(*a.spec.pull_policy == fetch::PullPolicy::Never);
    REQUIRE(a.spec.platform);
    CHECK(a.spec.platform->str() == "linux/arm64/v8");
    CHECK(parse_ok({ "--pull-policy", "update", "img" }).spec.pull_policy == fetch::PullPolicy::Update);
    CHECK_FALSE(parse_ok({ "img" }).spec.pull_policy);
    CHECK_FALSE(parse_ok({ "img" }).spec.platform);
    CHECK(
        parse_error({ "--pull-policy=sometimes", "img" }) == "--pull-policy=sometimes: expected never, new or update");
    CHECK(
        parse_error({ "--platform=linux", "img" }) == "--platform=linux: expected OS/ARCH[/VARIANT], e.g. linux/amd64");
    CHECK(
        parse_error({ "img", "--platform=linux/amd64" }) == "--platform is a pod flag: give it before the first image");
    auto help = run_args_help();
    CHECK(help.find("--pull-policy=VALUE") != std::string::npos);
    CHECK(help.find("--platform=VALUE") != std::string::npos);
}

TEST_CASE("run args: --memory and --cpu are app flags with quantities")
{
    auto a = parse_ok({ "a.aci", "--memory=64M", "--cpu=500m", "---", "b.aci", "--memory", "1Gi" });
    REQUIRE(a.spec.apps.size() == 2);
    CHECK(a.spec.apps[0].memory == 64000000u);
    CHECK(a.spec.apps[0].cpu_millicores == 500u);
    CHECK(a.spec.apps[1].memory == (uint64_t(1) << 30));
    CHECK(!a.spec.apps[1].cpu_millicores);
    CHECK(parse_error({ "a.aci", "--memory=lots" }).starts_with("--memory=lots: "));
    CHECK(parse_error({ "a.aci", "--memory=100" }) == "--memory=100: at least 4096 bytes");
    CHECK(parse_error({ "a.aci", "--cpu=5m" }) == "--cpu=5m: at least 10m");
    CHECK(parse_error({ "--cpu=1", "a.aci" }) == "--cpu is an app flag: give it after the image it applies to");
    CHECK(parse_cpu_flag("2").value() == 2000u);
}

TEST_CASE("run args: --cap-retain and --cap-remove normalise names, add up, exclude each other")
{
    using stage0::SetMode;
    auto a = parse_ok({ "a.aci", "--cap-retain=net_admin,CAP_NET_BIND_SERVICE", "--cap-retain", "Cap_Net_Admin,chown",
        "---", "b.aci", "--cap-remove=SYS_CHROOT" });
    REQUIRE(a.spec.apps[0].capabilities);
    CHECK(a.spec.apps[0].capabilities->mode == SetMode::Retain);
    CHECK(a.spec.apps[0].capabilities->set
        == std::vector<std::string> { "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_CHOWN" });
    REQUIRE(a.spec.apps[1].capabilities);
    CHECK(a.spec.apps[1].capabilities->mode == SetMode::Remove);
    CHECK(a.spec.apps[1].capabilities->set == std::vector<std::string> { "CAP_SYS_CHROOT" });
    CHECK(!parse_ok({ "a.aci" }).spec.apps[0].capabilities);

    CHECK(parse_error({ "a.aci", "--cap-retain=CAP_FOO" }) == "--cap-retain=CAP_FOO: unknown capability 'CAP_FOO'");
    CHECK(
        parse_error({ "a.aci", "--cap-remove=chown,bogus" }) == "--cap-remove=chown,bogus: unknown capability 'bogus'");
    CHECK(parse_error({ "a.aci", "--cap-retain=" }) == "--cap-retain=: expected CAP[,CAP...] without empty names");
    CHECK(parse_error({ "a.aci", "--cap-retain=chown,,kill" }).starts_with("--cap-retain=chown,,kill: expected"));
    CHECK(parse_error({ "a.aci", "--cap-retain=chown", "--cap-remove=kill" })
        == "--cap-retain and --cap-remove exclude each other (image a.aci)");
    CHECK(parse_error({ "--cap-remove=kill", "a.aci" })
        == "--cap-remove is an app flag: give it after the image it applies to");
}

TEST_CASE("run args: --seccomp takes rkt's syntax")
{
    using stage0::SetMode;
    auto a = parse_ok({ "a.aci", "--seccomp=mode=remove,errno=eperm,@mount,reboot,reboot,@system-service" });
    REQUIRE(a.spec.apps[0].seccomp);
    auto& s = *a.spec.apps[0].seccomp;
    CHECK(s.mode == SetMode::Remove);
    CHECK(s.errno_name == "EPERM");
    CHECK(s.set == std::vector<std::string> { "@mount", "reboot", "@system-service" });
    auto r = parse_seccomp_flag("mode=retain,read,write,exit_group,pread64").value();
    CHECK(r.mode == SetMode::Retain);
    CHECK(!r.errno_name);
    CHECK(r.set.size() == 4);
    CHECK(parse_seccomp_flag("mode=retain,errno=ENOTSUP,read")->errno_name == "ENOTSUP");

    auto err = [](std::string_view v) { return parse_seccomp_flag(v).error().message(); };
    CHECK(err("reboot") == "--seccomp=reboot: expected mode=retain or mode=remove first");
    CHECK(err("mode=keep,reboot") == "--seccomp=mode=keep,reboot: expected mode=retain or mode=remove first");
    CHECK(err("mode=remove") == "--seccomp=mode=remove: no system calls given");
    CHECK(err("mode=remove,errno=EPERM") == "--seccomp=mode=remove,errno=EPERM: no system calls given");
    CHECK(err("mode=remove,errno=EBOGUS,reboot")
        == "--seccomp=mode=remove,errno=EBOGUS,reboot: unknown errno name 'EBOGUS'");
    CHECK(err("mode=remove,errno=,reboot") == "--seccomp=mode=remove,errno=,reboot: unknown errno name ''");
    CHECK(err("mode=remove,reboot,errno=EPERM")
        == "--seccomp=mode=remove,reboot,errno=EPERM: 'errno=EPERM' out of place (mode= comes first, errno= second)");
    CHECK(err("mode=remove,Reboot") == "--seccomp=mode=remove,Reboot: 'Reboot' is not a system call name or @group");
    CHECK(err("mode=remove,reboot,") == "--seccomp=mode=remove,reboot,: '' is not a system call name or @group");
    CHECK(err("mode=remove,@") == "--seccomp=mode=remove,@: '@' is not a system call name or @group");
    CHECK(err("mode=remove,@appc.io/all")
        == "--seccomp=mode=remove,@appc.io/all: '@appc.io/all' is not a system call name or @group");
    CHECK(parse_error({ "a.aci", "--seccomp=mode=remove,reboot", "--seccomp=mode=remove,swapon" })
        == "--seccomp given twice for image a.aci (one filter per app)");
}

TEST_CASE("run args: help lists the isolator flags")
{
    auto help = run_args_help();
    for (auto flag : { "--cap-retain=VALUE", "--cap-remove=VALUE", "--seccomp=VALUE" })
        CHECK(help.find(flag) != std::string::npos);
    CHECK(help.find("the pod's cgroup and the app's isolator") != std::string::npos);
}
