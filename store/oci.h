// SPDX-License-Identifier: Apache-2.0
#pragma once

// OCI / Docker images in the store (see Documentation/store.md, "OCI images"):
//
//   blobs/sha256/<hex>            manifests, configs and layer blobs, exactly as fetched
//   layers/sha256-<hex>/          each layer rendered once, by its blob digest, as an
//                                 overlayfs lower layer: whiteouts are 0/0 character
//                                 devices, opaque directories carry trusted.overlay.opaque=y
//   tree/<image-id>/rootfs        only when an image cannot be stacked (too many layers,
//                                 no overlayfs): its layers flattened, rendered once
//
// An OCI image's ID is "sha256-<hex>" of its manifest. The index keeps images (type "oci"),
// layers and which image uses which layer, so rm and gc drop layers no image uses.
// Nothing is converted: the manifest and config stay as they were, and stage0 maps the
// config into the pod manifest at prepare time (lib/oci/config_map.h).

#include "lib/oci/image.h"
#include "lib/result.h"
#include "store/store.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace capsule::store {

struct LayerInfo {
    std::string digest; ///< "sha256:<hex>" of the blob (compressed, as distributed)
    std::string media_type;
    uint64_t size { 0 };      ///< blob bytes
    uint64_t tree_size { 0 }; ///< rendered bytes
};

/// One layer being imported. Its blob's bytes are pushed with write() as they arrive (from
/// any one thread); they are hashed, written to a temp blob and, in a second thread,
/// decompressed and extracted (safe extraction, whiteouts kept as overlayfs whiteouts) into
/// a temp tree, all in one pass. commit() checks size and digest against the descriptor and
/// only then moves blob and tree into place and records the layer. Destroying an
/// uncommitted import (or a failed commit) leaves nothing behind.
class LayerImport {
public:
    virtual ~LayerImport() = default;
    /// Feed the next bytes of the blob. An error (write failure, a tar that is not safe to
    /// unpack, more bytes than the descriptor's size) ends the import.
    virtual Status write(const void* data, size_t size) = 0;
    /// All bytes were written: wait for the extraction and verify size, digest and tree, and
    /// make them durable, without publishing anything. Lets a caller verify every layer of
    /// an image before any of them becomes visible. Idempotent.
    virtual Status finish() = 0;
    /// finish() (if not done yet), then move blob and tree into place and record the layer. Errors: "digest mismatch:
    /// expected …, got …", "size mismatch", "truncated", extraction errors.
    virtual Result<LayerInfo> commit() = 0;
};

/// An OCI image to record once all its layers are committed.
struct OciImageRecord {
    std::string name;                    ///< "127.0.0.1:5000/busybox", "docker.io/library/busybox", or a layout's name
    std::string tag;                     ///< recorded as the "version" label ("" when pulled by digest only)
    std::vector<appc::NameValue> labels; ///< more labels (os, arch); "version" is added from tag
    std::string manifest;                ///< the manifest's bytes, exactly as fetched
    std::string manifest_media_type;
    std::string config;            ///< the config's bytes, exactly as fetched
    std::vector<LayerInfo> layers; ///< bottom first, each already committed
    std::string origin;            ///< "docker://…", "oci:/path:tag", …
    /// Recorded as signed_by: for docker images pinned by digest, "digest" (the digest is the trust).
    std::string signed_by;
    /// For images read from a local file (oci-archive, docker-archive): the file and its
    /// identity, so that find_by_origin(origin_path, stat) answers a re-fetch without reading it.
    std::string origin_path;
    const struct stat* origin_stat { nullptr };
};

/// What stage0 needs of a stored OCI image.
struct OciImage {
    ImageInfo info;
    std::string manifest;                ///< bytes
    std::string config;                  ///< bytes
    std::vector<LayerInfo> layers;       ///< bottom first
    std::vector<std::string> layer_dirs; ///< `layers/<digest>` paths, bottom first
};

/// The most layers stage0 stacks as overlayfs lowerdirs; more are flattened (flat_tree()).
inline constexpr size_t max_stacked_layers = 40;

} // namespace capsule::store
