// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/mounts.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace capsule::stage1 {

int open_in_root(int rootfd, const std::string& path, int flags)
{
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(::syscall(SYS_openat2, rootfd, path.c_str(), &how, sizeof how));
}

Status enter_private_mount_ns()
{
    if (::unshare(CLONE_NEWNS) < 0)
        return Error::from_errno("unshare the mount namespace");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        return Error::from_errno("make mounts private");
    return {};
}

Status mount_overlay(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
    const std::string& target)
{
    if (lowers.empty())
        return Error::msg("mount overlay on '" + target + "': no lower directory");
    std::string opts = overlay_options(lowers, upper, work);
    if (opts.size() > overlay_options_max)
        return Error("mount overlay on '" + target + "': " + std::to_string(lowers.size())
                + " lower directories do not fit in one page of mount options",
            E2BIG);
    if (::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) < 0)
        return Error::from_errno("mount overlay of '" + lowers.front() + "'"
            + (lowers.size() > 1 ? " and " + std::to_string(lowers.size() - 1) + " more" : "") + " on '" + target
            + "'");
    return {};
}

namespace {

std::vector<std::string> components(const std::string& path)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start < path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos)
            slash = path.size();
        if (slash > start)
            out.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return out;
}

} // namespace

Result<UniqueFd> ensure_in_root(int rootfd, const std::string& path, TargetKind kind)
{
    auto parts = components(path);
    UniqueFd parent(::fcntl(rootfd, F_DUPFD_CLOEXEC, 0));
    std::string prefix;
    for (size_t i = 0; i < parts.size(); i++) {
        bool last = i + 1 == parts.size();
        bool want_file = last && kind == TargetKind::File;
        prefix += "/" + parts[i];
        int fd = open_in_root(rootfd, prefix, O_PATH | (want_file ? 0 : O_DIRECTORY));
        if (fd < 0 && errno == ENOENT) {
            int rc = want_file
                ? ::openat(parent.get(), parts[i].c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644)
                : ::mkdirat(parent.get(), parts[i].c_str(), 0755);
            if (rc < 0 && errno != EEXIST)
                return Error::from_errno("create '" + prefix + "' in the app rootfs");
            if (want_file && rc >= 0)
                ::close(rc);
            fd = open_in_root(rootfd, prefix, O_PATH | (want_file ? 0 : O_DIRECTORY));
        }
        if (fd < 0)
            return Error::from_errno("open '" + prefix + "' in the app rootfs");
        parent.reset(fd);
    }
    return parent;
}

Status bind_mount(const std::string& source, int target_fd, const std::string& what, BindFlags flags)
{
    // The new mount API (Linux 5.12+): clone the source tree, set read-only on the detached
    // copy, then attach it at the fd; no path is resolved twice.
    bool recursive = has(flags, BindFlags::Recursive);
    int tree
        = ::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
    if (tree < 0)
        return Error::from_errno("bind '" + source + "' on '" + what + "': open_tree");
    UniqueFd tree_fd(tree);
    if (has(flags, BindFlags::ReadOnly)) {
        struct mount_attr attr = {};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (::mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
            return Error::from_errno("make '" + what + "' read-only");
    }
    if (::move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return Error::from_errno("bind '" + source + "' on '" + what + "'");
    return {};
}

} // namespace capsule::stage1
