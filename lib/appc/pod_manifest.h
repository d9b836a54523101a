// SPDX-License-Identifier: Apache-2.0
#pragma once

// The appc PodManifest (spec 0.8.11): what stage0 writes to `<poddir>/pod` at prepare and
// every stage1 reads. Apps keep the appc App section (lib/appc/types.h); unknown fields of a
// parsed manifest survive in `raw`.

#include "lib/appc/types.h"
#include "lib/result.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::appc {

/// An image reference inside a pod: the image as it was resolved at prepare time.
struct PodImage {
    std::string name;
    std::string id; ///< "sha512-…" (ACI) or "sha256-…" (OCI/docker)
    std::vector<NameValue> labels;
};

/// A volume mounted into an app: `volume` names a pod volume, `path` is the target in the app.
struct PodMount {
    std::string volume;
    std::string path;
};

/// A pod-level volume (`--volume=NAME,kind=host|empty,source=PATH[,readOnly=true]`).
struct Volume {
    std::string name;
    std::string kind;   ///< "host" or "empty"
    std::string source; ///< host path for kind=host
    bool read_only { false };
    std::optional<std::string> mode; ///< kind=empty: octal mode, e.g. "0755"
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
};

struct RuntimeApp {
    std::string name; ///< AC name, unique in the pod
    PodImage image;
    std::optional<App> app; ///< the effective app (image app with the user's overrides)
    std::vector<PodMount> mounts;
    std::vector<NameValue> annotations;
};

struct PodManifest {
    std::string ac_version { std::string(appc::ac_version) };
    std::vector<RuntimeApp> apps;
    std::vector<Volume> volumes;
    std::vector<Isolator> isolators;
    std::vector<NameValue> annotations;
    nlohmann::json raw; ///< as parsed (empty when built in memory)

    /// The app called `name`, or nullptr.
    const RuntimeApp* find_app(std::string_view name) const;
    /// The volume called `name`, or nullptr.
    const Volume* find_volume(std::string_view name) const;
    /// Value of the pod annotation `name`, if present.
    std::optional<std::string> annotation(std::string_view name) const;
};

/// Serialize as the appc JSON document (acKind "PodManifest").
nlohmann::json to_json(const PodManifest&);
/// Parse and validate a pod manifest: kind, version, AC names, unique app names, mounts that
/// name defined volumes. Errors name the field and why.
Result<PodManifest> parse_pod_manifest(std::string_view json);

/// Parse a `kind=host|empty` volume description as appc's volume string:
/// `NAME,kind=host,source=/path[,readOnly=true]` or `NAME,kind=empty[,mode=0755][,uid=N][,gid=N]`.
Result<Volume> parse_volume_string(std::string_view);

} // namespace capsule::appc
