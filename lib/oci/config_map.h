// SPDX-License-Identifier: Apache-2.0
#pragma once

// An OCI image config seen as an appc app, at prepare time (nothing is converted in the
// store): Entrypoint + Cmd -> exec, Env, WorkingDir, ExposedPorts -> ports, Volumes ->
// mount points, Labels -> annotations; and docker's rules for what the command line
// overrides (`--exec`, `-- ARGS`) and for `User` (names resolved in the image's own
// /etc/passwd and /etc/group). Pure: the caller reads the files. See
// Documentation/oci-images.md.

#include "lib/appc/types.h"
#include "lib/oci/image.h"
#include "lib/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::oci {

/// Annotations of the appc view keeping what docker's rules need: JSON arrays of strings.
inline constexpr std::string_view annotation_entrypoint = "capsule/oci/entrypoint";
inline constexpr std::string_view annotation_cmd = "capsule/oci/cmd";
/// The config's `User` as written ("" when unset).
inline constexpr std::string_view annotation_user = "capsule/oci/user";

/// The PATH docker gives a container whose image sets none.
inline constexpr std::string_view default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The appc ImageManifest view of an image config. `name` and `labels` are the store's
/// (ImageInfo). The app's user and group are "0" here: the real ones depend on the
/// command line (see resolve_user). Errors name the field (a malformed ExposedPorts key).
Result<appc::ImageManifest> image_manifest_view(
    const ImageConfig&, const std::string& name, const std::vector<appc::NameValue>& labels);

/// "8080/tcp" -> {name "8080-tcp", protocol "tcp", port 8080}; "53/udp"; "8080" (tcp);
/// "1000-1010/tcp" (count 11).
Result<appc::Port> port_from_exposed(std::string_view key);
/// "/var/lib/data" -> "volume-var-lib-data" (an AC name).
std::string volume_name(std::string_view path);

/// Docker's override rules: `exec` (--exec) replaces the Entrypoint and drops the image's
/// Cmd; non-empty `args` (after `--`) replace the Cmd; otherwise Entrypoint + Cmd. An empty
/// result is an error naming `image`.
Result<std::vector<std::string>> docker_exec(const std::vector<std::string>& entrypoint,
    const std::vector<std::string>& cmd, const std::optional<std::string>& exec, const std::vector<std::string>& args,
    std::string_view image);

/// Credentials as docker computes them for a container.
struct ExecUser {
    uint32_t uid { 0 };
    uint32_t gid { 0 };
    std::vector<uint32_t> supplementary_gids; ///< in /etc/group order
    std::string name;                         ///< the matched /etc/passwd entry ("" when none)
};

/// Docker's `User` semantics against the text of the image's /etc/passwd and /etc/group:
///   ""          -> uid 0, with gid and groups of the passwd entry of uid 0 if there is one
///   "name"      -> that user's uid and primary gid (an error if no such user)
///   "uid"       -> uid; gid from the passwd entry of that uid, else 0
///   "u:g"       -> as above for u, then g: a group name (an error if missing) or a number
/// Supplementary groups: when no group is given and a passwd entry matched, every group of
/// /etc/group listing that user's name as a member. Errors name the user or group and the
/// file; the caller adds the image.
Result<ExecUser> resolve_user(std::string_view user, std::string_view passwd, std::string_view group);

/// What prepare keeps of an OCI image for build_pod_manifest: docker's rules need the
/// Entrypoint and Cmd apart and the user database of the image.
struct DockerApp {
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string user;   ///< config `User`
    std::string passwd; ///< the image's /etc/passwd ("" when absent)
    std::string group;  ///< the image's /etc/group ("" when absent)
};

} // namespace capsule::oci
