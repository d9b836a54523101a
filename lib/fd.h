// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/result.h"

#include <string>
#include <utility>

namespace capsule {

/// An owned file descriptor, closed on destruction.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd)
        : m_fd(fd)
    {
    }
    UniqueFd(UniqueFd&& other) noexcept
        : m_fd(other.release())
    {
    }
    UniqueFd& operator=(UniqueFd&& other) noexcept
    {
        if (this != &other)
            reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    explicit operator bool() const { return valid(); }
    int release() { return std::exchange(m_fd, -1); }
    void reset(int fd = -1);

private:
    int m_fd { -1 };
};

/// open(2) with O_CLOEXEC, errors name the path.
Result<UniqueFd> open_fd(const std::string& path, int flags, int mode = 0644);
Result<UniqueFd> openat_fd(int dirfd, const std::string& path, int flags, int mode = 0644);

enum class LockMode { Shared, Exclusive };
enum class LockWait { Block, NonBlock };

/// An flock(2) lock on a file or directory; released (closed) on destruction.
class FileLock {
public:
    FileLock() = default;
    /// Locks `path` (a file, created if missing, or a directory).
    /// With LockWait::NonBlock, a held lock fails with code EWOULDBLOCK.
    static Result<FileLock> acquire(const std::string& path, LockMode, LockWait = LockWait::Block);
    /// Locks an already open fd (taking ownership).
    static Result<FileLock> acquire_fd(UniqueFd fd, const std::string& what, LockMode, LockWait = LockWait::Block);

    int fd() const { return m_fd.get(); }
    bool held() const { return m_fd.valid(); }
    /// Give up ownership of the fd (the lock stays with whoever holds the fd).
    int release() { return m_fd.release(); }
    /// Change the lock mode in place.
    Status change(LockMode, LockWait = LockWait::Block);

private:
    UniqueFd m_fd;
};

} // namespace capsule
