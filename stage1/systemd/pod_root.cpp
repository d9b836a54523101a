// SPDX-License-Identifier: Apache-2.0
// The pod's root, built by the child that becomes PID 1, in a mount namespace of its own:
//
//   <pod>/stage1/rootfs (bound on itself, then pivot_root'ed into)
//     usr/            the host's /usr, read-only; bin, sbin, lib, lib64 link into it
//     etc/            tmpfs: os-release, machine-id, hostname, passwd, group, the units
//     opt/stage2/<app>/rootfs   each app: overlay (or stage0's copy) + volumes + /etc/hosts
//     capsule/stage1  this binary's directory, read-only (the units' helpers)
//     capsule/status  <pod>/status (the helpers write each app's exit status there)
//     run/ tmp/ var/  tmpfs; <pod>/journal on run/log/journal (or, linked to the host's
//                     journal, the link's target on run/log/journal/<machine-id>); the notify
//                     socket stage0 relays, if any, on run/host/notify
//     dev/            tmpfs: null, zero, full, random, urandom, tty, a new devpts, console
//     proc/ sys/      fresh, with the kernel's knobs read-only; cgroups below sys/fs/cgroup
//
// The kernel drops all of it when the pod's last process exits: nothing to unmount at gc.
#include "stage1/systemd/systemd.h"

#include "lib/fs.h"
#include "stage1/common/app_env.h"
#include "stage1/common/app_root.h"
#include "stage1/common/diag.h"
#include "stage1/common/interface.h"
#include "stage1/common/mounts.h"
#include "stage1/common/user.h"

#include <algorithm>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

namespace capsule::stage1::sd {

namespace iface = capsule::stage1_interface;

namespace {

Status do_mount(const char* src, const std::string& target, const char* type, unsigned long flags, const char* data)
{
    if (::mount(src, target.c_str(), type, flags, data) < 0)
        return Error::from_errno("mount " + std::string(type ? type : "bind") + " on '" + target + "'");
    return {};
}

Status make_dir(const std::string& path, mode_t mode = 0755)
{
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST)
        return Error::from_errno("create '" + path + "'");
    return {};
}

Status make_symlink(const std::string& target, const std::string& link)
{
    if (::symlink(target.c_str(), link.c_str()) < 0 && errno != EEXIST)
        return Error::from_errno("symlink '" + link + "'");
    return {};
}

Status bind_path(const std::string& source, const std::string& target, bool read_only, bool file = false)
{
    if (file) {
        int fd = ::open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
            return Error::from_errno("create '" + target + "'");
        ::close(fd);
    } else {
        TRY(make_dir(target));
    }
    auto fd = TRY(open_fd(target, O_PATH | O_CLOEXEC | O_NOFOLLOW));
    return bind_mount(source, fd.get(), target, read_only ? BindFlags::ReadOnly : BindFlags::Plain);
}

std::vector<std::vector<std::string>> handlers(const appc::App& app, std::string_view name)
{
    std::vector<std::vector<std::string>> out;
    for (auto& h : app.event_handlers)
        if (h.name == name && !h.exec.empty())
            out.push_back(h.exec);
    return out;
}

Status write_etc(const PodRootPlan& plan, const std::string& etc, const std::vector<AppUnit>& units)
{
    auto& pod = *plan.pod;
    TRY(make_symlink("../usr/lib/os-release", etc + "/os-release"));
    TRY(write_file(etc + "/machine-id", iface::pod_machine_id(pod.uuid) + "\n", 0444));
    TRY(write_file(etc + "/hostname", plan.hostname + "\n"));
    // systemd resolves each unit's User= and Group= here, in the pod's root: every app's
    // user and group get an entry, named as in the app's image where it names them.
    std::string passwd = "root:x:0:0:root:/root:/bin/sh\n", group = "root:x:0:\nsystemd-journal:x:101:\n";
    std::vector<uid_t> uids { 0 };
    std::vector<gid_t> gids { 0, 101 };
    auto add_group = [&](gid_t g) {
        if (std::find(gids.begin(), gids.end(), g) != gids.end())
            return;
        gids.push_back(g);
        group += "g" + std::to_string(g) + ":x:" + std::to_string(g) + ":\n";
    };
    for (auto& u : units) {
        if (std::find(uids.begin(), uids.end(), u.creds.uid) == uids.end()) {
            uids.push_back(u.creds.uid);
            auto name = u.creds.name.empty() ? "u" + std::to_string(u.creds.uid) : u.creds.name;
            passwd += name + ":x:" + std::to_string(u.creds.uid) + ":" + std::to_string(u.creds.gid)
                + "::" + (u.creds.home.empty() ? "/" : u.creds.home) + ":/bin/sh\n";
        }
        add_group(u.creds.gid);
        for (gid_t g : u.creds.groups)
            add_group(g);
    }
    TRY(write_file(etc + "/passwd", passwd));
    TRY(write_file(etc + "/group", group));
    TRY(write_file(etc + "/hosts",
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + plan.hostname + "\n"));
    TRY(make_dir(etc + "/systemd"));
    TRY(make_dir(etc + "/systemd/journald.conf.d"));
    TRY(write_file(etc + "/systemd/journald.conf.d/capsule.conf",
        "[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\nRuntimeMaxFileSize=2M\nRateLimitIntervalSec=0\n"
        "ForwardToConsole=no\nForwardToSyslog=no\nForwardToWall=no\n"));
    auto unitdir = etc + "/systemd/system";
    TRY(make_dir(unitdir));
    // Only what a pod uses: journald, the apps and the way out. systemd loads ~25 units
    // instead of the host's hundreds, and nothing of the host's configuration runs in the pod.
    for (auto* u :
        { "systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket", "shutdown.target" })
        TRY(make_symlink(std::string("/usr/lib/systemd/system/") + u, unitdir + "/" + u));
    TRY(write_file(unitdir + "/system.slice", "[Unit]\nDescription=System Slice\nDefaultDependencies=no\n"));
    // SIGRTMIN+4 (`stop`, and `run` once every app has exited) starts poweroff.target: here it
    // stops the apps in order (they conflict with shutdown.target), then PID 1 exits. Nothing is
    // unmounted first (no umount.target): the mounts end with the pod's mount namespace, and a
    // stopping app keeps its volumes until its post-stop handlers and exit hook have run.
    TRY(write_file(unitdir + "/capsule-exit.service",
        "[Unit]\nDescription=Pod exit\nDefaultDependencies=no\nRequires=shutdown.target\nAfter=shutdown.target\n"
        "SuccessAction=exit-force\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n"));
    TRY(write_file(unitdir + "/poweroff.target",
        "[Unit]\nDescription=Pod stop\nDefaultDependencies=no\nRequires=capsule-exit.service\n"
        "After=capsule-exit.service\nAllowIsolate=yes\n"));
    std::vector<std::string> names;
    for (auto& u : units) {
        TRY(write_file(unitdir + "/" + app_unit_name(u.name), app_unit_text(u)));
        names.push_back(u.name);
    }
    TRY(write_file(unitdir + "/" + pod_target, pod_target_text(names)));
    return {};
}

Status build_dev(const PodRootPlan& plan, const std::string& dev)
{
    TRY(do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k"));
    for (auto* node : { "null", "zero", "full", "random", "urandom", "tty" })
        TRY(bind_path(std::string("/dev/") + node, dev + "/" + node, false, true));
    TRY(make_dir(dev + "/pts"));
    TRY(do_mount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"));
    TRY(make_symlink("pts/ptmx", dev + "/ptmx"));
    TRY(make_dir(dev + "/shm", 01777));
    TRY(do_mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    TRY(make_dir(dev + "/mqueue"));
    TRY(bind_path(plan.console, dev + "/console", false, true));
    TRY(make_symlink("/proc/self/fd", dev + "/fd"));
    TRY(make_symlink("/proc/self/fd/0", dev + "/stdin"));
    TRY(make_symlink("/proc/self/fd/1", dev + "/stdout"));
    TRY(make_symlink("/proc/self/fd/2", dev + "/stderr"));
    TRY(make_symlink("/proc/kcore", dev + "/core"));
    return {};
}

Status build_proc_sys(const PodRootPlan& plan, const std::string& root)
{
    auto proc = root + "/proc";
    TRY(make_dir(proc));
    TRY(do_mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
    for (auto* p : { "sys", "sysrq-trigger", "irq", "bus", "fs" }) {
        auto path = proc + "/" + p;
        if (!path_exists(path))
            continue;
        TRY(do_mount(path.c_str(), path, nullptr, MS_BIND, nullptr));
        TRY(do_mount(
            nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
    }
    auto sys = root + "/sys";
    TRY(make_dir(sys));
    TRY(do_mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
    auto cg = sys + "/fs/cgroup";
    if (plan.unified_only)
        return do_mount("cgroup2", cg, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    TRY(do_mount("tmpfs", cg, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=16k"));
    for (auto& h : plan.hierarchies) {
        auto dir = cg + "/" + h.dir;
        TRY(make_dir(dir));
        if (h.dir == "unified") {
            TRY(do_mount("cgroup2", dir, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
            continue;
        }
        auto opts = h.controllers == "name=systemd" ? std::string("none,name=systemd") : h.controllers;
        TRY(do_mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.c_str()));
        // "cpu,cpuacct" is also reachable as cpu and cpuacct, as on the host.
        if (h.controllers.find(',') != std::string::npos) {
            size_t start = 0;
            while (start < h.controllers.size()) {
                size_t comma = h.controllers.find(',', start);
                if (comma == std::string::npos)
                    comma = h.controllers.size();
                TRY(make_symlink(h.dir, cg + "/" + h.controllers.substr(start, comma - start)));
                start = comma + 1;
            }
        }
    }
    // Read-only, so the pod's systemd cannot mount the host's hierarchies itself.
    return do_mount(nullptr, cg, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
}

/// The pod's journald writes `/run/log/journal/<machine-id>/`. Where stage0 linked that
/// directory of the pod directory to the host's journal (a symlink, which would resolve inside
/// the pod), the target is mounted there, on a directory of the pod's /run tmpfs; otherwise
/// `<pod>/journal` is.
Status mount_journal(const Pod& pod, const std::string& target)
{
    auto journal = pod.dir + "/" + std::string(iface::journal_dir);
    auto mid = iface::pod_machine_id(pod.uuid);
    auto link = journal + "/" + mid;
    struct stat st;
    if (::lstat(link.c_str(), &st) < 0 || !S_ISLNK(st.st_mode))
        return bind_path(journal, target, false);
    char buf[4096];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    std::string dest = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    TRY(make_dir(target));
    if (!dest.starts_with("/") || ::stat(dest.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
        diag_warn(
            "'%s' is not a link to an absolute directory; the pod's journal stays in the pod, ignoring", link.c_str());
        return {};
    }
    diag_debug("the pod's journal is linked to %s", dest.c_str());
    return bind_path(dest, target + "/" + mid, false);
}

} // namespace

InsecureOptions pod_insecure_options(const Pod& pod)
{
    if (auto text = pod.manifest.annotation(iface::annotation_insecure_options))
        if (auto o = InsecureOptions::parse(*text))
            return *o;
    return {};
}

Result<AppUnit> make_app_unit(const PodRootPlan& plan, const appc::RuntimeApp& app, int rootfd)
{
    if (!app.app || app.app->exec.empty())
        return Error::msg("app '" + app.name + "' has no exec");
    AppUnit u;
    u.name = app.name;
    u.pod_uuid = plan.pod->uuid;
    u.notify = app_supports_notify(app);
    u.helper = std::string(pod_helper_dir) + "/systemd";
    u.interactive = plan.interactive;
    if (!app.app->working_directory.empty())
        u.working_dir = app.app->working_directory;
    u.creds = TRY(app_credentials(app, rootfd));
    u.env = app_environment({ app.name, &*app.app, u.creds.home, plan.inherit_env ? environ : nullptr });
    // appc: `container` names the executor (the pod manifest's environment may override it).
    if (std::none_of(u.env.begin(), u.env.end(), [](auto& e) { return e.starts_with("container="); }))
        u.env.insert(u.env.begin(), "container=capsule");
    // The working directory is made when the image lacks it, as appc asks of executors.
    TRY(ensure_in_root(rootfd, u.working_dir, TargetKind::Directory));
    u.argv = app.app->exec;
    u.argv[0] = TRY(resolve_exec(rootfd, u.argv[0], env_value(u.env, "PATH"), u.working_dir));
    u.iso = TRY(app_isolation(*app.app, plan.insecure));
    // The pod's /proc and /sys are this kernel's: mask only what it has (a mount on a path
    // procfs lacks would fail the unit).
    std::erase_if(u.iso.masked, [](auto& p) { return !path_exists(p); });
    u.pre_start = handlers(*app.app, "pre-start");
    u.post_stop = handlers(*app.app, "post-stop");
    return u;
}

Status build_pod_root(const PodRootPlan& plan)
{
    auto& pod = *plan.pod;
    TRY(enter_private_mount_ns());
    auto root = pod.dir + "/stage1/rootfs";
    TRY(make_dir(root));
    TRY(do_mount(root.c_str(), root, nullptr, MS_BIND, nullptr));

    // Apps first: their units are written from what their rootfs holds.
    std::vector<AppUnit> units;
    std::vector<UniqueFd> hosts; // each app's /etc/hosts, resolved inside its rootfs
    for (auto& app : pod.manifest.apps) {
        auto ctx = "app '" + app.name + "'";
        auto rootfd = TRY_CTX(setup_app_root(pod, app, false), ctx);
        hosts.push_back(TRY_CTX(ensure_in_root(rootfd.get(), "/etc/hosts", TargetKind::File), ctx));
        units.push_back(TRY_CTX(make_app_unit(plan, app, rootfd.get()), ctx));
    }

    for (auto* d : { "usr", "etc", "run", "tmp", "var", "capsule", "dev", "opt" })
        TRY(make_dir(root + "/" + d));
    for (auto* l : { "bin", "sbin", "lib", "lib64" })
        TRY(make_symlink(std::string("usr/") + l, root + "/" + l));
    TRY(bind_path("/usr", root + "/usr", true));

    auto etc = root + "/etc";
    TRY(do_mount("tmpfs", etc, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m"));
    TRY(write_etc(plan, etc, units));
    // Each app sees the pod's hostname in its /etc/hosts, as with docker.
    for (size_t i = 0; i < units.size(); i++)
        TRY_CTX(
            bind_mount(etc + "/hosts", hosts[i].get(), "/etc/hosts", BindFlags::Plain), "app '" + units[i].name + "'");

    auto run = root + "/run";
    TRY(do_mount("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"));
    TRY(make_dir(run + "/systemd"));
    TRY(write_file(run + "/systemd/container", "capsule\n"));
    TRY(make_dir(run + "/log"));
    TRY(mount_journal(pod, run + "/log/journal"));
    if (plan.notify) {
        TRY(make_dir(run + "/host"));
        TRY(bind_path(pod.dir + "/" + std::string(iface::notify_socket), root + pod_notify_socket, false, true));
    }
    TRY(do_mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    TRY(do_mount("tmpfs", root + "/var", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"));
    TRY(make_dir(root + "/var/tmp", 01777));

    auto cap = root + "/capsule";
    TRY(do_mount("tmpfs", cap, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16k"));
    TRY(bind_path(plan.helper_dir, cap + "/stage1", true));
    TRY(bind_path(pod.dir + "/" + std::string(iface::status_dir), cap + "/status", false));
    TRY(do_mount(nullptr, cap, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr));

    TRY(build_dev(plan, root + "/dev"));
    TRY(build_proc_sys(plan, root));

    if (::chdir(root.c_str()) < 0)
        return Error::from_errno("chdir '" + root + "'");
    if (::syscall(SYS_pivot_root, ".", ".") < 0)
        return Error::from_errno("pivot_root into '" + root + "'");
    if (::umount2(".", MNT_DETACH) < 0)
        return Error::from_errno("detach the host's root");
    if (::chdir("/") < 0)
        return Error::from_errno("chdir /");
    return {};
}

} // namespace capsule::stage1::sd
