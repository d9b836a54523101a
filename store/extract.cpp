// SPDX-License-Identifier: Apache-2.0
// Safe extraction: the entry writer (store/extract_writer.h) and ACI trees.
#include "store/extract.h"

#include "lib/fd.h"
#include "store/extract_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace capsule::store {

namespace {

constexpr size_t max_manifest_size = 16 << 20;

} // namespace

namespace detail {

std::string join(const std::vector<std::string>& comps, size_t count)
{
    std::string out;
    for (size_t i = 0; i < count; i++) {
        if (i)
            out += '/';
        out += comps[i];
    }
    return out;
}

/// openat2 confined beneath `root`; ENOSYS (old kernels, seccomp) falls back to a
/// component walk that refuses every symlink, which is stricter.
int open_beneath(int root, const std::string& path, int flags)
{
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    int fd = static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != ENOSYS)
        return fd;
    UniqueFd cur(::fcntl(root, F_DUPFD_CLOEXEC, 3));
    size_t start = 0;
    while (start < path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        std::string comp = path.substr(start, end - start);
        int next = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return -1;
        cur.reset(next);
        start = end + 1;
    }
    return cur.release();
}

Status remove_at(int dirfd, const std::string& name)
{
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? Status() : Error::from_errno("stat '" + name + "'");
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(dirfd, name.c_str(), 0) < 0 && errno != ENOENT)
            return Error::from_errno("unlink '" + name + "'");
        return {};
    }
    int raw = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0)
        return Error::from_errno("open '" + name + "'");
    DIR* d = ::fdopendir(raw);
    if (!d) {
        ::close(raw);
        return Error::from_errno("open '" + name + "'");
    }
    std::vector<std::string> children;
    while (auto* de = ::readdir(d)) {
        std::string_view n = de->d_name;
        if (n != "." && n != "..")
            children.emplace_back(n);
    }
    Status r;
    for (auto& c : children)
        if (r = remove_at(::dirfd(d), c); !r)
            break;
    ::closedir(d);
    TRY_CTX(std::move(r), name);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
        return Error::from_errno("rmdir '" + name + "'");
    return {};
}

} // namespace detail

namespace {

using detail::join;
using detail::next_entry;
using detail::open_beneath;
using detail::Writer;
using detail::WriterMode;

Error resolve_error(std::string_view what, int err)
{
    if (err == EXDEV || err == ELOOP)
        return Error("path leaves the rootfs through a symlink", EXDEV);
    return Error::from_errno(what, err);
}

void set_xattrs(int fd, const std::vector<std::pair<std::string, std::string>>& xattrs)
{
    for (auto& [name, value] : xattrs)
        if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) < 0)
            spdlog::debug("extract: xattr {}: {}, ignoring", name, std::strerror(errno));
}

std::vector<std::pair<std::string, std::string>> entry_xattrs(archive_entry* e)
{
    std::vector<std::pair<std::string, std::string>> out;
    if (archive_entry_xattr_reset(e) == 0)
        return out;
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
        out.emplace_back(name, std::string(static_cast<const char*>(value), size));
    return out;
}

bool is_overlay_xattr(std::string_view name)
{
    return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
}

} // namespace

namespace detail {

Writer::Writer(int root, WriterMode mode)
    : m_root(root)
    , m_mode(mode)
    , m_privileged(::geteuid() == 0)
{
}

std::vector<std::pair<std::string, std::string>> Writer::xattrs_of(archive_entry* e) const
{
    auto x = entry_xattrs(e);
    // overlayfs' own attributes (opaque, redirect, metacopy) in a layer tar would change
    // what the stack shows; only whiteout entries make them.
    if (m_mode != WriterMode::Aci)
        std::erase_if(x, [](auto& kv) { return is_overlay_xattr(kv.first); });
    return x;
}

void Writer::mark_written(const std::vector<std::string>& comps)
{
    if (m_mode != WriterMode::Apply)
        return;
    std::string path;
    for (auto& c : comps) {
        if (!path.empty())
            path += '/';
        path += c;
        m_written.insert(path);
    }
}

Result<int> Writer::parent(const std::vector<std::string>& comps)
{
    size_t depth = comps.size() - 1;
    if (depth == 0)
        return m_root;
    std::string path = join(comps, depth);
    if (m_cached_fd && path == m_cached_path)
        return m_cached_fd.get();
    int fd = open_beneath(m_root, path, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && (errno == ENOENT || (errno == ENOTDIR && m_mode != WriterMode::Aci))) {
        // Tars may omit parent directories: create the missing ones, one level at a time.
        UniqueFd cur(::fcntl(m_root, F_DUPFD_CLOEXEC, 3));
        for (size_t i = 0; i < depth; i++) {
            bool opaque = false;
            if (m_mode != WriterMode::Aci)
                opaque = TRY(replace_for_dir(cur.get(), comps[i], join(comps, i + 1)));
            if (::mkdirat(cur.get(), comps[i].c_str(), 0755) < 0 && errno != EEXIST)
                return Error::from_errno("mkdir '" + join(comps, i + 1) + "'");
            int next = open_beneath(m_root, join(comps, i + 1), O_RDONLY | O_DIRECTORY);
            if (next < 0)
                return resolve_error("open '" + join(comps, i + 1) + "'", errno);
            cur.reset(next);
            if (opaque)
                TRY(mark_opaque(cur.get()));
        }
        fd = cur.release();
    }
    if (fd < 0)
        return resolve_error("open '" + path + "'", errno);
    m_cached_fd.reset(fd);
    m_cached_path = std::move(path);
    return fd;
}

// A layer's entry below NAME makes NAME a directory: in a layer tree, over this layer's own
// whiteout of NAME (then opaque: the lower NAME stays hidden); when applying, over a lower
// layer's non-directory. True when the new directory must be opaque.
Result<bool> Writer::replace_for_dir(int pfd, const std::string& name, const std::string& path)
{
    struct stat st;
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))
        return false;
    bool whiteout = S_ISCHR(st.st_mode) && st.st_rdev == 0;
    if (m_mode == WriterMode::Overlay ? !whiteout : written(path))
        return false; // mkdir fails with EEXIST, open with ENOTDIR: refused as before
    if (::unlinkat(pfd, name.c_str(), 0) < 0)
        return Error::from_errno("unlink '" + path + "'");
    return m_mode == WriterMode::Overlay;
}

// Tar semantics: a later entry replaces an earlier one of the same name, but a directory
// is never replaced by a non-directory (that would silently drop its contents), except
// when applying a layer over a directory of a lower one (as overlayfs shows it).
Status Writer::clear(int pfd, const std::string& name, const std::string& path)
{
    struct stat st;
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return {};
    if (S_ISDIR(st.st_mode)) {
        if (m_mode != WriterMode::Apply || written(path))
            return Error("a directory of the same name is in the way", EISDIR);
        drop_cache();
        return remove_at(pfd, name);
    }
    if (::unlinkat(pfd, name.c_str(), 0) < 0)
        return Error::from_errno("unlink");
    drop_cache();
    return {};
}

void Writer::metadata_at(int pfd, const std::string& name, archive_entry* e)
{
    if (m_privileged)
        (void)::fchownat(pfd, name.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW);
    if (!S_ISLNK(archive_entry_mode(e)))
        (void)::fchmodat(pfd, name.c_str(), archive_entry_perm(e), 0);
    struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
        { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
    (void)::utimensat(pfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

Status Writer::write_file(archive* a, archive_entry* e, int pfd, const std::string& name, const std::string& path)
{
    TRY(clear(pfd, name, path));
    int raw = ::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0)
        return Error::from_errno("create");
    UniqueFd fd(raw);
    const void* buf;
    size_t size;
    la_int64_t offset;
    int64_t end = 0;
    for (;;) {
        int r = archive_read_data_block(a, &buf, &size, &offset);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return Error(archive_error_string(a) ? archive_error_string(a) : "read error", archive_errno(a));
        // pwrite at the entry's offset keeps sparse files sparse.
        const char* p = static_cast<const char*>(buf);
        while (size > 0) {
            ssize_t n = ::pwrite(fd.get(), p, size, offset);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return Error::from_errno("write");
            }
            p += n;
            size -= static_cast<size_t>(n);
            offset += n;
        }
        end = std::max<int64_t>(end, offset);
    }
    if (end < archive_entry_size(e) && ::ftruncate(fd.get(), archive_entry_size(e)) < 0)
        return Error::from_errno("truncate");
    // chown first: it clears setuid bits and file capabilities, which chmod and the
    // xattrs then restore.
    if (m_privileged && ::fchown(fd.get(), archive_entry_uid(e), archive_entry_gid(e)) < 0)
        return Error::from_errno("chown");
    if (::fchmod(fd.get(), archive_entry_perm(e)) < 0)
        return Error::from_errno("chmod");
    set_xattrs(fd.get(), xattrs_of(e));
    struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
        { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
    ::futimens(fd.get(), ts);
    return {};
}

Status Writer::hardlink(archive_entry* e, int pfd, const std::string& name, const std::string& path)
{
    std::string target_raw = archive_entry_hardlink(e);
    auto target = TRY_CTX(split_entry_path(target_raw), "hardlink target '" + target_raw + "'");
    if (m_mode == WriterMode::Aci) {
        if (target.size() < 2 || target[0] != "rootfs")
            return Error::msg("hardlink target '" + target_raw + "' is outside rootfs/");
        target.erase(target.begin());
    } else if (target.empty()) {
        return Error::msg("hardlink target '" + target_raw + "' is the root directory");
    }
    // A layer tree holds its own files only: a link to a lower layer's file cannot be
    // made there (overlayfs would need a copy-up), so the layer is refused.
    auto missing = [&](int err) {
        if (err == ENOENT && m_mode == WriterMode::Overlay)
            return Error("hardlink target '" + target_raw + "' is not in this layer", ENOENT);
        if ((err == EXDEV || err == ELOOP) && m_mode != WriterMode::Aci)
            return resolve_error("", err).wrap("hardlink target '" + target_raw + "'");
        return resolve_error("hardlink target '" + target_raw + "'", err);
    };
    int tparent = m_root;
    UniqueFd tparent_fd;
    if (target.size() > 1) {
        int fd = open_beneath(m_root, join(target, target.size() - 1), O_RDONLY | O_DIRECTORY);
        if (fd < 0)
            return missing(errno);
        tparent_fd.reset(fd);
        tparent = fd;
    }
    struct stat st;
    if (::fstatat(tparent, target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return missing(errno);
    if (S_ISDIR(st.st_mode))
        return Error::msg("hardlink target '" + target_raw + "' is a directory");
    TRY(clear(pfd, name, path));
    // No AT_SYMLINK_FOLLOW: linking a symlink links the symlink itself, never its target.
    if (::linkat(tparent, target.back().c_str(), pfd, name.c_str(), 0) < 0)
        return Error::from_errno("link to '" + target_raw + "'");
    return {};
}

void Writer::record_dir(const std::string& path, archive_entry* e)
{
    DirMeta d { path, archive_entry_perm(e), static_cast<uid_t>(archive_entry_uid(e)),
        static_cast<gid_t>(archive_entry_gid(e)),
        { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
            { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } },
        xattrs_of(e) };
    m_dirs.push_back(std::move(d));
}

Status Writer::entry(archive* a, archive_entry* e, const std::vector<std::string>& comps)
{
    int pfd = TRY(parent(comps));
    const std::string& name = comps.back();
    auto path = join(comps, comps.size());
    // Marked once written: a non-directory of this layer may replace a lower layer's
    // directory, but not one this layer made.
    struct Mark {
        Writer& w;
        const std::vector<std::string>& comps;
        ~Mark() { w.mark_written(comps); }
    } mark { *this, comps };
    if (archive_entry_hardlink(e))
        return hardlink(e, pfd, name, path);
    mode_t type = archive_entry_filetype(e);
    switch (type) {
    case AE_IFREG:
        return write_file(a, e, pfd, name, path);
    case AE_IFDIR: {
        struct stat st;
        bool whited_out = false;
        if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
            whited_out = m_mode == WriterMode::Overlay && S_ISCHR(st.st_mode) && st.st_rdev == 0;
            TRY(clear(pfd, name, path));
        }
        // Owner-only until finish(): a read-only directory must still take its children.
        if (::mkdirat(pfd, name.c_str(), 0700) < 0 && errno != EEXIST)
            return Error::from_errno("mkdir");
        if (whited_out) {
            // This layer whited out NAME and made a directory NAME: lower layers' stay hidden.
            UniqueFd dfd(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!dfd)
                return Error::from_errno("open");
            TRY(mark_opaque(dfd.get()));
        }
        record_dir(path, e);
        return {};
    }
    case AE_IFLNK: {
        TRY(clear(pfd, name, path));
        const char* target = archive_entry_symlink(e);
        if (!target || ::symlinkat(target, pfd, name.c_str()) < 0)
            return Error::from_errno("symlink", target ? errno : EINVAL);
        metadata_at(pfd, name, e);
        return {};
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        TRY(clear(pfd, name, path));
        if (::mknodat(pfd, name.c_str(), type | archive_entry_perm(e), archive_entry_rdev(e)) < 0) {
            if (errno == EPERM && type != AE_IFIFO) {
                spdlog::debug("extract: device node '{}' skipped: not permitted", path);
                return {};
            }
            return Error::from_errno("mknod");
        }
        metadata_at(pfd, name, e);
        return {};
    }
    default:
        spdlog::debug("extract: '{}': unsupported entry type {:o}, skipped", path, type);
        return {};
    }
}

Status Writer::finish()
{
    m_cached_fd.reset();
    for (auto it = m_dirs.rbegin(); it != m_dirs.rend(); ++it) {
        int raw = it->path.empty() ? ::fcntl(m_root, F_DUPFD_CLOEXEC, 3)
                                   : open_beneath(m_root, it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (raw < 0)
            continue; // replaced by a later entry
        UniqueFd fd(raw);
        if (m_privileged)
            (void)::fchown(fd.get(), it->uid, it->gid);
        if (::fchmod(fd.get(), it->mode) < 0)
            return Error::from_errno("chmod '" + it->path + "'");
        set_xattrs(fd.get(), it->xattrs);
        ::futimens(fd.get(), it->times);
    }
    return {};
}

} // namespace detail

namespace {

Result<std::string> read_manifest(archive* a, archive_entry* e)
{
    if (archive_entry_hardlink(e) || archive_entry_filetype(e) != AE_IFREG)
        return Error::msg("manifest is not a regular file");
    if (archive_entry_size(e) > static_cast<la_int64_t>(max_manifest_size))
        return Error::msg("manifest is larger than 16 MiB");
    std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
    la_ssize_t n = archive_read_data(a, data.data(), data.size());
    if (n < 0)
        return Error::msg(std::string("read manifest: ") + archive_error_string(a));
    data.resize(static_cast<size_t>(n));
    return data;
}

Status write_manifest_file(int dirfd, std::string_view data, archive_entry* e)
{
    int raw = ::openat(dirfd, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (raw < 0)
        return Error::from_errno("create manifest");
    UniqueFd fd(raw);
    if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
        return Error::from_errno("write manifest");
    struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
        { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
    ::futimens(fd.get(), ts);
    return {};
}

} // namespace

Result<std::vector<std::string>> split_entry_path(std::string_view path)
{
    if (path.empty())
        return Error("empty path", EILSEQ);
    if (path.front() == '/')
        return Error::msg("absolute path");
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos)
            end = path.size();
        auto comp = path.substr(start, end - start);
        if (comp == "..")
            return Error::msg("path contains '..'");
        if (!comp.empty() && comp != ".")
            out.emplace_back(comp);
        start = end + 1;
    }
    return out;
}

namespace detail {

Result<std::optional<TarEntry>> next_entry(archive* a)
{
    TarEntry t;
    int r = archive_read_next_header(a, &t.e);
    if (r == ARCHIVE_EOF)
        return std::optional<TarEntry>();
    if (r < ARCHIVE_WARN) {
        const char* msg = archive_error_string(a);
        return Error(msg ? msg : "cannot read tar", EILSEQ);
    }
    t.raw = archive_entry_pathname(t.e) ? archive_entry_pathname(t.e) : "";
    t.comps = TRY_CTX(split_entry_path(t.raw), "entry '" + t.raw + "'");
    return std::optional<TarEntry>(std::move(t));
}

} // namespace detail

Result<AciContents> extract_aci(archive* a, int dirfd, const ExtractOptions& opts)
{
    UniqueFd rootfs;
    if (opts.rootfs_only) {
        rootfs.reset(::fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
    } else {
        if (::mkdirat(dirfd, "rootfs", 0755) < 0 && errno != EEXIST)
            return Error::from_errno("mkdir rootfs");
        rootfs = TRY(openat_fd(dirfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    }
    Writer writer(rootfs.get(), WriterMode::Aci);
    AciContents out;
    while (auto next = TRY(next_entry(a))) {
        archive_entry* e = next->e;
        const std::string& raw = next->raw;
        auto& comps = next->comps;
        if (comps.empty())
            continue;
        if (comps[0] == "manifest" && comps.size() == 1) {
            if (out.has_manifest)
                return Error::msg("entry 'manifest': the image has more than one manifest");
            out.manifest = TRY_CTX(read_manifest(a, e), "entry '" + raw + "'");
            out.has_manifest = true;
            if (opts.on_manifest)
                TRY(opts.on_manifest(out.manifest));
            if (!opts.rootfs_only)
                TRY(write_manifest_file(dirfd, out.manifest, e));
            continue;
        }
        if (comps[0] != "rootfs") {
            spdlog::debug("extract: '{}' is neither manifest nor under rootfs/, skipped", raw);
            continue;
        }
        out.has_rootfs = true;
        comps.erase(comps.begin());
        if (comps.empty()) {
            if (archive_entry_hardlink(e) || archive_entry_filetype(e) != AE_IFDIR)
                return Error::msg("entry '" + raw + "': rootfs is not a directory");
            writer.record_dir("", e);
            continue;
        }
        TRY_CTX(writer.entry(a, e, comps), "entry '" + raw + "'");
    }
    TRY(writer.finish());
    return out;
}

} // namespace capsule::store
