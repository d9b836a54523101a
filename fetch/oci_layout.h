// SPDX-License-Identifier: Apache-2.0
#pragma once

// Images on disk in OCI and Docker formats: an OCI image layout directory (`oci:DIR[:tag]`),
// a tar of one (`oci-archive:FILE[:tag]`), and `docker save` output
// (`docker-archive:FILE`). A plain path to such an archive is sniffed by its contents.

#include "fetch/fetch.h"

namespace capsule::fetch {

/// `oci:DIR[:tag]` (the text after "oci:"). Without a tag the layout must hold one image.
Result<store::ImageInfo> fetch_oci_layout(store::Store&, const std::string& ref, const FetchOptions&);
/// `oci-archive:FILE[:tag]` (the text after "oci-archive:").
Result<store::ImageInfo> fetch_oci_archive(store::Store&, const std::string& ref, const FetchOptions&);
/// `docker-archive:FILE` (the text after "docker-archive:").
Result<store::ImageInfo> fetch_docker_archive(store::Store&, const std::string& ref, const FetchOptions&);

/// What a local image file holds, from its contents.
enum class ArchiveKind { Aci, OciArchive, DockerArchive, Unknown };
/// Sniff an image file (an uncompressed tar with `oci-layout` or `manifest.json` at its top
/// is an OCI or Docker archive; anything else is treated as an ACI).
ArchiveKind sniff_archive(int fd);

} // namespace capsule::fetch
