// SPDX-License-Identifier: Apache-2.0
#include "lib/fd.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace capsule {

void UniqueFd::reset(int fd)
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = fd;
}

Result<UniqueFd> open_fd(const std::string& path, int flags, int mode)
{
    return openat_fd(AT_FDCWD, path, flags, mode);
}

Result<UniqueFd> openat_fd(int dirfd, const std::string& path, int flags, int mode)
{
    int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0)
        return Error::from_errno("open '" + path + "'");
    return UniqueFd(fd);
}

static Status do_flock(int fd, const std::string& what, LockMode mode, LockWait wait)
{
    int op = (mode == LockMode::Shared ? LOCK_SH : LOCK_EX) | (wait == LockWait::NonBlock ? LOCK_NB : 0);
    while (::flock(fd, op) < 0) {
        if (errno == EINTR)
            continue;
        return Error::from_errno("lock '" + what + "'");
    }
    return {};
}

Result<FileLock> FileLock::acquire(const std::string& path, LockMode mode, LockWait wait)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (fd < 0 && errno == ENOTDIR)
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    else if (fd < 0 && errno == ENOENT)
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return Error::from_errno("open lock '" + path + "'");
    return acquire_fd(UniqueFd(fd), path, mode, wait);
}

Result<FileLock> FileLock::acquire_fd(UniqueFd fd, const std::string& what, LockMode mode, LockWait wait)
{
    TRY(do_flock(fd.get(), what, mode, wait));
    FileLock lock;
    lock.m_fd = std::move(fd);
    return lock;
}

Status FileLock::change(LockMode mode, LockWait wait)
{
    return do_flock(m_fd.get(), "lock fd", mode, wait);
}

} // namespace capsule
