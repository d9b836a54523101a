// SPDX-License-Identifier: Apache-2.0
// Exporting an OCI image as an oci-archive: a tar of an OCI image layout (oci-layout,
// index.json naming the image by its tag, blobs/<algo>/<hex>), the stored blobs copied
// byte for byte, so the digests still hold.
#include "lib/fs.h"
#include "store/oci.h"
#include "store/store_impl.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::store {

namespace {

struct TarWriter {
    std::unique_ptr<archive, int (*)(archive*)> a { archive_write_new(), archive_write_free };
    std::set<std::string> dirs;

    Error error(const std::string& what) const
    {
        const char* msg = archive_error_string(a.get());
        return Error(what + ": " + (msg ? msg : "write error"), archive_errno(a.get()));
    }

    Status header(const std::string& path, mode_t type, int64_t size)
    {
        std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
        archive_entry_set_pathname(e.get(), path.c_str());
        archive_entry_set_filetype(e.get(), type);
        archive_entry_set_perm(e.get(), type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_size(e.get(), size);
        if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK)
            return error(path);
        return {};
    }

    Status dir(const std::string& path)
    {
        if (!dirs.insert(path).second)
            return {};
        return header(path, AE_IFDIR, 0);
    }

    Status bytes(const std::string& path, std::string_view data)
    {
        TRY(header(path, AE_IFREG, static_cast<int64_t>(data.size())));
        if (!data.empty() && archive_write_data(a.get(), data.data(), data.size()) < 0)
            return error(path);
        return {};
    }

    Status file(const std::string& path, const std::string& from)
    {
        auto fd = TRY(open_fd(from, O_RDONLY));
        struct stat st;
        if (::fstat(fd.get(), &st) < 0)
            return Error::from_errno("stat '" + from + "'");
        TRY(header(path, AE_IFREG, st.st_size));
        std::vector<char> buf(1 << 20);
        for (;;) {
            ssize_t n = ::read(fd.get(), buf.data(), buf.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return Error::from_errno("read '" + from + "'");
            if (n == 0)
                return {};
            if (archive_write_data(a.get(), buf.data(), static_cast<size_t>(n)) < 0)
                return error(path);
        }
    }

    Status blob(Store::Impl& impl, const std::string& digest)
    {
        auto algo = oci::digest_algorithm(digest);
        TRY(dir("blobs/"));
        TRY(dir("blobs/" + algo + "/"));
        auto path = "blobs/" + algo + "/" + oci::digest_hex(digest);
        if (dirs.contains(path))
            return {}; // a layer listed twice
        dirs.insert(path);
        return file(path, impl.oci_blob_path(digest));
    }
};

} // namespace

Status write_oci_archive(Store& store, const std::string& id, int out)
{
    auto& impl = store.impl();
    std::optional<ImageInfo> info;
    std::optional<OciRefs> refs;
    {
        std::lock_guard lock(impl.index_mutex);
        info = TRY(impl.index.get(id));
        refs = TRY(impl.index.get_oci(id));
    }
    if (!info || !refs)
        return Error("image " + id + ": not an OCI image in the store", ENOENT);
    auto manifest_path = impl.oci_blob_path(refs->manifest_digest);
    struct stat st;
    if (::stat(manifest_path.c_str(), &st) < 0)
        return Error::from_errno("stat '" + manifest_path + "'");
    nlohmann::json desc
        = { { "mediaType", refs->manifest_media_type }, { "digest", refs->manifest_digest }, { "size", st.st_size } };
    if (!info->version().empty())
        desc["annotations"] = { { "org.opencontainers.image.ref.name", info->version() } };
    nlohmann::json index = { { "schemaVersion", 2 }, { "mediaType", oci::media_oci_index }, { "manifests", { desc } } };

    TarWriter w;
    archive_write_set_format_pax_restricted(w.a.get());
    if (archive_write_open_fd(w.a.get(), out) != ARCHIVE_OK)
        return w.error("open");
    TRY(w.bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    TRY(w.bytes("index.json", index.dump()));
    TRY(w.blob(impl, refs->manifest_digest));
    TRY(w.blob(impl, refs->config_digest));
    for (auto& l : refs->layers)
        TRY(w.blob(impl, l.digest));
    if (archive_write_close(w.a.get()) != ARCHIVE_OK)
        return w.error("close");
    return {};
}

} // namespace capsule::store

// libarchive's tar writers report an unsupported entry type through a helper that lives in
// the same object file as archive_write_set_format(), the by-code dispatcher that references
// every write format, xar's among them; linking it would make `capsule` load libxml2 and ICU
// at every start (Documentation/hacking.md, "Start-up time and linking"). This definition,
// in an object the linker has already taken, satisfies the tar writer instead. capsule only
// writes regular files and directories, so it is never reached in practice.
extern "C" void __archive_write_entry_filetype_unsupported(archive* a, archive_entry* entry, const char* format)
{
    archive_set_error(a, EINVAL, "%s: the %s writer cannot store this file type",
        archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "?", format);
}
