// SPDX-License-Identifier: Apache-2.0
#include "lib/insecure.h"

#include <string>

namespace capsule {

Result<InsecureOptions> InsecureOptions::parse(std::string_view s)
{
    using enum Insecure;
    InsecureOptions out;
    while (!s.empty()) {
        auto comma = s.find(',');
        std::string_view word = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view {} : s.substr(comma + 1);
        uint32_t fetch = static_cast<uint32_t>(Http) | static_cast<uint32_t>(Image) | static_cast<uint32_t>(Tls)
            | static_cast<uint32_t>(Pubkey);
        uint32_t run = static_cast<uint32_t>(Capabilities) | static_cast<uint32_t>(Paths)
            | static_cast<uint32_t>(Seccomp) | static_cast<uint32_t>(Ondisk);
        if (word == "none" || word.empty())
            continue;
        else if (word == "http")
            out.add(Http);
        else if (word == "image")
            out.add(Image);
        else if (word == "tls")
            out.add(Tls);
        else if (word == "pubkey")
            out.add(Pubkey);
        else if (word == "capabilities")
            out.add(Capabilities);
        else if (word == "paths")
            out.add(Paths);
        else if (word == "seccomp")
            out.add(Seccomp);
        else if (word == "ondisk")
            out.add(Ondisk);
        else if (word == "all-fetch")
            out.m_bits |= fetch;
        else if (word == "all-run")
            out.m_bits |= run;
        else if (word == "all")
            out.m_bits |= fetch | run;
        else
            return Error::msg("invalid --insecure-options value '" + std::string(word)
                + "': expected none, http, image, tls, pubkey, capabilities, paths, seccomp, ondisk, all-fetch, "
                  "all-run or all");
    }
    return out;
}

} // namespace capsule
