// SPDX-License-Identifier: Apache-2.0
#pragma once

// The kvm flavour's host configuration, `kvm.json`, read from the system config dir and then
// the local one (a key in the local file overrides the same key in the system file):
//
//   {"capsuleKind": "kvm", "capsuleVersion": "v1", "kernel": "/boot/vmlinuz-…",
//    "qemu": "qemu-system-x86_64", "accelerator": "auto"}
//
// stage0 only checks the file's shape and hands the values to the stage1 as pod manifest
// annotations (stage1/common/interface.h); whether the kernel or qemu exist is the stage1's
// to find out, when it starts the VM.

#include "lib/appc/types.h"
#include "lib/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::stage0 {

inline constexpr std::string_view kvm_config_file = "kvm.json";

/// What kvm.json sets; an absent key leaves the stage1's default.
struct KvmConfig {
    std::optional<std::string> kernel;      ///< the guest kernel (a bzImage path)
    std::optional<std::string> qemu;        ///< a path, or a name searched in PATH
    std::optional<std::string> accelerator; ///< "auto", "kvm" or "tcg"

    bool operator==(const KvmConfig&) const = default;
};

/// Parse the text of one kvm.json. Errors are one line and do not name the file (the caller
/// does): bad JSON, a wrong capsuleKind/capsuleVersion, an unknown key, a value that is not a
/// non-empty string, an accelerator other than auto, kvm or tcg.
Result<KvmConfig> parse_kvm_config(std::string_view text);

/// `over`'s keys replace `base`'s; keys `over` does not set are kept.
KvmConfig merge_kvm_config(KvmConfig base, const KvmConfig& over);

/// `<system_config>/kvm.json`, then `<local_config>/kvm.json` over it; a missing file sets
/// nothing. Errors start with the file's path.
Result<KvmConfig> load_kvm_config(const std::string& system_config, const std::string& local_config);

/// The pod manifest annotations that carry the configuration to the stage1 (only the keys set).
std::vector<appc::NameValue> kvm_annotations(const KvmConfig&);

} // namespace capsule::stage0
