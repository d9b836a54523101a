// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the user asked for in `run`/`prepare`, before any image is fetched: pod-level choices
// and one AppSpec per image. The command line fills it (cmd/capsule/app_args.h); stage0
// turns it into a pod.

#include "fetch/fetch.h"
#include "lib/appc/pod_manifest.h"
#include "lib/oci/config_map.h"
#include "stage0/stage1_image.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace capsule::stage0 {

/// Whether an isolator's set lists what the app keeps (retain) or what it loses (remove).
enum class SetMode { Retain, Remove };

/// --cap-retain / --cap-remove: which appc capability isolator, and its set.
struct CapabilitySpec {
    SetMode mode { SetMode::Retain };
    std::vector<std::string> set; ///< canonical names (CAP_NET_ADMIN), no duplicates
};

/// --seccomp=mode=retain|remove[,errno=ENAME],SYSCALL...: which appc seccomp isolator, and its values.
struct SeccompSpec {
    SetMode mode { SetMode::Remove };
    std::vector<std::string> set;          ///< system call names and systemd @groups
    std::optional<std::string> errno_name; ///< "EPERM"; nullopt: blocked calls kill the app
};

struct AppSpec {
    std::string image;                          ///< a reference for fetch_image
    std::optional<std::string> exec;            ///< --exec: replaces the image's exec (OCI: its Entrypoint)
    std::vector<std::string> args;              ///< after `--`: appended to exec (OCI: replace its Cmd)
    std::optional<std::string> user;            ///< --user
    std::optional<std::string> group;           ///< --group
    std::optional<std::string> working_dir;     ///< --working-dir
    std::vector<appc::PodMount> mounts;         ///< --mount=volume=NAME,target=PATH
    std::vector<appc::NameValue> environment;   ///< --environment=K=V
    std::optional<std::string> name;            ///< --name
    std::optional<uint64_t> memory;             ///< --memory, bytes (the pod's cgroup and the app's isolator)
    std::optional<uint64_t> cpu_millicores;     ///< --cpu (likewise)
    std::optional<CapabilitySpec> capabilities; ///< --cap-retain / --cap-remove
    std::optional<SeccompSpec> seccomp;         ///< --seccomp
};

struct PodSpec {
    Stage1Selection stage1;
    bool interactive { false };
    bool inherit_env { false };
    bool no_overlay { false };
    std::vector<appc::NameValue> set_env;   ///< --set-env, in order
    std::vector<std::string> set_env_files; ///< --set-env-file, applied before --set-env
    std::vector<appc::Volume> volumes;      ///< --volume
    std::optional<std::string> hostname;
    std::optional<std::string> uuid_file_save;
    std::optional<std::string> insecure_options;  ///< --insecure-options given after the command
    std::optional<fetch::PullPolicy> pull_policy; ///< --pull-policy (app images; default: new)
    std::optional<oci::Platform> platform;        ///< --platform (default: this host's)
    std::vector<std::string> unit_properties;     ///< --unit-property K=V (checked when given)
    bool detach { false };                        ///< --detach (run only)
    std::optional<std::string> restart;           ///< --restart (with --detach)
    std::vector<AppSpec> apps;
};

/// An app image as resolved from the store.
struct ResolvedImage {
    std::string id;
    std::string name;
    std::vector<appc::NameValue> labels;
    appc::ImageManifest manifest; ///< for OCI images, the view of their config (lib/oci/config_map.h)
    /// OCI images: what docker's override and user rules need (nullopt for ACIs).
    std::optional<oci::DockerApp> oci;
};

/// Build the pod manifest (pure; unit-tested): app names (from --name or the image name),
/// exec/user/group/working dir overrides (appc's rules for ACIs, docker's for OCI images), environment (image <
/// --set-env-file/--set-env <
/// --environment), mounts (explicit --mount, then pod volumes named like an image mount point),
/// isolators (the image's, overridden by the app's flags: stage0/isolators.h).
/// `set_env` is the merged pod-level environment.
Result<appc::PodManifest> build_pod_manifest(
    const PodSpec&, const std::vector<ResolvedImage>&, const std::vector<appc::NameValue>& set_env);

/// An app name derived from an image name: its last path component, made an AC name.
std::string app_name_from_image(std::string_view image_name);

/// Read `K=V` lines (blank lines and `#` comments skipped) of an env file.
Result<std::vector<appc::NameValue>> parse_env_file(std::string_view text, const std::string& path);

/// `K=V` → NameValue; K must be a valid environment name.
Result<appc::NameValue> parse_env_assignment(std::string_view);

} // namespace capsule::stage0
