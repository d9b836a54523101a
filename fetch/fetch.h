// SPDX-License-Identifier: Apache-2.0
#pragma once

// Getting images into the store: resolve a reference, pick a transport, verify, store.

#include "fetch/openpgp.h"
#include "lib/insecure.h"
#include "lib/oci/image.h"
#include "lib/result.h"
#include "store/store.h"

#include <functional>
#include <optional>
#include <string>

namespace capsule::fetch {

enum class PullPolicy { Never, New, Update };

struct FetchOptions {
    InsecureOptions insecure;
    PullPolicy pull_policy { PullPolicy::New };
    std::optional<std::string> signature; ///< --signature=FILE for a local file
    bool progress { false };              ///< a download progress bar on stderr (a TTY)
    /// Trusted without a signature: the stage1 images capsule ships (looked up by stage0
    /// beside the binary or in the system config dir).
    bool trusted_builtin { false };
    /// Where trusted keys live (trustedkeys/ under each; the local dir wins).
    std::string local_config { "/etc/capsule" };
    std::string system_config { "/usr/lib/capsule" };
    /// --trust-keys-from-https: when an image fetched by name is signed by an unknown key,
    /// trust the keys its name's discovery publishes (ac-discovery-pubkeys) for their prefix.
    bool trust_keys_from_https { false };
    /// Called once an image's signature has been verified and its signer found trusted
    /// for its name (not for images answered from the store without reading them).
    std::function<void(const store::ImageInfo&, const openpgp::Signer&)> on_verified;
    /// The platform to pick from a multi-platform index (--platform; default: this host's).
    oci::Platform platform { oci::host_platform() };
    /// Things the user should hear about, one line each (e.g. "docker://…: tag latest moved
    /// from sha256-… to sha256-…"); the command prints them on stderr.
    std::function<void(const std::string&)> on_notice;
};

/// What a reference names, decided from its text alone.
enum class RefKind {
    File,          ///< a path: "/abs", "./rel", "../rel", "x.aci", or any existing file
    ImageId,       ///< "sha512-…" / "sha256-…" (full or unique prefix)
    Name,          ///< an appc name with optional ":version"
    Https,         ///< an http:// or https:// URL of an ACI (its signature beside it, + ".asc")
    Docker,        ///< docker://[registry/]name[:tag|@digest]
    OciLayout,     ///< oci:DIR[:tag]
    OciArchive,    ///< oci-archive:FILE[:tag]
    DockerArchive, ///< docker-archive:FILE
    Unsupported,   ///< a transport capsule does not have (ftp://, …)
};

struct ParsedRef {
    RefKind kind;
    std::string scheme; ///< for Https and Unsupported: "https", "http", "ftp", …
    std::string rest;   ///< for Docker, OciLayout, OciArchive, DockerArchive: the text after the transport prefix
};

ParsedRef parse_ref(std::string_view ref);

/// Fetch `ref` (a path to an ACI, OCI archive or docker-archive file, an http(s) URL of an
/// ACI, an appc name[:version] found by meta discovery, docker://, oci:, oci-archive: or
/// docker-archive:) into the store and return the stored image. A URL fetched before is
/// answered from the store (`new`), revalidated with its ETag (`update`) or never fetched (`never`). A ref that names a
/// stored image (ID prefix or name[:version]) is returned from the store unless the pull policy says otherwise.
Result<store::ImageInfo> fetch_image(store::Store&, std::string_view ref, const FetchOptions&);

} // namespace capsule::fetch
