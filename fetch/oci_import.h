// SPDX-License-Identifier: Apache-2.0
#pragma once

// The import pipeline every OCI source shares (registry, layout, archives): given a
// manifest's bytes and a way to read blobs, check the manifest, fetch and verify the config,
// import the layers the store lacks (in parallel, each streamed through digest,
// decompression and extraction in one pass) and record the image.

#include "fetch/fetch.h"
#include "lib/oci/image.h"
#include "store/oci.h"

#include <functional>
#include <string>

namespace capsule::fetch {

/// Receives a blob's bytes as they arrive.
using BlobSink = std::function<Status(const void*, size_t)>;

struct BlobSource {
    /// Stream the blob `desc` into `sink`. Called from several threads at once when
    /// `parallel` > 1 (each call must use its own connection / fd).
    std::function<Status(const oci::Descriptor& desc, const BlobSink& sink)> read;
    /// How many layers to fetch at once.
    unsigned parallel { 1 };
};

/// Import the image whose manifest is `manifest` (bytes, already verified against its
/// digest by the caller; `media_type` as served or described). `record` carries name, tag,
/// origin, labels and signer; its manifest/config/layers are filled here. Errors name the
/// blob (digest) and why; nothing is stored unless everything verified.
Result<store::ImageInfo> import_oci_manifest(store::Store&, const std::string& manifest, const std::string& media_type,
    const BlobSource&, store::OciImageRecord record, const FetchOptions&);

} // namespace capsule::fetch
