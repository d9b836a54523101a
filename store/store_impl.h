// SPDX-License-Identifier: Apache-2.0
#pragma once

// Store internals shared by the store/*.cpp files.

#include "lib/fd.h"
#include "store/index.h"
#include "store/store.h"

#include <string>

namespace capsule::store {

struct Store::Impl {
    std::string root; ///< $dir/store
    FileLock lock;    ///< shared for the Store's lifetime; exclusive during rm/gc
    Index index;

    std::string blobs_dir() const { return root + "/blobs/sha512"; }
    std::string trees_dir() const { return root + "/tree"; }
    std::string tmp_dir() const { return root + "/tmp"; }
    std::string reserve_path() const { return root + "/reserve"; }
};

/// Size of `store/reserve`, a file kept so that deleting still works on a full disk: rm and
/// gc unlink it when the index cannot grow its WAL, and make it again afterwards.
inline constexpr uint64_t reserve_size = 4 << 20;

/// Best effort: (re)create the reserve file if it is missing.
void ensure_reserve(const std::string& path);

/// Seconds since the epoch, for index timestamps.
int64_t unix_now();

} // namespace capsule::store
