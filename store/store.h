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
#include "lib/fs.h"
#include "lib/oci/image.h"
#include "lib/result.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace capsule::store {

struct LayerInfo;
struct OciImageRecord;
struct OciImage;
class LayerImport;

struct ImageInfo {
    std::string id;   ///< "sha512-<128 hex>" for ACIs, "sha256-<64 hex>" (of the manifest) for OCI images
    std::string name; ///< appc name, e.g. "example.com/busybox"
    std::vector<appc::NameValue> labels;
    std::string type;   ///< "aci" or "oci"
    std::string origin; ///< where it was fetched from (path or URL)
    uint64_t blob_size { 0 };
    uint64_t tree_size { 0 };
    int64_t import_time { 0 }; ///< unix seconds
    int64_t last_used { 0 };   ///< unix seconds
    std::string signed_by;     ///< primary fingerprint of the key that signed it ("" if unverified)

    /// The "version" label, or "" when the image has none.
    std::string version() const;
};

/// What an http(s) URL gave when it was last fetched (the remote cache).
struct RemoteInfo {
    std::string url;          ///< as the user gave it
    std::string resolved_url; ///< after redirects
    std::string etag;         ///< the validator to revalidate with ("" if none)
    int64_t max_age { -1 };   ///< Cache-Control max-age in seconds; -1 when not given
    int64_t fetched_at { 0 }; ///< unix seconds of the last fetch or revalidation
    std::string image_id;
};

/// How to import an image (see Store::import_aci).
struct ImportOptions {
    /// Lets find_by_origin() skip re-reading an unchanged file later.
    const struct stat* origin_stat { nullptr };
    /// Called with the validated manifest before anything is committed: an error refuses
    /// the image and leaves the store as it was (signature trust is decided by name).
    std::function<Status(const appc::ImageManifest&)> check_manifest;
    /// Recorded in the index as ImageInfo::signed_by.
    std::string signed_by;
};

/// Image IDs that must not be removed because pods use them. Called by remove() and gc()
/// while they hold the exclusive store lock, so no pod can start using an image between
/// the check and the removal (pods hold the shared lock while they prepare).
using InUseFn = std::function<Result<std::set<std::string>>()>;

/// What to copy out of a stored image.
enum class CopyWhat {
    Tree,       ///< `manifest` + `rootfs/`
    RootfsOnly, ///< the contents of `rootfs/` only
};

struct GcOptions {
    /// Images whose last use (or import) is older than this are removed.
    std::chrono::seconds grace_period { std::chrono::hours(24) };
    InUseFn in_use;
};

struct GcReport {
    std::vector<ImageInfo> removed; ///< images removed for being unused
    std::vector<std::string> skipped_in_use;
    uint64_t tmp_entries { 0 };    ///< leftovers of interrupted imports or removals
    uint64_t orphaned_blobs { 0 }; ///< blobs without an index row
    uint64_t orphaned_trees { 0 }; ///< trees (and layer trees) without an index row
    uint64_t removed_layers { 0 }; ///< layers no remaining image uses, removed with their blobs
};

/// Disk use of the store's parts (allocated bytes; hardlinks counted once).
struct StoreUsage {
    DiskUsage blobs; ///< ACI blobs and OCI manifests, configs and layer blobs
    DiskUsage trees;
    DiskUsage layers;           ///< OCI layer trees (`layers/`)
    uint64_t layer_count { 0 }; ///< stored layers
    DiskUsage tmp;
    DiskUsage index; ///< index.db and its WAL
};

class Store {
public:
    /// Opens (creating on first use) `$dir/store`, taking the shared store lock.
    static Result<std::unique_ptr<Store>> open(const std::string& dir);
    ~Store();

    const std::string& root() const;

    /// Resolve a reference to exactly one stored image: a full or unique-prefix image ID
    /// ("sha512-1a2b…", "sha256-…"), an appc name with optional ":version" label, or a
    /// docker name with optional ":tag" (the text after the last ':' that follows the last
    /// '/': "127.0.0.1:5000/busybox:latest"; "busybox" also finds
    /// "docker.io/library/busybox") or "@sha256:…" (the manifest digest). Errors say
    /// "not found" or "ambiguous" and list the candidates. A name matching several images
    /// resolves to the one imported last (as rkt did).
    Result<ImageInfo> resolve(std::string_view ref);
    /// Every stored image, newest import first.
    Result<std::vector<ImageInfo>> list();
    Result<appc::ImageManifest> manifest(const std::string& id);
    /// `$dir/store/tree/<id>`, holding `manifest` and `rootfs/`; rendered at import.
    std::string tree_path(const std::string& id) const;
    /// `$dir/store/blobs/sha512/<hex>`: the image's uncompressed tar; for OCI images
    /// `blobs/sha256/<hex>`, the manifest.
    std::string blob_path(const std::string& id) const;
    /// Record use (for `image gc`).
    Status touch(const std::string& id);

    /// Import an ACI (a tar, plain or gzip/bzip2/xz/zstd compressed) from `fd`, a regular
    /// file open for reading at offset 0. Single pass: decompress, hash (SHA-512), write the
    /// blob and extract the tree; then validate and commit. Importing an image that is
    /// already stored returns it and changes nothing. `origin` is recorded for listings;
    /// `origin_stat`, when given, lets find_by_origin() skip re-reading an unchanged file.
    Result<ImageInfo> import_aci(int fd, const std::string& origin, const struct stat* origin_stat = nullptr);
    /// import_aci() with a manifest check and the signer to record.
    Result<ImageInfo> import_aci(int fd, const std::string& origin, const ImportOptions&);
    /// A stored image previously imported from `path` while it had this inode, size and mtime.
    Result<std::optional<ImageInfo>> find_by_origin(const std::string& path, const struct stat&);

    /// The remote cache entry for `url` (removed with its image).
    Result<std::optional<RemoteInfo>> find_remote(const std::string& url);
    /// Remember (or refresh) what `RemoteInfo::url` resolved to.
    Status record_remote(const RemoteInfo&);
    /// An unnamed file in tmp/ (O_TMPFILE) for a download: it vanishes with its last fd, so
    /// an interrupted fetch leaves nothing behind.
    Result<UniqueFd> temp_file();

    /// Remove one image (ID, unique ID prefix or name[:version]); refused while `in_use`
    /// lists it. Takes the exclusive store lock for the duration. Never writes a new file
    /// before deleting, so it works on a full disk.
    Result<ImageInfo> remove(std::string_view ref, const InUseFn& in_use);
    /// Remove images unused for longer than the grace period (unless in use), leftovers in
    /// tmp/, and blobs or trees that no index row lists. Exclusive lock.
    Result<GcReport> gc(const GcOptions&);
    /// Remove leftovers in tmp/ (interrupted imports and removals) when no other capsule
    /// process is using the store at this moment; never waits for one (pod gc calls it).
    /// Returns how many entries were removed.
    Result<uint64_t> remove_leftovers();
    StoreUsage usage() const;

    // OCI images (store/oci.h). find_layer(), begin_layer(), put_blob() and the returned
    // LayerImports may be used from several threads at once.

    /// The stored layer with this blob digest ("sha256:…"), if its tree is complete.
    Result<std::optional<LayerInfo>> find_layer(const std::string& digest);
    /// Start importing a layer blob described by `desc` (digest, size, media type).
    Result<std::unique_ptr<LayerImport>> begin_layer(const oci::Descriptor& desc);
    /// Store a blob that is not a layer (a manifest or config) after checking its digest.
    Status put_blob(const std::string& digest, std::string_view bytes);
    /// Record an image whose layers are all committed; an image already stored is returned
    /// as it is (its origin and signer updated). ID = "sha256-" + sha256(manifest).
    Result<ImageInfo> commit_oci_image(const OciImageRecord&);
    /// The stored OCI image `id` (an error for ACIs).
    Result<OciImage> oci_image(const std::string& id);
    /// `$dir/store/layers/sha256-<hex>` for a layer digest.
    std::string layer_path(const std::string& digest) const;
    /// Read a file of the image's root filesystem (`path` relative to it, e.g. "etc/passwd")
    /// without mounting: through the layer stack top-down, honouring whiteouts and opaque
    /// directories, never following a symlink out of a layer. nullopt when absent. Works
    /// for ACIs too (their rendered rootfs).
    Result<std::optional<std::string>> read_image_file(const std::string& id, const std::string& path);
    /// `tree/<id>/rootfs` holding the image's layers flattened (whiteouts applied), rendered
    /// once on first use; for images that cannot be stacked.
    Result<std::string> flat_tree(const std::string& id);

    /// Write the image's ACI (its uncompressed tar), or for an OCI image an oci-archive (a tar
    /// of an OCI image layout), to `dest` (temp file beside it, renamed).
    Status export_image(const std::string& id, const std::string& dest);
    /// Extract the stored blob afresh into `dest` (which must not exist, or be empty); an OCI
    /// image's layers are flattened (`manifest` is then the OCI manifest).
    Status extract_image(const std::string& id, const std::string& dest, CopyWhat);
    /// Copy the rendered tree (or its rootfs) to `dest` (which must not exist, or be empty).
    Status render_image(const std::string& id, const std::string& dest, CopyWhat);

    struct Impl;
    Impl& impl() { return *m_impl; }

private:
    explicit Store(std::unique_ptr<Impl>);
    Status lock_exclusive();
    void unlock_exclusive();
    Status remove_locked(const ImageInfo&);
    Result<uint64_t> remove_tmp_locked();
    Status flatten_to(const std::string& id, const std::string& dest, CopyWhat);

    std::unique_ptr<Impl> m_impl;
};

/// "sha512-<first 16 hex>" (or "sha256-…"): the short form listings show.
std::string short_id(std::string_view id);

} // namespace capsule::store
