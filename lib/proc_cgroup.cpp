// SPDX-License-Identifier: Apache-2.0
#include "lib/proc_cgroup.h"

#include <sstream>

namespace capsule {

std::vector<std::pair<std::string, std::string>> parse_proc_cgroup(const std::string& text)
{
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
        if (c1 != std::string::npos && c2 != std::string::npos)
            out.emplace_back(line.substr(c1 + 1, c2 - c1 - 1), line.substr(c2 + 1));
    }
    return out;
}

} // namespace capsule
