// SPDX-License-Identifier: Apache-2.0
// kvm `run`: render the pod into a disk image and an initramfs, start qemu, and stay as the
// pod's waiter: relay each app's stdout and stderr (and log them, as fly does), record exit
// statuses as the guest reports them, and turn SIGTERM into an orderly stop inside the VM.
#include "stage1/kvm/kvm.h"

#include "lib/fs.h"
#include "stage1/common/app_env.h"
#include "stage1/common/app_process.h"
#include "stage1/common/app_root.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"
#include "stage1/common/isolator_limit.h"
#include "stage1/common/log_files.h"
#include "stage1/common/mounts.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <map>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace capsule::stage1::kvm {

namespace iface = capsule::stage1_interface;

namespace {

using Clock = std::chrono::steady_clock;

/// The modules the guest loads: the virtio-mmio transport (microvm's devices, found through
/// ACPI), the pod's disk and the ports. ext4 is built into Debian's cloud kernel.
const std::vector<std::string> guest_modules { "virtio_mmio", "virtio_blk", "virtio_console", "ext4" };

/// The directory of the flavour's files in the pod: the disk image, the initramfs, the guest's
/// console and qemu's own messages.
constexpr const char* kvm_dir = "kvm";

struct Settings {
    std::string kernel;
    std::string qemu;
    std::string accelerator;
};

/// Search `name` in PATH (and the sbin directories, which a user's PATH may lack).
std::optional<std::string> find_program(const std::string& name)
{
    if (name.find('/') != std::string::npos)
        return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
    const char* env = std::getenv("PATH");
    std::string path = std::string(env ? env : "/usr/bin:/bin") + ":/usr/sbin:/sbin";
    size_t start = 0;
    while (start <= path.size()) {
        size_t colon = path.find(':', start);
        if (colon == std::string::npos)
            colon = path.size();
        auto dir = path.substr(start, colon - start);
        if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0)
            return dir + "/" + name;
        start = colon + 1;
    }
    return std::nullopt;
}

Result<Settings> settings(const Pod& pod)
{
    Settings s;
    s.kernel = pod.manifest.annotation(iface::annotation_kvm_kernel).value_or("");
    if (s.kernel.empty()) {
        glob_t g {};
        if (::glob("/boot/vmlinuz-*", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
            std::vector<std::string> found(g.gl_pathv, g.gl_pathv + g.gl_pathc);
            s.kernel = *std::max_element(
                found.begin(), found.end(), [](auto& a, auto& b) { return ::strverscmp(a.c_str(), b.c_str()) < 0; });
        }
        ::globfree(&g);
        if (s.kernel.empty())
            return Error("no guest kernel: no /boot/vmlinuz-* (install linux-image-cloud-amd64, or set \"kernel\" "
                         "in kvm.json)",
                ENOENT);
    }
    struct stat st;
    if (::stat(s.kernel.c_str(), &st) < 0)
        return Error::from_errno("guest kernel '" + s.kernel + "'");
    auto qemu = pod.manifest.annotation(iface::annotation_kvm_qemu).value_or("");
    if (qemu.empty())
        qemu = "qemu-system-x86_64";
    auto found = find_program(qemu);
    if (!found)
        return Error("qemu '" + qemu
                + "': not found or not executable (install qemu-system-x86, or set \"qemu\" in "
                  "kvm.json)",
            ENOENT);
    s.qemu = *found;
    s.accelerator = pod.manifest.annotation(iface::annotation_kvm_accelerator).value_or("");
    return s;
}

// ---- The pod's disk image. ----

struct DiskUsage {
    uint64_t bytes { 0 };
    uint64_t inodes { 0 };
};
DiskUsage g_usage;

int count_entry(const char*, const struct stat* st, int, struct FTW*)
{
    g_usage.inodes++;
    g_usage.bytes += S_ISREG(st->st_mode) ? static_cast<uint64_t>(st->st_blocks) * 512 : 4096;
    return 0;
}

/// mke2fs's -d copies the tree (through the bind mounts) into a new ext4 image sized for it
/// with room for the apps' writes; the file is sparse, so the room costs nothing until used.
Status make_disk_image(const std::string& tree, const std::string& image)
{
    g_usage = {};
    if (::nftw(tree.c_str(), count_entry, 64, FTW_PHYS) != 0)
        return Error::from_errno("measure '" + tree + "'");
    uint64_t kib = (g_usage.bytes + g_usage.bytes / 4) / 1024 + g_usage.inodes / 4 + 256 * 1024;
    uint64_t inodes = std::max<uint64_t>(g_usage.inodes * 2, 16384);
    auto mke2fs = find_program("mke2fs");
    if (!mke2fs)
        return Error("mke2fs: not found (install e2fsprogs)", ENOENT);
    std::vector<std::string> cmd { *mke2fs, "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-N",
        std::to_string(inodes), "-O", "^has_journal,^resize_inode", "-E", "lazy_itable_init=1,nodiscard", "-d", tree,
        image, std::to_string(kib) + "k" };
    diag_debug("disk image: %llu MiB of files, %llu inodes; %s", static_cast<unsigned long long>(g_usage.bytes >> 20),
        static_cast<unsigned long long>(g_usage.inodes), image.c_str());
    // Its messages come through the pipe, which stays open until it exits.
    auto child = TRY(fork_reporting([&](int fd) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        auto argv = cstrings(cmd);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }));
    auto& output = child.report;
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ::unlink(image.c_str());
        auto line = output.substr(0, output.find('\n'));
        return Error::msg("make the pod's disk image with mke2fs: " + (line.empty() ? "failed" : line));
    }
    return {};
}

/// The guest's view of one app, resolved against its rootfs (mounted in the caller's private
/// mount namespace): credentials, environment, the binary's absolute path, its volumes.
Result<GuestApp> guest_app(const Stage1Args& args, const Pod& pod, const appc::RuntimeApp& app, int rootfd)
{
    if (!app.app || app.app->exec.empty())
        return Error::msg("app '" + app.name + "' has no exec");
    GuestApp g;
    g.name = app.name;
    g.root = std::string(guest_pod_mount) + "/opt/stage2/" + app.name + "/rootfs";
    auto creds = TRY(app_credentials(app, rootfd));
    g.uid = creds.uid;
    g.gid = creds.gid;
    g.groups.assign(creds.groups.begin(), creds.groups.end());
    g.env = app_environment({ app.name, &*app.app, creds.home, args.inherit_env ? environ : nullptr, {} });
    if (!app.app->working_directory.empty())
        g.working_dir = app.app->working_directory;
    g.argv = app.app->exec;
    g.argv[0] = TRY(resolve_exec(rootfd, g.argv[0], env_value(g.env, "PATH"), g.working_dir));
    for (auto& m : app.mounts) {
        auto* vol = pod.manifest.find_volume(m.volume);
        if (!vol)
            return Error::msg("mount of undefined volume '" + m.volume + "'");
        bool ro = vol->kind == "host" || vol->read_only || mount_point_read_only(app, m.volume);
        g.mounts.push_back({ std::string(guest_pod_mount) + "/" + image_volumes_dir + "/" + vol->name, m.path, ro });
    }
    return g;
}

/// In a child with a private mount namespace (its mounts end with it): mount each app's rootfs,
/// bind the apps and the volumes they use into `<pod>/kvm/root`, resolve the apps, and make the
/// disk image from that tree. Writes the guest's configuration (apps only) to `config`.
Status stage_pod(const Stage1Args& args, const Pod& pod, const std::string& image, GuestConfig& config)
{
    auto tree = pod.dir + "/" + kvm_dir + "/root";
    TRY(mkdir_p(tree));
    auto child = TRY(fork_reporting([&](int fd) {
        auto staged = [&]() -> Status {
            TRY(enter_private_mount_ns());
            GuestConfig c;
            std::vector<std::string> volumes;
            for (auto& app : pod.manifest.apps) {
                auto ctx = "app '" + app.name + "'";
                auto rootfd = TRY_CTX(setup_app_root(pod, app, false, false), ctx);
                c.apps.push_back(TRY_CTX(guest_app(args, pod, app, rootfd.get()), ctx));
                auto target = TRY(ensure_in_root(TRY(open_fd(tree, O_PATH | O_DIRECTORY)).get(),
                    "opt/stage2/" + app.name + "/rootfs", TargetKind::Directory));
                TRY(bind_mount(pod.app_rootfs(app.name), target.get(), "the rootfs of " + ctx, BindFlags::Recursive));
                for (auto& m : app.mounts)
                    if (std::find(volumes.begin(), volumes.end(), m.volume) == volumes.end())
                        volumes.push_back(m.volume);
            }
            for (auto& name : volumes) {
                auto* vol = pod.manifest.find_volume(name);
                auto source = volume_source(pod, *vol);
                struct stat st;
                if (::stat(source.c_str(), &st) < 0)
                    return Error::from_errno("volume '" + name + "': source '" + source + "'");
                auto target = TRY(ensure_in_root(TRY(open_fd(tree, O_PATH | O_DIRECTORY)).get(),
                    std::string(image_volumes_dir) + "/" + name,
                    S_ISDIR(st.st_mode) ? TargetKind::Directory : TargetKind::File));
                TRY(bind_mount(
                    source, target.get(), "volume '" + name + "'", BindFlags::Recursive | BindFlags::ReadOnly));
            }
            TRY(make_disk_image(tree, image));
            return write_file(pod.dir + "/" + kvm_dir + "/apps.json", guest_config_json(c));
        }();
        if (!staged)
            report_to_parent(fd, staged.error());
    }));
    auto& report = child.report;
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    (void)remove_tree(tree);
    if (!report.empty())
        return Error::msg(report);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return Error::msg("preparing the pod's disk failed");
    auto apps = TRY(parse_guest_config(TRY(read_file(pod.dir + "/" + kvm_dir + "/apps.json"))));
    ::unlink((pod.dir + "/" + kvm_dir + "/apps.json").c_str());
    config.apps = std::move(apps.apps);
    return {};
}

// ---- The VM's size. ----

struct Size {
    uint64_t memory_mib;
    unsigned cpus;
};

Result<Size> vm_size(const Pod& pod)
{
    std::vector<uint64_t> memory, cpu;
    for (auto& app : pod.manifest.apps) {
        if (!app.app)
            continue;
        for (auto& i : app.app->isolators) {
            if (i.name == "resource/memory")
                memory.push_back(TRY_CTX(quantity_limit(i.value, i.name, false), "app '" + app.name + "'"));
            else if (i.name == "resource/cpu")
                cpu.push_back(TRY_CTX(quantity_limit(i.value, i.name, true), "app '" + app.name + "'"));
        }
    }
    long host = ::sysconf(_SC_NPROCESSORS_ONLN);
    return Size { vm_memory_mib(memory), vm_cpus(cpu, host > 0 ? static_cast<unsigned>(host) : 1) };
}

// ---- The waiter. ----

std::string shell_quote(const std::string& s)
{
    if (!s.empty()
        && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=,./:")
            == std::string::npos)
        return s;
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// The last non-empty line of a file (qemu's or the guest console's last word), or "".
std::string last_line(const std::string& path)
{
    auto text = read_file(path);
    if (!text)
        return {};
    auto s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    auto nl = s.find_last_of('\n');
    auto line = nl == std::string::npos ? s : s.substr(nl + 1);
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    return line;
}

class Waiter {
public:
    Waiter(const Pod& pod, int stop_timeout, std::chrono::seconds boot_timeout)
        : m_pod(pod)
        , m_stop_timeout(stop_timeout)
        , m_boot_timeout(boot_timeout)
        , m_status(pod.manifest.apps.size())
    {
        uint64_t max_size = default_log_max_size;
        if (auto m = log_max_size(pod.manifest))
            max_size = *m;
        for (auto& app : pod.manifest.apps) {
            auto log = AppLog::open(pod.dir + "/" + std::string(iface::logs_dir), app.name, max_size);
            if (!log)
                diag_warn("app log: %s, ignoring", log.error().message().c_str());
            m_logs.push_back(log ? std::optional<AppLog>(std::move(*log)) : std::nullopt);
        }
    }

    /// `streams`: each app's stdout and stderr, in the pod's order.
    int wait(pid_t qemu, int sigfd, UniqueFd control, std::vector<UniqueFd> streams)
    {
        m_control = std::move(control);
        m_streams = std::move(streams);
        for (size_t k = 0; k < m_streams.size(); ++k)
            m_pumps.push_back({ m_streams[k], k % 2 ? 2 : 1, k % 2 ? LogStream::Stderr : LogStream::Stdout });
        m_qemu = qemu;
        int wstatus = 0;
        bool exited = false;
        std::optional<Clock::time_point> kill_at;
        auto boot_deadline = Clock::now() + m_boot_timeout;
        while (!exited) {
            std::vector<pollfd> fds { { sigfd, POLLIN, 0 }, { m_control_open ? m_control.get() : -1, POLLIN, 0 } };
            for (auto& p : m_pumps)
                fds.push_back({ p.from ? p.from.get() : -1, POLLIN, 0 });
            auto deadline = kill_at ? *kill_at : m_ready ? Clock::time_point::max() : boot_deadline;
            int timeout = -1;
            if (deadline != Clock::time_point::max())
                timeout = static_cast<int>(std::max<long long>(
                    0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
            ::poll(fds.data(), fds.size(), timeout);
            if (fds[1].revents)
                read_control();
            for (size_t k = 0; k < m_pumps.size(); ++k)
                if (fds[2 + k].revents)
                    pump(m_pumps[k], log_of(k), Drain::Once);
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo si;
                while (::read(sigfd, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGCHLD)
                        continue;
                    if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT) {
                        // Forwarded to the apps, as fly does (HUP, QUIT, USR1, USR2).
                        send("signal " + std::to_string(si.ssi_signo));
                        continue;
                    }
                    if (!kill_at) {
                        diag_debug("signal %u: stopping the pod's apps", si.ssi_signo);
                        send("stop");
                        kill_at = Clock::now() + std::chrono::seconds(m_stop_timeout + 10);
                    } else {
                        diag_debug("signal %u again: killing the VM", si.ssi_signo);
                        ::kill(qemu, SIGKILL);
                    }
                }
            }
            if (!m_ready && !m_boot_failed && Clock::now() >= boot_deadline) {
                m_boot_failed = true;
                ::kill(qemu, SIGKILL);
            }
            if (kill_at && Clock::now() >= *kill_at) {
                diag_warn("the VM did not stop in time, killing it");
                ::kill(qemu, SIGKILL);
                kill_at = Clock::now() + std::chrono::hours(1);
            }
            if (::waitpid(qemu, &wstatus, WNOHANG) == qemu)
                exited = true;
        }
        // qemu is gone, and with it the other ends: read what is left, to the end.
        for (size_t k = 0; k < m_pumps.size(); ++k)
            pump(m_pumps[k], log_of(k), Drain::UntilEmpty);
        while (m_control_open && read_control()) { }
        return finish(wstatus);
    }

private:
    void send(const std::string& line)
    {
        auto text = line + "\n";
        (void)!::send(m_control.get(), text.data(), text.size(), MSG_NOSIGNAL);
    }

    /// The log of the app whose stream `m_pumps[k]` is, or null.
    AppLog* log_of(size_t k)
    {
        auto& log = m_logs[k / 2];
        return log ? &*log : nullptr;
    }

    /// Handle the control lines that arrived; false at end of file.
    bool read_control()
    {
        char buf[4096];
        ssize_t n = ::read(m_control.get(), buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return false;
        if (n <= 0) {
            m_control_open = false;
            return false;
        }
        m_in.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = m_in.find('\n')) != std::string::npos) {
            handle(m_in.substr(0, nl));
            m_in.erase(0, nl + 1);
        }
        return true;
    }

    void handle(const std::string& line)
    {
        auto sp = line.find(' ');
        auto word = line.substr(0, sp);
        if (word == "done") {
            send("ack");
            return;
        }
        if (word == "ready") {
            // The apps start now: the pod's pid (qemu's) appears, for `status` and for a service
            // manager waiting for the pod to be up.
            m_ready = true;
            if (auto r = write_pod_file(m_pod, std::string(iface::pid_file), std::to_string(m_qemu) + "\n"); !r)
                diag_warn("%s, ignoring", r.error().message().c_str());
            return;
        }
        if (sp == std::string::npos)
            return;
        auto rest = line.substr(sp + 1);
        auto sp2 = rest.find(' ');
        size_t index = std::strtoul(rest.c_str(), nullptr, 10);
        if (index >= m_status.size())
            return;
        auto& app = m_pod.manifest.apps[index];
        if (word == "status") {
            int code = std::atoi(rest.substr(sp2 == std::string::npos ? rest.size() : sp2 + 1).c_str());
            m_status[index] = code;
            diag_debug("app %s exited with status %d", app.name.c_str(), code);
            record(app.name, code);
        } else if (word == "error" && sp2 != std::string::npos) {
            diag_error(Error::msg("app '" + app.name + "': " + rest.substr(sp2 + 1)));
        }
    }

    void record(const std::string& app, int code)
    {
        ::mkdir((m_pod.dir + "/" + std::string(iface::status_dir)).c_str(), 0755);
        if (auto r = write_pod_file(m_pod, std::string(iface::status_dir) + "/" + app, std::to_string(code) + "\n"); !r)
            diag_warn("%s, ignoring", r.error().message().c_str());
    }

    /// The pod's exit status: the first non-zero app status. Apps the guest never reported
    /// were killed with the VM (128+N when qemu was killed by signal N), or the VM failed.
    int finish(int wstatus)
    {
        auto dir = m_pod.dir + "/" + kvm_dir;
        if (m_boot_failed) {
            auto console = last_line(dir + "/console.log");
            diag_error(Error::msg("the VM did not boot within " + std::to_string(m_boot_timeout.count()) + " s"
                + (console.empty() ? std::string() : " (its console's last line: " + console + ")") + "; see " + dir
                + "/console.log"));
            return exit_stage1_error;
        }
        int code = 0;
        bool vm_failed = false;
        for (size_t i = 0; i < m_status.size(); ++i) {
            auto status = m_status[i];
            if (!status && WIFSIGNALED(wstatus)) {
                status = 128 + WTERMSIG(wstatus);
                record(m_pod.manifest.apps[i].name, *status);
            }
            if (!status) {
                vm_failed = true;
                status = exit_stage1_error;
            }
            if (code == 0 && *status != 0)
                code = *status;
        }
        if (vm_failed) {
            auto why = last_line(dir + "/qemu.log");
            if (why.empty())
                why = last_line(dir + "/console.log");
            diag_error(Error::msg("the VM ended before its apps did"
                + (WIFEXITED(wstatus) && WEXITSTATUS(wstatus)
                        ? " (qemu exited with status " + std::to_string(WEXITSTATUS(wstatus)) + ")"
                        : std::string())
                + (why.empty() ? std::string() : ": " + why) + "; see " + dir + "/console.log"));
        }
        return code;
    }

    const Pod& m_pod;
    int m_stop_timeout;
    std::chrono::seconds m_boot_timeout;
    bool m_ready { false };
    pid_t m_qemu { -1 };
    bool m_boot_failed { false };
    std::vector<std::optional<int>> m_status;
    std::vector<std::optional<AppLog>> m_logs;
    UniqueFd m_control;
    bool m_control_open { true };
    std::vector<UniqueFd> m_streams;
    std::vector<Pump> m_pumps; ///< over m_streams, which is not resized once they are made
    std::string m_in;
};

Result<std::pair<UniqueFd, UniqueFd>> socket_pair()
{
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return Error::from_errno("socketpair");
    return std::pair { UniqueFd(sv[0]), UniqueFd(sv[1]) };
}

Result<pid_t> start_qemu(const std::vector<std::string>& cmd, const std::string& log, const std::vector<int>& keep)
{
    auto child = TRY(fork_reporting([&](int fd) {
        // Its own session: a terminal's ^C reaches the waiter, which stops the apps in order.
        ::setsid();
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int in = ::open("/dev/null", O_RDONLY);
        int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0)
            report_to_parent(fd, Error::from_errno("open '" + log + "'"));
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        for (int k : keep)
            ::fcntl(k, F_SETFD, 0);
        auto argv = cstrings(cmd);
        ::execv(argv[0], argv.data());
        report_to_parent(fd, Error::from_errno("exec '" + cmd[0] + "'"));
    }));
    if (!child.report.empty()) {
        ::waitpid(child.pid, nullptr, 0);
        return Error::msg(child.report);
    }
    return child.pid;
}

Result<int> run_pod(const Stage1Args& args)
{
    // Held (close-on-exec) by this waiter for as long as the VM runs: that is "running".
    auto lock = TRY(take_lock_fd());
    if (args.interactive)
        return Error::msg("--interactive is not supported by the kvm flavour (the apps' stdin is not connected)");
    auto pod = TRY(load_pod(args.uuid));
    if (pod.manifest.apps.empty())
        return Error::msg("pod " + pod.uuid + " has no apps");
    auto set = TRY(settings(pod));
    auto release = TRY(kernel_release(set.kernel));
    auto moddir = "/lib/modules/" + release;
    auto modules = TRY_CTX(module_load_order(moddir, guest_modules), "guest kernel '" + set.kernel + "'");
    auto size = TRY(vm_size(pod));
    auto accel = TRY(pick_accelerator(set.accelerator, set.qemu, set.kernel));

    auto dir = pod.dir + "/" + kvm_dir;
    TRY(mkdir_p(dir));
    GuestConfig config;
    config.hostname = args.hostname.empty() ? "capsule-" + pod.uuid.substr(0, 8) : args.hostname;
    for (auto& m : modules)
        config.modules.push_back(path_basename(m));
    auto image = dir + "/disk.img";
    TRY(stage_pod(args, pod, image, config));
    auto initrd = dir + "/initrd";
    // Read by qemu as it starts; not kept, whatever happens next.
    struct Unlink {
        std::string path;
        ~Unlink() { ::unlink(path.c_str()); }
    } initrd_guard { initrd };
    TRY(write_initramfs(initrd, "/proc/self/exe", moddir, modules, guest_config_json(config)));

    VmSpec vm;
    vm.qemu = set.qemu;
    vm.name = "capsule-" + pod.uuid;
    vm.accel = accel;
    vm.memory_mib = size.memory_mib;
    vm.cpus = size.cpus;
    vm.kernel = set.kernel;
    vm.initrd = initrd;
    vm.disk = image;
    vm.console_log = dir + "/console.log";
    if (accel == Accel::Tcg)
        vm.tsc_khz = host_tsc_khz();
    auto [control, control_vm] = TRY(socket_pair());
    vm.control_fd = control_vm.get();
    std::vector<int> keep { control_vm.get() };
    std::vector<UniqueFd> streams;
    std::vector<UniqueFd> vm_ends;
    for (size_t i = 0; i < pod.manifest.apps.size(); ++i) {
        auto [out, out_vm] = TRY(socket_pair());
        auto [err, err_vm] = TRY(socket_pair());
        vm.app_fds.emplace_back(out_vm.get(), err_vm.get());
        keep.push_back(out_vm.get());
        keep.push_back(err_vm.get());
        streams.push_back(std::move(out));
        streams.push_back(std::move(err));
        vm_ends.push_back(std::move(out_vm));
        vm_ends.push_back(std::move(err_vm));
    }
    auto cmd = qemu_command(vm);
    std::string line;
    for (auto& a : cmd)
        line += (line.empty() ? "" : " ") + shell_quote(a);
    diag_debug("qemu command: %s", line.c_str());

    sigset_t mask;
    sigemptyset(&mask);
    for (int s : { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 })
        sigaddset(&mask, s);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd)
        return Error::from_errno("signalfd");

    auto qemu = TRY(start_qemu(cmd, dir + "/qemu.log", keep));
    control_vm.reset();
    vm_ends.clear();
    if (auto r = write_pod_file(pod, std::string(kvm_dir) + "/waiter", std::to_string(::getpid()) + "\n"); !r)
        diag_warn("%s, ignoring", r.error().message().c_str());
    // A guest that has not reported "ready" by then is stuck in its boot: killed, and said so.
    Waiter w(pod, config.stop_timeout_sec, std::chrono::seconds(accel == Accel::Tcg ? 120 : 30));
    return w.wait(qemu, sigfd.get(), std::move(control), std::move(streams));
}

} // namespace

int run(const Stage1Args& args)
{
    return exit_status(run_pod(args));
}

} // namespace capsule::stage1::kvm
