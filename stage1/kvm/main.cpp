// SPDX-License-Identifier: Apache-2.0
// The kvm stage1: on the host a multi-call binary dispatching on argv[0] (or argv[1]); as PID 1
// of the guest's initramfs, the guest's init.
#include "stage1/common/diag.h"
#include "stage1/kvm/kvm.h"

#include <string>
#include <unistd.h>
#include <vector>

using namespace capsule::stage1;

int main(int argc, char** argv)
{
    if (::getpid() == 1)
        kvm::guest_init();
    std::vector<std::string> all(argv, argv + argc);
    return stage1_main("kvm", all, { kvm::run, kvm::enter, kvm::stop, kvm::gc });
}
