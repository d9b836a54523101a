// SPDX-License-Identifier: Apache-2.0
// The VM's size, qemu's command line, and the choice of accelerator.
#include "stage1/kvm/kvm.h"

#include "lib/fd.h"
#include "lib/fs.h"
#include "stage1/common/app_process.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

namespace capsule::stage1::kvm {

namespace iface = capsule::stage1_interface;

namespace {

constexpr uint64_t mib = 1024 * 1024;

/// How long a probe boot under KVM may take: a working KVM boots the kernel to its panic
/// (there is no initramfs) in well under a second; a broken one never gets there.
constexpr auto probe_timeout = std::chrono::milliseconds(3000);
constexpr const char* probe_cache = "/run/capsule/kvm-probe";

/// The kernel command line. The guest's console is the first serial port; `panic=-1` and
/// `reboot=t` with qemu's -no-reboot make any end of the guest the end of qemu.
constexpr const char* kernel_cmdline = "console=ttyS0 reboot=t panic=-1 quiet loglevel=3 rdinit=/init";
constexpr const char* tsc_cache = "/run/capsule/tsc-khz";

/// Append `line` to a file of /run/capsule (remembered until the host reboots).
void remember(const char* path, const std::string& line)
{
    if (!mkdir_p("/run/capsule"))
        return;
    int out = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (out >= 0) {
        (void)!::write(out, line.data(), line.size());
        ::close(out);
    }
}

} // namespace

uint64_t vm_memory_mib(const std::vector<uint64_t>& app_limits_bytes)
{
    uint64_t sum = 0;
    for (auto b : app_limits_bytes)
        sum += b;
    if (app_limits_bytes.empty())
        sum = iface::kvm_default_app_memory;
    return (sum + iface::kvm_guest_overhead + mib - 1) / mib;
}

unsigned vm_cpus(const std::vector<uint64_t>& app_millicores, unsigned host_cpus)
{
    uint64_t sum = 0;
    for (auto m : app_millicores)
        sum += m;
    uint64_t cpus = app_millicores.empty() ? 1 : (sum + 999) / 1000;
    if (cpus < 1)
        cpus = 1;
    if (host_cpus > 0 && cpus > host_cpus)
        cpus = host_cpus;
    return static_cast<unsigned>(cpus);
}

std::vector<std::string> qemu_command(const VmSpec& s)
{
    std::vector<std::string> c { s.qemu, "-name", s.name, "-machine", "microvm", "-accel",
        s.accel == Accel::Kvm ? "kvm" : "tcg,tb-size=64", "-m", std::to_string(s.memory_mib), "-smp",
        std::to_string(s.cpus), "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial",
        "file:" + s.console_log, "-kernel", s.kernel, "-initrd", s.initrd, "-append",
        std::string(kernel_cmdline) + (s.tsc_khz ? " tsc_early_khz=" + std::to_string(s.tsc_khz) : ""), "-drive",
        "id=pod,file=" + s.disk + ",format=raw,if=none,cache=unsafe", "-device", "virtio-blk-device,drive=pod",
        "-device", "virtio-serial-device,max_ports=" + std::to_string(2 + 2 * s.app_fds.size()) };
    auto port = [&](const std::string& id, int fd, std::string_view name) {
        c.insert(c.end(),
            { "-chardev", "socket,id=" + id + ",fd=" + std::to_string(fd), "-device",
                "virtserialport,chardev=" + id + ",name=" + std::string(name) });
    };
    port("control", s.control_fd, port_control);
    for (size_t i = 0; i < s.app_fds.size(); ++i) {
        port("out" + std::to_string(i), s.app_fds[i].first, port_name(false, i));
        port("err" + std::to_string(i), s.app_fds[i].second, port_name(true, i));
    }
    return c;
}

namespace {

/// Boot `kernel` under KVM without an initramfs: it panics at once and qemu exits.
bool kvm_boots(const std::string& qemu, const std::string& kernel)
{
    std::vector<std::string> cmd { qemu, "-machine", "microvm", "-accel", "kvm", "-m", "128", "-nodefaults",
        "-no-user-config", "-display", "none", "-no-reboot", "-serial", "null", "-kernel", kernel, "-append",
        "console=ttyS0 reboot=t panic=-1 quiet" };
    pid_t pid = ::fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        auto argv = cstrings(cmd);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + probe_timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        ::usleep(10000);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
}

} // namespace

Result<Accel> pick_accelerator(const std::string& setting, const std::string& qemu, const std::string& kernel)
{
    if (setting == "tcg")
        return Accel::Tcg;
    if (setting == "kvm")
        return Accel::Kvm;
    if (!setting.empty() && setting != "auto")
        return Error::msg("accelerator '" + setting + "': expected auto, kvm or tcg");
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        diag_debug("/dev/kvm: %s; using TCG", std::strerror(errno));
        return Accel::Tcg;
    }
    ::close(fd);
    // One probe per kernel until the host reboots (/run is a tmpfs): "<kvm|tcg> <kernel>" lines.
    if (auto cached = read_file(probe_cache)) {
        size_t pos = 0;
        while (pos < cached->size()) {
            size_t nl = cached->find('\n', pos);
            auto line = cached->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            pos = nl == std::string::npos ? cached->size() : nl + 1;
            if (line.size() > 4 && line.substr(4) == kernel)
                return line.starts_with("kvm") ? Accel::Kvm : Accel::Tcg;
        }
    }
    auto start = std::chrono::steady_clock::now();
    bool ok = kvm_boots(qemu, kernel);
    diag_debug("KVM probe boot of %s: %s after %lld ms", kernel.c_str(), ok ? "works" : "fails",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count()));
    remember(probe_cache, std::string(ok ? "kvm " : "tcg ") + kernel + "\n");
    return ok ? Accel::Kvm : Accel::Tcg;
}

uint64_t host_tsc_khz()
{
    if (auto cached = read_file(tsc_cache)) {
        auto khz = std::strtoull(cached->c_str(), nullptr, 10);
        if (khz > 0)
            return khz;
    }
    // rdtsc against CLOCK_MONOTONIC_RAW over 20 ms, each end bracketed tightly.
    auto sample = [](uint64_t& tsc, uint64_t& ns) {
        timespec ts {};
        uint64_t before = __rdtsc();
        ::clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        uint64_t after = __rdtsc();
        tsc = before + (after - before) / 2;
        ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
    };
    uint64_t t0, n0, t1, n1;
    sample(t0, n0);
    ::usleep(20000);
    sample(t1, n1);
    if (n1 <= n0 || t1 <= t0)
        return 0;
    auto khz = static_cast<uint64_t>(static_cast<double>(t1 - t0) * 1e6 / static_cast<double>(n1 - n0));
    remember(tsc_cache, std::to_string(khz) + "\n");
    return khz;
}

} // namespace capsule::stage1::kvm
