// SPDX-License-Identifier: Apache-2.0
#include "stage0/systemd.h"

#include <algorithm>
#include <csignal>
#include <limits>

#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::stage0::systemd;

namespace {

constexpr uint64_t infinity = std::numeric_limits<uint64_t>::max();

UnitProperty parsed(std::string_view assignment)
{
    auto p = parse_unit_property(assignment);
    if (!p)
        FAIL(p.error().message());
    return p.release_value();
}

template<typename T> T value_of(std::string_view assignment, std::string_view dbus_name)
{
    auto p = parsed(assignment);
    CHECK(p.name == dbus_name);
    const T* v = std::get_if<T>(&p.value);
    if (!v)
        FAIL("wrong D-Bus type for " << assignment);
    return *v;
}

std::string error_of(std::string_view assignment)
{
    auto p = parse_unit_property(assignment);
    if (p)
        FAIL("accepted: " << assignment);
    CHECK(p.error().code() == EINVAL);
    CHECK(p.error().message().find('\n') == std::string::npos);
    return p.error().message();
}

} // namespace

TEST_CASE("unit properties: strings and choices")
{
    CHECK(value_of<std::string>("Description=my pod", "Description") == "my pod");
    CHECK(value_of<std::string>("Description=", "Description") == "");
    CHECK(value_of<std::string>("Slice=machine.slice", "Slice") == "machine.slice");
    CHECK(value_of<std::string>("Slice=pods-web.slice", "Slice") == "pods-web.slice");
    CHECK(value_of<std::string>("KillMode=mixed", "KillMode") == "mixed");
    CHECK(value_of<std::string>("Restart=on-failure", "Restart") == "on-failure");
    CHECK(value_of<std::string>("Type=exec", "Type") == "exec");
    CHECK(value_of<std::string>("NotifyAccess=all", "NotifyAccess") == "all");
    CHECK(value_of<std::string>("CollectMode=inactive-or-failed", "CollectMode") == "inactive-or-failed");
    CHECK(value_of<std::string>("OOMPolicy=kill", "OOMPolicy") == "kill");
    CHECK(value_of<std::string>("User=nobody", "User") == "nobody");
    CHECK(value_of<std::string>("Group=1000", "Group") == "1000");
    CHECK(value_of<std::string>("WorkingDirectory=/srv/app", "WorkingDirectory") == "/srv/app");
    CHECK(value_of<std::string>("WorkingDirectory=~", "WorkingDirectory") == "~");
    CHECK(value_of<std::string>("WorkingDirectory=-/maybe", "WorkingDirectory") == "-/maybe");
}

TEST_CASE("unit properties: booleans")
{
    for (auto name : { "Delegate", "SendSIGKILL", "CPUAccounting", "MemoryAccounting", "IOAccounting",
             "TasksAccounting", "RemainAfterExit" }) {
        for (auto yes : { "yes", "true", "on", "1", "YES", "True" })
            CHECK(value_of<bool>(std::string(name) + "=" + yes, name) == true);
        for (auto no : { "no", "false", "off", "0", "No" })
            CHECK(value_of<bool>(std::string(name) + "=" + no, name) == false);
    }
    CHECK(error_of("Delegate=maybe")
        == "unit property 'Delegate=maybe': not a boolean (yes, no, true, false, on, off, 1, 0)");
    CHECK(error_of("Delegate=").starts_with("unit property 'Delegate=': not a boolean"));
}

TEST_CASE("unit properties: sizes, base 1024")
{
    CHECK(value_of<uint64_t>("MemoryMax=1G", "MemoryMax") == 1ULL << 30);
    CHECK(value_of<uint64_t>("MemoryMax=512M", "MemoryMax") == 512ULL << 20);
    CHECK(value_of<uint64_t>("MemoryMax=1.5G", "MemoryMax") == 3ULL << 29);
    CHECK(value_of<uint64_t>("MemoryMax=4096", "MemoryMax") == 4096);
    CHECK(value_of<uint64_t>("MemoryMax=4096B", "MemoryMax") == 4096);
    CHECK(value_of<uint64_t>("MemoryMax=infinity", "MemoryMax") == infinity);
    CHECK(value_of<uint64_t>("MemoryHigh=64K", "MemoryHigh") == 64 * 1024);
    CHECK(value_of<uint64_t>("MemoryLow=2T", "MemoryLow") == 2ULL << 40);
    CHECK(value_of<uint64_t>("MemoryMin=0", "MemoryMin") == 0);
    CHECK(value_of<uint64_t>("MemorySwapMax=0", "MemorySwapMax") == 0);
    CHECK(value_of<uint64_t>("MemoryLimit=1M", "MemoryLimit") == 1 << 20);
    CHECK(error_of("MemoryMax=abc") == "unit property 'MemoryMax=abc': not a size");
    for (auto bad : { "MemoryMax=", "MemoryMax=1X", "MemoryMax=-1", "MemoryMax=1 G", "MemoryMax=50%", "MemoryMax=1.5",
             "MemoryMax=G", "MemoryMax=1.G", "MemoryMax=99999999999999999999", "MemoryMax=16777216T", "MemoryMax=1GB" })
        CHECK_MESSAGE(error_of(bad).ends_with(": not a size"), bad);
}

TEST_CASE("unit properties: counts, weights and limits")
{
    CHECK(value_of<uint64_t>("TasksMax=512", "TasksMax") == 512);
    CHECK(value_of<uint64_t>("TasksMax=infinity", "TasksMax") == infinity);
    CHECK(error_of("TasksMax=10%") == "unit property 'TasksMax=10%': not a number or infinity");
    CHECK(value_of<uint64_t>("LimitNOFILE=65536", "LimitNOFILE") == 65536);
    CHECK(value_of<uint64_t>("LimitNPROC=infinity", "LimitNPROC") == infinity);
    CHECK(value_of<uint64_t>("LimitCORE=0", "LimitCORE") == 0);
    CHECK(value_of<uint64_t>("LimitMEMLOCK=8192", "LimitMEMLOCK") == 8192);
    CHECK(error_of("LimitNOFILE=lots") == "unit property 'LimitNOFILE=lots': not a number or infinity");

    CHECK(value_of<uint64_t>("CPUWeight=1", "CPUWeight") == 1);
    CHECK(value_of<uint64_t>("CPUWeight=10000", "CPUWeight") == 10000);
    CHECK(value_of<uint64_t>("IOWeight=500", "IOWeight") == 500);
    CHECK(value_of<uint64_t>("StartupCPUWeight=50", "StartupCPUWeight") == 50);
    CHECK(value_of<uint64_t>("CPUShares=1024", "CPUShares") == 1024);
    CHECK(value_of<uint64_t>("BlockIOWeight=100", "BlockIOWeight") == 100);
    CHECK(error_of("CPUWeight=0") == "unit property 'CPUWeight=0': not a number in 1..10000");
    CHECK(error_of("CPUWeight=10001") == "unit property 'CPUWeight=10001': not a number in 1..10000");
    CHECK(error_of("IOWeight=-5") == "unit property 'IOWeight=-5': not a number in 1..10000");
    CHECK(error_of("BlockIOWeight=5") == "unit property 'BlockIOWeight=5': not a number in 10..1000");

    CHECK(value_of<uint32_t>("StartLimitBurst=5", "StartLimitBurst") == 5);
    CHECK(error_of("StartLimitBurst=4294967296")
        == "unit property 'StartLimitBurst=4294967296': not a number in 0..4294967295");
}

TEST_CASE("unit properties: CPUQuota becomes CPU time per second")
{
    CHECK(value_of<uint64_t>("CPUQuota=50%", "CPUQuotaPerSecUSec") == 500000);
    CHECK(value_of<uint64_t>("CPUQuota=1%", "CPUQuotaPerSecUSec") == 10000);
    CHECK(value_of<uint64_t>("CPUQuota=200%", "CPUQuotaPerSecUSec") == 2000000);
    CHECK(value_of<uint64_t>("CPUQuota=12.5%", "CPUQuotaPerSecUSec") == 125000);
    for (auto bad : { "CPUQuota=50", "CPUQuota=0%", "CPUQuota=%", "CPUQuota=-5%", "CPUQuota=1.234%", "CPUQuota=x%" })
        CHECK_MESSAGE(error_of(bad).ends_with(": not a percentage above 0 (like 50% or 200%)"), bad);
}

TEST_CASE("unit properties: time spans in microseconds, with the Sec→USec name")
{
    CHECK(value_of<uint64_t>("RestartSec=5", "RestartUSec") == 5000000);
    CHECK(value_of<uint64_t>("RestartSec=5s", "RestartUSec") == 5000000);
    CHECK(value_of<uint64_t>("RestartSec=100ms", "RestartUSec") == 100000);
    CHECK(value_of<uint64_t>("RestartSec=1.5s", "RestartUSec") == 1500000);
    CHECK(value_of<uint64_t>("TimeoutStartSec=2min", "TimeoutStartUSec") == 120000000);
    CHECK(value_of<uint64_t>("TimeoutStopSec=1min 30s", "TimeoutStopUSec") == 90000000);
    CHECK(value_of<uint64_t>("TimeoutStopSec=2h30m", "TimeoutStopUSec") == 9000000000);
    CHECK(value_of<uint64_t>("RuntimeMaxSec=1h", "RuntimeMaxUSec") == 3600000000);
    CHECK(value_of<uint64_t>("RuntimeMaxSec=infinity", "RuntimeMaxUSec") == infinity);
    CHECK(value_of<uint64_t>("WatchdogSec=30 s", "WatchdogUSec") == 30000000);
    CHECK(value_of<uint64_t>("WatchdogSec=500us", "WatchdogUSec") == 500);
    CHECK(value_of<uint64_t>("StartLimitIntervalSec=1d", "StartLimitIntervalUSec") == 86400000000);
    CHECK(value_of<uint64_t>("StartLimitIntervalSec=0", "StartLimitIntervalUSec") == 0);
    for (auto bad : { "RestartSec=", "RestartSec=soon", "RestartSec=5 parsecs", "RestartSec=-1s", "RestartSec=s",
             "RestartSec=1..5s", "RestartSec=99999999999y" })
        CHECK_MESSAGE(error_of(bad).ends_with(": not a time span (like 5s, 100ms, 1min 30s or infinity)"), bad);
}

TEST_CASE("unit properties: signed numbers and signals")
{
    CHECK(value_of<int32_t>("Nice=-20", "Nice") == -20);
    CHECK(value_of<int32_t>("Nice=19", "Nice") == 19);
    CHECK(value_of<int32_t>("OOMScoreAdjust=-1000", "OOMScoreAdjust") == -1000);
    CHECK(value_of<int32_t>("OOMScoreAdjust=500", "OOMScoreAdjust") == 500);
    CHECK(error_of("Nice=20") == "unit property 'Nice=20': not a number in -20..19");
    CHECK(error_of("Nice=high") == "unit property 'Nice=high': not a number in -20..19");
    CHECK(error_of("OOMScoreAdjust=1001") == "unit property 'OOMScoreAdjust=1001': not a number in -1000..1000");

    CHECK(value_of<int32_t>("KillSignal=SIGTERM", "KillSignal") == SIGTERM);
    CHECK(value_of<int32_t>("KillSignal=INT", "KillSignal") == SIGINT);
    CHECK(value_of<int32_t>("KillSignal=9", "KillSignal") == SIGKILL);
    CHECK(value_of<int32_t>("KillSignal=SIGRTMIN+4", "KillSignal") == SIGRTMIN + 4);
    CHECK(value_of<int32_t>("KillSignal=RTMIN", "KillSignal") == SIGRTMIN);
    CHECK(value_of<int32_t>("KillSignal=SIGRTMAX-1", "KillSignal") == SIGRTMAX - 1);
    for (auto bad : { "KillSignal=", "KillSignal=SIGFOO", "KillSignal=0", "KillSignal=65", "KillSignal=sigterm",
             "KillSignal=SIGRTMIN+99", "KillSignal=SIGRTMIN-1" })
        CHECK_MESSAGE(error_of(bad).ends_with(": not a signal (like SIGTERM, TERM, SIGRTMIN+4 or 15)"), bad);
}

TEST_CASE("unit properties: lists")
{
    using Strings = std::vector<std::string>;
    CHECK(value_of<Strings>("After=network-online.target", "After") == Strings { "network-online.target" });
    CHECK(value_of<Strings>("Wants=a.service  b.socket", "Wants") == Strings { "a.service", "b.socket" });
    for (auto name : { "Before", "Requires", "BindsTo", "PartOf", "Conflicts" })
        CHECK(value_of<Strings>(std::string(name) + "=x@1.service", name) == Strings { "x@1.service" });
    CHECK(error_of("After=network") == "unit property 'After=network': 'network' is not a unit name");
    CHECK(error_of("After=a.service b/c.service")
        == "unit property 'After=a.service b/c.service': 'b/c.service' is not a unit name");

    CHECK(value_of<Strings>("Environment=A=1 B=2", "Environment") == Strings { "A=1", "B=2" });
    CHECK(value_of<Strings>(R"(Environment="GREETING=hello world" EMPTY=)", "Environment")
        == Strings { "GREETING=hello world", "EMPTY=" });
    CHECK(value_of<Strings>(R"(Environment=X='a "b"' Y=c\ d)", "Environment") == Strings { R"(X=a "b")", "Y=c d" });
    CHECK(error_of("Environment=A=1 B") == "unit property 'Environment=A=1 B': 'B' is not NAME=VALUE");
    CHECK(error_of("Environment=1A=x") == "unit property 'Environment=1A=x': '1A=x' is not NAME=VALUE");
    CHECK(error_of(R"(Environment="A=1)") == R"(unit property 'Environment="A=1': unterminated quote or escape)");
}

TEST_CASE("unit properties: LogExtraFields is one journal field")
{
    using Bytes = std::vector<std::vector<uint8_t>>;
    auto v = value_of<Bytes>("LogExtraFields=POD=web 1", "LogExtraFields");
    REQUIRE(v.size() == 1);
    CHECK(std::string(v[0].begin(), v[0].end()) == "POD=web 1");
    CHECK(value_of<Bytes>("LogExtraFields=CAPSULE_POD_2=x", "LogExtraFields").size() == 1);
    for (auto bad : { "LogExtraFields=pod=x", "LogExtraFields=_POD=x", "LogExtraFields=POD", "LogExtraFields==x",
             "LogExtraFields=2POD=x", "LogExtraFields=PO-D=x" })
        CHECK_MESSAGE(error_of(bad).find("not FIELD=VALUE") != std::string::npos, bad);
}

TEST_CASE("unit properties: bad string values")
{
    CHECK(error_of("KillMode=gentle")
        == "unit property 'KillMode=gentle': not one of control-group, process, mixed, none");
    CHECK(error_of("Type=")
        == "unit property 'Type=': not one of simple, exec, forking, oneshot, dbus, notify, notify-reload, idle");
    CHECK(error_of("Slice=machine") == "unit property 'Slice=machine': not a slice name (like machine.slice)");
    CHECK(error_of("User=") == "unit property 'User=': not a single word");
    CHECK(error_of("User=a b") == "unit property 'User=a b': not a single word");
    CHECK(error_of("WorkingDirectory=relative")
        == "unit property 'WorkingDirectory=relative': not an absolute path or ~");
}

TEST_CASE("unit properties: unknown names and missing '='")
{
    CHECK(error_of("ExecStart=/bin/sh") == "unit property 'ExecStart' is not supported (see capsule-run(1))");
    CHECK(error_of("memorymax=1G") == "unit property 'memorymax' is not supported (see capsule-run(1))");
    CHECK(
        error_of("CPUQuotaPerSecUSec=1") == "unit property 'CPUQuotaPerSecUSec' is not supported (see capsule-run(1))");
    CHECK(error_of("MemoryMax") == "unit property 'MemoryMax': expected NAME=VALUE");
    CHECK(error_of("") == "unit property '': expected NAME=VALUE");
    CHECK(error_of("=1G") == "unit property '=1G': expected NAME=VALUE");
}

TEST_CASE("unit properties: the supported list is sorted, unique and all parse")
{
    auto& names = supported_unit_properties();
    CHECK(names.size() >= 50);
    CHECK(std::ranges::is_sorted(names));
    CHECK(std::ranges::adjacent_find(names) == names.end());
    for (auto name :
        { "MemoryMax", "CPUQuota", "RestartSec", "Environment", "LogExtraFields", "KillSignal", "Delegate" })
        CHECK_MESSAGE(std::ranges::binary_search(names, std::string(name)), name);
    // Every listed name is known to the parser (a bad value, never "not supported").
    for (auto& name : names) {
        auto p = parse_unit_property(name + "=\x01");
        if (!p)
            CHECK_MESSAGE(p.error().message().find("not supported") == std::string::npos, name);
    }
}
