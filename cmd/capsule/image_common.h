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

/// The images pods under `$dir/pods` still use (stage0::images_in_use), for `image rm` and
/// `image gc` to leave alone; evaluated by the store under its exclusive lock.
store::InUseFn images_in_use_by_pods(const std::string& dir);

} // namespace capsule::cmd
