// SPDX-License-Identifier: Apache-2.0
#pragma once

// The kvm flavour (Documentation/stage1-kvm.md): each pod is a qemu virtual machine running a
// Debian kernel. One static binary is both sides:
//   - on the host, the entrypoints run, enter, stop and gc (`/stage1/kvm` and its symlinks);
//     `run` renders the pod into a disk image and an initramfs, starts qemu and stays as the
//     pod's waiter, relaying the apps' output and exit statuses;
//   - in the guest, PID 1 of the initramfs (`/init`): it loads the kernel modules it carries,
//     mounts the pod's disk, runs the apps and powers the VM off once they are all gone.
// The two sides talk over virtio-serial ports (one control port, and stdout + stderr per app),
// each a socketpair end qemu inherits from the waiter.

#include "lib/result.h"
#include "stage1/common/args.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace capsule::stage1::kvm {

int run(const Stage1Args&);
int enter(const Stage1Args&);
int stop(const Stage1Args&);
int gc(const Stage1Args&);

/// The guest's init (PID 1 in the VM); never returns.
[[noreturn]] void guest_init();

// ---- The guest's configuration: /capsule/pod.json in the initramfs, written by `run`. ----

struct GuestMount {
    std::string source; ///< in the guest, e.g. /pod/capsule/volumes/<name>
    std::string target; ///< inside the app's root
    bool read_only { false };
};

struct GuestApp {
    std::string name;
    std::string root;              ///< the app's root in the guest (/pod/opt/stage2/<name>/rootfs)
    std::vector<std::string> argv; ///< argv[0] absolute in the app's root
    std::vector<std::string> env;  ///< NAME=value, exactly the app's environment
    std::string working_dir { "/" };
    uint32_t uid { 0 };
    uint32_t gid { 0 };
    std::vector<uint32_t> groups;
    std::vector<GuestMount> mounts;
};

struct GuestConfig {
    std::vector<std::string> modules; ///< file names in /lib/modules of the initramfs, load order
    std::string hostname;
    int stop_timeout_sec { 10 }; ///< after "stop": SIGTERM, then SIGKILL this much later
    std::vector<GuestApp> apps;
};

inline constexpr const char* guest_config_path = "/capsule/pod.json";
/// Where the guest mounts the pod's disk (the first virtio-blk device).
inline constexpr const char* guest_pod_mount = "/pod";
/// The pod's volumes in the disk image (`<guest_pod_mount>/capsule/volumes/<name>` in the guest).
inline constexpr const char* image_volumes_dir = "capsule/volumes";

std::string guest_config_json(const GuestConfig&);
Result<GuestConfig> parse_guest_config(std::string_view json);

// ---- The ports. Guest to host, on the control port, one line each:
//   ready                              the guest booted and mounted the pod's disk
//   status <app index> <exit status>   an app exited (128+N when killed by signal N)
//   error <app index> <message>        an app could not be started (its status follows)
//   done                               every app exited; the guest waits for "ack" and powers off
// Host to guest: "stop" (stop the apps: SIGTERM, then SIGKILL after the timeout), "signal <N>"
// (send signal N to every app), "ack".

inline constexpr std::string_view port_control = "capsule.control";
/// "capsule.out.<index>" or "capsule.err.<index>".
std::string port_name(bool stderr_stream, size_t app_index);

// ---- The initramfs and the kernel. ----

/// The kernel release a bzImage says it is (its setup header's version string, first word),
/// or an error naming the file when it is not a bzImage.
Result<std::string> kernel_release(const std::string& kernel);
/// `names` (module names such as "virtio_blk") and what they depend on, as paths relative to
/// `moddir` (/lib/modules/<release>) in load order, from its modules.dep; built-in modules
/// (modules.builtin) are left out. Pure apart from reading the two files.
Result<std::vector<std::string>> module_load_order(const std::string& moddir, const std::vector<std::string>& names);
/// Order over modules.dep text: `deps` maps a module path to the paths it needs.
Result<std::vector<std::string>> module_load_order_from(
    std::string_view modules_dep, std::string_view modules_builtin, const std::vector<std::string>& names);
/// Write an uncompressed newc cpio to `out`: /init (`init_binary`), the modules (as
/// /lib/modules/<file name>), /capsule/pod.json and the directories and /dev/console the
/// guest needs.
Status write_initramfs(const std::string& out, const std::string& init_binary, const std::string& moddir,
    const std::vector<std::string>& modules, std::string_view config_json);

// ---- qemu. ----

enum class Accel { Kvm, Tcg };

struct VmSpec {
    std::string qemu; ///< the binary
    std::string name; ///< -name
    Accel accel { Accel::Tcg };
    uint64_t memory_mib { 640 };
    unsigned cpus { 1 };
    std::string kernel;
    std::string initrd;
    std::string disk;                         ///< the pod's disk image (raw)
    std::string console_log;                  ///< the guest's serial console goes here
    uint64_t tsc_khz { 0 };                   ///< the guest TSC frequency when known (TCG: the host's), else 0
    int control_fd { -1 };                    ///< qemu's end of the control port
    std::vector<std::pair<int, int>> app_fds; ///< per app: qemu's ends of stdout, stderr
};

/// The guest's memory: the sum of the apps' resource/memory limits (512 MiB when none has
/// one) plus 128 MiB for the guest's kernel and init, in MiB rounded up.
uint64_t vm_memory_mib(const std::vector<uint64_t>& app_limits_bytes);
/// vCPUs: the sum of the apps' resource/cpu limits in millicores, rounded up to cores (1 when
/// none has one), at most `host_cpus`.
unsigned vm_cpus(const std::vector<uint64_t>& app_millicores, unsigned host_cpus);
/// The qemu command line. Pure.
std::vector<std::string> qemu_command(const VmSpec&);
/// The accelerator for `setting` ("auto", "kvm", "tcg"): auto is KVM when /dev/kvm opens and a
/// timed boot of `kernel` under KVM reaches its end (remembered per kernel in /run/capsule
/// until the host reboots), TCG otherwise.
Result<Accel> pick_accelerator(const std::string& setting, const std::string& qemu, const std::string& kernel);
/// The host's TSC frequency, which a TCG guest's TSC runs at: measured once (20 ms) and
/// remembered in /run/capsule until the host reboots; 0 if it cannot be measured. A TCG guest
/// told it (tsc_early_khz=) does not calibrate its TSC against the emulated PIT, which fails
/// on a loaded host and leaves the guest without a clock.
uint64_t host_tsc_khz();

} // namespace capsule::stage1::kvm
