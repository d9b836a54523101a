// SPDX-License-Identifier: Apache-2.0
#pragma once

// The safe entry writer behind extract_aci() and extract_layer() (store/extract.h): every
// entry is created relative to an fd of the target root, parents opened with openat2
// RESOLVE_BENEATH, the final component with O_NOFOLLOW / O_EXCL. Internal to store/.

#include "lib/fd.h"
#include "lib/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unordered_set>
#include <vector>

struct archive;
struct archive_entry;

namespace capsule::store::detail {

/// openat2 confined beneath `root` (no symlink out, no magic links, no mount crossing);
/// without openat2, a component walk that refuses every symlink.
int open_beneath(int root, const std::string& path, int flags);
/// The first `count` components joined with '/'.
std::string join(const std::vector<std::string>& comps, size_t count);
/// rm -rf of `name` in `dirfd`, never following symlinks; a missing entry is fine.
Status remove_at(int dirfd, const std::string& name);
/// Mark a directory of a layer tree opaque for overlayfs (extract_layer.cpp).
Status mark_opaque(int dirfd);

/// One entry of a tar being extracted: its header, its path as written and split.
struct TarEntry {
    archive_entry* e { nullptr };
    std::string raw;
    std::vector<std::string> comps; ///< split_entry_path(raw); empty for the root itself
};
/// The next entry of `a`; nullopt at the end. A malformed tar is an error with EILSEQ (for
/// callers that know more, e.g. a decompressor that produced garbage); a path that is
/// absolute or climbs with `..` is an error naming the entry.
Result<std::optional<TarEntry>> next_entry(archive* a);

enum class WriterMode {
    Aci,     ///< hardlink targets are "rootfs/…"
    Overlay, ///< a layer tree: hardlink targets in the same layer only
    Apply,   ///< layers applied in order onto one tree (flattening)
};

class Writer {
public:
    Writer(int root, WriterMode);

    Status entry(archive* a, archive_entry* e, const std::vector<std::string>& comps);
    void record_dir(const std::string& path, archive_entry* e);
    /// Directory modes, owners and times, deepest first, once their children are written.
    Status finish();
    /// Open the parent directory of `comps` (creating missing ones); the fd stays owned.
    Result<int> parent(const std::vector<std::string>& comps);
    /// Apply mode: whether this layer wrote `path` (or something below it).
    bool written(const std::string& path) const { return m_written.contains(path); }
    /// Forget the cached parent directory (after replacing or removing entries: a path
    /// through a replaced symlink must be resolved again). The fd stays open until the
    /// next entry, as the caller may still be using it.
    void drop_cache()
    {
        if (m_cached_fd)
            m_retired_fd = std::move(m_cached_fd);
        m_cached_path.clear();
    }
    int root() const { return m_root; }

private:
    Status clear(int pfd, const std::string& name, const std::string& path);
    Result<bool> replace_for_dir(int pfd, const std::string& name, const std::string& path);
    Status write_file(archive* a, archive_entry* e, int pfd, const std::string& name, const std::string& path);
    Status hardlink(archive_entry* e, int pfd, const std::string& name, const std::string& path);
    void metadata_at(int pfd, const std::string& name, archive_entry* e);
    std::vector<std::pair<std::string, std::string>> xattrs_of(archive_entry* e) const;
    void mark_written(const std::vector<std::string>& comps);

    int m_root;
    WriterMode m_mode;
    bool m_privileged;
    // Most entries share the previous entry's directory: keep it open.
    std::string m_cached_path;
    UniqueFd m_cached_fd;
    UniqueFd m_retired_fd;
    struct DirMeta {
        std::string path; ///< root-relative; "" is the root itself
        mode_t mode;
        uid_t uid;
        gid_t gid;
        struct timespec times[2];
        std::vector<std::pair<std::string, std::string>> xattrs;
    };
    std::vector<DirMeta> m_dirs;
    std::unordered_set<std::string> m_written;
};

} // namespace capsule::store::detail
