// SPDX-License-Identifier: Apache-2.0
#pragma once

// The local image store under `$dir/store/` (see Documentation/store.md):
//   blobs/<algo>/<hex>     content-addressed blobs, written temp -> fsync -> rename
//   index.db               SQLite (WAL): images, names, labels, sizes, origin, times
//   tree/<image-id>/       rendered trees: `manifest` + `rootfs/`, read-only once complete
//   tmp/                   in-flight writes (gc removes leftovers)
//   lock                   flock: shared for every user, exclusive for rm/gc
//
// A crash at any instant leaves the store consistent: nothing half-written is listed.

#include "lib/appc/types.h"
#include "lib/fd.h"
#include "lib/result.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace capsule::store {

struct ImageInfo {
    std::string id;   ///< "sha512-<128 hex>" for ACIs
    std::string name; ///< appc name, e.g. "example.com/busybox"
    std::vector<appc::NameValue> labels;
    std::string type;   ///< "aci" (later "oci")
    std::string origin; ///< where it was fetched from (path or URL)
    uint64_t blob_size { 0 };
    uint64_t tree_size { 0 };
    int64_t import_time { 0 }; ///< unix seconds
    int64_t last_used { 0 };   ///< unix seconds
};

class Store {
public:
    /// Opens (creating on first use) `$dir/store`, taking the shared store lock.
    static Result<std::unique_ptr<Store>> open(const std::string& dir);
    ~Store();

    const std::string& root() const;

    /// Resolve a reference to exactly one stored image: a full or unique-prefix image ID
    /// ("sha512-1a2b…"), or an appc name with optional ":version" label. Errors say
    /// "not found" or "ambiguous" and list the candidates.
    Result<ImageInfo> resolve(std::string_view ref);
    /// Every stored image, newest import first.
    Result<std::vector<ImageInfo>> list();
    Result<appc::ImageManifest> manifest(const std::string& id);
    /// `$dir/store/tree/<id>`, holding `manifest` and `rootfs/`; rendered at import.
    std::string tree_path(const std::string& id) const;
    /// Record use (for `image gc`).
    Status touch(const std::string& id);

    // The rest of the interface (import, remove, gc, disk usage) is declared in
    // store/store_impl.h by the store module.
    struct Impl;
    Impl& impl() { return *m_impl; }

private:
    std::unique_ptr<Impl> m_impl;
};

} // namespace capsule::store
