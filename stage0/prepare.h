// SPDX-License-Identifier: Apache-2.0
#pragma once

// `prepare`: fetch the stage1 and app images, write the pod directory (pod manifest, stage1
// and per-app info, overlay dirs or copied rootfs) and leave the pod `prepared`. On any
// failure nothing is left: the half-made pod is moved to garbage and deleted.

#include "fetch/fetch.h"
#include "lib/insecure.h"
#include "stage0/cgroup.h"
#include "stage0/pod_spec.h"
#include "stage0/pod_state.h"

#include <functional>
#include <string>

namespace capsule::stage0 {

struct PrepareContext {
    std::string dir;                             ///< --dir
    std::string system_config;                   ///< --system-config (stage1 images, kvm.json)
    InsecureOptions insecure;                    ///< global --insecure-options
    std::string local_config { "/etc/capsule" }; ///< --local-config (trusted keys, kvm.json)
    bool trust_keys_from_https { false };        ///< --trust-keys-from-https
    bool progress { false };                     ///< download progress on stderr (a TTY)
    /// Things the user should hear about while images are fetched (fetch::FetchOptions).
    std::function<void(const std::string&)> on_notice;
};

/// Pod-level run choices made at prepare time and used by run-prepared (stage0's own file
/// `<poddir>/run-options`, JSON; not part of the stage1 interface).
struct RunOptions {
    bool interactive { false };
    bool inherit_env { false };
    std::string hostname;
    bool debug { false };
    /// --memory/--cpu of the apps, summed: the pod cgroup's limits.
    CgroupLimits limits;
    /// --unit-property K=V: the pod's scope (or detached service) gets them.
    std::vector<std::string> unit_properties;
};

/// Prepare a pod; it is returned still locked, in `prepared`.
Result<LockedPod> prepare_pod(const PrepareContext&, const PodSpec&);

/// Read `<poddir>/run-options` (missing file: defaults).
RunOptions read_run_options(const std::string& pod_path);

} // namespace capsule::stage0
