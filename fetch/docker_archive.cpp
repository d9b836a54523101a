// SPDX-License-Identifier: Apache-2.0
// `docker-archive:FILE`: `docker save` output, read in place from the tar. manifest.json
// names the config and the layer tars; the layers are uncompressed tars whose digests are
// the config's rootfs.diff_ids (checked as they stream), so no extra pass over them is needed.
// capsule records the image under a Docker schema2 manifest it writes for it
// (docker_schema2_manifest()), so the same archive always gives the same image ID.
#include "fetch/fetch_internal.h"
#include "fetch/oci_layout.h"
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

using nlohmann::json;

struct ArchiveImage {
    std::string config_path;
    std::vector<std::string> layer_paths;
    std::vector<std::string> repo_tags;
};

Result<ArchiveImage> parse_archive_manifest(const std::string& text)
{
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_array())
        return Error("manifest.json is not a JSON array", EINVAL);
    if (j.size() != 1) {
        std::string names;
        for (auto& e : j)
            if (e.is_object() && e.contains("RepoTags") && e["RepoTags"].is_array())
                for (auto& t : e["RepoTags"])
                    if (t.is_string())
                        names += (names.empty() ? "" : ", ") + t.get<std::string>();
        return Error("the archive holds " + std::to_string(j.size()) + " images"
                + (names.empty() ? "" : " (" + names + ")") + "; capsule reads archives of exactly one image",
            EINVAL);
    }
    auto& e = j[0];
    if (!e.is_object() || !e.contains("Config") || !e["Config"].is_string())
        return Error("manifest.json: no Config", EINVAL);
    ArchiveImage img;
    img.config_path = e["Config"].get<std::string>();
    if (!e.contains("Layers") || !e["Layers"].is_array())
        return Error("manifest.json: no Layers array", EINVAL);
    for (auto& l : e["Layers"]) {
        if (!l.is_string())
            return Error("manifest.json: Layers holds a non-string", EINVAL);
        img.layer_paths.push_back(l.get<std::string>());
    }
    if (e.contains("RepoTags") && e["RepoTags"].is_array())
        for (auto& t : e["RepoTags"])
            if (t.is_string())
                img.repo_tags.push_back(t.get<std::string>());
    return img;
}

/// SHA-256 of a member (only for compressed layers, whose digest is not a diff_id).
Result<std::string> hash_member(const TarIndex& index, const TarMember& m)
{
    auto hasher = TRY(store::Hasher::create("sha256"));
    TRY(index.stream_member(m, m.size, [&](const void* p, size_t n) -> Status {
        hasher.update(p, n);
        return {};
    }));
    return "sha256:" + hasher.finish_hex();
}

Result<oci::Descriptor> layer_descriptor(
    const TarIndex& index, const TarMember& m, const std::string& diff_id, const std::string& path)
{
    unsigned char head[8] = {};
    auto n
        = m.size ? ::pread(index.fd(), head, std::min<uint64_t>(sizeof head, m.size), static_cast<off_t>(m.offset)) : 0;
    if (n < 0)
        return Error::from_errno("read layer '" + path + "'");
    oci::Descriptor d;
    d.size = static_cast<int64_t>(m.size);
    switch (store::sniff_compression({ head, static_cast<size_t>(n) })) {
    case store::Compression::None:
        if (!oci::is_valid_digest(diff_id))
            return Error("layer '" + path + "': invalid diff_id '" + diff_id + "' in the config", EINVAL);
        d.media_type = std::string(oci::media_docker_layer);
        d.digest = diff_id;
        return d;
    case store::Compression::Gzip:
        d.media_type = std::string(oci::media_docker_layer_gzip);
        break;
    case store::Compression::Zstd:
        d.media_type = std::string(oci::media_oci_layer_zstd);
        break;
    default:
        return Error("layer '" + path + "' is compressed in a way layers are not (bzip2/xz)", ENOTSUP);
    }
    d.digest = TRY(hash_member(index, m));
    return d;
}

NameTag archive_name_tag(const ArchiveImage& img, const std::string& path)
{
    if (!img.repo_tags.empty()) {
        if (auto r = oci::parse_docker_ref(img.repo_tags.front()); r && r->digest.empty())
            return { r->name(), r->tag };
    }
    auto b = path_basename(path);
    if (b.size() > 4 && b.ends_with(".tar"))
        b.resize(b.size() - 4);
    return { b, {} };
}

} // namespace

std::string docker_schema2_manifest(const oci::Descriptor& config, const std::vector<oci::Descriptor>& layers)
{
    auto desc = [](const oci::Descriptor& d) {
        return json { { "mediaType", d.media_type }, { "size", d.size }, { "digest", d.digest } };
    };
    json j;
    j["schemaVersion"] = 2;
    j["mediaType"] = oci::media_docker_manifest;
    j["config"] = desc(config);
    j["layers"] = json::array();
    for (auto& l : layers)
        j["layers"].push_back(desc(l));
    return j.dump();
}

Result<store::ImageInfo> fetch_docker_archive(store::Store& store, const std::string& ref, const FetchOptions& opts)
{
    if (ref.empty())
        return Error("no archive given (docker-archive:FILE)", EINVAL);
    auto path = path_absolute(ref);
    auto origin = "docker-archive:" + path;
    auto archive = TRY(open_archive(store, path, origin, "docker archives", opts));
    if (archive.stored)
        return *archive.stored;
    auto index = TRY(TarIndex::read(archive.fd.get(), path));
    auto where = [&](const std::string& member) { return "'" + member + "' in '" + path + "'"; };
    auto mj = index.find("manifest.json");
    if (!mj)
        return Error("not a docker-archive: " + where("manifest.json") + " not found", ENOENT);
    auto mtext = TRY_CTX(index.read_member(*mj, oci::max_document_size), where("manifest.json"));
    auto img = TRY(parse_archive_manifest(mtext));
    TRY(require_unsigned_allowed(opts, "docker archives"));

    auto cm = index.find(img.config_path);
    if (!cm)
        return Error("config " + where(img.config_path) + " not found", ENOENT);
    auto config_bytes = TRY_CTX(index.read_member(*cm, oci::max_document_size), "config " + where(img.config_path));
    auto config = TRY_CTX(oci::parse_config(config_bytes), "config " + where(img.config_path));
    if (config.diff_ids.size() != img.layer_paths.size())
        return Error("config " + where(img.config_path) + " lists " + std::to_string(config.diff_ids.size())
                + " layers (rootfs.diff_ids), manifest.json " + std::to_string(img.layer_paths.size()),
            EINVAL);
    oci::Descriptor cdesc;
    cdesc.media_type = std::string(oci::media_docker_config);
    cdesc.digest = "sha256:" + store::sha256_hex(config_bytes);
    cdesc.size = static_cast<int64_t>(config_bytes.size());

    std::vector<oci::Descriptor> layers;
    std::map<std::string, TarMember> members; // layer digest -> where its bytes are
    for (size_t i = 0; i < img.layer_paths.size(); i++) {
        auto m = index.find(img.layer_paths[i]);
        if (!m)
            return Error("layer " + where(img.layer_paths[i]) + " not found", ENOENT);
        auto d = TRY(layer_descriptor(index, *m, config.diff_ids[i], img.layer_paths[i]));
        members[d.digest] = *m;
        layers.push_back(std::move(d));
    }
    auto manifest = docker_schema2_manifest(cdesc, layers);
    auto digest = "sha256:" + store::sha256_hex(manifest);
    if (auto cached = TRY(stored_image(store, digest, opts))) {
        spdlog::debug("{}: stored as {}", origin, cached->id);
        return *cached;
    }

    auto nt = archive_name_tag(img, path);
    store::OciImageRecord record;
    record.name = nt.name;
    record.tag = nt.tag;
    record.origin = origin;
    record.origin_path = origin;
    record.origin_stat = &archive.st;
    BlobSource source;
    source.parallel = 3;
    source.read = [&](const oci::Descriptor& d, const BlobSink& sink) -> Status {
        if (d.digest == cdesc.digest)
            return sink(config_bytes.data(), config_bytes.size());
        auto it = members.find(d.digest);
        if (it == members.end())
            return Error("blob " + d.digest + " is not in the archive", ENOENT);
        return index.stream_member(it->second, static_cast<uint64_t>(d.size) + 1, sink);
    };
    return import_oci_manifest(
        store, manifest, std::string(oci::media_docker_manifest), source, std::move(record), opts);
}

} // namespace capsule::fetch
