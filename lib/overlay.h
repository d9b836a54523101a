// SPDX-License-Identifier: Apache-2.0
#pragma once

// overlayfs mount options, shared by stage0 (which must know whether a stack of lower
// directories fits in one mount(2) call) and the stage1s (which mount it). Pure.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace capsule {

/// The kernel copies mount(2) options into one page: the string and its NUL.
inline constexpr size_t overlay_options_max = 4096 - 1;

/// `\`, `,` and `:` escaped for overlayfs options.
std::string overlay_escape(std::string_view path);

/// "lowerdir=L1:L2…,upperdir=U,workdir=W", each path escaped; `lowers` topmost first.
std::string overlay_options(const std::vector<std::string>& lowers, std::string_view upper, std::string_view work);

/// The lines of a stage1 `lower` file (topmost first), empty lines skipped.
std::vector<std::string> parse_lower_list(std::string_view text);

} // namespace capsule
