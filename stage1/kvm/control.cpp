// SPDX-License-Identifier: Apache-2.0
// kvm `enter`, `stop` and `gc`.
#include "lib/fs.h"
#include "stage1/common/diag.h"
#include "stage1/common/pod.h"
#include "stage1/kvm/kvm.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace capsule::stage1::kvm {

int enter(const Stage1Args& args)
{
    diag_error(Error("pod " + args.uuid
            + ": enter is not supported by the kvm flavour (the apps run inside a virtual machine; use "
              "'capsule logs' for their output)",
        ENOTSUP));
    return exit_stage1_error;
}

/// Without --force, the waiter (`kvm/waiter`) asks the guest to stop its apps (SIGTERM, then
/// SIGKILL after the timeout) and the VM powers off; with --force, qemu is killed (or, while the
/// guest boots, the waiter, and qemu with it).
int stop(const Stage1Args& args)
{
    auto text = read_file("kvm/waiter");
    pid_t waiter = text ? static_cast<pid_t>(std::atoi(text->c_str())) : 0;
    // qemu's pid is there once the guest booted; a VM still booting goes with its waiter.
    if (args.force && (path_exists("pid") || waiter <= 0))
        return signal_pod(args.uuid, SIGKILL);
    if (waiter <= 0)
        return signal_pod(args.uuid, SIGTERM);
    diag_debug("asking the waiter (pid %d) to stop the VM", waiter);
    if (::kill(waiter, args.force ? SIGKILL : SIGTERM) < 0 && errno != ESRCH) {
        diag_error(Error::from_errno("pod " + args.uuid + ": kill pid " + std::to_string(waiter)));
        return exit_stage1_error;
    }
    return 0;
}

/// The VM's files (the disk image above all) go; the rest of the pod directory is stage0's.
int gc(const Stage1Args& args)
{
    diag_debug("gc of pod %s: removing its disk image", args.uuid.c_str());
    if (auto r = remove_tree("kvm"); !r) {
        diag_error(r.error().wrap("pod " + args.uuid));
        return exit_stage1_error;
    }
    return 0;
}

} // namespace capsule::stage1::kvm
