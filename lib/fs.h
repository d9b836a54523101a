// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/fd.h"
#include "lib/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace capsule {

/// `a/b`, without doubling slashes.
std::string path_join(std::string_view a, std::string_view b);
std::string path_dirname(std::string_view path);
std::string path_basename(std::string_view path);
/// Absolute path of `path` relative to the cwd (no symlink resolution).
std::string path_absolute(std::string_view path);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);

Result<std::string> read_file(const std::string& path);
/// Write `data` to `path` through a temp file in the same directory: write, fsync, rename.
Status write_file_atomic(const std::string& path, std::string_view data, int mode = 0644);
/// Plain write (create/truncate), no fsync.
Status write_file(const std::string& path, std::string_view data, int mode = 0644);
/// Write all of `data` to `fd`, retrying short writes and EINTR; errors say "write WHAT: …".
Status write_all(int fd, std::string_view data, std::string_view what);
/// fsync a directory (after a rename into it).
Status fsync_dir(const std::string& path);

/// mkdir -p; existing directories are fine.
Status mkdir_p(const std::string& path, int mode = 0755);
/// rm -rf without following symlinks or crossing mount points; a missing path is fine.
Status remove_tree(const std::string& path);
/// cp -a: modes, ownership, timestamps, symlinks, hardlinks, xattrs, device nodes.
Status copy_tree(const std::string& from, const std::string& to);

struct DiskUsage {
    uint64_t bytes { 0 }; ///< allocated bytes (st_blocks * 512), hardlinks counted once
    uint64_t files { 0 };
};
/// du -s, not crossing mount points; a missing path is zero.
DiskUsage disk_usage(const std::string& path);

/// A directory made with mkdtemp and removed (recursively) on destruction unless released.
class TempDir {
public:
    TempDir() = default;
    /// `parent/prefixXXXXXX`.
    static Result<TempDir> create(const std::string& parent, const std::string& prefix);
    TempDir(TempDir&& other) noexcept
        : m_path(std::move(other.m_path))
    {
        other.m_path.clear();
    }
    TempDir& operator=(TempDir&& other) noexcept;
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();

    const std::string& path() const { return m_path; }
    std::string release() { return std::exchange(m_path, {}); }

private:
    std::string m_path;
};

} // namespace capsule
