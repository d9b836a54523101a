// SPDX-License-Identifier: Apache-2.0
// docker:// pulls: trust and pull policy, the manifest (through an index when the registry
// serves one), verified against the digest asked for or announced, then the shared import
// pipeline with a blob source that streams `/v2/<repo>/blobs/<digest>`, retrying transient
// failures and resuming with Range requests from the byte reached.
#include "fetch/registry.h"

#include "fetch/auth.h"
#include "fetch/fetch_internal.h"
#include "fetch/oci_import.h"
#include "fetch/registry_client.h"
#include "store/digest.h"
#include "store/oci.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <spdlog/spdlog.h>
#include <thread>

namespace capsule::fetch {

namespace {

/// Layers fetched at once, each over its own connection.
constexpr unsigned parallel_blobs = 4;
/// Tries of a request that failed transiently (a broken connection, 5xx, 429).
constexpr int max_tries = 3;
constexpr auto retry_backoff = std::chrono::milliseconds(250);

struct Document {
    std::string bytes;
    std::string media_type;
    std::string digest;
};

std::string media_type_of(std::string_view content_type)
{
    auto semi = content_type.find(';');
    auto t = content_type.substr(0, semi);
    while (!t.empty() && t.back() == ' ')
        t.remove_suffix(1);
    return std::string(t);
}

/// Run `attempt` up to max_tries times while it fails with EAGAIN.
template<typename F> auto with_retries(const std::string& what, F attempt) -> decltype(attempt())
{
    for (int n = 1;; ++n) {
        auto r = attempt();
        if (r || r.error().code() != EAGAIN)
            return r;
        if (n == max_tries)
            return r.release_error().wrap("after " + std::to_string(max_tries) + " tries");
        spdlog::debug("{}: {}; trying again", what, r.error().message());
        std::this_thread::sleep_for(retry_backoff * n);
    }
}

/// GET a manifest or index, at most max_document_size bytes, checked against `expected`
/// (a digest asked for) or else the Docker-Content-Digest the registry announces.
Result<Document> get_document(RegistryClient& client, const std::string& reference, const std::string& expected)
{
    auto what = "manifest " + reference;
    Document doc;
    auto resp = TRY_CTX(
        with_retries(what,
            [&]() -> Result<HttpResponse> {
                doc.bytes.clear();
                RegistryRequest r { "manifests", reference, { manifest_accept_header() }, oci::max_document_size, 0 };
                auto resp = client.get(r, [&](const char* data, size_t n) -> Status {
                    doc.bytes.append(data, n);
                    return {};
                });
                if (!resp && resp.error().code() == EFBIG)
                    return Error(
                        "larger than the limit of " + std::to_string(oci::max_document_size >> 20) + " MiB", EFBIG);
                return resp;
            }),
        what);
    auto type = media_type_of(resp.content_type);
    if (!oci::is_manifest_media_type(type) && !oci::is_index_media_type(type)) {
        // Some registries serve manifests as application/json: the document says what it is.
        if (!type.empty() && type != "application/json" && type != "text/plain")
            return Error(what + ": unsupported media type '" + type
                    + "' (capsule reads OCI and Docker schema 2 manifests and indexes)",
                ENOTSUP);
        type = TRY_CTX(oci::document_media_type(doc.bytes), what);
    }
    doc.media_type = type;
    auto check = !expected.empty() ? expected : resp.docker_content_digest;
    if (!check.empty() && !oci::is_valid_digest(check))
        return Error(what + ": the registry announces an invalid digest '" + check + "'", EBADMSG);
    auto algo = check.empty() ? std::string("sha256") : oci::digest_algorithm(check);
    auto hasher = TRY(store::Hasher::create(algo));
    hasher.update(doc.bytes.data(), doc.bytes.size());
    doc.digest = algo + ":" + hasher.finish_hex();
    if (!check.empty() && doc.digest != check)
        return Error(what + ": digest mismatch: expected " + check + ", got " + doc.digest, EBADMSG);
    return doc;
}

/// One progress bar on stderr for all the blobs of a pull (a TTY only; --quiet has none).
class Progress {
public:
    explicit Progress(int64_t total)
        : m_total(total)
    {
    }
    ~Progress()
    {
        if (m_drawn)
            std::fputc('\n', stderr);
    }
    void add(size_t n)
    {
        std::lock_guard lock(m_mutex);
        m_done += static_cast<int64_t>(n);
        auto now = std::chrono::steady_clock::now();
        if (now - m_last < std::chrono::milliseconds(100) && m_done < m_total)
            return;
        m_last = now;
        int pct = m_total > 0 ? static_cast<int>(std::min<int64_t>(100, m_done * 100 / m_total)) : 0;
        int filled = pct * 30 / 100;
        std::fprintf(stderr, "\rDownloading %.1f MiB / %.1f MiB [%s%s] %d%%", static_cast<double>(m_done) / 1048576.0,
            static_cast<double>(m_total) / 1048576.0, std::string(filled, '=').c_str(),
            std::string(30 - filled, ' ').c_str(), pct);
        m_drawn = true;
    }

private:
    std::mutex m_mutex;
    int64_t m_total;
    int64_t m_done { 0 };
    std::chrono::steady_clock::time_point m_last {};
    bool m_drawn { false };
};

/// A blob streamed into `sink`; after a transient failure the download resumes from the
/// byte reached (a Range request), so nothing is written to the sink twice.
Status read_blob(RegistryClient& client, const oci::Descriptor& desc, const BlobSink& sink, Progress* progress)
{
    auto what = "blob " + desc.digest;
    int64_t written = 0;
    return with_retries(what, [&]() -> Status {
        RegistryRequest r { "blobs", desc.digest, {}, 0, written };
        auto resp = client.get(r, [&](const char* data, size_t n) -> Status {
            if (desc.size >= 0 && written + static_cast<int64_t>(n) > desc.size)
                return Error("more bytes than its descriptor's size " + std::to_string(desc.size), EBADMSG);
            written += static_cast<int64_t>(n);
            if (progress)
                progress->add(n);
            return sink(data, n);
        });
        if (!resp)
            return resp.release_error();
        return {};
    }).wrap(what);
}

std::string label(const store::ImageInfo& info, std::string_view name)
{
    for (auto& l : info.labels)
        if (l.name == name)
            return l.value;
    return {};
}

/// The stored image `ref` names for this platform: by manifest digest (an image ID), else
/// the newest image fetched by that name:tag (or from that digest-pinned origin).
Result<std::optional<store::ImageInfo>> find_stored(
    store::Store& store, const oci::DockerRef& ref, const std::string& origin, const oci::Platform& platform)
{
    if (!ref.digest.empty()) {
        auto byid = store.resolve(oci::image_id_from_digest(ref.digest));
        if (byid)
            return std::optional<store::ImageInfo>(byid.release_value());
        if (byid.error().code() != ENOENT)
            return byid.release_error();
    }
    auto all = TRY(store.list());
    for (auto& img : all) {
        if (img.type != "oci")
            continue;
        bool named = ref.digest.empty() ? img.name == ref.name() && img.version() == ref.tag : img.origin == origin;
        if (!named)
            continue;
        auto os = label(img, "os"), arch = label(img, "arch");
        if ((!os.empty() && os != platform.os) || (!arch.empty() && arch != platform.architecture))
            continue;
        return std::optional<store::ImageInfo>(img);
    }
    return std::optional<store::ImageInfo>();
}

std::optional<DockerCredentials> credentials_for(const oci::DockerRef& ref, const FetchOptions& opts)
{
    auto auths = load_docker_auth(opts.local_config, opts.system_config, default_docker_config());
    if (auto c = docker_credentials_for(auths, ref.registry))
        return c;
    return docker_credentials_for(auths, ref.endpoint());
}

/// A hint for TLS failures against registries that may serve plain http or a private CA.
Error with_tls_hint(Error e, const oci::DockerRef& ref)
{
    if (e.code() == EPROTO)
        return Error(
            e.message() + " (if " + ref.endpoint() + " serves plain http, pass --insecure-options=http)", e.code());
    if (e.code() == EKEYREJECTED)
        return Error(
            e.message() + " (give its CA with SSL_CERT_FILE, or pass --insecure-options=tls to skip verification)",
            e.code());
    return e;
}

/// The image manifest `ref` names, through an index when the registry serves one.
Result<Document> resolve_manifest(
    RegistryClient& client, const oci::DockerRef& ref, const FetchOptions& opts, std::optional<oci::Platform>& from)
{
    auto top = TRY(get_document(client, ref.digest.empty() ? ref.tag : ref.digest, ref.digest));
    if (oci::is_manifest_media_type(top.media_type))
        return top;
    auto index = TRY_CTX(oci::parse_index(top.bytes, top.media_type), "index " + top.digest);
    auto desc = TRY_CTX(oci::select_platform(index, opts.platform), "index " + top.digest);
    auto doc = TRY(get_document(client, desc.digest, desc.digest));
    if (desc.size != static_cast<int64_t>(doc.bytes.size()))
        return Error("manifest " + desc.digest + ": " + std::to_string(doc.bytes.size()) + " bytes, but the index says "
                + std::to_string(desc.size),
            EBADMSG);
    if (!oci::is_manifest_media_type(doc.media_type))
        return Error("manifest " + desc.digest + ": the index's entry for " + opts.platform.str() + " is a "
                + doc.media_type + ", not an image manifest",
            ENOTSUP);
    from = desc.platform;
    return doc;
}

Result<store::ImageInfo> pull(store::Store& store, const oci::DockerRef& ref, const std::string& origin,
    const std::optional<store::ImageInfo>& stored, const FetchOptions& opts)
{
    bool plain = opts.insecure.has(Insecure::Http);
    if (plain)
        spdlog::warn("warning: fetching docker://{} over plain http (--insecure-options=http)", ref.str());
    else if (opts.insecure.has(Insecure::Tls))
        spdlog::warn("warning: not verifying the TLS certificate of {} (--insecure-options=tls)", ref.endpoint());
    RegistryClient client(ref, plain, opts.insecure.has(Insecure::Tls), credentials_for(ref, opts));

    std::optional<oci::Platform> platform;
    auto manifest = resolve_manifest(client, ref, opts, platform);
    if (!manifest)
        return with_tls_hint(manifest.release_error(), ref);
    auto id = oci::image_id_from_digest(manifest->digest);
    if (stored && stored->id == id) {
        spdlog::debug("docker://{}: unchanged, stored as {}", ref.str(), id);
        return *stored;
    }

    store::OciImageRecord record;
    record.name = ref.name();
    record.tag = ref.tag;
    record.origin = origin;
    if (!ref.digest.empty())
        record.signed_by = "digest"; // pinned by digest: the digest is the trust
    if (platform) {
        record.labels.push_back({ "os", platform->os });
        record.labels.push_back({ "arch", platform->architecture });
    }
    std::optional<Progress> progress;
    if (opts.progress) {
        int64_t total = 0;
        if (auto m = oci::parse_manifest(manifest->bytes, manifest->media_type))
            for (auto& l : m->layers)
                total += l.size;
        progress.emplace(total);
    }
    BlobSource source;
    source.parallel = parallel_blobs;
    source.read = [&client, &progress](const oci::Descriptor& desc, const BlobSink& sink) {
        return read_blob(client, desc, sink, progress ? &*progress : nullptr);
    };
    auto info = import_oci_manifest(store, manifest->bytes, manifest->media_type, source, std::move(record), opts);
    progress.reset();
    if (!info)
        return with_tls_hint(info.release_error(), ref);
    if (stored && opts.on_notice)
        opts.on_notice("docker://" + ref.str() + ": tag " + ref.tag + " moved from " + stored->id + " to " + info->id);
    return info;
}

} // namespace

Result<store::ImageInfo> fetch_docker(store::Store& store, const std::string& text, const FetchOptions& opts)
{
    auto ref = TRY(oci::parse_docker_ref(text));
    // Docker images carry no signatures; a digest pins the content instead. Decided before
    // anything is asked of the registry or written to the store.
    if (ref.digest.empty() && !opts.insecure.has(Insecure::Image))
        return not_signed("docker images carry no signatures (an image pinned by digest, docker://" + ref.name()
            + "@sha256:…, is trusted by its digest)");
    auto origin = "docker://" + ref.str();
    auto stored = TRY(find_stored(store, ref, origin, opts.platform));
    switch (opts.pull_policy) {
    case PullPolicy::Never:
        if (!stored)
            return Error("not found in the store (--pull-policy=never)", ENOENT);
        return *stored;
    case PullPolicy::New:
        if (stored) {
            spdlog::debug("docker://{}: stored as {}", ref.str(), stored->id);
            return *stored;
        }
        break;
    case PullPolicy::Update:
        // A digest names content that cannot change: the stored copy is it.
        if (stored && !ref.digest.empty())
            return *stored;
        break;
    }
    return pull(store, ref, origin, stored, opts);
}

} // namespace capsule::fetch
