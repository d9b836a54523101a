// SPDX-License-Identifier: Apache-2.0
// Copying stored images out: export (the ACI blob), extract (unpack the blob afresh) and
// render (copy the rendered tree). Each writes a temp sibling of the destination and
// renames it into place, so a failure leaves nothing half-written.
#include "lib/fs.h"
#include "store/extract.h"
#include "store/store_impl.h"

#include <archive.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::store {

namespace {

/// The destination must not exist, or be an empty directory (which rename(2) replaces).
Status check_destination(const std::string& dest, bool directory)
{
    struct stat st;
    if (::lstat(dest.c_str(), &st) < 0) {
        if (errno != ENOENT)
            return Error::from_errno("'" + dest + "'");
        if (!is_directory(path_dirname(path_absolute(dest))))
            return Error("'" + dest + "': parent directory does not exist", ENOENT);
        return {};
    }
    if (directory && S_ISDIR(st.st_mode) && ::rmdir(dest.c_str()) == 0)
        return {};
    return Error(
        "'" + dest + "': already exists" + std::string(directory ? " and is not an empty directory" : ""), EEXIST);
}

Status copy_fd(int in, int out, const std::string& dest)
{
    for (;;) {
        ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n == 0)
            return {};
        if (n > 0)
            continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL)
            return Error::from_errno("write '" + dest + "'");
        // Fallback for filesystems without copy_file_range.
        std::vector<char> buf(1 << 20);
        for (;;) {
            ssize_t r = ::read(in, buf.data(), buf.size());
            if (r < 0)
                return Error::from_errno("read blob");
            if (r == 0)
                return {};
            if (::write(out, buf.data(), static_cast<size_t>(r)) != r)
                return Error::from_errno("write '" + dest + "'");
        }
    }
}

Result<TempDir> temp_sibling(const std::string& dest)
{
    auto abs = path_absolute(dest);
    return TempDir::create(path_dirname(abs), "." + path_basename(abs) + ".capsule-");
}

} // namespace

Status Store::flatten_to(const std::string& id, const std::string& dest, CopyWhat what)
{
    auto tmp = TRY(temp_sibling(dest));
    auto dirfd = TRY(open_fd(tmp.path(), O_RDONLY | O_DIRECTORY));
    TRY_CTX(flatten_oci(*this, id, dirfd.get(), what), "flatten image " + id);
    ::fchmod(dirfd.get(), 0755);
    if (::rename(tmp.path().c_str(), dest.c_str()) < 0)
        return Error::from_errno("rename to '" + dest + "'");
    tmp.release();
    return {};
}

Status Store::export_image(const std::string& id, const std::string& dest)
{
    TRY(check_destination(dest, false));
    bool oci = id.starts_with("sha256-");
    UniqueFd in;
    if (!oci)
        in = TRY(open_fd(blob_path(id), O_RDONLY));
    auto tmp = TRY(temp_sibling(dest));
    auto file = tmp.path() + "/image";
    auto out = TRY(open_fd(file, O_WRONLY | O_CREAT | O_EXCL, 0644));
    if (oci)
        TRY_CTX(write_oci_archive(*this, id, out.get()), "write '" + dest + "'");
    else
        TRY(copy_fd(in.get(), out.get(), dest));
    if (::fsync(out.get()) < 0)
        return Error::from_errno("fsync '" + dest + "'");
    if (::rename(file.c_str(), dest.c_str()) < 0)
        return Error::from_errno("rename to '" + dest + "'");
    return {};
}

Status Store::extract_image(const std::string& id, const std::string& dest, CopyWhat what)
{
    TRY(check_destination(dest, true));
    if (id.starts_with("sha256-"))
        return flatten_to(id, dest, what);
    auto in = TRY(open_fd(blob_path(id), O_RDONLY));
    auto tmp = TRY(temp_sibling(dest));
    auto dirfd = TRY(open_fd(tmp.path(), O_RDONLY | O_DIRECTORY));
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    if (archive_read_open_fd(a.get(), in.get(), 1 << 20) != ARCHIVE_OK)
        return Error::msg("read blob '" + blob_path(id) + "': " + archive_error_string(a.get()));
    ExtractOptions opts;
    opts.rootfs_only = what == CopyWhat::RootfsOnly;
    TRY_CTX(extract_aci(a.get(), dirfd.get(), opts), "extract blob '" + blob_path(id) + "'");
    // mkdtemp made the directory 0700; an extracted tree is as readable as a rendered one.
    if (!opts.rootfs_only)
        ::fchmod(dirfd.get(), 0755);
    if (::rename(tmp.path().c_str(), dest.c_str()) < 0)
        return Error::from_errno("rename to '" + dest + "'");
    tmp.release();
    return {};
}

Status Store::render_image(const std::string& id, const std::string& dest, CopyWhat what)
{
    TRY(check_destination(dest, true));
    // An OCI image has no rendered tree of its own (its layers are): flattened afresh.
    if (id.starts_with("sha256-"))
        return flatten_to(id, dest, what);
    auto tmp = TRY(temp_sibling(dest));
    auto from = tree_path(id) + (what == CopyWhat::RootfsOnly ? "/rootfs" : "");
    auto to = tmp.path() + "/out";
    TRY(copy_tree(from, to));
    if (::rename(to.c_str(), dest.c_str()) < 0)
        return Error::from_errno("rename to '" + dest + "'");
    return {};
}

} // namespace capsule::store
