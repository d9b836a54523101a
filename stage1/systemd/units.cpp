// SPDX-License-Identifier: Apache-2.0
#include "stage1/systemd/units.h"

#include "lib/units.h"
#include "stage1/common/isolator_limit.h"

#include <algorithm>
#include <cctype>

namespace capsule::stage1::sd {

const std::vector<std::string>& default_capabilities()
{
    static const std::vector<std::string> caps { "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
        "CAP_FSETID", "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID",
        "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT" };
    return caps;
}

const std::vector<std::string>& default_seccomp_denied()
{
    static const std::vector<std::string> calls { "_sysctl", "acct", "add_key", "bpf", "clock_adjtime", "clock_settime",
        "create_module", "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms",
        "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
        "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "nfsservctl",
        "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
        "ptrace", "query_module", "quotactl", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday",
        "swapoff", "swapon", "sysfs", "umount2", "unshare", "uselib", "userfaultfd", "ustat" };
    return calls;
}

const std::vector<std::string>& read_only_paths()
{
    static const std::vector<std::string> paths { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus",
        "/proc/fs", "/sys" };
    return paths;
}

const std::vector<std::string>& masked_paths()
{
    static const std::vector<std::string> paths { "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
        "/proc/acpi", "/proc/scsi", "/sys/firmware" };
    return paths;
}

bool masked_is_directory(std::string_view path)
{
    return path == "/proc/acpi" || path == "/proc/scsi" || path == "/sys/firmware";
}

namespace {

Result<std::string> cap_name(const nlohmann::json& v, std::string_view isolator)
{
    if (!v.is_string())
        return Error::msg("isolator " + std::string(isolator) + ": capability names are strings");
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    if (!s.starts_with("CAP_"))
        s = "CAP_" + s;
    for (char c : s.substr(4))
        if (!std::isupper(static_cast<unsigned char>(c)) && c != '_')
            return Error::msg(
                "isolator " + std::string(isolator) + ": '" + v.get<std::string>() + "' is not a capability name");
    return s;
}

Result<std::vector<std::string>> set_of(const nlohmann::json& value, std::string_view isolator)
{
    if (!value.is_object() || !value.contains("set") || !value["set"].is_array())
        return Error::msg("isolator " + std::string(isolator) + ": expected {\"set\": [...]}");
    std::vector<std::string> out;
    for (auto& v : value["set"]) {
        if (!v.is_string())
            return Error::msg("isolator " + std::string(isolator) + ": set entries are strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

/// A seccomp set entry as systemd's SystemCallFilter= takes it: a system call name, a systemd
/// group (`@mount`, or rkt's spelling `@systemd/mount`), or the default list by rkt's and
/// Docker's names for it.
Result<std::vector<std::string>> seccomp_entry(const std::string& e, std::string_view isolator)
{
    if (e == "@docker/default-blacklist" || e == "@rkt/default-blacklist" || e == "@capsule/default-denied")
        return default_seccomp_denied();
    std::string name = e.starts_with("@systemd/") ? "@" + e.substr(9) : e;
    auto body = name.starts_with("@") ? std::string_view(name).substr(1) : std::string_view(name);
    bool ok = !body.empty() && std::all_of(body.begin(), body.end(), [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '_' || c == '-';
    });
    if (!ok)
        return Error::msg("isolator " + std::string(isolator) + ": '" + e + "' is not a system call or group name");
    return std::vector<std::string> { name };
}

} // namespace

Result<Isolation> app_isolation(const appc::App& app, InsecureOptions insecure)
{
    Isolation iso;
    iso.caps = default_capabilities();
    iso.masked = masked_paths();
    iso.syscalls = default_seccomp_denied();
    for (auto& i : app.isolators) {
        if (i.name == "resource/memory") {
            iso.memory_bytes = TRY(quantity_limit(i.value, i.name, false));
        } else if (i.name == "resource/cpu") {
            iso.cpu_millicores = TRY(quantity_limit(i.value, i.name, true));
        } else if (i.name == "os/linux/capabilities-retain-set" || i.name == "os/linux/capabilities-remove-set") {
            std::vector<std::string> set;
            for (auto& v : TRY(set_of(i.value, i.name)))
                set.push_back(TRY(cap_name(v, i.name)));
            if (i.name.ends_with("retain-set")) {
                iso.caps = set;
            } else {
                std::erase_if(iso.caps, [&](auto& c) { return std::find(set.begin(), set.end(), c) != set.end(); });
            }
        } else if (i.name == "os/linux/seccomp-retain-set" || i.name == "os/linux/seccomp-remove-set") {
            std::vector<std::string> calls;
            for (auto& e : TRY(set_of(i.value, i.name)))
                for (auto& c : TRY(seccomp_entry(e, i.name)))
                    calls.push_back(c);
            iso.seccomp_allow_list = i.name.ends_with("retain-set");
            iso.syscalls = calls;
            iso.seccomp_errno.clear(); // appc: without errno, a refused call kills the app
            if (i.value.contains("errno")) {
                if (!i.value["errno"].is_string())
                    return Error::msg("isolator " + i.name + ": errno is a name such as EPERM");
                iso.seccomp_errno = i.value["errno"].get<std::string>();
                if (iso.seccomp_errno.size() < 2 || iso.seccomp_errno[0] != 'E'
                    || !std::all_of(iso.seccomp_errno.begin(), iso.seccomp_errno.end(),
                        [](unsigned char c) { return std::isupper(c) || std::isdigit(c); }))
                    return Error::msg("isolator " + i.name + ": errno '" + iso.seccomp_errno + "' is not an E name");
            }
        } else if (i.name == "os/linux/no-new-privileges") {
            if (!i.value.is_boolean())
                return Error::msg("isolator " + i.name + ": expected true or false");
            iso.no_new_privileges = i.value.get<bool>();
        }
    }
    if (insecure.has(Insecure::Capabilities))
        iso.restrict_caps = false;
    if (insecure.has(Insecure::Seccomp))
        iso.seccomp = false;
    if (insecure.has(Insecure::Paths))
        iso.mask_paths = false;
    return iso;
}

std::string app_unit_name(std::string_view app)
{
    return "capsule-app-" + std::string(app) + ".service";
}

std::string app_root_in_pod(std::string_view app)
{
    return "/opt/stage2/" + std::string(app) + "/rootfs";
}

static std::string quoted(std::string_view s, bool dollar)
{
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '"':
            out += "\\\"";
            break;
        case '%':
            out += "%%";
            break;
        case '\n':
            out += "\\n";
            break;
        case '$':
            out += dollar ? "$$" : "$";
            break;
        default:
            out += c;
        }
    }
    return out + "\"";
}

std::string exec_word(std::string_view s)
{
    return quoted(s, true);
}

std::string setting_word(std::string_view s)
{
    return quoted(s, false);
}

std::string path_setting(std::string_view s)
{
    std::string out;
    for (char c : s)
        out += c == '%' ? std::string("%%") : c == '\\' ? std::string("\\\\") : std::string(1, c);
    return out;
}

static std::string exec_line(const std::vector<std::string>& argv)
{
    std::string out;
    for (auto& a : argv)
        out += (out.empty() ? "" : " ") + exec_word(a);
    return out;
}

static std::string joined(const std::vector<std::string>& v, std::string_view prefix = "")
{
    std::string out;
    for (auto& s : v)
        out += (out.empty() ? "" : " ") + std::string(prefix) + s;
    return out;
}

std::string app_unit_text(const AppUnit& u)
{
    std::string t;
    t += "[Unit]\n";
    t += "Description=capsule app " + u.name + "\n";
    t += "DefaultDependencies=no\n";
    // journald stops after the apps, so their last lines reach the journal and the console.
    t += "After=systemd-journald.socket systemd-journald.service\n";
    t += "Conflicts=shutdown.target\nBefore=shutdown.target\n";
    // The pod has started (its systemd says READY=1 to a notify socket stage0 relays) once
    // every app has: for an app that speaks sd_notify, once it said READY=1 itself.
    t += std::string("Before=") + pod_target + "\n";
    // systemd unmounts what it sees mounted when the pod stops: the app's root and the
    // helper's directories must outlive the app and its exit hook.
    t += "RequiresMountsFor=" + app_root_in_pod(u.name) + " /capsule/stage1 /capsule/status\n";
    t += "\n[Service]\n";
    if (u.notify) {
        // systemd makes its notify socket reachable in RootDirectory=; only the app's main
        // process may speak for it.
        t += "Type=notify\nNotifyAccess=main\n";
    } else {
        t += "Type=simple\n";
    }
    t += "RootDirectory=" + app_root_in_pod(u.name) + "\n";
    // The exit hooks (+) run in the pod's root, where the stage1 helper is.
    t += "RootDirectoryStartOnly=yes\n";
    t += "MountAPIVFS=yes\n";
    t += "WorkingDirectory=" + path_setting(u.working_dir) + "\n";
    t += "User=" + std::to_string(u.creds.uid) + "\n";
    t += "Group=" + std::to_string(u.creds.gid) + "\n";
    if (!u.creds.groups.empty()) {
        t += "SupplementaryGroups=";
        for (size_t i = 0; i < u.creds.groups.size(); i++)
            t += (i ? " " : "") + std::to_string(u.creds.groups[i]);
        t += "\n";
    }
    for (auto& e : u.env)
        t += "Environment=" + setting_word(e) + "\n";
    t += "SyslogIdentifier=" + u.name + "\n";
    // Stable fields of every entry, for readers of a journal linked into the host's.
    if (!u.pod_uuid.empty())
        t += "LogExtraFields=CAPSULE_POD=" + u.pod_uuid + "\n";
    t += "LogExtraFields=CAPSULE_APP=" + u.name + "\n";
    if (u.interactive) {
        t += "StandardInput=tty-force\nStandardOutput=inherit\nStandardError=inherit\n";
        t += "TTYPath=/dev/console\nTTYReset=no\nTTYVHangup=no\n";
    } else {
        t += "StandardInput=null\nStandardOutput=journal+console\nStandardError=journal+console\n";
    }
    if (u.iso.restrict_caps)
        t += "CapabilityBoundingSet=" + joined(u.iso.caps) + "\n";
    if (u.iso.no_new_privileges)
        t += "NoNewPrivileges=yes\n";
    if (u.iso.seccomp) {
        if (u.iso.seccomp_allow_list)
            t += "SystemCallFilter=" + joined(u.iso.syscalls) + "\n";
        else if (!u.iso.syscalls.empty())
            t += "SystemCallFilter=~" + joined(u.iso.syscalls) + "\n";
        if (!u.iso.seccomp_errno.empty())
            t += "SystemCallErrorNumber=" + u.iso.seccomp_errno + "\n";
    }
    if (u.iso.mask_paths) {
        // systemd takes ReadOnlyPaths= in the pod's root, and the destinations of
        // BindReadOnlyPaths= and TemporaryFileSystem= inside RootDirectory=.
        t += "ReadOnlyPaths=" + joined(read_only_paths(), "-" + app_root_in_pod(u.name)) + "\n";
        for (auto& p : u.iso.masked)
            t += masked_is_directory(p) ? "TemporaryFileSystem=" + p + ":ro\n"
                                        : "BindReadOnlyPaths=-/dev/null:" + p + "\n";
    }
    if (u.iso.memory_bytes)
        t += "MemoryMax=" + std::to_string(*u.iso.memory_bytes) + "\n";
    if (u.iso.cpu_millicores)
        t += "CPUQuota=" + std::to_string(std::max<uint64_t>(1, *u.iso.cpu_millicores / 10)) + "%\n";
    // Event handlers run as root inside the app's rootfs, through the helper (which chroots).
    for (auto& h : u.pre_start)
        t += "ExecStartPre=+" + exec_word(u.helper) + " exec-in-app " + exec_word(u.name) + " " + exec_line(h) + "\n";
    t += "ExecStart=" + exec_line(u.argv) + "\n";
    for (auto& h : u.post_stop)
        t += "ExecStopPost=-+" + exec_word(u.helper) + " exec-in-app " + exec_word(u.name) + " " + exec_line(h) + "\n";
    t += "ExecStopPost=+" + exec_word(u.helper) + " app-exited " + exec_word(u.name) + "\n";
    return t;
}

std::string pod_target_text(const std::vector<std::string>& apps)
{
    std::string t = "[Unit]\nDescription=capsule pod\nDefaultDependencies=no\n";
    t += "Wants=systemd-journald.service";
    for (auto& a : apps)
        t += " " + app_unit_name(a);
    t += "\nAfter=systemd-journald.service\n";
    return t;
}

} // namespace capsule::stage1::sd
