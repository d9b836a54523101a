// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared by the OCI layout, OCI archive and docker-archive transports (fetch/oci_layout.cpp,
// fetch/docker_archive.cpp); exposed for the unit tests.

#include "fetch/fetch.h"
#include "fetch/oci_import.h"
#include "lib/fd.h"
#include "lib/oci/image.h"

#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace capsule::fetch {

/// Images from layouts and archives carry no signatures: they need --insecure-options=image.
/// Checked before anything is written. `what` names the source ("OCI image layouts").
Status require_unsigned_allowed(const FetchOptions&, const std::string& what);

/// The pull policy for an image whose manifest digest is known: `new` and `never` answer a
/// stored image from the store; `never` refuses one that is not stored; `update` re-reads.
Result<std::optional<store::ImageInfo>> stored_image(store::Store&, const std::string& digest, const FetchOptions&);

/// An archive file, open, with what the store already knows of it.
struct OpenedArchive {
    UniqueFd fd;
    struct stat st { };
    /// The image imported from this origin ("oci-archive:/abs:tag", "docker-archive:/abs")
    /// while the file had this inode, size and mtime, unless the pull policy is `update`.
    std::optional<store::ImageInfo> stored;
};
/// Open the archive at `path` (absolute) and look its origin up in the store.
Result<OpenedArchive> open_archive(
    store::Store&, const std::string& path, const std::string& origin, const std::string& what, const FetchOptions&);

/// The name and tag recorded for an image of a layout. The rule: a reference annotation that
/// looks like a full reference (`io.containerd.image.name`, or an
/// `org.opencontainers.image.ref.name` with a '/' or ':', e.g. "example.com/app:v1") gives
/// both (split at its last ':' after the last '/'); otherwise the name is `fallback_name`
/// (the layout directory's or archive's base name) and the tag is the ref.name (or the tag
/// asked for).
struct NameTag {
    std::string name;
    std::string tag;
};
NameTag layout_name_tag(
    const std::map<std::string, std::string>& annotations, const std::string& tag, const std::string& fallback_name);

/// A docker-archive's image as the Docker schema2 manifest capsule records for it: sorted
/// keys, no whitespace, so the same archive always gives the same bytes (and image ID).
std::string docker_schema2_manifest(const oci::Descriptor& config, const std::vector<oci::Descriptor>& layers);

/// What sniff_archive() decides from a tar's top-level members.
ArchiveKind archive_kind(bool tar, bool oci_layout, bool manifest_json, bool repositories, bool aci_manifest,
    std::string_view manifest_json_head);

} // namespace capsule::fetch
