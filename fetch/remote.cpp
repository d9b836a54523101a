// SPDX-License-Identifier: Apache-2.0
// http(s) ACIs: download to an unnamed file in the store's tmp/, fetch URL.asc, verify
// exactly as local files are, import, and remember the URL for the remote cache.
#include "fetch/auth.h"
#include "fetch/discovery.h"
#include "fetch/fetch_internal.h"
#include "fetch/http.h"

#include <ctime>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace capsule::fetch {

namespace {

/// Signatures are small; anything bigger is not one.
constexpr size_t max_signature_size = 1 << 20;

int64_t now()
{
    return static_cast<int64_t>(std::time(nullptr));
}

HttpRequest request_for(const std::string& url, const FetchOptions& opts, const AuthHeaders& auth)
{
    HttpRequest req;
    req.authorization = auth_for(auth, url);
    req.url = url;
    req.allow_http = opts.insecure.has(Insecure::Http);
    req.insecure_tls = opts.insecure.has(Insecure::Tls);
    return req;
}

/// A cached image that may be returned for `url`: still stored and, when verifying, signed
/// by a key that is (still) trusted for its name.
Result<std::optional<store::ImageInfo>> usable_cached(
    store::Store& store, const store::RemoteInfo& remote, bool verify, const std::vector<TrustedKey>& keys)
{
    auto info = store.resolve(remote.image_id);
    if (!info)
        return std::optional<store::ImageInfo>();
    if (verify && (info->signed_by.empty() || !trusted_for(keys, info->signed_by, info->name))) {
        spdlog::debug("remote cache: {} is not signed by a key trusted for {}; fetching again", info->id, info->name);
        return std::optional<store::ImageInfo>();
    }
    return std::optional<store::ImageInfo>(info.release_value());
}

Result<std::string> download_signature(const std::string& url, const FetchOptions& opts, const AuthHeaders& auth)
{
    std::string text;
    auto sink = [&](const char* data, size_t n) -> Status {
        if (text.size() + n > max_signature_size)
            return Error::msg("larger than " + std::to_string(max_signature_size) + " bytes; not a signature");
        text.append(data, n);
        return {};
    };
    auto resp = http_get(request_for(url, opts, auth), sink);
    if (!resp && resp.error().code() == ENOENT)
        return not_signed("'" + url + "': " + resp.error().message());
    if (!resp)
        return resp.release_error().wrap("fetch signature " + url);
    return text;
}

/// --trust-keys-from-https: trust the keys `name`'s discovery publishes, each for the
/// prefix its meta tag names, loudly.
Status trust_discovered_keys(const std::string& name, const FetchOptions& opts)
{
    DiscoveryOptions d { opts.insecure.has(Insecure::Http), opts.insecure.has(Insecure::Tls) };
    auto found = TRY(discover_pubkeys(name, d));
    for (auto& k : found) {
        auto text = TRY_CTX(fetch_text(k.url, d), "fetch key " + k.url);
        auto certs = TRY_CTX(openpgp::parse_certificates(text), "key " + k.url);
        if (certs.size() != 1)
            return Error::msg("key " + k.url + ": holds " + std::to_string(certs.size()) + " keys, not one");
        TRY_CTX(check_trust_prefix(k.prefix), "key " + k.url + ": prefix");
        auto path = TRY_CTX(add_trusted_key(opts.local_config, k.prefix, text), "key " + k.url);
        spdlog::warn("warning: trusting key {} for prefix \"{}\", fetched from {} (--trust-keys-from-https); "
                     "written to {}",
            certs.front().fingerprint(), k.prefix, k.url, path);
    }
    return {};
}

} // namespace

Result<store::ImageInfo> fetch_remote(
    store::Store& store, const std::string& url, const FetchOptions& opts, const std::optional<Discovered>& discovered)
{
    auto scheme = url_scheme(url);
    if (scheme == Scheme::Http && !opts.insecure.has(Insecure::Http))
        return Error("plain http is refused; pass --insecure-options=http to allow it", EPERM);
    bool verify = !opts.trusted_builtin && !opts.insecure.has(Insecure::Image);
    std::vector<TrustedKey> keys;
    if (verify)
        keys = TRY(load_trusted_keys(opts.local_config, opts.system_config));

    auto remote = TRY(store.find_remote(url));
    std::optional<store::ImageInfo> cached;
    if (remote)
        cached = TRY(usable_cached(store, *remote, verify, keys));
    if (opts.pull_policy == PullPolicy::Never) {
        if (!cached)
            return Error("not in the store (--pull-policy=never)", ENOENT);
        return *cached;
    }
    // `new`: a URL fetched before is answered from the store. `update`: so is one still
    // fresh by its Cache-Control max-age; otherwise it is revalidated with its ETag.
    if (cached && opts.pull_policy == PullPolicy::New) {
        spdlog::debug("remote cache: {} was fetched as {}", url, cached->id);
        return *cached;
    }
    if (cached && remote->max_age > 0 && remote->fetched_at + remote->max_age > now()) {
        spdlog::debug(
            "remote cache: {} is fresh for {} more seconds", url, remote->fetched_at + remote->max_age - now());
        return *cached;
    }

    if (scheme == Scheme::Http)
        spdlog::warn("warning: fetching {} over plain http (--insecure-options=http)", url);
    if (opts.insecure.has(Insecure::Tls) && scheme == Scheme::Https)
        spdlog::warn("warning: not verifying the TLS certificate of {} (--insecure-options=tls)", url);

    auto auth = load_auth(opts.local_config, opts.system_config);
    auto file = TRY(store.temp_file());
    auto req = request_for(url, opts, auth);
    req.progress = opts.progress;
    if (cached && !remote->etag.empty())
        req.if_none_match = remote->etag;
    auto sink = [fd = file.get()](const char* data, size_t n) { return write_all(fd, { data, n }, "download file"); };
    auto resp = TRY(http_get(req, sink));
    if (resp.status == 304) {
        spdlog::debug("remote cache: {} not modified; stored as {}", url, cached->id);
        remote->fetched_at = now();
        remote->max_age = resp.max_age;
        TRY(store.record_remote(*remote));
        return *cached;
    }

    // The store reads an image from offset 0.
    if (::lseek(file.get(), 0, SEEK_SET) < 0)
        return Error::from_errno("rewind download file");
    std::optional<openpgp::Signer> signer;
    if (verify) {
        auto asc = discovered ? discovered->asc : url + ".asc";
        auto text = TRY(download_signature(asc, opts, auth));
        auto verified = verify_signature_text(store, text, "'" + asc + "'", file.get(), url, keys);
        if (!verified && verified.error().code() == ENOKEY && discovered && opts.trust_keys_from_https) {
            TRY_CTX(trust_discovered_keys(discovered->name, opts), "--trust-keys-from-https");
            keys = TRY(load_trusted_keys(opts.local_config, opts.system_config));
            verified = verify_signature_text(store, text, "'" + asc + "'", file.get(), url, keys);
            // Naming the unknown signer's image read the file: the store reads from offset 0.
            if (::lseek(file.get(), 0, SEEK_SET) < 0)
                return Error::from_errno("rewind download file");
        }
        signer = TRY(std::move(verified));
    }
    store::ImportOptions import;
    if (signer) {
        import.signed_by = signer->primary_fingerprint;
        // Decided before the commit, so a refused image leaves nothing in the store.
        import.check_manifest = [&](const appc::ImageManifest& m) { return check_trusted_for(keys, *signer, m.name);
    };
}
auto info = TRY(store.import_aci(file.get(), url, import));
TRY(store.record_remote({ url, resp.resolved_url, resp.etag, resp.max_age, now(), info.id }));
if (signer && opts.on_verified)
    opts.on_verified(info, *signer);
return info;
} // namespace capsule::fetch

} // namespace capsule::fetch
