// SPDX-License-Identifier: Apache-2.0
#include "fetch/fetch.h"

#include "fetch/discovery.h"
#include "fetch/fetch_internal.h"
#include "fetch/http.h"
#include "fetch/oci_layout.h"
#include "fetch/registry.h"
#include "fetch/trust.h"
#include "lib/appc/types.h"
#include "lib/fs.h"

#include <ctime>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

namespace capsule::fetch {

namespace {

struct Transport {
    std::string_view prefix;
    RefKind kind;
};
constexpr Transport transports[] = { { "docker://", RefKind::Docker }, { "oci-archive:", RefKind::OciArchive },
    { "docker-archive:", RefKind::DockerArchive }, { "oci:", RefKind::OciLayout } };
constexpr std::string_view unsupported_prefixes[] = { "docker:", "http:", "https:", "file:" };

std::string describe(const openpgp::Signer& signer)
{
    return signer.primary_fingerprint + (signer.user_id.empty() ? "" : " (" + signer.user_id + ")");
}

/// The image's name, read from its manifest without storing anything (for error messages).
std::string peek_name(store::Store& store, int fd, const std::string& origin)
{
    std::string name;
    store::ImportOptions peek;
    peek.check_manifest = [&](const appc::ImageManifest& m) -> Status {
        name = m.name;
        return Error::msg("peek only");
    };
    (void)store.import_aci(fd, origin, peek);
    return name.empty() ? "NAME" : name;
}

/// Verify `path`'s detached signature against every trusted key: the name the signer must
/// be trusted for is only known once the manifest has been read.
Result<openpgp::Signer> verify_signature(
    store::Store& store, const std::string& path, int fd, const std::vector<TrustedKey>& keys, const FetchOptions& opts)
{
    std::string sig_path = opts.signature ? *opts.signature : path + ".asc";
    auto text = read_file(sig_path);
    if (!text && text.error().code() == ENOENT && !opts.signature)
        return not_signed("'" + sig_path + "' not found");
    if (!text)
        return text.release_error().wrap("read signature");
    return verify_signature_text(store, *text, "'" + sig_path + "'", fd, path_absolute(path), keys);
}

} // namespace

Error not_signed(const std::string& why)
{
    return Error(
        "image is not signed: " + why + "; pass --insecure-options=image to fetch it without verifying it", EPERM);
}

Result<openpgp::Signer> verify_signature_text(store::Store& store, std::string_view text, const std::string& sig_name,
    int fd, const std::string& origin, const std::vector<TrustedKey>& keys)
{
    auto ctx = "verify signature " + sig_name;
    auto sig = TRY_CTX(openpgp::parse_detached_signature(text), ctx);
    std::vector<openpgp::Certificate> certs;
    for (auto& k : keys)
        certs.push_back(k.cert);
    auto signer = openpgp::verify_detached(certs, sig, fd, static_cast<int64_t>(std::time(nullptr)));
    if (!signer && signer.error().code() == ENOKEY)
        return Error(signer.error().message() + "; if you trust it, add it with 'capsule trust --prefix="
                + peek_name(store, fd, origin) + " KEYFILE'",
            ENOKEY)
            .wrap(ctx);
    return std::move(signer).wrap(ctx);
}

Status check_trusted_for(const std::vector<TrustedKey>& keys, const openpgp::Signer& signer, const std::string& name)
{
    if (trusted_for(keys, signer.primary_fingerprint, name))
        return {};
    return Error("key " + describe(signer) + " is trusted, but not for image name '" + name
            + "'; to trust it for this name: capsule trust --prefix=" + name + " KEYFILE",
        EPERM);
}

namespace {

Result<store::ImageInfo> fetch_file(store::Store& store, const std::string& path, const FetchOptions& opts)
{
    // Open first: a missing or unreadable file is the error to report, not its signature.
    auto fd = TRY(open_fd(path, O_RDONLY));
    bool verify = !opts.trusted_builtin && !opts.insecure.has(Insecure::Image);
    std::vector<TrustedKey> keys;
    std::optional<openpgp::Signer> signer;
    if (verify) {
        keys = TRY(load_trusted_keys(opts.local_config, opts.system_config));
        signer = TRY(verify_signature(store, path, fd.get(), keys, opts));
    }
    auto verified = [&](store::ImageInfo info) -> Result<store::ImageInfo> {
        if (signer && opts.on_verified)
            opts.on_verified(info, *signer);
        return info;
    };
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return Error::from_errno("stat '" + path + "'");
    auto origin = path_absolute(path);
    // `new` answers an unchanged file from the index; `update` always re-reads it.
    if (opts.pull_policy != PullPolicy::Update && S_ISREG(st.st_mode)) {
        if (auto cached = TRY(store.find_by_origin(origin, st))) {
            spdlog::debug("fetch '{}': unchanged since it was imported as {}", path, cached->id);
            if (signer)
                TRY(check_trusted_for(keys, *signer, cached->name));
            return verified(*cached);
        }
    }
    store::ImportOptions import;
    import.origin_stat = &st;
    if (signer) {
        import.signed_by = signer->primary_fingerprint;
        // Decided before the commit, so a refused image leaves nothing in the store.
        import.check_manifest = [&](const appc::ImageManifest& m) { return check_trusted_for(keys, *signer, m.name);
    };
}
auto info = TRY(store.import_aci(fd.get(), origin, import).wrap("'" + path + "'"));
return verified(std::move(info));
} // namespace

} // namespace capsule::fetch

namespace {

/// name[:version] through appc meta discovery, then as any https image.
Result<store::ImageInfo> fetch_by_name(store::Store& store, const std::string& ref, const FetchOptions& opts)
{
    std::string name = ref;
    std::map<std::string, std::string> labels;
    if (auto colon = ref.find(':'); colon != std::string::npos) {
        name = ref.substr(0, colon);
        labels["version"] = ref.substr(colon + 1);
    }
    if (!appc::is_ac_name(name))
        return Error("fetch " + ref + ": not an image ID (sha512-…) or a valid image name", EINVAL);
    DiscoveryOptions d { opts.insecure.has(Insecure::Http), opts.insecure.has(Insecure::Tls) };
    auto ep = TRY(discover_image(name, labels, d));
    return fetch_remote(store, ep.aci, opts, Discovered { name, ep.asc }).wrap("fetch " + ref + " (" + ep.aci + ")");
}

} // namespace

ParsedRef parse_ref(std::string_view ref)
{
    if (auto s = url_scheme(ref); s == Scheme::Http || s == Scheme::Https)
        return { RefKind::Https, s == Scheme::Http ? "http" : "https" };
    for (auto& t : transports)
        if (ref.starts_with(t.prefix))
            return { t.kind, std::string(t.prefix.substr(0, t.prefix.find(':'))),
                std::string(ref.substr(t.prefix.size())) };
    if (auto sep = ref.find("://"); sep != std::string_view::npos)
        return { RefKind::Unsupported, std::string(ref.substr(0, sep)) };
    for (auto p : unsupported_prefixes)
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
    case RefKind::Https:
        return fetch_remote(store, r, opts).wrap("fetch " + r);
    case RefKind::Docker:
        return fetch_docker(store, parsed.rest, opts).wrap("fetch " + r);
    case RefKind::OciLayout:
        return fetch_oci_layout(store, parsed.rest, opts).wrap("fetch " + r);
    case RefKind::OciArchive:
        return fetch_oci_archive(store, parsed.rest, opts).wrap("fetch " + r);
    case RefKind::DockerArchive:
        return fetch_docker_archive(store, parsed.rest, opts).wrap("fetch " + r);
    case RefKind::Unsupported:
        return Error("fetch " + r + ": " + parsed.scheme + " is not a transport capsule knows", ENOTSUP);
    case RefKind::File: {
        // An OCI archive or `docker save` output given as a plain path is sniffed.
        if (auto fd = open_fd(r, O_RDONLY)) {
            switch (sniff_archive(fd->get())) {
            case ArchiveKind::OciArchive:
                return fetch_oci_archive(store, r, opts).wrap("fetch " + r);
            case ArchiveKind::DockerArchive:
                return fetch_docker_archive(store, r, opts).wrap("fetch " + r);
            case ArchiveKind::Aci:
            case ArchiveKind::Unknown:
                break;
            }
        }
        return fetch_file(store, r, opts).wrap("fetch " + r);
    }
    case RefKind::ImageId:
        return store.resolve(ref).wrap("fetch");
    case RefKind::Name: {
        auto found = store.resolve(ref);
        if (opts.pull_policy == PullPolicy::Never || (!found && found.error().code() != ENOENT)
            || (found && opts.pull_policy == PullPolicy::New))
            return std::move(found).wrap("fetch");
        return fetch_by_name(store, r, opts);
    }
    }
    return Error::msg("fetch " + r + ": unknown reference");
}

} // namespace capsule::fetch
