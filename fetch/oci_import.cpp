// SPDX-License-Identifier: Apache-2.0
// The import pipeline of every OCI source. Order matters for "nothing stored unless
// everything verified": the manifest and config are checked in memory first; then every
// missing layer is streamed (in parallel) into an uncommitted store import while its size and
// digest are checked here as the bytes pass; only when all layers have arrived intact are
// they committed, then the image record (commit_oci_image() stores manifest and config).
//
// Platform: a config whose OS differs from the requested platform's is refused (its binaries
// cannot run); a different architecture only warns, since binfmt_misc emulation may run it.
#include "fetch/oci_import.h"

#include "store/digest.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <spdlog/spdlog.h>
#include <thread>
#include <unistd.h>

namespace capsule::fetch {

namespace {

std::string short_digest(std::string_view digest)
{
    return std::string(digest.substr(0, 7 + 12));
}

/// Checks a blob's bytes as they pass: never more than the descriptor's size, and the
/// digest at the end.
class BlobCheck {
public:
    static Result<BlobCheck> create(const oci::Descriptor& desc)
    {
        auto algo = oci::digest_algorithm(desc.digest);
        if (algo.empty())
            return Error("invalid digest '" + desc.digest + "'", EINVAL);
        auto hasher = TRY(store::Hasher::create(algo));
        return BlobCheck(desc, std::move(hasher));
    }
    Status update(const void* data, size_t size)
    {
        m_seen += size;
        if (m_seen > static_cast<uint64_t>(m_desc.size))
            return Error(
                "size mismatch: more than the " + std::to_string(m_desc.size) + " bytes its descriptor says", EIO);
        m_hasher.update(data, size);
        return {};
    }
    Status finish()
    {
        if (m_seen < static_cast<uint64_t>(m_desc.size))
            return Error(
                "truncated: got " + std::to_string(m_seen) + " of " + std::to_string(m_desc.size) + " bytes", EIO);
        auto got = oci::digest_algorithm(m_desc.digest) + ":" + m_hasher.finish_hex();
        if (got != m_desc.digest)
            return Error("digest mismatch: expected " + m_desc.digest + ", got " + got, EIO);
        return {};
    }
    uint64_t seen() const { return m_seen; }

private:
    BlobCheck(const oci::Descriptor& desc, store::Hasher hasher)
        : m_desc(desc)
        , m_hasher(std::move(hasher))
    {
    }
    oci::Descriptor m_desc;
    store::Hasher m_hasher;
    uint64_t m_seen { 0 };
};

/// A small document blob (the config), read whole and verified.
Result<std::string> read_document(const BlobSource& source, const oci::Descriptor& desc)
{
    if (static_cast<uint64_t>(desc.size) > oci::max_document_size)
        return Error(std::to_string(desc.size) + " bytes is larger than the limit of "
                + std::to_string(oci::max_document_size >> 20) + " MiB",
            EFBIG);
    auto check = TRY(BlobCheck::create(desc));
    std::string bytes;
    bytes.reserve(static_cast<size_t>(desc.size));
    TRY(source.read(desc, [&](const void* data, size_t size) -> Status {
        TRY(check.update(data, size));
        bytes.append(static_cast<const char*>(data), size);
        return {};
    }));
    TRY(check.finish());
    return bytes;
}

/// "12.3/45.6 MiB" on one line of a terminal, at most every 100 ms.
class Progress {
public:
    Progress(bool enabled, uint64_t total)
        : m_enabled(enabled && total > 0 && ::isatty(STDERR_FILENO))
        , m_total(total)
    {
    }
    ~Progress()
    {
        if (m_drawn)
            std::fputs("\r\033[K", stderr);
    }
    void add(uint64_t n)
    {
        if (!m_enabled)
            return;
        auto done = m_done.fetch_add(n) + n;
        std::lock_guard lock(m_mutex);
        auto now = std::chrono::steady_clock::now();
        if (m_drawn && now - m_last < std::chrono::milliseconds(100) && done < m_total)
            return;
        m_last = now;
        m_drawn = true;
        constexpr int width = 30;
        int filled = static_cast<int>(width * std::min(done, m_total) / m_total);
        std::fprintf(stderr, "\rlayers [%-*s] %.1f/%.1f MiB", width, std::string(filled, '#').c_str(),
            static_cast<double>(done) / (1 << 20), static_cast<double>(m_total) / (1 << 20));
        std::fflush(stderr);
    }

private:
    bool m_enabled;
    uint64_t m_total;
    std::atomic<uint64_t> m_done { 0 };
    std::mutex m_mutex;
    std::chrono::steady_clock::time_point m_last {};
    bool m_drawn { false };
};

/// Layers being imported: workers take them from a queue; the first error cancels the rest.
class LayerPipeline {
public:
    LayerPipeline(
        store::Store& store, const BlobSource& source, std::vector<oci::Descriptor> layers, Progress& progress)
        : m_store(store)
        , m_source(source)
        , m_layers(std::move(layers))
        , m_imports(m_layers.size())
        , m_progress(progress)
    {
    }

    /// Stream every layer into an uncommitted import; all of them or an error.
    Status run(unsigned parallel)
    {
        unsigned n = std::clamp<unsigned>(parallel, 1, static_cast<unsigned>(std::max<size_t>(m_layers.size(), 1)));
        std::vector<std::thread> workers;
        for (unsigned i = 1; i < n; i++)
            workers.emplace_back([this] { work(); });
        work();
        for (auto& t : workers)
            t.join();
        if (m_failed) {
            m_imports.clear(); // destroying uncommitted imports removes their temp files
            return m_error;
        }
        return {};
    }

    /// Publish the streamed layers: every one of them was verified (finish()) before any is
    /// published, so a bad layer leaves nothing behind.
    Result<std::map<std::string, store::LayerInfo>> commit()
    {
        std::map<std::string, store::LayerInfo> out;
        for (size_t i = m_layers.size(); i-- > 0;) {
            auto info = m_imports[i]->commit();
            m_imports[i].reset();
            if (!info) {
                m_imports.clear();
                return info.release_error();
            }
            out[m_layers[i].digest] = *info;
        }
        return out;
    }

private:
    void work()
    {
        for (;;) {
            size_t i = m_next.fetch_add(1);
            if (i >= m_layers.size() || m_failed)
                return;
            auto r = import_one(i);
            if (!r) {
                std::lock_guard lock(m_mutex);
                if (!m_failed.exchange(true))
                    m_error = r.release_error();
                return;
            }
        }
    }

    Status import_one(size_t i)
    {
        const auto& desc = m_layers[i];
        auto import = TRY(m_store.begin_layer(desc));
        spdlog::debug("importing layer {} ({} bytes)", desc.digest, desc.size);
        // The import hashes and counts what it is given; finish() checks digest, size and
        // the unpacked tree without publishing anything.
        // Errors of the store name the layer already; the source's get it added.
        std::optional<Error> store_error;
        auto read = m_source.read(desc, [&](const void* data, size_t size) -> Status {
            if (m_failed)
                return Error("cancelled", ECANCELED);
            if (auto w = import->write(data, size); !w) {
                store_error = w.error();
                return w;
            }
            m_progress.add(size);
            return {};
        });
        if (store_error)
            return *store_error;
        if (!read)
            return read.release_error().wrap("layer " + desc.digest);
        TRY(import->finish());
        m_imports[i] = std::move(import);
        return {};
    }

    store::Store& m_store;
    const BlobSource& m_source;
    std::vector<oci::Descriptor> m_layers;
    std::vector<std::unique_ptr<store::LayerImport>> m_imports;
    Progress& m_progress;
    std::atomic<size_t> m_next { 0 };
    std::atomic<bool> m_failed { false };
    std::mutex m_mutex;
    Error m_error;
};

bool known_config_type(std::string_view t)
{
    return t == oci::media_oci_config || t == oci::media_docker_config;
}

bool has_label(const std::vector<appc::NameValue>& labels, std::string_view name)
{
    return std::any_of(labels.begin(), labels.end(), [&](const appc::NameValue& l) { return l.name == name; });
}

Status check_platform(const oci::ImageConfig& config, const oci::Platform& want, const std::string& digest)
{
    if (!config.os.empty() && config.os != want.os)
        return Error("image config " + digest + " is for OS '" + config.os + "', not '" + want.os + "'", ENOEXEC);
    if (!config.architecture.empty() && config.architecture != want.architecture)
        spdlog::warn("image config {} is for architecture '{}', not '{}'; it may not run here", short_digest(digest),
            config.architecture, want.architecture);
    return {};
}

} // namespace

Result<store::ImageInfo> import_oci_manifest(store::Store& store, const std::string& manifest_bytes,
    const std::string& media_type, const BlobSource& source, store::OciImageRecord record, const FetchOptions& opts)
{
    if (manifest_bytes.size() > oci::max_document_size)
        return Error("manifest is larger than " + std::to_string(oci::max_document_size >> 20) + " MiB", EFBIG);
    auto manifest = TRY(oci::parse_manifest(manifest_bytes, media_type));
    const auto& cdesc = manifest.config;
    if (!known_config_type(cdesc.media_type))
        return Error("config " + cdesc.digest + ": unsupported media type '" + cdesc.media_type + "'", ENOTSUP);
    for (auto& l : manifest.layers)
        TRY_CTX(oci::layer_compression(l.media_type), "layer " + l.digest);

    auto config_bytes = TRY_CTX(read_document(source, cdesc), "config " + cdesc.digest);
    auto config = TRY_CTX(oci::parse_config(config_bytes), "config " + cdesc.digest);
    TRY(check_platform(config, opts.platform, cdesc.digest));

    // The layers the store lacks, each once (a manifest may list a layer twice).
    std::map<std::string, store::LayerInfo> have;
    std::vector<oci::Descriptor> missing;
    uint64_t total = 0;
    for (auto& l : manifest.layers) {
        if (have.contains(l.digest)
            || std::any_of(missing.begin(), missing.end(), [&](auto& m) { return m.digest == l.digest; }))
            continue;
        if (auto found = TRY(store.find_layer(l.digest))) {
            have[l.digest] = *found;
            continue;
        }
        missing.push_back(l);
        total += static_cast<uint64_t>(l.size);
    }
    spdlog::debug("{} layers, {} to import ({} bytes)", manifest.layers.size(), missing.size(), total);
    if (!missing.empty()) {
        Progress progress(opts.progress, total);
        LayerPipeline pipeline(store, source, missing, progress);
        TRY(pipeline.run(source.parallel));
        auto committed = TRY(pipeline.commit());
        have.merge(committed);
    }

    record.manifest = manifest_bytes;
    record.manifest_media_type = manifest.media_type;
    record.config = std::move(config_bytes);
    record.layers.clear();
    for (auto& l : manifest.layers)
        record.layers.push_back(have.at(l.digest));
    if (!config.os.empty() && !has_label(record.labels, "os"))
        record.labels.push_back({ "os", config.os });
    if (!config.architecture.empty() && !has_label(record.labels, "arch"))
        record.labels.push_back({ "arch", config.architecture });
    return store.commit_oci_image(record);
}

} // namespace capsule::fetch
