// SPDX-License-Identifier: Apache-2.0
// OCI images: recording an image over committed layers, reading it back, and flattening
// its layers into one tree where stacking them is not possible.
#include "lib/fs.h"
#include "store/digest.h"
#include "store/extract.h"
#include "store/oci.h"
#include "store/store_impl.h"

#include <archive.h>
#include <climits>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::store {

namespace {

Result<ImageInfo> oci_info(Store::Impl& impl, const std::string& id)
{
    std::optional<ImageInfo> info;
    {
        std::lock_guard lock(impl.index_mutex);
        info = TRY(impl.index.get(id));
    }
    if (!info)
        return Error("not found in the store", ENOENT);
    if (info->type != "oci")
        return Error("not an OCI image", EINVAL);
    return *info;
}

Result<OciRefs> oci_refs(Store::Impl& impl, const std::string& id)
{
    std::lock_guard lock(impl.index_mutex);
    auto refs = TRY(impl.index.get_oci(id));
    if (!refs)
        return Error("not an OCI image", EINVAL);
    return *refs;
}

} // namespace

Result<ImageInfo> Store::commit_oci_image(const OciImageRecord& rec)
{
    auto hex = sha256_hex(rec.manifest);
    auto id = "sha256-" + hex;
    auto ctx = "image " + id;
    auto manifest = TRY_CTX(oci::parse_manifest(rec.manifest, rec.manifest_media_type), ctx + ": manifest");
    if (manifest.layers.size() != rec.layers.size())
        return Error(ctx + ": the manifest has " + std::to_string(manifest.layers.size()) + " layers, "
                + std::to_string(rec.layers.size()) + " were imported",
            EINVAL);
    for (size_t i = 0; i < rec.layers.size(); i++) {
        auto& digest = manifest.layers[i].digest;
        if (rec.layers[i].digest != digest)
            return Error(
                ctx + ": layer " + std::to_string(i) + " is " + digest + ", not " + rec.layers[i].digest, EINVAL);
        if (!TRY_CTX(find_layer(digest), ctx))
            return Error(ctx + ": layer " + digest + " is not stored", ENOENT);
    }
    TRY_CTX(put_blob("sha256:" + hex, rec.manifest), ctx);
    TRY_CTX(put_blob(manifest.config.digest, rec.config), ctx + ": config");

    ImageInfo info;
    info.id = id;
    info.name = rec.name;
    info.labels = rec.labels;
    std::erase_if(info.labels, [](const appc::NameValue& l) { return l.name == "version"; });
    if (!rec.tag.empty())
        info.labels.insert(info.labels.begin(), appc::NameValue { "version", rec.tag });
    info.type = "oci";
    info.origin = rec.origin;
    info.blob_size = rec.manifest.size() + rec.config.size();
    for (auto& l : rec.layers) {
        info.blob_size += l.size;
        info.tree_size += l.tree_size;
    }
    info.import_time = unix_now();
    info.signed_by = rec.signed_by;
    OciRefs refs { "sha256:" + hex, rec.manifest_media_type.empty() ? manifest.media_type : rec.manifest_media_type,
        manifest.config.digest, rec.layers };
    std::lock_guard lock(m_impl->index_mutex);
    auto stored = TRY_CTX(m_impl->index.commit_oci(info, refs), ctx);
    if (rec.origin_stat && !rec.origin_path.empty()) {
        auto* st = rec.origin_stat;
        OriginKey key { rec.origin_path, st->st_dev, st->st_ino, static_cast<uint64_t>(st->st_size),
            st->st_mtim.tv_sec * 1'000'000'000LL + st->st_mtim.tv_nsec };
        TRY_CTX(m_impl->index.record_origin(key, id), ctx);
    }
    spdlog::debug("image {}: stored as {}:{} ({} layers)", id, stored.name, stored.version(), rec.layers.size());
    return stored;
}

Result<OciImage> Store::oci_image(const std::string& id)
{
    auto ctx = "image " + id;
    OciImage img;
    img.info = TRY_CTX(oci_info(*m_impl, id), ctx);
    auto refs = TRY_CTX(oci_refs(*m_impl, id), ctx);
    img.manifest = TRY_CTX(read_file(m_impl->oci_blob_path(refs.manifest_digest)), ctx + ": manifest");
    img.config = TRY_CTX(read_file(m_impl->oci_blob_path(refs.config_digest)), ctx + ": config");
    img.layers = std::move(refs.layers);
    for (auto& l : img.layers)
        img.layer_dirs.push_back(layer_path(l.digest));
    return img;
}

namespace {

constexpr size_t max_read_size = 64 << 20;
constexpr int max_symlink_hops = 40;

/// Resolves `target` (a symlink's text) found at `comps[0..at)` the way the kernel would
/// inside the image's root: absolute from the root, ".." never above it.
std::vector<std::string> follow(const std::vector<std::string>& comps, size_t at, const std::string& target)
{
    std::vector<std::string> out;
    if (!target.starts_with('/'))
        out.assign(comps.begin(), comps.begin() + static_cast<ptrdiff_t>(at));
    size_t start = 0;
    while (start <= target.size()) {
        size_t end = target.find('/', start);
        if (end == std::string::npos)
            end = target.size();
        auto c = target.substr(start, end - start);
        if (c == "..") {
            if (!out.empty())
                out.pop_back();
        } else if (!c.empty() && c != ".") {
            out.push_back(c);
        }
        start = end + 1;
    }
    out.insert(out.end(), comps.begin() + static_cast<ptrdiff_t>(at) + 1, comps.end());
    return out;
}

Result<std::string> read_regular(int dirfd, const std::string& name, const struct stat& st)
{
    if (static_cast<uint64_t>(st.st_size) > max_read_size)
        return Error("larger than 64 MiB", EFBIG);
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        return Error::from_errno("open");
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("read");
        if (n == 0)
            return out;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_read_size)
            return Error("larger than 64 MiB", EFBIG);
    }
}

/// One lookup through the layer stack (top first). Symlinks are never followed by the
/// kernel: their text is resolved here, against the whole stack, and the lookup restarts.
Result<std::optional<std::string>> lookup(const std::vector<UniqueFd>& layers, std::vector<std::string> comps)
{
    for (int hop = 0; hop <= max_symlink_hops; hop++) {
        std::optional<std::vector<std::string>> restart;
        for (auto& layer : layers) {
            UniqueFd cur(::fcntl(layer.get(), F_DUPFD_CLOEXEC, 3));
            bool opaque = false;
            bool absent = false;
            for (size_t i = 0; i < comps.size() && !restart && !absent; i++) {
                struct stat st;
                if (::fstatat(cur.get(), comps[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
                    if (errno != ENOENT)
                        return Error::from_errno("stat '" + comps[i] + "'");
                    absent = true;
                    break;
                }
                if (S_ISCHR(st.st_mode) && st.st_rdev == 0)
                    return std::optional<std::string>(); // a whiteout
                if (S_ISLNK(st.st_mode)) {
                    std::string target(PATH_MAX, '\0');
                    ssize_t n = ::readlinkat(cur.get(), comps[i].c_str(), target.data(), target.size());
                    if (n < 0)
                        return Error::from_errno("readlink '" + comps[i] + "'");
                    target.resize(static_cast<size_t>(n));
                    restart = follow(comps, i, target);
                    break;
                }
                if (i + 1 == comps.size()) {
                    if (S_ISDIR(st.st_mode))
                        return Error("is a directory", EISDIR);
                    if (!S_ISREG(st.st_mode))
                        return Error("not a regular file", EINVAL);
                    return std::optional<std::string>(TRY(read_regular(cur.get(), comps[i], st)));
                }
                if (!S_ISDIR(st.st_mode))
                    return std::optional<std::string>(); // a file hides what lower layers have below
                UniqueFd next(::openat(cur.get(), comps[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!next)
                    return Error::from_errno("open '" + comps[i] + "'");
                cur = std::move(next);
                opaque |= is_opaque_dir(cur.get());
            }
            if (restart)
                break;
            if (absent && opaque)
                return std::optional<std::string>();
        }
        if (!restart)
            return std::optional<std::string>();
        comps = std::move(*restart);
        if (comps.empty())
            return Error("is a directory", EISDIR);
    }
    return Error("too many levels of symbolic links", ELOOP);
}

} // namespace

Result<std::optional<std::string>> Store::read_image_file(const std::string& id, const std::string& path)
{
    auto ctx = "image " + id + ": read '" + path + "'";
    std::string rel = path;
    while (rel.starts_with('/'))
        rel.erase(0, 1);
    auto comps = TRY_CTX(split_entry_path(rel.empty() ? "." : rel), ctx);
    if (comps.empty())
        return Error(ctx + ": is a directory", EISDIR);
    std::vector<std::string> roots;
    if (id.starts_with("sha256-")) {
        auto refs = TRY_CTX(oci_refs(*m_impl, id), ctx);
        for (auto it = refs.layers.rbegin(); it != refs.layers.rend(); ++it)
            roots.push_back(layer_path(it->digest));
    } else {
        roots.push_back(tree_path(id) + "/rootfs");
    }
    std::vector<UniqueFd> layers;
    for (auto& r : roots)
        layers.push_back(TRY_CTX(open_fd(r, O_RDONLY | O_DIRECTORY | O_NOFOLLOW), ctx));
    return lookup(layers, std::move(comps)).wrap(ctx);
}

namespace {

/// Apply the layer blob at `blob` (any compression) over the tree open at `rootfd`.
Status apply_layer_blob(const std::string& blob, int rootfd)
{
    auto fd = TRY(open_fd(blob, O_RDONLY));
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_empty(a.get());
    if (archive_read_open_fd(a.get(), fd.get(), 1 << 20) != ARCHIVE_OK)
        return Error::msg(std::string("read '") + blob + "': " + archive_error_string(a.get()));
    return extract_layer(a.get(), rootfd, LayerExtractOptions { Whiteouts::Apply });
}

} // namespace

Status flatten_oci(Store& store, const std::string& id, int dirfd, CopyWhat what)
{
    auto& impl = store.impl();
    auto refs = TRY(oci_refs(impl, id));
    UniqueFd rootfs;
    if (what == CopyWhat::RootfsOnly) {
        rootfs.reset(::fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
    } else {
        auto manifest = TRY(read_file(impl.oci_blob_path(refs.manifest_digest)));
        int raw = ::openat(dirfd, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (raw < 0)
            return Error::from_errno("create manifest");
        UniqueFd mfd(raw);
        TRY(write_all(mfd.get(), manifest, "manifest"));
        if (::mkdirat(dirfd, "rootfs", 0755) < 0)
            return Error::from_errno("mkdir rootfs");
        rootfs = TRY(openat_fd(dirfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    }
    for (auto& l : refs.layers)
        TRY_CTX(apply_layer_blob(impl.oci_blob_path(l.digest), rootfs.get()), "layer " + l.digest);
    return {};
}

Result<std::string> Store::flat_tree(const std::string& id)
{
    auto ctx = "image " + id + ": flatten";
    auto final_path = tree_path(id);
    if (is_directory(final_path + "/rootfs"))
        return final_path + "/rootfs";
    TRY_CTX(oci_info(*m_impl, id), ctx);
    auto work = TRY_CTX(TempDir::create(m_impl->tmp_dir(), "flat-"), ctx);
    auto dirfd = TRY_CTX(open_fd(work.path(), O_RDONLY | O_DIRECTORY), ctx);
    if (::mkdirat(dirfd.get(), "rootfs", 0755) < 0)
        return Error::from_errno(ctx + ": mkdir rootfs");
    auto rootfs = TRY_CTX(openat_fd(dirfd.get(), "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW), ctx);
    TRY_CTX(flatten_oci(*this, id, rootfs.get(), CopyWhat::RootfsOnly), ctx);
    ::fchmod(dirfd.get(), 0755);
    if (::syncfs(dirfd.get()) < 0)
        return Error::from_errno(ctx + ": sync tree");
    // Trees appear only by rename: one already there (a concurrent render) is complete.
    if (::rename(work.path().c_str(), final_path.c_str()) == 0)
        work.release();
    else if (errno != EEXIST && errno != ENOTEMPTY)
        return Error::from_errno(ctx + ": store tree '" + final_path + "'");
    TRY_CTX(fsync_dir(m_impl->trees_dir()), ctx);
    return final_path + "/rootfs";
}

} // namespace capsule::store
