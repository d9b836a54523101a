// SPDX-License-Identifier: Apache-2.0
#pragma once

// Store internals shared by the store/*.cpp files.

#include "lib/fd.h"
#include "store/index.h"
#include "store/store.h"

#include <mutex>
#include <string>

namespace capsule::store {

struct Store::Impl {
    std::string root; ///< $dir/store
    FileLock lock;    ///< shared for the Store's lifetime; exclusive during rm/gc
    Index index;
    /// The index connection is not thread-safe: layer imports commit from several threads.
    std::mutex index_mutex;

    std::string blobs_dir() const { return root + "/blobs/sha512"; }
    std::string trees_dir() const { return root + "/tree"; }
    std::string tmp_dir() const { return root + "/tmp"; }
    std::string reserve_path() const { return root + "/reserve"; }
    std::string layers_dir() const { return root + "/layers"; }
    /// `blobs/<algo>` (OCI digests are sha256 or sha512).
    std::string blob_dir(std::string_view algo) const { return root + "/blobs/" + std::string(algo); }
    /// `blobs/<algo>/<hex>` for an OCI digest "algo:hex".
    std::string oci_blob_path(std::string_view digest) const;
};

/// Size of `store/reserve`, a file kept so that deleting still works on a full disk: rm and
/// gc unlink it when the index cannot grow its WAL, and make it again afterwards.
inline constexpr uint64_t reserve_size = 4 << 20;

/// Best effort: (re)create the reserve file if it is missing.
void ensure_reserve(const std::string& path);

/// Seconds since the epoch, for index timestamps.
int64_t unix_now();

/// Apply the layers of OCI image `id` in order (whiteouts applied) into the directory open
/// at `dirfd`: its contents, or `manifest` (the OCI manifest's bytes) + `rootfs/`.
Status flatten_oci(Store&, const std::string& id, int dirfd, CopyWhat);
/// Write OCI image `id` as an oci-archive (a tar of an OCI image layout) to `out`.
Status write_oci_archive(Store&, const std::string& id, int out);

} // namespace capsule::store
