// SPDX-License-Identifier: Apache-2.0
#pragma once

// The kernel names app isolators are written with: capabilities (CAP_NET_ADMIN), errno
// codes (EPERM) and system calls (mount, or a systemd group such as @mount). A table
// rather than libcap's cap_from_name(): stage0 stays free of another shared library, and
// the stage1 executables (static) can share it.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace capsule {

struct Capability {
    int number;            ///< as in <linux/capability.h>
    std::string_view name; ///< "CAP_CHOWN"
};

/// Every Linux capability, in number order (0 .. CAP_LAST_CAP of the kernel headers).
std::span<const Capability> linux_capabilities();

/// `CAP_NET_ADMIN`, `cap_net_admin` or `net_admin`: the capability, by its canonical name.
std::optional<Capability> find_capability(std::string_view);

/// The errno code named `EPERM`, `ENOTSUP`… (upper case, as appc writes it).
std::optional<int> errno_from_name(std::string_view);

/// A system call name (`^[a-z0-9_]+$`) or a systemd system call group (`@` then
/// `[a-z0-9_-]+`, e.g. `@mount`, `@system-service`). Existence is the stage1's to check.
bool is_syscall_name(std::string_view);

} // namespace capsule
