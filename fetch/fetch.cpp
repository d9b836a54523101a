// SPDX-License-Identifier: Apache-2.0
#include "fetch/fetch.h"

#include "lib/fs.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

namespace capsule::fetch {

namespace {

constexpr std::string_view transport_prefixes[]
    = { "oci-archive:", "docker-archive:", "oci:", "docker:", "http:", "https:", "file:" };

Result<store::ImageInfo> fetch_file(store::Store& store, const std::string& path, const FetchOptions& opts)
{
    // Open first: a missing or unreadable file is the error to report, not its signature.
    auto fd = TRY(open_fd(path, O_RDONLY));
    bool verify = !opts.trusted_builtin && !opts.insecure.has(Insecure::Image);
    if (verify) {
        std::string sig = opts.signature ? *opts.signature : path + ".asc";
        if (opts.signature || path_exists(sig))
            return Error("cannot verify signature '" + sig
                    + "': signature verification is not available yet; pass --insecure-options=image to fetch the "
                      "image without verifying it",
                ENOTSUP);
        return Error("image is not signed (signature verification is not available yet); pass "
                     "--insecure-options=image to fetch it anyway",
            EPERM);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return Error::from_errno("stat '" + path + "'");
    auto origin = path_absolute(path);
    // `new` answers an unchanged file from the index; `update` always re-reads it.
    if (opts.pull_policy != PullPolicy::Update && S_ISREG(st.st_mode)) {
        if (auto cached = TRY(store.find_by_origin(origin, st))) {
            spdlog::debug("fetch '{}': unchanged since it was imported as {}", path, cached->id);
            return *cached;
        }
    }
    return store.import_aci(fd.get(), origin, &st).wrap("'" + path + "'");
}

} // namespace

ParsedRef parse_ref(std::string_view ref)
{
    if (auto sep = ref.find("://"); sep != std::string_view::npos)
        return { RefKind::Unsupported, std::string(ref.substr(0, sep)) };
    for (auto p : transport_prefixes)
        if (ref.starts_with(p))
            return { RefKind::Unsupported, std::string(p.substr(0, p.size() - 1)) };
    if (ref.starts_with("/") || ref.starts_with("./") || ref.starts_with("../") || ref.ends_with(".aci") || ref == "."
        || ref == "..")
        return { RefKind::File, {} };
    if (ref.starts_with("sha512-") || ref.starts_with("sha256-"))
        return { RefKind::ImageId, {} };
    if (path_exists(std::string(ref)))
        return { RefKind::File, {} };
    return { RefKind::Name, {} };
}

Result<store::ImageInfo> fetch_image(store::Store& store, std::string_view ref, const FetchOptions& opts)
{
    std::string r(ref);
    auto parsed = parse_ref(ref);
    switch (parsed.kind) {
    case RefKind::Unsupported:
        return Error("fetch " + r + ": " + parsed.scheme + " images are not supported yet", ENOTSUP);
    case RefKind::File:
        return fetch_file(store, r, opts).wrap("fetch " + r);
    case RefKind::ImageId:
        return store.resolve(ref).wrap("fetch");
    case RefKind::Name: {
        auto found = store.resolve(ref);
        if (found || opts.pull_policy == PullPolicy::Never || found.error().code() != ENOENT)
            return std::move(found).wrap("fetch");
        return Error(
            "fetch " + r + ": not in the store, and fetching by name (appc discovery) is not supported yet", ENOTSUP);
    }
    }
    return Error::msg("fetch " + r + ": unknown reference");
}

} // namespace capsule::fetch
