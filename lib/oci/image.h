// SPDX-License-Identifier: Apache-2.0
#pragma once

// OCI image-spec and Docker image-manifest v2 schema 2 documents, read natively (capsule
// never converts them to ACIs): descriptors, manifests, indexes / manifest lists, image
// configs, platforms, digests, and `docker://` references. Pure: no I/O.

#include "lib/result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::oci {

// Media types.
inline constexpr std::string_view media_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view media_oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view media_oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view media_oci_layer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view media_oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view media_oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view media_docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view media_docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view media_docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view media_docker_layer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view media_docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Manifests, indexes and configs larger than this are refused (registries cap manifests at 4 MiB).
inline constexpr size_t max_document_size = 4 << 20;

/// "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>".
bool is_valid_digest(std::string_view digest);
/// "sha256" of "sha256:…"; "" for an invalid digest.
std::string digest_algorithm(std::string_view digest);
/// The hex part of "sha256:…"; "" for an invalid digest.
std::string digest_hex(std::string_view digest);
/// An image ID from a manifest digest: "sha256:ab…" -> "sha256-ab…".
std::string image_id_from_digest(std::string_view digest);
/// The inverse: "sha256-ab…" -> "sha256:ab…".
std::string digest_from_image_id(std::string_view id);

struct Platform {
    std::string os { "linux" };
    std::string architecture { "amd64" };
    std::string variant; ///< "" when unset
    /// "linux/amd64" or "linux/arm64/v8".
    std::string str() const;
};

/// The platform of this build (linux and the machine's GOARCH-style architecture name).
Platform host_platform();
/// "os/arch[/variant]", as `--platform` takes it.
Result<Platform> parse_platform(std::string_view);

struct Descriptor {
    std::string media_type;
    std::string digest; ///< validated by the parsers
    int64_t size { 0 };
    std::optional<Platform> platform; ///< index entries only
    std::map<std::string, std::string> annotations;
};

/// What kind of layer blob a media type names.
enum class LayerCompression { None, Gzip, Zstd };
/// The compression of a layer media type; an error (ENOTSUP) for anything that is not a layer
/// capsule can unpack (foreign/non-distributable layers, unknown types), naming the type.
Result<LayerCompression> layer_compression(std::string_view media_type);

struct Manifest {
    std::string media_type; ///< media_oci_manifest or media_docker_manifest
    Descriptor config;
    std::vector<Descriptor> layers; ///< bottom layer first
    std::map<std::string, std::string> annotations;
};

struct Index {
    std::string media_type; ///< media_oci_index or media_docker_list
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;
};

/// Is this media type (or Content-Type) an index / manifest list?
bool is_index_media_type(std::string_view);
/// Is this media type (or Content-Type) an image manifest?
bool is_manifest_media_type(std::string_view);

/// Parse an image manifest. `media_type` is the type the document was served or described
/// as ("" when unknown: taken from the document's own mediaType). Errors name the field.
Result<Manifest> parse_manifest(std::string_view json, std::string_view media_type = {});
Result<Index> parse_index(std::string_view json, std::string_view media_type = {});
/// The media type of a manifest-or-index document: its `mediaType`, else guessed from its
/// fields (`manifests` -> index, `layers` -> manifest); an error for anything else.
Result<std::string> document_media_type(std::string_view json);

/// The entry of `index` for `platform` (variant matched when the platform names one). The
/// error lists the platforms the index has.
Result<Descriptor> select_platform(const Index&, const Platform&);

/// The parts of an image config capsule uses.
struct ImageConfig {
    std::string os;
    std::string architecture;
    std::string variant;
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::vector<std::string> env; ///< "K=V"
    std::string working_dir;
    std::string user;                          ///< "", "user", "uid", "user:group", "uid:gid"
    std::vector<std::string> exposed_ports;    ///< "80/tcp", "53/udp", sorted
    std::vector<std::string> volumes;          ///< absolute paths, sorted
    std::map<std::string, std::string> labels; ///< config.Labels
    std::string stop_signal;
    std::vector<std::string> diff_ids; ///< rootfs.diff_ids
};
Result<ImageConfig> parse_config(std::string_view json);

/// A `docker://` reference, normalised as docker does: no registry -> "docker.io", a
/// one-component name on docker.io -> "library/NAME", no tag and no digest -> "latest".
struct DockerRef {
    std::string registry;   ///< "docker.io", "127.0.0.1:5000", "registry.example.com"
    std::string repository; ///< "library/busybox", "team/app"
    std::string tag;        ///< "" when pinned by digest only
    std::string digest;     ///< "sha256:…" when pinned
    /// The host to talk to: "registry-1.docker.io" for docker.io, else `registry`.
    std::string endpoint() const;
    /// "registry/repository": the image name recorded in the store.
    std::string name() const;
    /// name() + ":tag" or "@digest", as users write it.
    std::string str() const;
};
/// Parse what follows "docker://". Errors say what is wrong (upper case, bad tag, bad digest).
Result<DockerRef> parse_docker_ref(std::string_view);

/// `oci:DIR[:tag]` / `oci-archive:FILE[:tag]`: split the path from the optional tag (the
/// last ':' after the last '/'). The text after the transport prefix is passed.
struct LayoutRef {
    std::string path;
    std::string tag; ///< "" when none was given
};
LayoutRef parse_layout_ref(std::string_view);

} // namespace capsule::oci
