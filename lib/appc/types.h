// SPDX-License-Identifier: Apache-2.0
#pragma once

// appc schema types (spec 0.8.11): the parts of the ImageManifest and PodManifest
// capsule reads and writes. Parsing validates; `raw` keeps the document as given so
// unknown fields survive a round trip.

#include "lib/result.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::appc {

inline constexpr std::string_view ac_version = "0.8.11";

struct NameValue {
    std::string name;
    std::string value;
};

struct EventHandler {
    std::string name; ///< "pre-start" or "post-stop"
    std::vector<std::string> exec;
};

struct Isolator {
    std::string name; ///< e.g. "resource/memory", "os/linux/capabilities-retain-set"
    nlohmann::json value;
};

struct MountPoint {
    std::string name;
    std::string path;
    bool read_only { false };
};

struct Port {
    std::string name;
    std::string protocol;
    uint16_t port { 0 };
    uint16_t count { 1 };
    bool socket_activated { false };
};

struct App {
    std::vector<std::string> exec;
    std::string user;
    std::string group;
    std::vector<uint32_t> supplementary_gids;
    std::string working_directory;
    std::vector<NameValue> environment;
    std::vector<EventHandler> event_handlers;
    std::vector<Isolator> isolators;
    std::vector<MountPoint> mount_points;
    std::vector<Port> ports;
};

struct ImageManifest {
    std::string ac_version;
    std::string name;
    std::vector<NameValue> labels;
    std::optional<App> app;
    std::vector<NameValue> annotations;
    nlohmann::json raw;

    /// Value of a label ("version", "os", "arch"), if present.
    std::optional<std::string> label(std::string_view name) const;
    /// Value of an annotation, if present.
    std::optional<std::string> annotation(std::string_view name) const;
};

/// Parse and validate an ImageManifest (acKind, acVersion, AC names, labels, app, isolators,
/// mount points, ports, annotations). The error names the field and why.
Result<ImageManifest> parse_image_manifest(std::string_view json);

/// What `exec[0]` may be.
enum class ExecRule {
    Absolute,   ///< an absolute path (appc image manifests)
    SearchPath, ///< also a command looked up in the app's PATH, or a path relative to its working
                ///< directory, as docker runs an OCI image's Entrypoint/Cmd (pod manifests)
};

/// Parse/validate just an app section (used by the pod manifest too).
Result<App> parse_app(const nlohmann::json&, ExecRule = ExecRule::Absolute);
nlohmann::json to_json(const App&);

/// AC Identifier / AC Name checks from the spec.
bool is_ac_name(std::string_view);
bool is_ac_identifier(std::string_view);

} // namespace capsule::appc
