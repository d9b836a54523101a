// SPDX-License-Identifier: Apache-2.0
#include "lib/linux_names.h"

#include <cerrno>
#include <linux/capability.h>

#include <doctest/doctest.h>

using namespace capsule;

TEST_CASE("capabilities: every one the kernel headers know, in number order")
{
    auto caps = linux_capabilities();
    REQUIRE(caps.size() == CAP_LAST_CAP + 1);
    for (size_t i = 0; i < caps.size(); i++) {
        CHECK(caps[i].number == static_cast<int>(i));
        CHECK(caps[i].name.starts_with("CAP_"));
    }
}

TEST_CASE("capabilities: found by any spelling, reported canonically")
{
    for (auto s : { "CAP_NET_ADMIN", "cap_net_admin", "net_admin", "Net_Admin" }) {
        auto c = find_capability(s);
        REQUIRE(c);
        CHECK(c->name == "CAP_NET_ADMIN");
        CHECK(c->number == CAP_NET_ADMIN);
    }
    CHECK(find_capability("checkpoint_restore")->number == CAP_CHECKPOINT_RESTORE);
    for (auto s : { "", "CAP_", "CAP_FOO", "NET-ADMIN", "CAP_NET_ADMIN ", "CAPNET_ADMIN" })
        CHECK_MESSAGE(!find_capability(s), s);
}

TEST_CASE("errno names: glibc's, with their aliases; upper case only")
{
    CHECK(errno_from_name("EPERM") == EPERM);
    CHECK(errno_from_name("ENOSYS") == ENOSYS);
    CHECK(errno_from_name("EOPNOTSUPP") == EOPNOTSUPP);
    CHECK(errno_from_name("ENOTSUP") == ENOTSUP);
    CHECK(errno_from_name("EWOULDBLOCK") == EAGAIN);
    CHECK(errno_from_name("EHWPOISON") == EHWPOISON);
    for (auto s : { "", "E", "eperm", "EBOGUS", "PERM", "1" })
        CHECK_MESSAGE(!errno_from_name(s), s);
}

TEST_CASE("system call names and systemd groups")
{
    for (auto s : { "reboot", "pread64", "_sysctl", "@mount", "@system-service", "@raw-io" })
        CHECK_MESSAGE(is_syscall_name(s), s);
    for (auto s : { "", "@", "@-x", "Reboot", "re-boot", "mount ", "@appc.io/all", "@Mount", "a,b" })
        CHECK_MESSAGE(!is_syscall_name(s), s);
}
