// SPDX-License-Identifier: Apache-2.0
#pragma once

// Choosing the stage1 image of a pod (`--stage1=fly`, `--stage1-path`, `--stage1-name`,
// `--stage1-hash`) and reading its entrypoints from the manifest annotations.

#include "lib/appc/types.h"
#include "lib/insecure.h"
#include "lib/result.h"
#include "store/store.h"

#include <optional>
#include <string>
#include <vector>

namespace capsule::stage0 {

/// The flavour `run` and `prepare` use without --stage1*: $CAPSULE_STAGE1 when set, else
/// systemd (real isolation, journald per pod), as rkt's default stage1 was.
std::string default_stage1_flavour();

struct Stage1Selection {
    enum class Kind { Flavour, Path, Name, Hash };
    Kind kind { Kind::Flavour };
    std::string value { default_stage1_flavour() }; ///< flavour name, file path, image name or image ID
};

/// The entrypoints a stage1 image advertises (paths inside its rootfs, absolute).
struct Stage1Entrypoints {
    int interface_version { 0 };
    std::string run;
    std::string enter;
    std::string stop;
    std::string gc;
    std::string flavour; ///< capsule/stage1/flavour ("fly", "systemd", "kvm"; "" for others)
};

/// Read and check the entrypoint annotations; `run` is required, the interface version must
/// be one this stage0 speaks.
Result<Stage1Entrypoints> stage1_entrypoints(const appc::ImageManifest&);

/// Where `--stage1=FLAVOUR` looks, in order: beside the running binary, `<bindir>/../lib/capsule/`,
/// then the system config dir.
std::vector<std::string> builtin_stage1_candidates(const std::string& flavour, const std::string& system_config);

struct Stage1Image {
    store::ImageInfo info;
    appc::ImageManifest manifest;
    Stage1Entrypoints entrypoints;
    std::string tree; ///< rendered tree (manifest + rootfs/)
};

/// Fetch (or find) the stage1 image into the store and read its entrypoints.
Result<Stage1Image> resolve_stage1(
    store::Store&, const Stage1Selection&, const std::string& system_config, InsecureOptions);

} // namespace capsule::stage0
