// SPDX-License-Identifier: Apache-2.0
#pragma once

// Safe extraction of an ACI tar or an OCI layer tar (libarchive reader) into a directory.
//
// Every entry is created relative to an fd of the rootfs; parent directories are opened
// with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), the final
// component with O_NOFOLLOW / O_EXCL after removing what was there. So an entry can never
// land outside the rootfs: absolute paths and `..` components are refused, a write through
// a symlink that leaves the rootfs (absolute, or climbing above it) is refused, hardlinks
// must name a target inside rootfs/, and a symlink in place of a file is replaced, never
// followed. Modes, ownership (when root), xattrs, hardlinks, symlinks and mtimes are kept;
// device nodes are created only when the process may (root), else skipped (debug log).

#include "lib/result.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

struct archive;

namespace capsule::store {

struct ExtractOptions {
    /// Write the contents of `rootfs/` straight into the target, and no manifest.
    bool rootfs_only { false };
    /// Called with the manifest's bytes as soon as the entry is read, so a bad manifest
    /// fails before the rest of the image is unpacked.
    std::function<Status(std::string_view)> on_manifest;
};

struct AciContents {
    std::string manifest; ///< empty when the tar has none
    bool has_manifest { false };
    bool has_rootfs { false };
};

/// Reads every entry of the tar open in `a` and writes `manifest` and `rootfs/` into the
/// directory open at `dirfd`; other top-level entries are skipped. The caller owns cleanup
/// of the target on error.
Result<AciContents> extract_aci(struct archive* a, int dirfd, const ExtractOptions&);

/// What to do with OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) in a layer tar.
enum class Whiteouts {
    /// A layer tree for overlayfs: `.wh.NAME` becomes a 0/0 character device NAME, an
    /// opaque marker sets `trusted.overlay.opaque=y` on its directory (`user.overlay.opaque`
    /// when the process may not set trusted.* attributes). Hardlinks must name a file of
    /// the same layer.
    Overlay,
    /// Flattening: the layer is applied over what earlier layers wrote to the same tree;
    /// `.wh.NAME` deletes NAME, an opaque marker empties its directory (of what earlier
    /// layers put there), and a non-directory may replace an earlier directory.
    Apply,
};

struct LayerExtractOptions {
    Whiteouts whiteouts { Whiteouts::Overlay };
};

/// Reads every entry of the OCI layer tar open in `a` into the directory open at `rootfd`,
/// as safely as extract_aci() (paths relative to the layer root). Whiteout entries never
/// appear in the tree. The caller owns cleanup of the target on error.
Status extract_layer(struct archive* a, int rootfd, const LayerExtractOptions&);

/// Whether the directory open at `dirfd` is marked opaque in a layer tree
/// (trusted.overlay.opaque or user.overlay.opaque is "y").
bool is_opaque_dir(int dirfd);

/// Splits a tar entry path into components, dropping "." and empty ones; refuses absolute
/// paths and "..". Exposed for tests.
Result<std::vector<std::string>> split_entry_path(std::string_view path);

} // namespace capsule::store
