// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"
#include "stage1/kvm/kvm.h"

#include <algorithm>
#include <doctest/doctest.h>
#include <unistd.h>

using namespace capsule;
using namespace capsule::stage1::kvm;

namespace {

bool has_pair(const std::vector<std::string>& cmd, const std::string& flag, const std::string& value)
{
    for (size_t i = 0; i + 1 < cmd.size(); ++i)
        if (cmd[i] == flag && cmd[i + 1] == value)
            return true;
    return false;
}

} // namespace

TEST_CASE("modules load after what they depend on; built-in ones are left out")
{
    std::string dep = "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
                      "kernel/drivers/virtio/virtio_ring.ko:\n"
                      "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko "
                      "kernel/drivers/virtio/virtio_ring.ko\n"
                      "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko "
                      "kernel/drivers/virtio/virtio_ring.ko\n"
                      "kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko\n";
    std::string builtin = "kernel/fs/ext4/ext4.ko\n";
    auto order = module_load_order_from(dep, builtin, { "virtio_mmio", "virtio_blk", "ext4", "virtio_rng" });
    REQUIRE(order);
    CHECK(*order
        == std::vector<std::string> { "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
            "kernel/drivers/virtio/virtio_mmio.ko", "kernel/drivers/block/virtio_blk.ko",
            "kernel/drivers/char/hw_random/virtio-rng.ko" });
    auto missing = module_load_order_from(dep, builtin, { "vsock" });
    REQUIRE(!missing);
    CHECK(missing.error().message() == "kernel module 'vsock' is neither built in nor in modules.dep");
    auto loop = module_load_order_from("a.ko: b.ko\nb.ko: a.ko\n", "", { "a" });
    CHECK(loop); // each visited once: a loop in modules.dep cannot recurse forever
}

TEST_CASE("the VM's size: memory and vCPUs from the apps' isolators")
{
    CHECK(vm_memory_mib({}) == 512 + 128);
    CHECK(vm_memory_mib({ 64ULL << 20 }) == 64 + 128);
    CHECK(vm_memory_mib({ 64ULL << 20, 100'000'000 }) == 64 + 96 + 128); // 100 MB rounds up to 96 MiB
    CHECK(vm_cpus({}, 8) == 1);
    CHECK(vm_cpus({ 500 }, 8) == 1);
    CHECK(vm_cpus({ 1500, 1000 }, 8) == 3);
    CHECK(vm_cpus({ 16000 }, 4) == 4);
}

TEST_CASE("qemu's command line: microvm, the disk, one port per stream, the TSC for TCG")
{
    VmSpec s;
    s.qemu = "/usr/bin/qemu-system-x86_64";
    s.name = "capsule-x";
    s.memory_mib = 192;
    s.cpus = 2;
    s.kernel = "/boot/vmlinuz";
    s.initrd = "/pod/kvm/initrd";
    s.disk = "/pod/kvm/disk.img";
    s.console_log = "/pod/kvm/console.log";
    s.tsc_khz = 2600000;
    s.control_fd = 5;
    s.app_fds = { { 7, 8 }, { 9, 10 } };
    auto cmd = qemu_command(s);
    CHECK(cmd.front() == s.qemu);
    CHECK(has_pair(cmd, "-machine", "microvm"));
    CHECK(has_pair(cmd, "-accel", "tcg,tb-size=64"));
    CHECK(has_pair(cmd, "-m", "192"));
    CHECK(has_pair(cmd, "-smp", "2"));
    CHECK(has_pair(cmd, "-serial", "file:/pod/kvm/console.log"));
    CHECK(has_pair(cmd, "-device", "virtio-serial-device,max_ports=6"));
    CHECK(has_pair(cmd, "-chardev", "socket,id=control,fd=5"));
    CHECK(has_pair(cmd, "-device", "virtserialport,chardev=control,name=capsule.control"));
    CHECK(has_pair(cmd, "-chardev", "socket,id=err1,fd=10"));
    CHECK(has_pair(cmd, "-device", "virtserialport,chardev=err1,name=capsule.err.1"));
    auto append = std::find(cmd.begin(), cmd.end(), "-append");
    REQUIRE(append != cmd.end());
    CHECK(append[1].ends_with(" tsc_early_khz=2600000"));
    s.accel = Accel::Kvm;
    s.tsc_khz = 0;
    cmd = qemu_command(s);
    CHECK(has_pair(cmd, "-accel", "kvm"));
    CHECK(std::find(cmd.begin(), cmd.end(), "-append")[1].find("tsc_early_khz") == std::string::npos);
}

TEST_CASE("the guest's configuration survives JSON; a broken one is an error")
{
    GuestConfig c;
    c.modules = { "virtio.ko" };
    c.hostname = "pod";
    c.stop_timeout_sec = 3;
    GuestApp a;
    a.name = "app";
    a.root = "/pod/opt/stage2/app/rootfs";
    a.argv = { "/bin/sh", "-c", "echo \"hi\"" };
    a.env = { "PATH=/bin", "X=a b" };
    a.working_dir = "/tmp";
    a.uid = 1000;
    a.gid = 50;
    a.groups = { 50, 60 };
    a.mounts = { { "/pod/capsule/volumes/data", "/data", true } };
    c.apps = { a };
    auto back = parse_guest_config(guest_config_json(c));
    REQUIRE(back);
    CHECK(back->modules == c.modules);
    CHECK(back->hostname == "pod");
    CHECK(back->stop_timeout_sec == 3);
    REQUIRE(back->apps.size() == 1);
    auto& b = back->apps[0];
    CHECK(b.argv == a.argv);
    CHECK(b.env == a.env);
    CHECK(b.uid == 1000);
    CHECK(b.groups == a.groups);
    REQUIRE(b.mounts.size() == 1);
    CHECK(b.mounts[0].target == "/data");
    CHECK(b.mounts[0].read_only);
    CHECK(port_name(false, 3) == "capsule.out.3");
    CHECK(port_name(true, 0) == "capsule.err.0");
    CHECK(!parse_guest_config("{\"modules\": []}"));
    CHECK(!parse_guest_config("not json"));
}

TEST_CASE("the kernel release comes from the bzImage header; other files are refused")
{
    char tmpl[] = "/tmp/capsule-kvm-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    std::string dir = tmpl;
    std::string image(0x400, '\0');
    image.replace(0x202, 4, "HdrS");
    unsigned offset = 0x100; // the version string at 0x200 + 0x100
    image[0x20e] = static_cast<char>(offset & 0xff);
    image[0x20f] = static_cast<char>(offset >> 8);
    std::string version = "6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP";
    image.replace(0x300, version.size(), version);
    REQUIRE(write_file(dir + "/vmlinuz", image));
    auto release = kernel_release(dir + "/vmlinuz");
    REQUIRE(release);
    CHECK(*release == "6.1.0-56-cloud-amd64");
    REQUIRE(write_file(dir + "/not-a-kernel", std::string(0x400, 'x')));
    auto bad = kernel_release(dir + "/not-a-kernel");
    REQUIRE(!bad);
    CHECK(bad.error().message() == "kernel '" + dir + "/not-a-kernel': not a Linux bzImage");
    auto missing = kernel_release(dir + "/missing");
    REQUIRE(!missing);
    CHECK(missing.error().message().starts_with("kernel '" + dir + "/missing': "));
    REQUIRE(remove_tree(dir));
}
