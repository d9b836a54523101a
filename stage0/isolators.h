// SPDX-License-Identifier: Apache-2.0
#pragma once

// An app's isolators in the pod manifest: the image's, with the app's flags written over the
// isolator of the same name (appc spec, ace.md "Isolators"). The stage1 reads them from the
// pod manifest; stage0 only checks and merges.

#include "lib/appc/types.h"
#include "stage0/pod_spec.h"

#include <string_view>
#include <vector>

namespace capsule::stage0 {

inline constexpr std::string_view isolator_memory = "resource/memory";
inline constexpr std::string_view isolator_cpu = "resource/cpu";
inline constexpr std::string_view isolator_caps_retain = "os/linux/capabilities-retain-set";
inline constexpr std::string_view isolator_caps_remove = "os/linux/capabilities-remove-set";
inline constexpr std::string_view isolator_seccomp_retain = "os/linux/seccomp-retain-set";
inline constexpr std::string_view isolator_seccomp_remove = "os/linux/seccomp-remove-set";

/// The isolators of an app: `image` (as its manifest lists them) with these overrides:
/// --memory → resource/memory `limit` (bytes), --cpu → resource/cpu `limit` ("500m"), the
/// image's `request` kept (lowered to the limit if above it); --cap-retain/--cap-remove →
/// the capability set isolator, replacing both of the image's; --seccomp likewise for the
/// seccomp sets. Fails when the result has both a retain and a remove set of one kind (appc
/// forbids it), naming `image_name`.
Result<std::vector<appc::Isolator>> app_isolators(
    const AppSpec&, const std::vector<appc::Isolator>& image, std::string_view image_name);

} // namespace capsule::stage0
