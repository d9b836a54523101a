// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the `image` and `df` command files.

#include "cmd/capsule/command.h"
#include "store/store.h"

#include <set>
#include <string>

namespace capsule::cmd {

/// The `image` subcommand, registered by image.cpp (order 30); image verbs in other files
/// (registered later) add themselves to it.
inline CLI::App* image_command(CommandContext& ctx)
{
    return ctx.parent.get_subcommand("image");
}

/// The images pods still use, for `image rm` and `image gc` to leave alone. Evaluated by
/// the store under its exclusive lock. Pods record their images in their directories under
/// `$dir/pods`; stage0 reads them (stage0::images_in_use) — this is the one place that
/// wires it in.
store::InUseFn images_in_use_by_pods(const std::string& dir);

} // namespace capsule::cmd
