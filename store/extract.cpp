// SPDX-License-Identifier: Apache-2.0
#include "store/extract.h"

#include "lib/fd.h"

#include <archive.h>
#include <archive_entry.h>
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

struct DirMeta {
    std::string path; ///< rootfs-relative; "" is the rootfs itself
    mode_t mode;
    uid_t uid;
    gid_t gid;
    struct timespec times[2];
    std::vector<std::pair<std::string, std::string>> xattrs;
};

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

class Writer {
public:
    Writer(int root)
        : m_root(root)
        , m_privileged(::geteuid() == 0)
    {
    }

    Status entry(archive* a, archive_entry* e, const std::vector<std::string>& comps);
    void record_dir(const std::string& path, archive_entry* e);
    Status finish();

private:
    Result<int> parent(const std::vector<std::string>& comps);
    Status clear(int pfd, const std::string& name);
    Status write_file(archive* a, archive_entry* e, int pfd, const std::string& name);
    Status hardlink(archive_entry* e, int pfd, const std::string& name);
    void metadata_at(int pfd, const std::string& name, archive_entry* e);

    int m_root;
    bool m_privileged;
    // Most entries share the previous entry's directory: keep it open.
    std::string m_cached_path;
    UniqueFd m_cached_fd;
    std::vector<DirMeta> m_dirs;
};

Result<int> Writer::parent(const std::vector<std::string>& comps)
{
    size_t depth = comps.size() - 1;
    if (depth == 0)
        return m_root;
    std::string path = join(comps, depth);
    if (m_cached_fd && path == m_cached_path)
        return m_cached_fd.get();
    int fd = open_beneath(m_root, path, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
        // Tars may omit parent directories: create the missing ones, one level at a time.
        UniqueFd cur(::fcntl(m_root, F_DUPFD_CLOEXEC, 3));
        for (size_t i = 0; i < depth; i++) {
            if (::mkdirat(cur.get(), comps[i].c_str(), 0755) < 0 && errno != EEXIST)
                return Error::from_errno("mkdir '" + join(comps, i + 1) + "'");
            int next = open_beneath(m_root, join(comps, i + 1), O_RDONLY | O_DIRECTORY);
            if (next < 0)
                return resolve_error("open '" + join(comps, i + 1) + "'", errno);
            cur.reset(next);
        }
        fd = cur.release();
    }
    if (fd < 0)
        return resolve_error("open '" + path + "'", errno);
    m_cached_fd.reset(fd);
    m_cached_path = std::move(path);
    return fd;
}

// Tar semantics: a later entry replaces an earlier one of the same name, but a directory
// is never replaced by a non-directory (that would silently drop its contents).
Status Writer::clear(int pfd, const std::string& name)
{
    struct stat st;
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return {};
    if (S_ISDIR(st.st_mode))
        return Error("a directory of the same name is in the way", EISDIR);
    if (::unlinkat(pfd, name.c_str(), 0) < 0)
        return Error::from_errno("unlink");
    m_cached_fd.reset();
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

Status Writer::write_file(archive* a, archive_entry* e, int pfd, const std::string& name)
{
    TRY(clear(pfd, name));
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
    set_xattrs(fd.get(), entry_xattrs(e));
    struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
        { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
    ::futimens(fd.get(), ts);
    return {};
}

Status Writer::hardlink(archive_entry* e, int pfd, const std::string& name)
{
    std::string target_raw = archive_entry_hardlink(e);
    auto target = TRY_CTX(split_entry_path(target_raw), "hardlink target '" + target_raw + "'");
    if (target.size() < 2 || target[0] != "rootfs")
        return Error::msg("hardlink target '" + target_raw + "' is outside rootfs/");
    target.erase(target.begin());
    int tparent = m_root;
    UniqueFd tparent_fd;
    if (target.size() > 1) {
        int fd = open_beneath(m_root, join(target, target.size() - 1), O_RDONLY | O_DIRECTORY);
        if (fd < 0)
            return resolve_error("hardlink target '" + target_raw + "'", errno);
        tparent_fd.reset(fd);
        tparent = fd;
    }
    struct stat st;
    if (::fstatat(tparent, target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return Error::from_errno("hardlink target '" + target_raw + "'");
    if (S_ISDIR(st.st_mode))
        return Error::msg("hardlink target '" + target_raw + "' is a directory");
    TRY(clear(pfd, name));
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
        entry_xattrs(e) };
    m_dirs.push_back(std::move(d));
}

Status Writer::entry(archive* a, archive_entry* e, const std::vector<std::string>& comps)
{
    int pfd = TRY(parent(comps));
    const std::string& name = comps.back();
    if (archive_entry_hardlink(e))
        return hardlink(e, pfd, name);
    mode_t type = archive_entry_filetype(e);
    switch (type) {
    case AE_IFREG:
        return write_file(a, e, pfd, name);
    case AE_IFDIR: {
        struct stat st;
        if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
            TRY(clear(pfd, name));
        // Owner-only until finish(): a read-only directory must still take its children.
        if (::mkdirat(pfd, name.c_str(), 0700) < 0 && errno != EEXIST)
            return Error::from_errno("mkdir");
        record_dir(join(comps, comps.size()), e);
        return {};
    }
    case AE_IFLNK: {
        TRY(clear(pfd, name));
        const char* target = archive_entry_symlink(e);
        if (!target || ::symlinkat(target, pfd, name.c_str()) < 0)
            return Error::from_errno("symlink", target ? errno : EINVAL);
        metadata_at(pfd, name, e);
        return {};
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        TRY(clear(pfd, name));
        if (::mknodat(pfd, name.c_str(), type | archive_entry_perm(e), archive_entry_rdev(e)) < 0) {
            if (errno == EPERM && type != AE_IFIFO) {
                spdlog::debug("extract: device node '{}' skipped: not permitted", join(comps, comps.size()));
                return {};
            }
            return Error::from_errno("mknod");
        }
        metadata_at(pfd, name, e);
        return {};
    }
    default:
        spdlog::debug("extract: '{}': unsupported entry type {:o}, skipped", join(comps, comps.size()), type);
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
    Writer writer(rootfs.get());
    AciContents out;
    for (;;) {
        archive_entry* e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            // EILSEQ marks "the tar itself is malformed" for callers that know more
            // (a decompressor that produced garbage).
            const char* msg = archive_error_string(a);
            return Error(msg ? msg : "cannot read tar", EILSEQ);
        }
        std::string raw = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        auto comps = TRY_CTX(split_entry_path(raw), "entry '" + raw + "'");
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
