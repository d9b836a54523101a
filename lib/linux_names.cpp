// SPDX-License-Identifier: Apache-2.0
#include "lib/linux_names.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <linux/capability.h>

namespace capsule {

namespace {

#define CAPSULE_CAP(c)                                                                                                 \
    Capability                                                                                                         \
    {                                                                                                                  \
        c, #c                                                                                                          \
    }

// The numbers come from the kernel headers, so a name can never drift from its number;
// tests/unit/lib_linux_names_test.cpp checks that the table reaches CAP_LAST_CAP.
constexpr Capability capabilities[] = {
    CAPSULE_CAP(CAP_CHOWN),
    CAPSULE_CAP(CAP_DAC_OVERRIDE),
    CAPSULE_CAP(CAP_DAC_READ_SEARCH),
    CAPSULE_CAP(CAP_FOWNER),
    CAPSULE_CAP(CAP_FSETID),
    CAPSULE_CAP(CAP_KILL),
    CAPSULE_CAP(CAP_SETGID),
    CAPSULE_CAP(CAP_SETUID),
    CAPSULE_CAP(CAP_SETPCAP),
    CAPSULE_CAP(CAP_LINUX_IMMUTABLE),
    CAPSULE_CAP(CAP_NET_BIND_SERVICE),
    CAPSULE_CAP(CAP_NET_BROADCAST),
    CAPSULE_CAP(CAP_NET_ADMIN),
    CAPSULE_CAP(CAP_NET_RAW),
    CAPSULE_CAP(CAP_IPC_LOCK),
    CAPSULE_CAP(CAP_IPC_OWNER),
    CAPSULE_CAP(CAP_SYS_MODULE),
    CAPSULE_CAP(CAP_SYS_RAWIO),
    CAPSULE_CAP(CAP_SYS_CHROOT),
    CAPSULE_CAP(CAP_SYS_PTRACE),
    CAPSULE_CAP(CAP_SYS_PACCT),
    CAPSULE_CAP(CAP_SYS_ADMIN),
    CAPSULE_CAP(CAP_SYS_BOOT),
    CAPSULE_CAP(CAP_SYS_NICE),
    CAPSULE_CAP(CAP_SYS_RESOURCE),
    CAPSULE_CAP(CAP_SYS_TIME),
    CAPSULE_CAP(CAP_SYS_TTY_CONFIG),
    CAPSULE_CAP(CAP_MKNOD),
    CAPSULE_CAP(CAP_LEASE),
    CAPSULE_CAP(CAP_AUDIT_WRITE),
    CAPSULE_CAP(CAP_AUDIT_CONTROL),
    CAPSULE_CAP(CAP_SETFCAP),
    CAPSULE_CAP(CAP_MAC_OVERRIDE),
    CAPSULE_CAP(CAP_MAC_ADMIN),
    CAPSULE_CAP(CAP_SYSLOG),
    CAPSULE_CAP(CAP_WAKE_ALARM),
    CAPSULE_CAP(CAP_BLOCK_SUSPEND),
    CAPSULE_CAP(CAP_AUDIT_READ),
    CAPSULE_CAP(CAP_PERFMON),
    CAPSULE_CAP(CAP_BPF),
    CAPSULE_CAP(CAP_CHECKPOINT_RESTORE),
};

#undef CAPSULE_CAP

// strerrorname_np() gives one name per number; these are the other spellings of the same
// codes (ENOTSUP is the one appc's own example uses).
struct ErrnoAlias {
    std::string_view name;
    int code;
};
constexpr ErrnoAlias errno_aliases[] = {
    { "ENOTSUP", ENOTSUP },
    { "EWOULDBLOCK", EWOULDBLOCK },
    { "EDEADLOCK", EDEADLOCK },
};

// Linux's errno numbers stop well below this (EHWPOISON is 133).
constexpr int errno_max = 256;

bool is_lower_word(std::string_view s, bool dash)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [dash](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (dash && c == '-');
    });
}

} // namespace

std::span<const Capability> linux_capabilities()
{
    return capabilities;
}

std::optional<Capability> find_capability(std::string_view s)
{
    std::string upper;
    for (char c : s)
        upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!upper.starts_with("CAP_"))
        upper = "CAP_" + upper;
    for (auto& cap : capabilities)
        if (cap.name == upper)
            return cap;
    return std::nullopt;
}

std::optional<int> errno_from_name(std::string_view s)
{
    if (s.size() < 2 || s[0] != 'E')
        return std::nullopt;
    for (auto& a : errno_aliases)
        if (a.name == s)
            return a.code;
    for (int code = 1; code < errno_max; code++) {
        const char* name = strerrorname_np(code);
        if (name && s == name)
            return code;
    }
    return std::nullopt;
}

bool is_syscall_name(std::string_view s)
{
    if (s.starts_with('@'))
        return s.size() > 1 && s[1] != '-' && is_lower_word(s.substr(1), true);
    return is_lower_word(s, false);
}

} // namespace capsule
