// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <unordered_set>
#include <vector>

namespace capsule {

std::string path_join(std::string_view a, std::string_view b)
{
    if (a.empty())
        return std::string(b);
    std::string out(a);
    while (!b.empty() && b.front() == '/')
        b.remove_prefix(1);
    if (out.back() != '/')
        out += '/';
    out += b;
    return out;
}

std::string path_dirname(std::string_view path)
{
    auto pos = path.rfind('/');
    if (pos == std::string_view::npos)
        return ".";
    if (pos == 0)
        return "/";
    return std::string(path.substr(0, pos));
}

std::string path_basename(std::string_view path)
{
    while (path.size() > 1 && path.back() == '/')
        path.remove_suffix(1);
    auto pos = path.rfind('/');
    return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

std::string path_absolute(std::string_view path)
{
    if (!path.empty() && path.front() == '/')
        return std::string(path);
    char buf[4096];
    if (!::getcwd(buf, sizeof buf))
        return std::string(path);
    return path_join(buf, path);
}

bool path_exists(const std::string& path)
{
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path)
{
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::string> read_file(const std::string& path)
{
    auto fd = TRY(open_fd(path, O_RDONLY));
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("read '" + path + "'");
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Status write_all(int fd, std::string_view data, std::string_view what)
{
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("write " + std::string(what));
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Status write_file(const std::string& path, std::string_view data, int mode)
{
    auto fd = TRY(open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
    return write_all(fd.get(), data, "'" + path + "'");
}

Status write_file_atomic(const std::string& path, std::string_view data, int mode)
{
    std::string tmp = path_dirname(path) + "/." + path_basename(path) + ".tmpXXXXXX";
    int raw = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (raw < 0)
        return Error::from_errno("create '" + tmp + "'");
    UniqueFd fd(raw);
    auto fail = [&](Error e) -> Status {
        ::unlink(tmp.c_str());
        return e;
    };
    if (auto r = write_all(fd.get(), data, "'" + tmp + "'"); !r)
        return fail(r.release_error());
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) < 0)
        return fail(Error::from_errno("chmod '" + tmp + "'"));
    if (::fsync(fd.get()) < 0)
        return fail(Error::from_errno("fsync '" + tmp + "'"));
    if (::rename(tmp.c_str(), path.c_str()) < 0)
        return fail(Error::from_errno("rename '" + tmp + "' to '" + path + "'"));
    return {};
}

Status fsync_dir(const std::string& path)
{
    auto fd = TRY(open_fd(path, O_RDONLY | O_DIRECTORY));
    if (::fsync(fd.get()) < 0)
        return Error::from_errno("fsync '" + path + "'");
    return {};
}

Status mkdir_p(const std::string& path, int mode)
{
    if (path.empty())
        return {};
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0)
        return {};
    if (errno == EEXIST) {
        if (is_directory(path))
            return {};
        return Error("mkdir '" + path + "': exists and is not a directory", EEXIST);
    }
    if (errno != ENOENT)
        return Error::from_errno("mkdir '" + path + "'");
    std::string parent = path_dirname(path);
    if (parent != path)
        TRY(mkdir_p(parent, mode));
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) < 0 && errno != EEXIST)
        return Error::from_errno("mkdir '" + path + "'");
    return {};
}

// Removes the contents of the directory open at `dfd` (which it closes).
static Status remove_contents(int dfd, dev_t dev, const std::string& path)
{
    DIR* dir = ::fdopendir(dfd);
    if (!dir) {
        ::close(dfd);
        return Error::from_errno("opendir '" + path + "'");
    }
    Status result;
    while (struct dirent* de = ::readdir(dir)) {
        std::string_view name = de->d_name;
        if (name == "." || name == "..")
            continue;
        struct stat st;
        if (::fstatat(::dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                result = Error("remove '" + path + "/" + std::string(name) + "': is a mount point", EBUSY);
                continue;
            }
            int sub = ::openat(::dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                result = Error::from_errno("open '" + path + "/" + std::string(name) + "'");
                continue;
            }
            // Directories made read-only (rendered trees) must be writable to empty them.
            if ((st.st_mode & S_IWUSR) == 0)
                ::fchmod(sub, st.st_mode | S_IWUSR | S_IXUSR);
            if (auto r = remove_contents(sub, dev, path + "/" + std::string(name)); !r)
                result = r.release_error();
            if (::unlinkat(::dirfd(dir), de->d_name, AT_REMOVEDIR) < 0 && result)
                result = Error::from_errno("rmdir '" + path + "/" + std::string(name) + "'");
        } else if (::unlinkat(::dirfd(dir), de->d_name, 0) < 0 && errno != ENOENT) {
            result = Error::from_errno("unlink '" + path + "/" + std::string(name) + "'");
        }
    }
    ::closedir(dir);
    return result;
}

Status remove_tree(const std::string& path)
{
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT)
            return {};
        return Error::from_errno("stat '" + path + "'");
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlink(path.c_str()) < 0 && errno != ENOENT)
            return Error::from_errno("unlink '" + path + "'");
        return {};
    }
    int dfd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return Error::from_errno("open '" + path + "'");
    if ((st.st_mode & S_IWUSR) == 0)
        ::fchmod(dfd, st.st_mode | S_IWUSR | S_IXUSR);
    TRY(remove_contents(dfd, st.st_dev, path));
    if (::rmdir(path.c_str()) < 0 && errno != ENOENT)
        return Error::from_errno("rmdir '" + path + "'");
    return {};
}

namespace {

struct Copier {
    std::map<std::pair<dev_t, ino_t>, std::string> links;

    static void copy_xattrs(int from, int to)
    {
        char names[8192];
        ssize_t len = ::flistxattr(from, names, sizeof names);
        for (ssize_t off = 0; len > 0 && off < len;) {
            const char* name = names + off;
            char value[16384];
            ssize_t vlen = ::fgetxattr(from, name, value, sizeof value);
            if (vlen >= 0)
                ::fsetxattr(to, name, value, static_cast<size_t>(vlen), 0);
            off += static_cast<ssize_t>(std::char_traits<char>::length(name)) + 1;
        }
    }

    Status copy_file(const std::string& from, const std::string& to, const struct stat& st)
    {
        auto in = TRY(open_fd(from, O_RDONLY | O_NOFOLLOW));
        auto out = TRY(open_fd(to, O_WRONLY | O_CREAT | O_EXCL, st.st_mode & 07777));
        off_t remaining = st.st_size;
        while (remaining > 0) {
            ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, static_cast<size_t>(remaining), 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
                char buf[65536];
                n = ::read(in.get(), buf, sizeof buf);
                if (n > 0 && ::write(out.get(), buf, static_cast<size_t>(n)) != n)
                    return Error::from_errno("write '" + to + "'");
            }
            if (n < 0)
                return Error::from_errno("copy '" + from + "' to '" + to + "'");
            if (n == 0)
                break;
            remaining -= n;
        }
        copy_xattrs(in.get(), out.get());
        if (::fchown(out.get(), st.st_uid, st.st_gid) == 0)
            ::fchmod(out.get(), st.st_mode & 07777);
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        ::futimens(out.get(), ts);
        return {};
    }

    Status copy(const std::string& from, const std::string& to)
    {
        struct stat st;
        if (::lstat(from.c_str(), &st) < 0)
            return Error::from_errno("stat '" + from + "'");
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
            auto key = std::make_pair(st.st_dev, st.st_ino);
            if (auto it = links.find(key); it != links.end()) {
                if (::link(it->second.c_str(), to.c_str()) < 0)
                    return Error::from_errno("link '" + to + "'");
                return {};
            }
            links.emplace(key, to);
        }
        if (S_ISDIR(st.st_mode)) {
            if (::mkdir(to.c_str(), 0700) < 0 && errno != EEXIST)
                return Error::from_errno("mkdir '" + to + "'");
            DIR* dir = ::opendir(from.c_str());
            if (!dir)
                return Error::from_errno("opendir '" + from + "'");
            std::vector<std::string> names;
            while (struct dirent* de = ::readdir(dir)) {
                std::string_view n = de->d_name;
                if (n != "." && n != "..")
                    names.emplace_back(n);
            }
            ::closedir(dir);
            for (auto& n : names)
                TRY(copy(from + "/" + n, to + "/" + n));
            auto dfd = TRY(open_fd(to, O_RDONLY | O_DIRECTORY));
            auto sfd = TRY(open_fd(from, O_RDONLY | O_DIRECTORY));
            copy_xattrs(sfd.get(), dfd.get());
            (void)::fchown(dfd.get(), st.st_uid, st.st_gid);
            ::fchmod(dfd.get(), st.st_mode & 07777);
            struct timespec ts[2] = { st.st_atim, st.st_mtim };
            ::futimens(dfd.get(), ts);
            return {};
        }
        if (S_ISREG(st.st_mode))
            return copy_file(from, to, st);
        if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlink(from.c_str(), target.data(), target.size());
            if (n < 0)
                return Error::from_errno("readlink '" + from + "'");
            target.resize(static_cast<size_t>(n));
            if (::symlink(target.c_str(), to.c_str()) < 0)
                return Error::from_errno("symlink '" + to + "'");
        } else if (::mknod(to.c_str(), st.st_mode, st.st_rdev) < 0) {
            return Error::from_errno("mknod '" + to + "'");
        }
        (void)::lchown(to.c_str(), st.st_uid, st.st_gid);
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        ::utimensat(AT_FDCWD, to.c_str(), ts, AT_SYMLINK_NOFOLLOW);
        return {};
    }
};

void add_usage(int dfd, dev_t dev, DiskUsage& du, std::unordered_set<ino_t>& seen)
{
    DIR* dir = ::fdopendir(dfd);
    if (!dir) {
        ::close(dfd);
        return;
    }
    while (struct dirent* de = ::readdir(dir)) {
        std::string_view name = de->d_name;
        if (name == "." || name == "..")
            continue;
        struct stat st;
        if (::fstatat(::dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
            continue;
        if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert(st.st_ino).second)
            continue;
        du.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
        du.files++;
        if (S_ISDIR(st.st_mode)) {
            int sub = ::openat(::dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                add_usage(sub, dev, du, seen);
        }
    }
    ::closedir(dir);
}

} // namespace

Status copy_tree(const std::string& from, const std::string& to)
{
    Copier c;
    return c.copy(from, to).wrap("copy '" + from + "' to '" + to + "'");
}

DiskUsage disk_usage(const std::string& path)
{
    DiskUsage du;
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0)
        return du;
    du.bytes = static_cast<uint64_t>(st.st_blocks) * 512;
    du.files = 1;
    if (!S_ISDIR(st.st_mode))
        return du;
    int dfd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return du;
    std::unordered_set<ino_t> seen;
    add_usage(dfd, st.st_dev, du, seen);
    return du;
}

Result<TempDir> TempDir::create(const std::string& parent, const std::string& prefix)
{
    std::string tmpl = path_join(parent, prefix + "XXXXXX");
    if (!::mkdtemp(tmpl.data()))
        return Error::from_errno("mkdtemp '" + tmpl + "'");
    TempDir t;
    t.m_path = std::move(tmpl);
    return t;
}

TempDir& TempDir::operator=(TempDir&& other) noexcept
{
    if (this != &other) {
        if (!m_path.empty())
            (void)remove_tree(m_path);
        m_path = std::exchange(other.m_path, {});
    }
    return *this;
}

TempDir::~TempDir()
{
    if (!m_path.empty())
        (void)remove_tree(m_path);
}

} // namespace capsule
