// SPDX-License-Identifier: Apache-2.0
// The guest's init: PID 1 of the VM's initramfs. It has no one to print errors to but the
// serial console (`kvm/console.log` on the host) and the control port, so it reports there and
// powers off; the host's waiter turns a VM that ended without statuses into an error.
#include "stage1/kvm/kvm.h"

#include "lib/fd.h"
#include "lib/fs.h"
#include "stage1/common/app_process.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <map>
#include <optional>
#include <poll.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <tuple>
#include <unistd.h>

namespace capsule::stage1::kvm {

namespace {

using Clock = std::chrono::steady_clock;

void console(const std::string& line)
{
    auto text = "capsule-init: " + line + "\n";
    (void)!::write(2, text.data(), text.size());
}

[[noreturn]] void power_off()
{
    ::sync();
    // qemu runs with -no-reboot: a reboot ends it (on microvm faster than ACPI power off).
    ::reboot(RB_AUTOBOOT);
    for (;;)
        ::pause();
}

[[noreturn]] void fail(const Error& e)
{
    console("fatal: " + e.message());
    power_off();
}

Status mount_fs(
    const char* source, const std::string& target, const char* type, unsigned long flags, const char* data = nullptr)
{
    ::mkdir(target.c_str(), 0755);
    if (::mount(source, target.c_str(), type, flags, data) < 0)
        return Error::from_errno("mount " + std::string(type ? type : source) + " on '" + target + "'");
    return {};
}

Status load_modules(const GuestConfig& c)
{
    for (auto& m : c.modules) {
        auto path = "/lib/modules/" + m;
        auto fd = TRY(open_fd(path, O_RDONLY | O_CLOEXEC));
        int flags = m.ends_with(".ko") ? 0 : 4; // MODULE_INIT_COMPRESSED_FILE
        if (::syscall(SYS_finit_module, fd.get(), "", flags) < 0 && errno != EEXIST)
            return Error::from_errno("load kernel module '" + m + "'");
    }
    return {};
}

/// The virtio-serial ports by name: /sys/class/virtio-ports/vport0pN/name -> /dev/vport0pN.
std::map<std::string, std::string> find_ports()
{
    std::map<std::string, std::string> out;
    DIR* d = ::opendir("/sys/class/virtio-ports");
    if (!d)
        return out;
    while (auto* e = ::readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        auto name = read_file(std::string("/sys/class/virtio-ports/") + e->d_name + "/name");
        if (name && !name->empty()) {
            auto n = *name;
            while (!n.empty() && n.back() == '\n')
                n.pop_back();
            out[n] = std::string("/dev/") + e->d_name;
        }
    }
    ::closedir(d);
    return out;
}

/// Probing is asynchronous: wait for the disk and every port (and their device nodes).
Result<std::map<std::string, std::string>> wait_for_devices(size_t ports)
{
    auto deadline = Clock::now() + std::chrono::seconds(30);
    for (;;) {
        auto found = find_ports();
        bool ok = path_exists("/dev/vda") && found.size() >= ports;
        for (auto& [name, dev] : found)
            ok = ok && path_exists(dev);
        if (ok)
            return found;
        if (Clock::now() > deadline)
            return Error::msg("the pod's disk or ports did not appear (found " + std::to_string(found.size()) + " of "
                + std::to_string(ports) + " ports)");
        ::usleep(2000);
    }
}

/// The API file systems under `/dev` that apps expect besides devtmpfs' nodes.
Status setup_dev()
{
    TRY(mount_fs("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"));
    TRY(mount_fs("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    (void)::symlink("/proc/self/fd", "/dev/fd");
    (void)::symlink("/proc/self/fd/0", "/dev/stdin");
    (void)::symlink("/proc/self/fd/1", "/dev/stdout");
    (void)::symlink("/proc/self/fd/2", "/dev/stderr");
    return {};
}

Status make_target(const std::string& path, bool directory)
{
    TRY(mkdir_p(directory ? path : path_dirname(path)));
    if (!directory) {
        int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            return Error::from_errno("create '" + path + "'");
        ::close(fd);
    }
    return {};
}

Status bind_path(const std::string& source, const std::string& target, bool read_only)
{
    struct stat st;
    if (::stat(source.c_str(), &st) < 0)
        return Error::from_errno("'" + source + "'");
    TRY(make_target(target, S_ISDIR(st.st_mode)));
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        return Error::from_errno("bind '" + source + "' on '" + target + "'");
    if (read_only && ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, nullptr) < 0)
        return Error::from_errno("make '" + target + "' read-only");
    return {};
}

/// The app's root: the API file systems of the guest, and its volumes.
Status setup_app_root(const GuestApp& app)
{
    TRY(mount_fs("proc", app.root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    TRY(mount_fs("sysfs", app.root + "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY));
    TRY(bind_path("/dev", app.root + "/dev", false));
    for (auto& m : app.mounts)
        TRY_CTX(bind_path(m.source, app.root + m.target, m.read_only), "volume at '" + m.target + "'");
    return {};
}

struct Running {
    size_t index;
    pid_t pid;
};

/// Fork the app; the child's failure before exec comes back over a close-on-exec pipe.
Result<pid_t> start(const GuestApp& app, const std::string& out_port, const std::string& err_port)
{
    auto child = TRY(fork_reporting([&](int fd) {
        auto die = [&](const Error& e) { report_to_parent(fd, e); };
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::setsid();
        int in = ::open("/dev/null", O_RDONLY);
        int out = ::open(out_port.c_str(), O_WRONLY);
        int err = ::open(err_port.c_str(), O_WRONLY);
        if (in < 0 || out < 0 || err < 0)
            die(Error::from_errno("open the app's stdio"));
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        if (::chroot(app.root.c_str()) < 0 || ::chdir("/") < 0)
            die(Error::from_errno("enter the app's root"));
        // A working directory the image lacks is made, as the systemd flavour does.
        if (::chdir(app.working_dir.c_str()) < 0 && (!mkdir_p(app.working_dir) || ::chdir(app.working_dir.c_str()) < 0))
            die(Error::from_errno("chdir '" + app.working_dir + "'"));
        std::vector<gid_t> groups(app.groups.begin(), app.groups.end());
        if (::setgroups(groups.size(), groups.data()) < 0 || ::setgid(app.gid) < 0 || ::setuid(app.uid) < 0)
            die(Error::from_errno("set user " + std::to_string(app.uid) + ":" + std::to_string(app.gid)));
        auto argv = cstrings(app.argv);
        auto envp = cstrings(app.env);
        ::execve(argv[0], argv.data(), envp.data());
        die(Error::from_errno("exec '" + app.argv[0] + "'"));
    }));
    if (!child.report.empty()) {
        ::waitpid(child.pid, nullptr, 0);
        return Error::msg(child.report);
    }
    return child.pid;
}

class Control {
public:
    explicit Control(UniqueFd fd)
        : m_fd(std::move(fd))
    {
    }
    int fd() const { return m_fd.get(); }
    void send(const std::string& line)
    {
        auto text = line + "\n";
        if (!write_all(m_fd.get(), text, "control port"))
            console("cannot write to the control port");
    }
    /// Read what arrived; the complete lines.
    std::vector<std::string> receive()
    {
        std::vector<std::string> lines;
        char buf[256];
        ssize_t n = ::read(m_fd.get(), buf, sizeof buf);
        if (n > 0)
            m_in.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = m_in.find('\n')) != std::string::npos) {
            lines.push_back(m_in.substr(0, nl));
            m_in.erase(0, nl + 1);
        }
        return lines;
    }

private:
    UniqueFd m_fd;
    std::string m_in;
};

int exit_code(int wstatus)
{
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

[[noreturn]] void run_guest()
{
    if (auto r = mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"); !r && errno != EBUSY)
        fail(r.error());
    for (auto [src, target, type] : { std::tuple { "proc", "/proc", "proc" }, { "sysfs", "/sys", "sysfs" } })
        if (auto r = mount_fs(src, target, type, MS_NOSUID | MS_NODEV | MS_NOEXEC); !r)
            fail(r.error());
    auto text = read_file(guest_config_path);
    if (!text)
        fail(text.error());
    auto config = parse_guest_config(*text);
    if (!config)
        fail(config.error());
    if (auto r = load_modules(*config); !r)
        fail(r.error());
    auto ports = wait_for_devices(1 + 2 * config->apps.size());
    if (!ports)
        fail(ports.error());
    auto control_dev = (*ports)[std::string(port_control)];
    auto cfd = open_fd(control_dev, O_RDWR | O_CLOEXEC);
    if (!cfd)
        fail(cfd.error());
    Control control(std::move(*cfd));
    if (auto r = mount_fs("/dev/vda", guest_pod_mount, "ext4", 0); !r)
        fail(r.error());
    if (auto r = setup_dev(); !r)
        fail(r.error());
    if (!config->hostname.empty())
        (void)::sethostname(config->hostname.data(), config->hostname.size());
    control.send("ready");

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));

    std::map<pid_t, size_t> running;
    for (size_t i = 0; i < config->apps.size(); ++i) {
        auto& app = config->apps[i];
        auto root = setup_app_root(app);
        auto pid = root ? start(app, (*ports)[port_name(false, i)], (*ports)[port_name(true, i)])
                        : Result<pid_t>(root.error());
        if (!pid) {
            control.send("error " + std::to_string(i) + " " + pid.error().message());
            control.send("status " + std::to_string(i) + " 254");
            continue;
        }
        running[*pid] = i;
    }

    std::optional<Clock::time_point> kill_at;
    while (!running.empty()) {
        int timeout = -1;
        if (kill_at) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*kill_at - Clock::now()).count();
            timeout = left > 0 ? static_cast<int>(left) : 0;
        }
        pollfd fds[2] = { { sigfd.get(), POLLIN, 0 }, { control.fd(), POLLIN, 0 } };
        ::poll(fds, 2, timeout);
        if (fds[1].revents & POLLIN) {
            for (auto& line : control.receive())
                if (line == "stop" && !kill_at) {
                    for (auto& [pid, i] : running)
                        ::kill(-pid, SIGTERM);
                    kill_at = Clock::now() + std::chrono::seconds(config->stop_timeout_sec);
                } else if (line.starts_with("signal ")) {
                    int sig = std::atoi(line.c_str() + 7);
                    for (auto& [pid, i] : running)
                        if (sig > 0 && sig < 32)
                            ::kill(-pid, sig);
                }
        }
        if (kill_at && Clock::now() >= *kill_at) {
            for (auto& [pid, i] : running)
                ::kill(-pid, SIGKILL);
            kill_at = Clock::now() + std::chrono::hours(1);
        }
        signalfd_siginfo si;
        while (::read(sigfd.get(), &si, sizeof si) > 0) { }
        int wstatus;
        pid_t pid;
        while ((pid = ::waitpid(-1, &wstatus, WNOHANG)) > 0) {
            auto it = running.find(pid);
            if (it == running.end())
                continue; // an orphan the app left, reaped
            control.send("status " + std::to_string(it->second) + " " + std::to_string(exit_code(wstatus)));
            running.erase(it);
        }
    }
    // What the apps left behind goes with them, then the disk is made clean.
    ::kill(-1, SIGKILL);
    while (::waitpid(-1, nullptr, 0) > 0) { }
    ::sync();
    (void)::umount2(guest_pod_mount, MNT_DETACH);
    control.send("done");
    // Give the host the moment to read everything (it answers "ack"), then power off.
    auto deadline = Clock::now() + std::chrono::seconds(2);
    bool acked = false;
    while (!acked && Clock::now() < deadline) {
        pollfd p { control.fd(), POLLIN, 0 };
        if (::poll(&p, 1, 100) > 0)
            for (auto& line : control.receive())
                acked = acked || line == "ack";
    }
    power_off();
}

} // namespace

void guest_init()
{
    run_guest();
}

} // namespace capsule::stage1::kvm
