// SPDX-License-Identifier: Apache-2.0
// OCI layer tars: the same safe writer as ACIs, plus whiteouts (image-spec layer.md),
// either kept as overlayfs whiteouts (a layer tree) or applied (flattening).
#include "store/extract.h"
#include "store/extract_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace capsule::store {

namespace {

using detail::join;
using detail::mark_opaque;
using detail::next_entry;
using detail::Writer;
using detail::WriterMode;

constexpr std::string_view whiteout_prefix = ".wh.";
constexpr std::string_view opaque_marker = ".wh..wh..opq";

/// The directory holding the entry `comps` names (created when missing), owned by `w`.
Result<int> entry_dir(Writer& w, const std::vector<std::string>& comps)
{
    return w.parent(comps);
}

Status overlay_whiteout(Writer& w, const std::vector<std::string>& comps, const std::string& name)
{
    int pfd = TRY(entry_dir(w, comps));
    if (name == opaque_marker)
        return mark_opaque(pfd);
    auto target = name.substr(whiteout_prefix.size());
    struct stat st;
    if (::fstatat(pfd, target.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        // A whiteout hides lower layers only: what this layer wrote stays, and a directory
        // of this layer stops showing the lower one's contents.
        if (S_ISDIR(st.st_mode)) {
            UniqueFd dfd(::openat(pfd, target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!dfd)
                return Error::from_errno("open '" + target + "'");
            return mark_opaque(dfd.get());
        }
        return {};
    }
    if (::mknodat(pfd, target.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0)
        return Error::from_errno("make whiteout '" + target + "'");
    if (::geteuid() == 0)
        (void)::fchownat(pfd, target.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW);
    return {};
}

/// Empty `dirfd` (at `path`) of everything this layer did not write.
Status make_opaque(Writer& w, int dirfd, const std::string& path)
{
    UniqueFd own(::fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
    DIR* d = own ? ::fdopendir(own.get()) : nullptr;
    if (!d)
        return Error::from_errno("read directory '" + path + "'");
    own.release();
    std::vector<std::pair<std::string, bool>> children;
    while (auto* de = ::readdir(d)) {
        std::string_view n = de->d_name;
        if (n != "." && n != "..")
            children.emplace_back(std::string(n), de->d_type == DT_DIR);
    }
    ::closedir(d);
    for (auto& [child, is_dir] : children) {
        auto child_path = path.empty() ? child : path + "/" + child;
        if (!w.written(child_path)) {
            TRY(detail::remove_at(dirfd, child));
            continue;
        }
        if (!is_dir)
            continue;
        UniqueFd sub(::openat(dirfd, child.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub)
            TRY(make_opaque(w, sub.get(), child_path));
    }
    return {};
}

Status apply_whiteout(Writer& w, const std::vector<std::string>& comps, const std::string& name)
{
    int pfd = TRY(entry_dir(w, comps));
    auto dir = join(comps, comps.size() - 1);
    if (name == opaque_marker) {
        TRY(make_opaque(w, pfd, dir));
        w.drop_cache();
        return {};
    }
    auto target = name.substr(whiteout_prefix.size());
    auto target_path = dir.empty() ? target : dir + "/" + target;
    if (w.written(target_path)) {
        // What this layer wrote stays; a directory of this layer no longer shows what
        // lower layers had in it (as the overlay tree marks it opaque).
        UniqueFd sub(::openat(pfd, target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub) {
            TRY(make_opaque(w, sub.get(), target_path));
            w.drop_cache();
        }
        return {};
    }
    TRY(detail::remove_at(pfd, target));
    w.drop_cache();
    return {};
}

Status whiteout(Writer& w, const std::vector<std::string>& comps, Whiteouts mode)
{
    for (size_t i = 0; i + 1 < comps.size(); i++)
        if (comps[i].starts_with(whiteout_prefix))
            return Error::msg("a whiteout is not a directory");
    const auto& name = comps.back();
    if (name != opaque_marker) {
        auto target = std::string_view(name).substr(whiteout_prefix.size());
        if (target.empty() || target == "." || target == ".." || target.starts_with(whiteout_prefix))
            return Error::msg("invalid whiteout");
    }
    return mode == Whiteouts::Overlay ? overlay_whiteout(w, comps, name) : apply_whiteout(w, comps, name);
}

} // namespace

Status detail::mark_opaque(int dirfd)
{
    if (::fsetxattr(dirfd, "trusted.overlay.opaque", "y", 1, 0) == 0)
        return {};
    // trusted.* needs CAP_SYS_ADMIN; overlayfs mounted with "userxattr" reads user.overlay.*.
    if (errno == EPERM && ::fsetxattr(dirfd, "user.overlay.opaque", "y", 1, 0) == 0)
        return {};
    return Error::from_errno("mark the directory opaque");
}

bool is_opaque_dir(int dirfd)
{
    char v[2];
    for (const char* name : { "trusted.overlay.opaque", "user.overlay.opaque" })
        if (::fgetxattr(dirfd, name, v, sizeof v) == 1 && v[0] == 'y')
            return true;
    return false;
}

Status extract_layer(archive* a, int rootfd, const LayerExtractOptions& opts)
{
    Writer writer(rootfd, opts.whiteouts == Whiteouts::Overlay ? WriterMode::Overlay : WriterMode::Apply);
    while (auto next = TRY(next_entry(a))) {
        archive_entry* e = next->e;
        const std::string& raw = next->raw;
        const auto& comps = next->comps;
        if (comps.empty()) {
            if (archive_entry_hardlink(e) || archive_entry_filetype(e) != AE_IFDIR)
                return Error::msg("entry '" + raw + "': the layer root is not a directory");
            writer.record_dir("", e);
            continue;
        }
        bool is_whiteout = false;
        for (auto& c : comps)
            is_whiteout |= c.starts_with(whiteout_prefix);
        if (is_whiteout)
            TRY_CTX(whiteout(writer, comps, opts.whiteouts), "entry '" + raw + "'");
        else
            TRY_CTX(writer.entry(a, e, comps), "entry '" + raw + "'");
    }
    return writer.finish();
}

} // namespace capsule::store
