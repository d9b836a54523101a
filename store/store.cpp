// SPDX-License-Identifier: Apache-2.0
#include "store/store.h"

#include "lib/fs.h"
#include "store/digest.h"
#include "store/store_impl.h"

#include <chrono>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace capsule::store {

std::string ImageInfo::version() const
{
    for (auto& l : labels)
        if (l.name == "version")
            return l.value;
    return {};
}

std::string short_id(std::string_view id)
{
    constexpr size_t keep = 7 + 16; // "sha512-" + 16 hex
    return std::string(id.substr(0, std::min(id.size(), keep)));
}

int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void ensure_reserve(const std::string& path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= reserve_size)
        return;
    std::string tmp = path + ".new";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    bool ok = ::posix_fallocate(fd, 0, static_cast<off_t>(reserve_size)) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) < 0) {
        ::unlink(tmp.c_str());
        spdlog::debug("store: cannot make the space reserve '{}', ignoring", path);
    }
}

static bool low_on_space(const std::string& path)
{
    struct statvfs vfs;
    return ::statvfs(path.c_str(), &vfs) == 0 && vfs.f_bavail * vfs.f_frsize < 2 * reserve_size;
}

Store::Store(std::unique_ptr<Impl> impl)
    : m_impl(std::move(impl))
{
}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& dir)
{
    auto impl = std::make_unique<Impl>();
    impl->root = path_join(dir, "store");
    auto ctx = "open store '" + impl->root + "'";
    // mkdir only when needed: `image list` on an existing store must stay cheap.
    if (!is_directory(impl->tmp_dir()) || !is_directory(impl->blobs_dir()) || !is_directory(impl->trees_dir())
        || !is_directory(impl->layers_dir())) {
        TRY_CTX(mkdir_p(impl->root, 0755), ctx);
        TRY_CTX(mkdir_p(impl->tmp_dir(), 0700), ctx);
        TRY_CTX(mkdir_p(impl->blobs_dir(), 0700), ctx);
        TRY_CTX(mkdir_p(impl->blob_dir("sha256"), 0700), ctx);
        TRY_CTX(mkdir_p(impl->trees_dir(), 0755), ctx);
        TRY_CTX(mkdir_p(impl->layers_dir(), 0755), ctx);
        ensure_reserve(impl->reserve_path());
    }
    impl->lock = TRY_CTX(FileLock::acquire(impl->root + "/lock", LockMode::Shared), ctx);
    auto index = Index::open(impl->root + "/index.db");
    if (!index && low_on_space(impl->root)) {
        // SQLite needs a little room for its WAL and shared-memory files even to delete:
        // give it the reserve so `image rm` and `image gc` can free space on a full disk.
        spdlog::debug("store: disk full, releasing the space reserve to open the index");
        ::unlink(impl->reserve_path().c_str());
        index = Index::open(impl->root + "/index.db");
    }
    if (!index)
        return index.release_error().wrap(ctx);
    impl->index = index.release_value();
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

const std::string& Store::root() const
{
    return m_impl->root;
}

std::string Store::tree_path(const std::string& id) const
{
    return m_impl->trees_dir() + "/" + id;
}

std::string Store::blob_path(const std::string& id) const
{
    if (id.starts_with("sha256-"))
        return m_impl->oci_blob_path(oci::digest_from_image_id(id));
    auto hex = aci_id_hex(id);
    return m_impl->blobs_dir() + "/" + (hex.empty() ? id : hex);
}

namespace {

std::string candidates(const std::vector<ImageInfo>& images)
{
    std::string out;
    for (size_t i = 0; i < images.size() && i < 5; i++) {
        if (i)
            out += ", ";
        out += short_id(images[i].id) + " (" + images[i].name + ")";
    }
    if (images.size() > 5)
        out += ", …";
    return out;
}

} // namespace

Result<ImageInfo> Store::resolve(std::string_view ref)
{
    std::string r(ref);
    if (ref.starts_with("sha512-") || ref.starts_with("sha256-")) {
        auto found = TRY_CTX(m_impl->index.find_prefix(ref), "image " + r);
        if (found.empty())
            return Error("image " + r + ": not found in the store", ENOENT);
        if (found.size() > 1)
            return Error("image " + r + ": ambiguous, it matches " + std::to_string(found.size())
                    + " images: " + candidates(found),
                EINVAL);
        return found.front();
    }
    if (auto at = ref.find('@'); at != std::string_view::npos) {
        // name@digest: the digest names the manifest, and so the image.
        auto digest = ref.substr(at + 1);
        if (!oci::is_valid_digest(digest))
            return Error("image " + r + ": not a valid digest '" + std::string(digest) + "'", EINVAL);
        auto found = TRY_CTX(m_impl->index.get(oci::image_id_from_digest(digest)), "image " + r);
        if (!found)
            return Error("image " + r + ": not found in the store", ENOENT);
        return *found;
    }
    // The version (tag) follows the last ':' after the last '/': appc names have no ':',
    // docker names may have one in the registry's port.
    std::string_view name = ref;
    std::optional<std::string_view> version;
    auto slash = ref.rfind('/');
    if (auto colon = ref.find(':', slash == std::string_view::npos ? 0 : slash); colon != std::string_view::npos) {
        name = ref.substr(0, colon);
        version = ref.substr(colon + 1);
    }
    auto docker = oci::parse_docker_ref(ref);
    if (!appc::is_ac_name(name) && !docker)
        return Error("image " + r + ": not an image ID (sha512-…, sha256-…) or a valid image name", EINVAL);
    auto found = TRY_CTX(m_impl->index.find_name(name, version), "image " + r);
    if (found.empty() && docker && docker->name() != name)
        found = TRY_CTX(m_impl->index.find_name(docker->name(), version), "image " + r);
    if (found.empty())
        return Error("image " + r + ": not found in the store", ENOENT);
    return found.front();
}

Result<std::vector<ImageInfo>> Store::list()
{
    return m_impl->index.list();
}

Result<appc::ImageManifest> Store::manifest(const std::string& id)
{
    if (id.starts_with("sha256-"))
        return Error("image " + id + ": an OCI image has no appc manifest", EINVAL);
    auto path = tree_path(id) + "/manifest";
    auto text = TRY_CTX(read_file(path), "image " + id);
    return appc::parse_image_manifest(text).wrap("image " + id + ": " + path);
}

Status Store::touch(const std::string& id)
{
    return m_impl->index.touch(id, unix_now()).wrap("image " + id + ": record use");
}

Result<std::optional<RemoteInfo>> Store::find_remote(const std::string& url)
{
    return m_impl->index.find_remote(url).wrap("remote cache '" + url + "'");
}

Status Store::record_remote(const RemoteInfo& r)
{
    return m_impl->index.record_remote(r).wrap("remote cache '" + r.url + "'");
}

Result<UniqueFd> Store::temp_file()
{
    auto fd = open_fd(m_impl->tmp_dir(), O_TMPFILE | O_RDWR, 0600);
    if (fd || (fd.error().code() != EOPNOTSUPP && fd.error().code() != EISDIR))
        return std::move(fd).wrap("download file");
    // A filesystem without O_TMPFILE: a named file, unlinked at once (gc removes leftovers).
    std::string path = m_impl->tmp_dir() + "/download-XXXXXX";
    int raw = ::mkostemp(path.data(), O_CLOEXEC);
    if (raw < 0)
        return Error::from_errno("download file: create in '" + m_impl->tmp_dir() + "'");
    ::unlink(path.c_str());
    return UniqueFd(raw);
}

Status Store::lock_exclusive()
{
    spdlog::debug("store: waiting for the exclusive store lock");
    return m_impl->lock.change(LockMode::Exclusive).wrap("lock store '" + m_impl->root + "'");
}

void Store::unlock_exclusive()
{
    if (auto r = m_impl->lock.change(LockMode::Shared); !r)
        spdlog::debug("store: {}, ignoring", r.error().message());
}

} // namespace capsule::store
