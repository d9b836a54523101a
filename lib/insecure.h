// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/result.h"

#include <cstdint>
#include <string_view>

namespace capsule {

/// `--insecure-options=`: each bit turns one default-on protection off, explicitly.
enum class Insecure : uint32_t {
    None = 0,
    Http = 1 << 0,         ///< allow plain http fetches
    Image = 1 << 1,        ///< accept images without a valid signature
    Tls = 1 << 2,          ///< skip TLS certificate verification
    Pubkey = 1 << 3,       ///< accept keys fetched over http / unreviewed
    Capabilities = 1 << 4, ///< apps keep all capabilities
    Paths = 1 << 5,        ///< do not mask /proc and /sys paths
    Seccomp = 1 << 6,      ///< no default seccomp filter
    Ondisk = 1 << 7,       ///< skip re-verifying stored images before use
};

class InsecureOptions {
public:
    InsecureOptions() = default;
    /// Parse a comma-separated list: none, http, image, tls, pubkey, capabilities, paths,
    /// seccomp, ondisk, all-fetch, all-run, all.
    static Result<InsecureOptions> parse(std::string_view);
    bool has(Insecure f) const { return (m_bits & static_cast<uint32_t>(f)) != 0; }
    void add(Insecure f) { m_bits |= static_cast<uint32_t>(f); }
    uint32_t bits() const { return m_bits; }

private:
    uint32_t m_bits { 0 };
};

} // namespace capsule
