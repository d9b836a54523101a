// SPDX-License-Identifier: Apache-2.0
#include "lib/overlay.h"

namespace capsule {

std::string overlay_escape(std::string_view path)
{
    std::string out;
    for (char c : path) {
        if (c == '\\' || c == ',' || c == ':')
            out += '\\';
        out += c;
    }
    return out;
}

std::string overlay_options(const std::vector<std::string>& lowers, std::string_view upper, std::string_view work)
{
    std::string opts = "lowerdir=";
    for (size_t i = 0; i < lowers.size(); i++)
        opts += (i ? ":" : "") + overlay_escape(lowers[i]);
    return opts + ",upperdir=" + overlay_escape(upper) + ",workdir=" + overlay_escape(work);
}

std::vector<std::string> parse_lower_list(std::string_view text)
{
    std::vector<std::string> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty())
            out.emplace_back(line);
    }
    return out;
}

} // namespace capsule
