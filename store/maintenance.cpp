// SPDX-License-Identifier: Apache-2.0
// Removing images, garbage collection and disk accounting. Deletion never needs a new
// file: the index row goes first (so nothing half-deleted is listed), then the tree is
// renamed into tmp/ (so a crash cannot leave a partial tree under tree/) and deleted,
// then the blob; for OCI images, then the config and the layers no other image uses
// (row, tree, blob). If the index cannot grow its WAL on a full disk, the space reserve is
// released and the delete retried.
#include "lib/fs.h"
#include "store/digest.h"
#include "store/oci.h"
#include "store/store_impl.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <unordered_set>

namespace capsule::store {

namespace {

std::vector<std::string> list_dir(const std::string& path)
{
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d)
        return out;
    while (auto* de = ::readdir(d)) {
        std::string_view n = de->d_name;
        if (n != "." && n != "..")
            out.emplace_back(n);
    }
    ::closedir(d);
    return out;
}

/// Renames `path` into tmp/ and deletes it there; a crash leaves only tmp/ garbage.
Status discard(const std::string& path, const std::string& tmp_dir, std::string_view tag)
{
    if (!path_exists(path))
        return {};
    auto aside = tmp_dir + "/rm-" + std::string(tag) + "-" + std::to_string(::getpid());
    if (::rename(path.c_str(), aside.c_str()) < 0)
        return Error::from_errno("move '" + path + "' aside");
    return remove_tree(aside);
}

} // namespace

/// Drop a layer's row, tree and blob unless an image uses it; true when it went.
static Result<bool> drop_layer(Store& store, const std::string& digest)
{
    auto& impl = store.impl();
    if (!TRY(impl.index.remove_layer_if_unused(digest)))
        return false;
    TRY(discard(store.layer_path(digest), impl.tmp_dir(), "layer-" + oci::digest_hex(digest).substr(0, 16)));
    auto blob = impl.oci_blob_path(digest);
    if (::unlink(blob.c_str()) < 0 && errno != ENOENT)
        return Error::from_errno("unlink '" + blob + "'");
    return true;
}

Status Store::remove_locked(const ImageInfo& info)
{
    std::optional<OciRefs> refs;
    if (info.type == "oci")
        refs = TRY(m_impl->index.get_oci(info.id));
    auto removed = m_impl->index.remove(info.id);
    if (!removed && removed.error().code() == ENOSPC) {
        spdlog::debug("store: disk full, releasing the space reserve to delete {}", info.id);
        ::unlink(m_impl->reserve_path().c_str());
        removed = m_impl->index.remove(info.id);
    }
    if (!removed)
        return removed.release_error();
    auto hex = refs ? oci::digest_hex(refs->manifest_digest) : aci_id_hex(info.id);
    TRY(discard(tree_path(info.id), m_impl->tmp_dir(), hex.substr(0, 16)));
    if (::unlink(blob_path(info.id).c_str()) < 0 && errno != ENOENT)
        return Error::from_errno("unlink '" + blob_path(info.id) + "'");
    if (!refs)
        return {};
    // The image's row is gone: its config and layers go unless another image uses them.
    if (!TRY(m_impl->index.config_in_use(refs->config_digest, info.id))) {
        auto config = m_impl->oci_blob_path(refs->config_digest);
        if (::unlink(config.c_str()) < 0 && errno != ENOENT)
            return Error::from_errno("unlink '" + config + "'");
    }
    for (auto& l : refs->layers)
        TRY_CTX(drop_layer(*this, l.digest), "layer " + l.digest);
    return {};
}

Result<ImageInfo> Store::remove(std::string_view ref, const InUseFn& in_use)
{
    TRY(lock_exclusive());
    auto result = [&]() -> Result<ImageInfo> {
        auto info = TRY(resolve(ref));
        if (in_use) {
            auto used = TRY(in_use());
            if (used.contains(info.id))
                return Error("image " + std::string(ref) + ": in use by a pod; remove the pod first", EBUSY);
        }
        TRY_CTX(remove_locked(info), "image " + info.id);
        return info;
    }();
    if (result)
        ensure_reserve(m_impl->reserve_path());
    unlock_exclusive();
    return result;
}

Result<uint64_t> Store::remove_tmp_locked()
{
    uint64_t n = 0;
    for (auto& name : list_dir(m_impl->tmp_dir())) {
        TRY(remove_tree(m_impl->tmp_dir() + "/" + name));
        n++;
    }
    return n;
}

Result<uint64_t> Store::remove_leftovers()
{
    // Imports in flight hold the shared lock and write into tmp/: only an exclusive lock
    // makes tmp/ leftovers. flock(2) may drop the shared lock when a non-blocking upgrade
    // fails, so it is taken again either way.
    if (!m_impl->lock.change(LockMode::Exclusive, LockWait::NonBlock)) {
        unlock_exclusive();
        return uint64_t { 0 };
    }
    auto n = remove_tmp_locked();
    unlock_exclusive();
    return n;
}

Result<GcReport> Store::gc(const GcOptions& opts)
{
    TRY(lock_exclusive());
    auto result = [&]() -> Result<GcReport> {
        GcReport report;
        std::set<std::string> used;
        if (opts.in_use)
            used = TRY(opts.in_use());
        // Leftovers first: they are never listed and free space for what follows.
        report.tmp_entries = TRY(remove_tmp_locked());
        int64_t cutoff = unix_now() - opts.grace_period.count();
        for (auto& info : TRY(m_impl->index.list())) {
            if (std::max(info.import_time, info.last_used) > cutoff)
                continue;
            if (used.contains(info.id)) {
                report.skipped_in_use.push_back(info.id);
                continue;
            }
            TRY_CTX(remove_locked(info), "image " + info.id);
            report.removed.push_back(info);
        }
        // Layers no image uses: left by imports that failed after storing some layers.
        for (auto& digest : TRY(m_impl->index.unused_layers()))
            if (TRY_CTX(drop_layer(*this, digest), "layer " + digest))
                report.removed_layers++;
        std::unordered_set<std::string> known;
        for (auto& info : TRY(m_impl->index.list()))
            known.insert(info.id);
        auto blobs = TRY(m_impl->index.oci_blob_digests());
        for (const char* algo : { "sha512", "sha256" }) {
            auto dir = m_impl->blob_dir(algo);
            for (auto& hex : list_dir(dir)) {
                if (blobs.contains(std::string(algo) + ":" + hex)
                    || (std::string_view(algo) == "sha512" && known.contains(aci_image_id(hex))))
                    continue;
                if (::unlink((dir + "/" + hex).c_str()) == 0)
                    report.orphaned_blobs++;
            }
        }
        for (auto& id : list_dir(m_impl->trees_dir())) {
            if (known.contains(id))
                continue;
            TRY(discard(m_impl->trees_dir() + "/" + id, m_impl->tmp_dir(), "orphan"));
            report.orphaned_trees++;
        }
        auto layers = TRY(m_impl->index.layer_digests());
        for (auto& name : list_dir(m_impl->layers_dir())) {
            auto dash = name.find('-');
            if (dash != std::string::npos && layers.contains(name.substr(0, dash) + ":" + name.substr(dash + 1)))
                continue;
            TRY(discard(m_impl->layers_dir() + "/" + name, m_impl->tmp_dir(), "orphan-layer"));
            report.orphaned_trees++;
        }
        return report;
    }();
    if (result)
        ensure_reserve(m_impl->reserve_path());
    unlock_exclusive();
    return result;
}

StoreUsage Store::usage() const
{
    StoreUsage u;
    u.blobs = disk_usage(m_impl->root + "/blobs");
    u.trees = disk_usage(m_impl->trees_dir());
    u.layers = disk_usage(m_impl->layers_dir());
    u.layer_count = list_dir(m_impl->layers_dir()).size();
    u.tmp = disk_usage(m_impl->tmp_dir());
    for (const char* f : { "/index.db", "/index.db-wal", "/index.db-shm" }) {
        auto d = disk_usage(m_impl->root + f);
        u.index.bytes += d.bytes;
        u.index.files += d.files;
    }
    return u;
}

} // namespace capsule::store
