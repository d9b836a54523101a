// SPDX-License-Identifier: Apache-2.0
// OCI layers in one pass: the bytes of a layer blob are hashed and written to a temp blob
// by whoever calls write() (a download thread), and handed through a bounded queue to a
// second thread where libarchive decompresses them and the safe extractor writes the layer
// tree. commit() verifies size and digest, then moves blob and tree into place.
#include "lib/fs.h"
#include "store/digest.h"
#include "store/extract.h"
#include "store/oci.h"
#include "store/store_impl.h"

#include <archive.h>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <thread>
#include <unistd.h>

namespace capsule::store {

std::string Store::Impl::oci_blob_path(std::string_view digest) const
{
    return blob_dir(oci::digest_algorithm(digest)) + "/" + oci::digest_hex(digest);
}

std::string Store::layer_path(const std::string& digest) const
{
    return m_impl->layers_dir() + "/" + oci::digest_algorithm(digest) + "-" + oci::digest_hex(digest);
}

namespace {

/// Bytes queued between the writer and the extractor at most (backpressure on downloads).
constexpr size_t max_queued = 8 << 20;
/// Small writes are appended to the last queued chunk up to this size.
constexpr size_t chunk_size = 1 << 20;

/// A clearer word for what libarchive says about a layer that verified but does not unpack.
Error extraction_error(Error e)
{
    auto& msg = e.message();
    if (msg.find("Unrecognized archive format") != std::string::npos)
        return Error("not a tar archive", EINVAL);
    if (e.code() == EILSEQ && (msg.find("runcated") != std::string::npos || msg.find("premature") != std::string::npos))
        return Error("truncated tar archive (" + msg + ")", EINVAL);
    if (e.code() == EILSEQ)
        return Error("not a valid tar archive (" + msg + ")", EINVAL);
    return e;
}

class LayerImporter final : public LayerImport {
public:
    LayerImporter(Store& store, oci::Descriptor desc, TempDir work, UniqueFd blob, UniqueFd tree, Hasher hasher)
        : m_store(store)
        , m_desc(std::move(desc))
        , m_work(std::move(work))
        , m_blob(std::move(blob))
        , m_tree(std::move(tree))
        , m_hasher(std::move(hasher))
    {
        m_thread = std::thread([this] { extract(); });
    }
    ~LayerImporter() override { stop(true); }

    Status write(const void* data, size_t size) override;
    Status finish() override;
    Result<LayerInfo> commit() override;

private:
    Error fail(Error e) { return e.wrap("layer " + m_desc.digest); }
    void stop(bool abort);
    Status verify();
    void extract();
    static la_ssize_t read_cb(archive*, void* self, const void** buf);
    Result<LayerInfo> store_layer();

    Store& m_store;
    oci::Descriptor m_desc;
    TempDir m_work;
    UniqueFd m_blob;
    UniqueFd m_tree;
    Hasher m_hasher;
    uint64_t m_total { 0 };
    std::optional<Error> m_write_error;
    bool m_finished { false };
    std::optional<Status> m_verified; ///< finish()'s outcome
    bool m_committed { false };

    // Shared with the extraction thread, under m_mutex.
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<std::string> m_queue;
    size_t m_queued { 0 };
    bool m_eof { false };
    bool m_abort { false };
    bool m_done { false }; ///< the extractor returned (m_extract_error says how)
    std::optional<Error> m_extract_error;
    std::string m_reading; ///< the chunk libarchive is reading (its buffer)
    std::thread m_thread;
};

la_ssize_t LayerImporter::read_cb(archive* a, void* self, const void** buf)
{
    auto* imp = static_cast<LayerImporter*>(self);
    std::unique_lock lock(imp->m_mutex);
    imp->m_cv.wait(lock, [imp] { return !imp->m_queue.empty() || imp->m_eof || imp->m_abort; });
    if (imp->m_abort) {
        archive_set_error(a, ECANCELED, "import cancelled");
        return -1;
    }
    if (imp->m_queue.empty())
        return 0;
    imp->m_reading = std::move(imp->m_queue.front());
    imp->m_queue.pop_front();
    imp->m_queued -= imp->m_reading.size();
    lock.unlock();
    imp->m_cv.notify_all();
    *buf = imp->m_reading.data();
    return static_cast<la_ssize_t>(imp->m_reading.size());
}

void LayerImporter::extract()
{
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    // The media type names the compression, but what the bytes are decides: sniffed.
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_empty(a.get());
    Status r;
    if (archive_read_open(a.get(), this, nullptr, read_cb, nullptr) != ARCHIVE_OK) {
        const char* msg = archive_error_string(a.get());
        r = Error(msg ? msg : "cannot read tar", EILSEQ);
    } else {
        r = extract_layer(a.get(), m_tree.get(), LayerExtractOptions { Whiteouts::Overlay });
    }
    std::lock_guard lock(m_mutex);
    if (!r)
        m_extract_error = extraction_error(r.release_error());
    m_done = true;
    m_queue.clear();
    m_queued = 0;
    m_cv.notify_all();
}

void LayerImporter::stop(bool abort)
{
    {
        std::lock_guard lock(m_mutex);
        m_eof = true;
        m_abort |= abort;
    }
    m_cv.notify_all();
    if (m_thread.joinable())
        m_thread.join();
}

Status LayerImporter::write(const void* data, size_t size)
{
    if (m_write_error)
        return *m_write_error;
    if (m_finished)
        return fail(Error("written after commit", EINVAL));
    if (m_desc.size > 0 && m_total + size > static_cast<uint64_t>(m_desc.size)) {
        m_write_error = fail(
            Error("more bytes than the descriptor's size (" + std::to_string(m_desc.size) + " bytes)", EMSGSIZE));
        return *m_write_error;
    }
    m_hasher.update(data, size);
    m_total += size;
    if (auto w = write_all(m_blob.get(), { static_cast<const char*>(data), size }, "blob"); !w) {
        m_write_error = fail(w.release_error());
        return *m_write_error;
    }
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [this] { return m_queued < max_queued || m_done; });
    if (m_done) {
        // The tar ended (bytes after it are hashed and stored, not unpacked) or failed.
        if (m_extract_error) {
            m_write_error = fail(*m_extract_error);
            return *m_write_error;
        }
        return {};
    }
    auto* p = static_cast<const char*>(data);
    if (!m_queue.empty() && m_queue.back().size() + size <= chunk_size)
        m_queue.back().append(p, size);
    else
        m_queue.emplace_back(p, size);
    m_queued += size;
    lock.unlock();
    m_cv.notify_all();
    return {};
}

Status LayerImporter::finish()
{
    if (m_verified)
        return *m_verified;
    m_finished = true;
    m_verified = verify();
    return *m_verified;
}

Status LayerImporter::verify()
{
    stop(false);
    if (m_write_error)
        return *m_write_error;
    if (m_desc.size > 0 && m_total < static_cast<uint64_t>(m_desc.size))
        return fail(
            Error("truncated (" + std::to_string(m_total) + " of " + std::to_string(m_desc.size) + " bytes)", EPIPE));
    auto algo = oci::digest_algorithm(m_desc.digest);
    auto got = algo + ":" + m_hasher.finish_hex();
    if (got != m_desc.digest)
        return fail(Error("digest mismatch: expected " + m_desc.digest + ", got " + got, EBADMSG));
    if (m_extract_error)
        return fail(*m_extract_error);
    // Durability before visibility, as for ACIs: one syncfs for the tree's files. Done here
    // so that layers finishing in parallel sync in parallel.
    if (::fsync(m_blob.get()) < 0)
        return fail(Error::from_errno("fsync blob"));
    if (::syncfs(m_tree.get()) < 0)
        return fail(Error::from_errno("sync tree"));
    return {};
}

Result<LayerInfo> LayerImporter::commit()
{
    if (m_committed)
        return fail(Error("committed twice", EINVAL));
    TRY(finish());
    m_committed = true;
    return store_layer().wrap("layer " + m_desc.digest);
}

Result<LayerInfo> LayerImporter::store_layer()
{
    auto& impl = m_store.impl();
    LayerInfo info { m_desc.digest, m_desc.media_type, m_total, 0 };
    auto tree_tmp = m_work.path() + "/tree";
    auto blob_tmp = m_work.path() + "/blob";
    info.tree_size = disk_usage(tree_tmp).bytes;
    auto blob_dir = impl.blob_dir(oci::digest_algorithm(m_desc.digest));
    TRY(mkdir_p(blob_dir, 0700));
    auto blob_final = impl.oci_blob_path(m_desc.digest);
    if (::rename(blob_tmp.c_str(), blob_final.c_str()) < 0)
        return Error::from_errno("store blob '" + blob_final + "'");
    auto tree_final = m_store.layer_path(m_desc.digest);
    // A tree already there is complete (trees only appear by rename): a concurrent import
    // of the same layer won; keep it.
    if (::rename(tree_tmp.c_str(), tree_final.c_str()) < 0 && errno != EEXIST && errno != ENOTEMPTY)
        return Error::from_errno("store layer tree '" + tree_final + "'");
    TRY(fsync_dir(blob_dir));
    TRY(fsync_dir(impl.layers_dir()));
    std::lock_guard lock(impl.index_mutex);
    TRY(impl.index.insert_layer(info, unix_now()));
    spdlog::debug("layer {}: stored ({} bytes, tree {} bytes)", info.digest, info.size, info.tree_size);
    auto stored = TRY(impl.index.get_layer(info.digest));
    return stored ? *stored : info;
}

} // namespace

Result<std::optional<LayerInfo>> Store::find_layer(const std::string& digest)
{
    std::optional<LayerInfo> layer;
    {
        std::lock_guard lock(m_impl->index_mutex);
        layer = TRY_CTX(m_impl->index.get_layer(digest), "layer " + digest);
    }
    // The tree is checked too: a store damaged by hand must not make a fetch skip a layer.
    if (layer && !is_directory(layer_path(digest)))
        return std::optional<LayerInfo>();
    return layer;
}

Result<std::unique_ptr<LayerImport>> Store::begin_layer(const oci::Descriptor& desc)
{
    auto ctx = "layer " + desc.digest;
    if (!oci::is_valid_digest(desc.digest))
        return Error(ctx + ": not a valid digest", EINVAL);
    if (!desc.media_type.empty())
        TRY_CTX(oci::layer_compression(desc.media_type), ctx);
    auto hasher = TRY_CTX(Hasher::create(oci::digest_algorithm(desc.digest)), ctx);
    TRY_CTX(mkdir_p(m_impl->layers_dir(), 0755), ctx);
    auto work = TRY_CTX(TempDir::create(m_impl->tmp_dir(), "layer-"), ctx);
    auto blob = TRY_CTX(open_fd(work.path() + "/blob", O_WRONLY | O_CREAT | O_EXCL, 0644), ctx);
    // The layer root is what overlayfs shows as "/" when no layer says otherwise.
    if (::mkdir((work.path() + "/tree").c_str(), 0755) < 0)
        return Error::from_errno(ctx + ": mkdir '" + work.path() + "/tree'");
    auto tree = TRY_CTX(open_fd(work.path() + "/tree", O_RDONLY | O_DIRECTORY), ctx);
    return std::unique_ptr<LayerImport>(
        new LayerImporter(*this, desc, std::move(work), std::move(blob), std::move(tree), std::move(hasher)));
}

Status Store::put_blob(const std::string& digest, std::string_view bytes)
{
    auto ctx = "blob " + digest;
    if (!oci::is_valid_digest(digest))
        return Error(ctx + ": not a valid digest", EINVAL);
    auto algo = oci::digest_algorithm(digest);
    auto hasher = TRY_CTX(Hasher::create(algo), ctx);
    hasher.update(bytes.data(), bytes.size());
    auto got = algo + ":" + hasher.finish_hex();
    if (got != digest)
        return Error(ctx + ": digest mismatch: expected " + digest + ", got " + got, EBADMSG);
    auto path = m_impl->oci_blob_path(digest);
    if (path_exists(path))
        return {};
    TRY_CTX(mkdir_p(m_impl->blob_dir(algo), 0700), ctx);
    std::string tmp = m_impl->tmp_dir() + "/blob-XXXXXX";
    int raw = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (raw < 0)
        return Error::from_errno(ctx + ": create in '" + m_impl->tmp_dir() + "'");
    UniqueFd fd(raw);
    auto written = [&]() -> Status {
        TRY(write_all(fd.get(), bytes, "blob"));
        if (::fchmod(fd.get(), 0644) < 0 || ::fsync(fd.get()) < 0)
            return Error::from_errno("fsync");
        if (::rename(tmp.c_str(), path.c_str()) < 0)
            return Error::from_errno("store '" + path + "'");
        return fsync_dir(m_impl->blob_dir(algo));
    }();
    if (!written) {
        ::unlink(tmp.c_str());
        return written.release_error().wrap(ctx);
    }
    return {};
}

} // namespace capsule::store
