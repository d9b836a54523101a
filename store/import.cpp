// SPDX-License-Identifier: Apache-2.0
// Importing an ACI in one pass over the input: the tar reader pulls its bytes through a
// "tee" that decompresses (libarchive raw format + one filter), hashes (SHA-512) and
// writes the blob, so the file is read and decompressed once while the tree is unpacked.
#include "lib/fs.h"
#include "store/digest.h"
#include "store/extract.h"
#include "store/store_impl.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace capsule::store {

namespace {

constexpr size_t block_size = 1 << 20;

struct ArchiveDeleter {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

int filter_code(Compression c)
{
    switch (c) {
    case Compression::Gzip:
        return ARCHIVE_FILTER_GZIP;
    case Compression::Bzip2:
        return ARCHIVE_FILTER_BZIP2;
    case Compression::Xz:
        return ARCHIVE_FILTER_XZ;
    case Compression::Zstd:
        return ARCHIVE_FILTER_ZSTD;
    case Compression::None:
        break;
    }
    return ARCHIVE_FILTER_NONE;
}

/// The tar reader's input: uncompressed bytes, hashed and copied to the blob on the way.
struct Tee {
    int in_fd { -1 };
    archive* decompressor { nullptr }; ///< null for a plain tar
    Compression compression { Compression::None };
    Sha512 sha;
    int blob_fd { -1 };
    uint64_t total { 0 };
    std::vector<char> buffer;
    std::optional<Error> error;

    /// Next block of the uncompressed stream; 0 at its end, -1 on error (see `error`).
    ssize_t next(const void** out)
    {
        ssize_t n;
        if (decompressor) {
            size_t size;
            la_int64_t offset;
            int r = archive_read_data_block(decompressor, out, &size, &offset);
            if (r == ARCHIVE_EOF)
                return 0;
            if (r < ARCHIVE_WARN) {
                const char* msg = archive_error_string(decompressor);
                error = Error(std::string(compression_name(compression)) + " data is corrupt or truncated"
                    + (msg ? std::string(" (") + msg + ")" : ""));
                return -1;
            }
            n = static_cast<ssize_t>(size);
        } else {
            do
                n = ::read(in_fd, buffer.data(), buffer.size());
            while (n < 0 && errno == EINTR);
            if (n < 0) {
                error = Error::from_errno("read");
                return -1;
            }
            *out = buffer.data();
        }
        sha.update(*out, static_cast<size_t>(n));
        total += static_cast<uint64_t>(n);
        if (blob_fd < 0)
            return n; // reading the blob itself (plain tar, copied in the kernel)
        if (auto w = write_all(blob_fd, { static_cast<const char*>(*out), static_cast<size_t>(n) }, "blob"); !w) {
            error = w.release_error();
            return -1;
        }
        return n;
    }
};

la_ssize_t tee_read(archive* a, void* client, const void** buf)
{
    auto* tee = static_cast<Tee*>(client);
    ssize_t n = tee->next(buf);
    if (n < 0)
        archive_set_error(a, tee->error->code() ? tee->error->code() : EIO, "%s", tee->error->message().c_str());
    return n;
}

Result<ArchivePtr> open_decompressor(int fd, Compression c)
{
    ArchivePtr a(archive_read_new());
    archive_read_support_format_raw(a.get());
    if (archive_read_append_filter(a.get(), filter_code(c)) != ARCHIVE_OK
        || archive_read_open_fd(a.get(), fd, block_size) != ARCHIVE_OK)
        return Error::msg(std::string(compression_name(c)) + " data is corrupt: " + archive_error_string(a.get()));
    archive_entry* e;
    if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
        return Error::msg(std::string(compression_name(c)) + " data is corrupt: " + archive_error_string(a.get()));
    return a;
}

/// Kernel-side copy (copy_file_range: no trip through user space, a reflink where the
/// filesystem can); falls back to read/write.
Status copy_into(int in, int out)
{
    for (;;) {
        ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n > 0)
            continue;
        if (n == 0)
            return {};
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
            return Error::from_errno("copy to blob");
        std::vector<char> buf(block_size);
        for (;;) {
            ssize_t r = ::read(in, buf.data(), buf.size());
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return Error::from_errno("read");
            if (r == 0)
                return {};
            for (ssize_t off = 0; off < r;) {
                ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(r - off));
                if (w < 0 && errno != EINTR)
                    return Error::from_errno("write blob");
                off += std::max<ssize_t>(w, 0);
            }
        }
    }
}

Status check_source(int fd, struct stat& st)
{
    if (::fstat(fd, &st) < 0)
        return Error::from_errno("stat");
    if (S_ISDIR(st.st_mode))
        return Error("is a directory, not an image file", EISDIR);
    if (!S_ISREG(st.st_mode))
        return Error("not a regular file", EINVAL);
    if (st.st_size == 0)
        return Error("file is empty", EINVAL);
    return {};
}

} // namespace

Result<std::optional<ImageInfo>> Store::find_by_origin(const std::string& path, const struct stat& st)
{
    OriginKey key { path, st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size),
        st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec };
    auto id = TRY(m_impl->index.find_origin(key));
    if (!id)
        return std::optional<ImageInfo>();
    // The tree is checked too: a store damaged by hand must not make fetch lie.
    if (id->starts_with("sha256-")) {
        auto refs = TRY(m_impl->index.get_oci(*id));
        if (!refs)
            return std::optional<ImageInfo>();
        for (auto& l : refs->layers)
            if (!is_directory(layer_path(l.digest)))
                return std::optional<ImageInfo>();
    } else if (!is_directory(tree_path(*id) + "/rootfs")) {
        return std::optional<ImageInfo>();
    }
    return m_impl->index.get(*id);
}

Result<ImageInfo> Store::import_aci(int fd, const std::string& origin, const struct stat* origin_stat)
{
    ImportOptions opts;
    opts.origin_stat = origin_stat;
    return import_aci(fd, origin, opts);
}

Result<ImageInfo> Store::import_aci(int fd, const std::string& origin, const ImportOptions& import)
{
    const struct stat* origin_stat = import.origin_stat;
    struct stat st;
    TRY(check_source(fd, st));
    unsigned char head[8] = {};
    if (::pread(fd, head, sizeof head, 0) < 0)
        return Error::from_errno("read");
    Compression compression = sniff_compression(head);
    spdlog::debug("import '{}': compression {}", origin, compression_name(compression));

    auto work = TRY(TempDir::create(m_impl->tmp_dir(), "import-"));
    auto blob_tmp = work.path() + "/blob";
    auto tree_tmp = work.path() + "/tree";
    auto blob = TRY(open_fd(blob_tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    TRY(mkdir_p(tree_tmp, 0755));
    auto tree_fd = TRY(open_fd(tree_tmp, O_RDONLY | O_DIRECTORY));

    Tee tee { fd, nullptr, compression, TRY(Sha512::create()), blob.get() };
    ArchivePtr decompressor;
    UniqueFd blob_reader;
    if (compression != Compression::None) {
        decompressor = TRY(open_decompressor(fd, compression));
        tee.decompressor = decompressor.get();
    } else {
        // A plain tar is copied by the kernel first, then hashed and unpacked from the
        // copy: what is hashed is exactly what is stored, even if the source changes.
        TRY(copy_into(fd, blob.get()));
        blob_reader = TRY(open_fd(blob_tmp, O_RDONLY));
        tee.in_fd = blob_reader.get();
        tee.blob_fd = -1;
        tee.buffer.resize(block_size);
    }
    ArchivePtr tar(archive_read_new());
    archive_read_support_format_tar(tar.get());
    if (archive_read_open(tar.get(), &tee, nullptr, tee_read, nullptr) != ARCHIVE_OK)
        return tee.error ? *tee.error
                         : Error::msg(std::string("not a tar archive: ") + archive_error_string(tar.get()));

    std::optional<appc::ImageManifest> manifest;
    ExtractOptions opts;
    opts.on_manifest = [&](std::string_view text) -> Status {
        manifest = TRY_CTX(appc::parse_image_manifest(text), "invalid manifest");
        return {};
    };
    auto contents = extract_aci(tar.get(), tree_fd.get(), opts);
    if (tee.error)
        return *tee.error;
    if (!contents && compression != Compression::None) {
        // Garbage out of a damaged stream often trips the tar reader before the
        // decompressor's checksum does: the decompressor's verdict is the real cause.
        for (const void* p; tee.next(&p) > 0;)
            ;
        if (tee.error)
            return *tee.error;
    }
    if (!contents) {
        auto& msg = contents.error().message();
        if (msg.find("Unrecognized archive format") != std::string::npos)
            return Error("not a tar archive", EINVAL);
        if (msg.find("Truncated") != std::string::npos || msg.find("truncated") != std::string::npos)
            return Error("truncated tar archive (" + msg + ")", EINVAL);
        // libarchive does not check gzip's CRC: damage shows up as a malformed tar.
        if (contents.error().code() == EILSEQ && compression != Compression::None)
            return Error(
                std::string(compression_name(compression)) + " data is corrupt or does not hold a tar (" + msg + ")",
                EINVAL);
        if (contents.error().code() == EILSEQ)
            return Error("not a valid tar archive (" + msg + ")", EINVAL);
        return contents.release_error();
    }
    // Hash to the end of the stream: bytes after the tar's end marker are part of the blob.
    for (const void* p; tee.next(&p) > 0;)
        ;
    if (tee.error)
        return *tee.error;
    if (!contents->has_manifest)
        return Error("the image has no manifest", EINVAL);
    if (!contents->has_rootfs)
        return Error("the image has no rootfs/ directory", EINVAL);
    if (manifest->raw.contains("dependencies") && !manifest->raw["dependencies"].empty())
        return Error("the image has dependencies, which capsule does not support yet", ENOTSUP);
    if (import.check_manifest)
        TRY(import.check_manifest(*manifest));

    auto hex = tee.sha.finish_hex();
    auto id = aci_image_id(hex);
    std::optional<OriginKey> key;
    if (origin_stat)
        key = OriginKey { origin, origin_stat->st_dev, origin_stat->st_ino, static_cast<uint64_t>(origin_stat->st_size),
            origin_stat->st_mtim.tv_sec * 1'000'000'000LL + origin_stat->st_mtim.tv_nsec };
    if (auto existing = TRY(m_impl->index.get(id)); existing && is_directory(tree_path(id) + "/rootfs")) {
        spdlog::debug("import '{}': {} is already stored", origin, id);
        if (key)
            TRY(m_impl->index.record_origin(*key, id));
        if (!import.signed_by.empty() && existing->signed_by.empty()) {
            TRY(m_impl->index.set_signed_by(id, import.signed_by));
            existing->signed_by = import.signed_by;
        }
        return *existing;
    }

    ImageInfo info;
    info.id = id;
    info.name = manifest->name;
    info.labels = manifest->labels;
    info.type = "aci";
    info.origin = origin;
    info.blob_size = tee.total;
    info.tree_size = disk_usage(tree_tmp).bytes;
    info.import_time = unix_now();
    info.signed_by = import.signed_by;

    // Durability before visibility: the blob and every file of the tree reach the disk
    // before they are renamed into place, and the index row comes last.
    if (::fsync(blob.get()) < 0)
        return Error::from_errno("fsync blob");
    if (::syncfs(tree_fd.get()) < 0)
        return Error::from_errno("sync tree");
    if (::rename(blob_tmp.c_str(), blob_path(id).c_str()) < 0)
        return Error::from_errno("store blob '" + blob_path(id) + "'");
    // An existing tree is complete (trees only ever appear by rename); keep it.
    if (::rename(tree_tmp.c_str(), tree_path(id).c_str()) < 0 && errno != EEXIST && errno != ENOTEMPTY)
        return Error::from_errno("store tree '" + tree_path(id) + "'");
    TRY(fsync_dir(m_impl->blobs_dir()));
    TRY(fsync_dir(m_impl->trees_dir()));
    TRY(m_impl->index.insert(info, key ? &*key : nullptr));
    spdlog::debug("import '{}': stored {} ({} bytes)", origin, id, info.blob_size);
    // A concurrent import of the same image may have inserted first: report its row.
    auto stored = TRY(m_impl->index.get(id));
    return stored ? *stored : info;
}

} // namespace capsule::store
