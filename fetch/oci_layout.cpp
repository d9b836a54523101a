// SPDX-License-Identifier: Apache-2.0
// `oci:DIR[:tag]` and `oci-archive:FILE[:tag]`: an OCI image layout (image-spec
// image-layout.md) read from a directory, or from an uncompressed tar of one in place (blobs
// are pread() from the archive; nothing is unpacked to disk but the layers, into the store).
#include "fetch/oci_layout.h"

#include "fetch/fetch_internal.h"
#include "fetch/oci_layout_internal.h"
#include "fetch/tar_index.h"
#include "lib/fd.h"
#include "lib/fs.h"
#include "store/digest.h"
#include "store/oci.h"

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::fetch {

namespace {

constexpr std::string_view ref_name_key = "org.opencontainers.image.ref.name";
constexpr size_t max_oci_layout_size = 64 << 10;
/// Blobs of a local layout are read from disk: a few at once keeps both cores busy.
constexpr unsigned local_parallel = 3;

/// The files of a layout, wherever they are.
class LayoutFiles {
public:
    virtual ~LayoutFiles() = default;
    /// A file whole ("index.json", "blobs/sha256/…"); ENOENT when absent, EFBIG over `limit`.
    virtual Result<std::string> read(const std::string& rel, size_t limit) const = 0;
    /// At most `max` bytes of a file, streamed.
    virtual Status stream(const std::string& rel, uint64_t max, const BlobSink&) const = 0;
    /// The file, for messages.
    virtual std::string where(const std::string& rel) const = 0;
};

class DirFiles final : public LayoutFiles {
public:
    explicit DirFiles(std::string root)
        : m_root(std::move(root))
    {
    }
    Result<std::string> read(const std::string& rel, size_t limit) const override
    {
        auto fd = TRY(open_regular(rel));
        struct stat st;
        if (::fstat(fd.get(), &st) < 0)
            return Error::from_errno("stat " + where(rel));
        if (static_cast<uint64_t>(st.st_size) > limit)
            return Error(where(rel) + " is larger than " + std::to_string(limit) + " bytes", EFBIG);
        std::string out;
        TRY(pump(fd.get(), rel, limit + 1, [&](const void* p, size_t n) -> Status {
            out.append(static_cast<const char*>(p), n);
            return {};
        }));
        return out;
    }
    Status stream(const std::string& rel, uint64_t max, const BlobSink& sink) const override
    {
        auto fd = TRY(open_regular(rel));
        return pump(fd.get(), rel, max, sink);
    }
    std::string where(const std::string& rel) const override { return "'" + path_join(m_root, rel) + "'"; }

private:
    Result<UniqueFd> open_regular(const std::string& rel) const
    {
        int fd = ::open(path_join(m_root, rel).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
            return Error(where(rel) + " not found", ENOENT);
        if (fd < 0)
            return Error::from_errno("open " + where(rel));
        UniqueFd owned(fd);
        struct stat st;
        if (::fstat(fd, &st) < 0)
            return Error::from_errno("stat " + where(rel));
        if (!S_ISREG(st.st_mode))
            return Error(where(rel) + " is not a regular file", EINVAL);
        return owned;
    }
    Status pump(int fd, const std::string& rel, uint64_t max, const BlobSink& sink) const
    {
        std::vector<char> buf(1 << 20);
        while (max > 0) {
            auto n = ::read(fd, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), max)));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return Error::from_errno("read " + where(rel));
            if (n == 0)
                break;
            TRY(sink(buf.data(), static_cast<size_t>(n)));
            max -= static_cast<uint64_t>(n);
        }
        return {};
    }
    std::string m_root;
};

class TarFiles final : public LayoutFiles {
public:
    TarFiles(TarIndex index, std::string path)
        : m_index(std::move(index))
        , m_path(std::move(path))
    {
    }
    Result<std::string> read(const std::string& rel, size_t limit) const override
    {
        auto m = TRY(find(rel));
        return m_index.read_member(m, limit).wrap(where(rel));
    }
    Status stream(const std::string& rel, uint64_t max, const BlobSink& sink) const override
    {
        auto m = TRY(find(rel));
        return m_index.stream_member(m, max, sink);
    }
    std::string where(const std::string& rel) const override { return "'" + rel + "' in '" + m_path + "'"; }

private:
    Result<TarMember> find(const std::string& rel) const
    {
        auto m = m_index.find(rel);
        if (!m)
            return Error(where(rel) + " not found", ENOENT);
        return *m;
    }
    TarIndex m_index;
    std::string m_path;
};

std::string blob_rel(const std::string& digest)
{
    return "blobs/" + oci::digest_algorithm(digest) + "/" + oci::digest_hex(digest);
}

/// A manifest or index blob: size-limited and verified against its descriptor.
Result<std::string> read_document(const LayoutFiles& files, const oci::Descriptor& desc, std::string_view what)
{
    auto ctx = std::string(what) + " " + desc.digest;
    if (static_cast<uint64_t>(desc.size) > oci::max_document_size)
        return Error(ctx + ": " + std::to_string(desc.size) + " bytes is larger than the limit of "
                + std::to_string(oci::max_document_size >> 20) + " MiB",
            EFBIG);
    auto bytes = TRY_CTX(files.read(blob_rel(desc.digest), oci::max_document_size), ctx);
    if (bytes.size() != static_cast<size_t>(desc.size))
        return Error(ctx + ": size mismatch: expected " + std::to_string(desc.size) + " bytes, got "
                + std::to_string(bytes.size()),
            EIO);
    auto hasher = TRY(store::Hasher::create(oci::digest_algorithm(desc.digest)));
    hasher.update(bytes.data(), bytes.size());
    auto got = oci::digest_algorithm(desc.digest) + ":" + hasher.finish_hex();
    if (got != desc.digest)
        return Error(ctx + ": digest mismatch: expected " + desc.digest + ", got " + got, EIO);
    return bytes;
}

Status check_oci_layout(const LayoutFiles& files)
{
    auto text = files.read("oci-layout", max_oci_layout_size);
    if (!text && text.error().code() == ENOENT)
        return Error("not an OCI image layout: " + files.where("oci-layout") + " not found", ENOENT);
    if (!text)
        return text.release_error();
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("imageLayoutVersion") || !j["imageLayoutVersion"].is_string())
        return Error(files.where("oci-layout") + " is not an OCI layout file", EINVAL);
    auto v = j["imageLayoutVersion"].get<std::string>();
    if (v != "1.0.0")
        return Error(
            files.where("oci-layout") + ": unsupported imageLayoutVersion '" + v + "' (capsule reads 1.0.0)", ENOTSUP);
    return {};
}

std::string tags_of(const oci::Index& index)
{
    std::string out;
    for (auto& d : index.manifests) {
        auto it = d.annotations.find(std::string(ref_name_key));
        out += (out.empty() ? "" : ", ") + (it == d.annotations.end() ? "(untagged " + d.digest + ")" : it->second);
    }
    return out.empty() ? "none" : out;
}

/// The entry of index.json the tag names (or the only one).
Result<oci::Descriptor> select_entry(const oci::Index& index, const std::string& tag, const oci::Platform& platform)
{
    if (tag.empty()) {
        if (index.manifests.size() == 1)
            return index.manifests.front();
        if (index.manifests.empty())
            return Error("the layout holds no image", ENOENT);
        return Error("the layout holds " + std::to_string(index.manifests.size()) + " images (" + tags_of(index)
                + "); name one as oci:PATH:TAG",
            EINVAL);
    }
    oci::Index matching;
    for (auto& d : index.manifests)
        if (auto it = d.annotations.find(std::string(ref_name_key)); it != d.annotations.end() && it->second == tag)
            matching.manifests.push_back(d);
    if (matching.manifests.empty())
        return Error("no image tagged '" + tag + "' in the layout (it has: " + tags_of(index) + ")", ENOENT);
    if (matching.manifests.size() == 1)
        return matching.manifests.front();
    // Several manifests under one tag: one per platform.
    return oci::select_platform(matching, platform).wrap("tag '" + tag + "'");
}

struct Resolved {
    oci::Descriptor desc; ///< the image manifest's
    std::string bytes;    ///< its bytes ("" until read)
};

/// Follow image indexes down to the image manifest for the platform.
Result<Resolved> resolve_manifest(const LayoutFiles& files, oci::Descriptor desc, const oci::Platform& platform)
{
    for (int depth = 0; depth < 4; depth++) {
        if (oci::is_manifest_media_type(desc.media_type))
            return Resolved { desc, {} };
        if (!desc.media_type.empty() && !oci::is_index_media_type(desc.media_type))
            return Error("manifest " + desc.digest + ": unsupported media type '" + desc.media_type + "'", ENOTSUP);
        auto bytes = TRY(read_document(files, desc, desc.media_type.empty() ? "manifest" : "index"));
        auto type = desc.media_type;
        if (type.empty())
            type = TRY_CTX(oci::document_media_type(bytes), "manifest " + desc.digest);
        if (oci::is_manifest_media_type(type)) {
            desc.media_type = type;
            return Resolved { desc, std::move(bytes) };
        }
        if (!oci::is_index_media_type(type))
            return Error("manifest " + desc.digest + ": unsupported media type '" + type + "'", ENOTSUP);
        auto index = TRY_CTX(oci::parse_index(bytes, type), "index " + desc.digest);
        desc = TRY_CTX(oci::select_platform(index, platform), "index " + desc.digest);
    }
    return Error("image indexes nested too deeply", EINVAL);
}

/// `name` minus a tar-ish extension: "busybox.tar" -> "busybox".
std::string base_name(const std::string& path)
{
    auto b = path_basename(path);
    for (std::string_view ext : { ".tar", ".oci", ".oci.tar" })
        if (b.size() > ext.size() && b.ends_with(ext))
            return b.substr(0, b.size() - ext.size());
    return b;
}

Result<store::ImageInfo> fetch_layout(store::Store& store, const LayoutFiles& files, const std::string& tag,
    const std::string& fallback_name, const std::string& origin, const std::string& what, const FetchOptions& opts,
    const struct stat* archive_stat = nullptr)
{
    TRY(check_oci_layout(files));
    auto index_text = TRY(files.read("index.json", oci::max_document_size));
    auto index = TRY_CTX(oci::parse_index(index_text), files.where("index.json"));
    TRY(require_unsigned_allowed(opts, what));

    auto entry = TRY(select_entry(index, tag, opts.platform));
    auto resolved = TRY(resolve_manifest(files, entry, opts.platform));
    if (auto cached = TRY(stored_image(store, resolved.desc.digest, opts))) {
        spdlog::debug("{}: manifest {} is stored as {}", origin, resolved.desc.digest, cached->id);
        return *cached;
    }
    if (resolved.bytes.empty())
        resolved.bytes = TRY(read_document(files, resolved.desc, "manifest"));

    auto nt = layout_name_tag(entry.annotations, tag, fallback_name);
    store::OciImageRecord record;
    record.name = nt.name;
    record.tag = nt.tag;
    record.origin = origin;
    if (archive_stat) {
        record.origin_path = origin;
        record.origin_stat = archive_stat;
    }
    BlobSource source;
    source.parallel = local_parallel;
    source.read = [&files](const oci::Descriptor& d, const BlobSink& sink) -> Status {
        // One byte more than the descriptor says, so that a longer blob is noticed.
        return files.stream(blob_rel(d.digest), static_cast<uint64_t>(d.size) + 1, sink);
    };
    // The image this name and tag named before, to say so when the tag moved.
    std::optional<store::ImageInfo> before;
    if (!nt.tag.empty())
        if (auto r = store.resolve(nt.name + ":" + nt.tag); r && r->type == "oci" && r->name == nt.name)
            before = *r;
    auto info
        = TRY(import_oci_manifest(store, resolved.bytes, resolved.desc.media_type, source, std::move(record), opts));
    if (before && before->id != info.id && opts.on_notice)
        opts.on_notice(origin + ": tag " + nt.tag + " moved from " + before->id + " to " + info.id);
    return info;
}

/// The path of an `oci-archive:` / plain-path ref: a file named with a ':' wins over a tag.
oci::LayoutRef split_archive_ref(const std::string& ref)
{
    auto lr = oci::parse_layout_ref(ref);
    if (!lr.tag.empty() && path_exists(ref) && !path_exists(lr.path))
        return { ref, {} };
    return lr;
}

} // namespace

Status require_unsigned_allowed(const FetchOptions& opts, const std::string& what)
{
    if (opts.trusted_builtin || opts.insecure.has(Insecure::Image))
        return {};
    return not_signed(what + " carry no signatures");
}

Result<std::optional<store::ImageInfo>> stored_image(
    store::Store& store, const std::string& digest, const FetchOptions& opts)
{
    if (opts.pull_policy == PullPolicy::Update)
        return std::optional<store::ImageInfo>();
    auto found = store.resolve(oci::image_id_from_digest(digest));
    if (found && found->type == "oci")
        return std::optional<store::ImageInfo>(*found);
    if (!found && found.error().code() != ENOENT)
        return found.release_error();
    if (opts.pull_policy == PullPolicy::Never)
        return Error(
            "image " + oci::image_id_from_digest(digest) + " is not in the store (--pull-policy=never)", ENOENT);
    return std::optional<store::ImageInfo>();
}

Result<OpenedArchive> open_archive(store::Store& store, const std::string& path, const std::string& origin,
    const std::string& what, const FetchOptions& opts)
{
    OpenedArchive a;
    a.fd = TRY(open_fd(path, O_RDONLY));
    if (::fstat(a.fd.get(), &a.st) < 0)
        return Error::from_errno("stat '" + path + "'");
    if (opts.pull_policy == PullPolicy::Update || !S_ISREG(a.st.st_mode))
        return a;
    a.stored = TRY(store.find_by_origin(origin, a.st));
    if (a.stored) {
        TRY(require_unsigned_allowed(opts, what));
        spdlog::debug("{}: unchanged since it was imported as {}", origin, a.stored->id);
    }
    return a;
}

NameTag layout_name_tag(
    const std::map<std::string, std::string>& annotations, const std::string& tag, const std::string& fallback_name)
{
    auto split = [](const std::string& ref) {
        auto slash = ref.rfind('/');
        auto colon = ref.rfind(':');
        if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
            return NameTag { ref.substr(0, colon), ref.substr(colon + 1) };
        return NameTag { ref, {} };
    };
    if (auto it = annotations.find("io.containerd.image.name"); it != annotations.end() && !it->second.empty())
        return split(it->second);
    std::string ref = tag;
    if (auto it = annotations.find(std::string(ref_name_key)); it != annotations.end())
        ref = it->second;
    if (ref.find('/') != std::string::npos || ref.find(':') != std::string::npos)
        return split(ref);
    return { fallback_name, ref };
}

Result<store::ImageInfo> fetch_oci_layout(store::Store& store, const std::string& ref, const FetchOptions& opts)
{
    auto lr = oci::parse_layout_ref(ref);
    if (lr.path.empty())
        return Error("no layout directory given (oci:DIR[:TAG])", EINVAL);
    if (!lr.tag.empty() && is_directory(ref) && !is_directory(lr.path))
        lr = { ref, {} }; // a directory named with a ':'
    auto dir = path_absolute(lr.path);
    if (!path_exists(dir))
        return Error("'" + dir + "' not found", ENOENT);
    if (!is_directory(dir))
        return Error("'" + dir + "' is not a directory (an OCI archive is oci-archive:FILE)", ENOTDIR);
    DirFiles files(dir);
    auto origin = "oci:" + dir + (lr.tag.empty() ? "" : ":" + lr.tag);
    return fetch_layout(store, files, lr.tag, path_basename(dir), origin, "OCI image layouts", opts);
}

Result<store::ImageInfo> fetch_oci_archive(store::Store& store, const std::string& ref, const FetchOptions& opts)
{
    auto lr = split_archive_ref(ref);
    if (lr.path.empty())
        return Error("no archive given (oci-archive:FILE[:TAG])", EINVAL);
    auto path = path_absolute(lr.path);
    auto origin = "oci-archive:" + path + (lr.tag.empty() ? "" : ":" + lr.tag);
    auto archive = TRY(open_archive(store, path, origin, "OCI archives", opts));
    if (archive.stored)
        return *archive.stored;
    auto index = TRY(TarIndex::read(archive.fd.get(), path));
    TarFiles files(std::move(index), path);
    return fetch_layout(store, files, lr.tag, base_name(path), origin, "OCI archives", opts, &archive.st);
}

ArchiveKind archive_kind(bool tar, bool oci_layout, bool manifest_json, bool repositories, bool aci_manifest,
    std::string_view manifest_json_head)
{
    if (!tar || aci_manifest)
        return ArchiveKind::Aci;
    // `docker save` writes manifest.json (a JSON array) and, before Docker 25, repositories;
    // from Docker 25 on it also writes an OCI layout: manifest.json decides.
    auto head = manifest_json_head.substr(
        std::min(manifest_json_head.find_first_not_of(" \t\r\n"), manifest_json_head.size()));
    if (manifest_json && (repositories || head.starts_with('[')))
        return ArchiveKind::DockerArchive;
    if (oci_layout)
        return ArchiveKind::OciArchive;
    return ArchiveKind::Unknown;
}

ArchiveKind sniff_archive(int fd)
{
    auto s = sniff_tar(fd);
    if (!s.tar) {
        unsigned char head[8] = {};
        auto n = ::pread(fd, head, sizeof head, 0);
        // Compressed files are ACIs (tar.gz and the like); so is anything capsule cannot tell.
        if (n > 0 && store::sniff_compression({ head, static_cast<size_t>(n) }) != store::Compression::None)
            return ArchiveKind::Aci;
        return ArchiveKind::Unknown;
    }
    std::string head;
    if (s.manifest_json && !s.aci_manifest) {
        if (auto idx = TarIndex::read(fd, "archive"))
            if (auto m = idx->find("manifest.json"))
                if (auto text = idx->read_member(*m, oci::max_document_size))
                    head = text->substr(0, 64);
    }
    auto kind = archive_kind(true, s.oci_layout, s.manifest_json, s.repositories, s.aci_manifest, head);
    return kind == ArchiveKind::Unknown ? ArchiveKind::Aci : kind;
}

} // namespace capsule::fetch
