// SPDX-License-Identifier: Apache-2.0
#pragma once

// `docker://` images: a Docker Registry HTTP API v2 client over libcurl (fetch/http.h).
// Anonymous, basic and bearer-token auth (the WWW-Authenticate challenge), credentials
// from auth.d and ~/.docker/config.json; manifest lists and OCI indexes resolved for the
// requested platform; every manifest and blob verified against its digest as it streams;
// layers fetched in parallel.

#include "fetch/fetch.h"
#include "lib/oci/image.h"

namespace capsule::fetch {

/// Fetch `ref` (the text after "docker://") into the store, honouring the pull policy:
/// `new` answers a stored name:tag (or digest) without asking the registry, `update` asks
/// the registry and says when the tag moved, `never` only looks in the store.
Result<store::ImageInfo> fetch_docker(store::Store&, const std::string& ref, const FetchOptions&);

} // namespace capsule::fetch
