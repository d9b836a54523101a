// SPDX-License-Identifier: Apache-2.0
#include "stage0/kvm_config.h"

#include "lib/fs.h"
#include "stage1/common/interface.h"

#include <doctest/doctest.h>
#include <unistd.h>

using namespace capsule;
using namespace capsule::stage0;

namespace {

constexpr std::string_view header = R"("capsuleKind": "kvm", "capsuleVersion": "v1")";

std::string doc(std::string_view keys = "")
{
    return "{" + std::string(header) + (keys.empty() ? "" : ", ") + std::string(keys) + "}";
}

KvmConfig parsed(const std::string& text)
{
    auto c = parse_kvm_config(text);
    if (!c)
        FAIL(c.error().message());
    return c.release_value();
}

std::string error_of(const std::string& text)
{
    auto c = parse_kvm_config(text);
    if (c)
        FAIL("accepted: " << text);
    CHECK(c.error().message().find('\n') == std::string::npos);
    return c.error().message();
}

} // namespace

TEST_CASE("kvm.json: the header alone sets nothing")
{
    CHECK(parsed(doc()) == KvmConfig {});
    CHECK(kvm_annotations(parsed(doc())).empty());
}

TEST_CASE("kvm.json: every key")
{
    auto c = parsed(doc(R"("kernel": "/boot/vmlinuz-6.1.0-cloud-amd64", "qemu": "/usr/bin/qemu-system-x86_64",
        "accelerator": "tcg")"));
    CHECK(c.kernel == "/boot/vmlinuz-6.1.0-cloud-amd64");
    CHECK(c.qemu == "/usr/bin/qemu-system-x86_64");
    CHECK(c.accelerator == "tcg");
    for (auto a : { "auto", "kvm", "tcg" })
        CHECK(parsed(doc(R"("accelerator": ")" + std::string(a) + "\"")).accelerator == a);
    // A name for qemu is searched in PATH by the stage1: stage0 takes it as it is.
    CHECK(parsed(doc(R"("qemu": "qemu-system-x86_64")")).qemu == "qemu-system-x86_64");
}

TEST_CASE("kvm.json: bad JSON and a wrong header")
{
    CHECK(error_of("").starts_with("not valid JSON: "));
    CHECK(error_of("{\"capsuleKind\": \"kvm\",").starts_with("not valid JSON: parse error at line 1"));
    CHECK(error_of("{\n\"capsuleKind\": \"kvm\"\n\"x\": 1}").find("line 3") != std::string::npos);
    CHECK(error_of("[]") == "not a JSON object");
    CHECK(error_of(R"("kvm")") == "not a JSON object");
    CHECK(error_of(R"({"capsuleVersion": "v1"})") == R"("capsuleKind" must be "kvm" (it is missing))");
    CHECK(
        error_of(R"({"capsuleKind": "auth", "capsuleVersion": "v1"})") == R"("capsuleKind" must be "kvm", not "auth")");
    CHECK(error_of(R"({"capsuleKind": 1, "capsuleVersion": "v1"})") == R"("capsuleKind" must be "kvm", not 1)");
    CHECK(error_of(R"({"capsuleKind": "kvm"})") == R"("capsuleVersion" must be "v1" (it is missing))");
    CHECK(
        error_of(R"({"capsuleKind": "kvm", "capsuleVersion": "v2"})") == R"("capsuleVersion" must be "v1", not "v2")");
}

TEST_CASE("kvm.json: unknown keys, values that are not non-empty strings, accelerators")
{
    CHECK(error_of(doc(R"("memory": "1Gi")"))
        == R"(unknown key "memory" (known: capsuleKind, capsuleVersion, kernel, qemu, accelerator))");
    CHECK(error_of(doc(R"("Kernel": "/boot/vmlinuz")")).starts_with(R"(unknown key "Kernel")"));
    CHECK(error_of(doc(R"("kernel": 1)")) == R"("kernel" must be a string, not 1)");
    CHECK(error_of(doc(R"("qemu": null)")) == R"("qemu" must be a string, not null)");
    CHECK(
        error_of(doc(R"("qemu": ["qemu-system-x86_64"])")) == R"("qemu" must be a string, not ["qemu-system-x86_64"])");
    CHECK(error_of(doc(R"("accelerator": true)")) == R"("accelerator" must be a string, not true)");
    CHECK(error_of(doc(R"("kernel": "")")) == R"("kernel" must not be empty)");
    CHECK(error_of(doc(R"("accelerator": "xen")")) == R"("accelerator" must be auto, kvm or tcg, not "xen")");
    CHECK(error_of(doc(R"("accelerator": "KVM")")) == R"("accelerator" must be auto, kvm or tcg, not "KVM")");
}

TEST_CASE("kvm.json: merge keeps what the override does not set")
{
    KvmConfig system { "/boot/a", "qemu-a", "kvm" };
    CHECK(merge_kvm_config(system, {}) == system);
    CHECK(merge_kvm_config({}, system) == system);
    auto m = merge_kvm_config(system, { std::nullopt, "/opt/qemu", "tcg" });
    CHECK(m == KvmConfig { "/boot/a", "/opt/qemu", "tcg" });
}

TEST_CASE("kvm.json: annotations carry only the keys set")
{
    namespace iface = capsule::stage1_interface;
    auto all = kvm_annotations({ "/boot/k", "/usr/bin/qemu", "auto" });
    REQUIRE(all.size() == 3);
    CHECK(all[0].name == iface::annotation_kvm_kernel);
    CHECK(all[0].value == "/boot/k");
    CHECK(all[1].name == iface::annotation_kvm_qemu);
    CHECK(all[1].value == "/usr/bin/qemu");
    CHECK(all[2].name == iface::annotation_kvm_accelerator);
    CHECK(all[2].value == "auto");
    auto one = kvm_annotations({ std::nullopt, std::nullopt, "tcg" });
    REQUIRE(one.size() == 1);
    CHECK(one[0].name == "capsule/kvm/accelerator");
    CHECK(one[0].value == "tcg");
}

TEST_CASE("kvm.json: read from the system dir, then the local dir over it")
{
    TempDir tmp = TempDir::create("/tmp", "capsule-kvm-config-test.").release_value();
    auto sys = tmp.path() + "/system";
    auto local = tmp.path() + "/local";
    REQUIRE(mkdir_p(sys, 0755));
    REQUIRE(mkdir_p(local, 0755));

    // Neither file: nothing set, not an error (nor is a config dir that does not exist).
    CHECK(load_kvm_config(sys, local).value() == KvmConfig {});
    CHECK(load_kvm_config(tmp.path() + "/none", tmp.path() + "/none").value() == KvmConfig {});

    REQUIRE(write_file(sys + "/kvm.json", doc(R"("kernel": "/boot/sys", "qemu": "qemu-sys")")));
    CHECK(load_kvm_config(sys, local).value() == KvmConfig { "/boot/sys", "qemu-sys", std::nullopt });

    REQUIRE(write_file(local + "/kvm.json", doc(R"("qemu": "/opt/qemu", "accelerator": "tcg")")));
    CHECK(load_kvm_config(sys, local).value() == KvmConfig { "/boot/sys", "/opt/qemu", "tcg" });

    // An error names the file it is in, and a bad local file is not hidden by a good system one.
    REQUIRE(write_file(local + "/kvm.json", doc(R"("accelerator": "xen")")));
    auto bad = load_kvm_config(sys, local);
    REQUIRE(!bad);
    CHECK(bad.error().message() == local + R"(/kvm.json: "accelerator" must be auto, kvm or tcg, not "xen")");
    REQUIRE(write_file(sys + "/kvm.json", "{"));
    bad = load_kvm_config(sys, local);
    REQUIRE(!bad);
    CHECK(bad.error().message().starts_with(sys + "/kvm.json: not valid JSON: "));

    // A kvm.json that cannot be read (here: a directory) is an error, not a missing file.
    REQUIRE(::unlink((sys + "/kvm.json").c_str()) == 0);
    REQUIRE(::unlink((local + "/kvm.json").c_str()) == 0);
    REQUIRE(mkdir_p(local + "/kvm.json", 0755));
    bad = load_kvm_config(sys, local);
    REQUIRE(!bad);
    CHECK(bad.error().message() == local + "/kvm.json: Is a directory");
}
