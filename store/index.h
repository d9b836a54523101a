// SPDX-License-Identifier: Apache-2.0
#pragma once

// The store's SQLite index (index.db, WAL). Its schema is versioned with
// `PRAGMA user_version` and upgraded by ordered migrations at open.

#include "lib/result.h"
#include "store/oci.h"
#include "store/store.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

struct sqlite3;

namespace capsule::store {

/// Identity of a source file when it was imported: re-fetching the same unchanged file
/// is answered from the index without reading it again.
struct OriginKey {
    std::string path;
    uint64_t dev { 0 };
    uint64_t ino { 0 };
    uint64_t size { 0 };
    int64_t mtime_ns { 0 };
};

/// What the index keeps of an OCI image beside its images row.
struct OciRefs {
    std::string manifest_digest;
    std::string manifest_media_type;
    std::string config_digest;
    std::vector<LayerInfo> layers; ///< bottom first
};

class Index {
public:
    /// The schema version this build writes; a newer database is refused.
    static int current_schema_version();

    /// Opens (creating) the database at `path` and migrates it to the current schema.
    static Result<Index> open(const std::string& path);
    /// A closed index; only open() makes a usable one.
    Index() = default;
    Index(Index&&) noexcept;
    Index& operator=(Index&&) noexcept;
    ~Index();

    Result<int> schema_version();

    /// Insert an image (and its origin key, if any); an existing row is kept as it is.
    Status insert(const ImageInfo&, const OriginKey* origin);
    /// Record the signer of an image stored unsigned before (a signed row keeps its signer).
    Status set_signed_by(const std::string& id, const std::string& fingerprint);
    Result<std::optional<ImageInfo>> get(const std::string& id);
    /// Images whose ID starts with `prefix`.
    Result<std::vector<ImageInfo>> find_prefix(std::string_view prefix);
    /// Images named `name` (with the given version label, if any), newest import first.
    Result<std::vector<ImageInfo>> find_name(std::string_view name, std::optional<std::string_view> version);
    /// Every image, newest import first (one query).
    Result<std::vector<ImageInfo>> list();
    Result<std::optional<std::string>> find_origin(const OriginKey&);
    Status record_origin(const OriginKey&, const std::string& id);
    /// The remote cache entry for an http(s) URL, if it was fetched before.
    Result<std::optional<RemoteInfo>> find_remote(const std::string& url);
    /// Insert or replace the entry for `RemoteInfo::url`.
    Status record_remote(const RemoteInfo&);
    Status touch(const std::string& id, int64_t now);
    /// Deletes the image's row and its origins; true if a row was deleted.
    Result<bool> remove(const std::string& id);

    // OCI images (schema 4).

    /// Record a committed layer; an existing row is kept.
    Status insert_layer(const LayerInfo&, int64_t now);
    Result<std::optional<LayerInfo>> get_layer(const std::string& digest);
    /// Insert an OCI image with its layers (which must all be stored) in one transaction,
    /// or, when `info.id` is stored already, update its origin (and name and version when
    /// `info` has a version, and the signer when none was recorded). A name:version held
    /// by another image moves here: that image keeps its row without a version. Returns
    /// the stored row.
    Result<ImageInfo> commit_oci(const ImageInfo& info, const OciRefs&);
    Result<std::optional<OciRefs>> get_oci(const std::string& id);
    /// Whether an OCI image other than `except_id` uses this config blob.
    Result<bool> config_in_use(const std::string& digest, const std::string& except_id);
    /// Delete a layer's row unless an image uses it; true when deleted.
    Result<bool> remove_layer_if_unused(const std::string& digest);
    /// Layers no image uses (leftovers of imports that failed after some layers).
    Result<std::vector<std::string>> unused_layers();
    /// Every layer digest with a row.
    Result<std::unordered_set<std::string>> layer_digests();
    /// Every blob digest an OCI row refers to: manifests, configs and layers.
    Result<std::unordered_set<std::string>> oci_blob_digests();

private:
    Status exec(const char* sql);
    Status rollback_on_error(Status);
    sqlite3* m_db { nullptr };
};

} // namespace capsule::store
