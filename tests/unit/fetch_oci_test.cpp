// SPDX-License-Identifier: Apache-2.0
#include "fetch/oci_layout.h"
#include "fetch/oci_layout_internal.h"
#include "fetch/tar_index.h"
#include "lib/fd.h"
#include "store_test_util.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace capsule;
using namespace capsule::fetch;

namespace {

UniqueFd memfd_with(const std::string& data)
{
    UniqueFd fd(::memfd_create("fetch-oci-test", MFD_CLOEXEC));
    REQUIRE(fd.valid());
    REQUIRE(::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    return fd;
}

oci::Descriptor desc(std::string type, std::string digest, int64_t size)
{
    oci::Descriptor d;
    d.media_type = std::move(type);
    d.digest = std::move(digest);
    d.size = size;
    return d;
}

const std::string d1 = "sha256:" + std::string(64, 'a');
const std::string d2 = "sha256:" + std::string(64, 'b');
const std::string d3 = "sha256:" + std::string(64, 'c');

} // namespace

TEST_CASE("a docker-archive's synthesized manifest is deterministic and parses back")
{
    auto config = desc(std::string(oci::media_docker_config), d1, 1234);
    std::vector<oci::Descriptor> layers { desc(std::string(oci::media_docker_layer), d2, 10240),
        desc(std::string(oci::media_docker_layer_gzip), d3, 99) };
    auto a = docker_schema2_manifest(config, layers);
    auto b = docker_schema2_manifest(config, layers);
    CHECK(a == b);
    CHECK(a.find(' ') == std::string::npos);
    CHECK(a.find('\n') == std::string::npos);
    auto m = oci::parse_manifest(a);
    REQUIRE(m);
    CHECK(m->media_type == oci::media_docker_manifest);
    CHECK(m->config.digest == d1);
    CHECK(m->config.size == 1234);
    REQUIRE(m->layers.size() == 2);
    CHECK(m->layers[0].digest == d2);
    CHECK(m->layers[1].media_type == oci::media_docker_layer_gzip);
    // Another layer order is another image.
    std::swap(layers[0], layers[1]);
    CHECK(docker_schema2_manifest(config, layers) != a);
}

TEST_CASE("archives are sniffed by their top-level members")
{
    auto docker = test::TarBuilder()
                      .dir("abc")
                      .file("abc/layer.tar", std::string(1024, 'x'))
                      .file("cfg.json", "{}")
                      .file("manifest.json", R"([{"Config":"cfg.json","Layers":["abc/layer.tar"]}])")
                      .file("repositories", "{}")
                      .finish();
    CHECK(sniff_archive(memfd_with(docker).get()) == ArchiveKind::DockerArchive);

    auto oci = test::TarBuilder()
                   .file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})")
                   .file("index.json", "{}")
                   .dir("blobs")
                   .finish();
    CHECK(sniff_archive(memfd_with(oci).get()) == ArchiveKind::OciArchive);

    // Docker 25+ writes an OCI layout and manifest.json: it is a docker-archive.
    auto both = test::TarBuilder()
                    .file("./oci-layout", R"({"imageLayoutVersion":"1.0.0"})")
                    .file("./manifest.json", " [ {} ]")
                    .finish();
    CHECK(sniff_archive(memfd_with(both).get()) == ArchiveKind::DockerArchive);

    auto aci = test::TarBuilder().file("manifest", "{}").dir("rootfs").file("manifest.json", "[]").finish();
    CHECK(sniff_archive(memfd_with(aci).get()) == ArchiveKind::Aci);

    auto plain = test::TarBuilder().file("README", "hi").finish();
    CHECK(sniff_archive(memfd_with(plain).get()) == ArchiveKind::Aci);

    CHECK(sniff_archive(memfd_with("\x1f\x8b\x08\x00 not really gzip").get()) == ArchiveKind::Aci);
    CHECK(sniff_archive(memfd_with("hello, not an image").get()) == ArchiveKind::Unknown);
    CHECK(sniff_archive(memfd_with("").get()) == ArchiveKind::Unknown);
}

TEST_CASE("archive_kind: manifest.json alone must be an array")
{
    CHECK(archive_kind(true, false, true, false, false, "[{") == ArchiveKind::DockerArchive);
    CHECK(archive_kind(true, false, true, false, false, "{\"x\":1}") == ArchiveKind::Unknown);
    CHECK(archive_kind(true, false, true, true, false, "{") == ArchiveKind::DockerArchive);
    CHECK(archive_kind(true, true, false, false, false, "") == ArchiveKind::OciArchive);
    CHECK(archive_kind(false, true, true, true, false, "[") == ArchiveKind::Aci);
}

TEST_CASE("a tar index finds members by normalised name, through links, with long names")
{
    std::string long_name = "blobs/sha256/" + std::string(150, 'f');
    auto tar = test::TarBuilder()
                   .file("./index.json", "{\"a\":1}")
                   .file(long_name, "long")
                   .dir("id1")
                   .file("id1/layer.tar", "layer-bytes")
                   .dir("id2")
                   .symlink("id2/layer.tar", "../id1/layer.tar")
                   .hardlink("hard", "id1/layer.tar")
                   .symlink("loop", "loop")
                   .finish();
    auto fd = memfd_with(tar);
    auto idx = TarIndex::read(fd.get(), "test.tar");
    REQUIRE(idx);
    auto read = [&](const std::string& name) -> std::string {
        auto m = idx->find(name);
        if (!m)
            return "<none>";
        auto t = idx->read_member(*m, 1 << 20);
        return t ? *t : "<error>";
    };
    CHECK(read("index.json") == "{\"a\":1}");
    CHECK(read("./index.json") == "{\"a\":1}");
    CHECK(read(long_name) == "long");
    CHECK(read("id2/layer.tar") == "layer-bytes");
    CHECK(read("hard") == "layer-bytes");
    CHECK(read("loop") == "<none>");
    CHECK(read("id1") == "<none>");
    CHECK(read("missing") == "<none>");
    auto m = idx->find("id1/layer.tar");
    REQUIRE(m);
    CHECK(!idx->read_member(*m, 3)); // over the limit
    std::string streamed;
    CHECK(idx->stream_member(*m, 5, [&](const void* p, size_t n) -> Status {
        streamed.append(static_cast<const char*>(p), n);
        return {};
    }));
    CHECK(streamed == "layer");
}

TEST_CASE("a tar index refuses what is not an uncompressed tar")
{
    CHECK(!TarIndex::read(memfd_with(std::string(2048, 'x')).get(), "x"));
    CHECK(!TarIndex::read(memfd_with("").get(), "x"));
    auto tar = test::TarBuilder().file("a", std::string(4096, 'a')).finish();
    // Cut inside the member's data: reading it fails, indexing does not read it.
    auto cut = memfd_with(tar.substr(0, 1024));
    auto idx = TarIndex::read(cut.get(), "cut.tar");
    REQUIRE(idx);
    auto m = idx->find("a");
    REQUIRE(m);
    auto r = idx->read_member(*m, 1 << 20);
    REQUIRE(!r);
    CHECK(r.error().message().find("truncated") != std::string::npos);
}

TEST_CASE("TarIndex::normalize")
{
    CHECK(TarIndex::normalize("./a//b/./c/") == "a/b/c");
    CHECK(TarIndex::normalize("a/../b") == "b");
    CHECK(TarIndex::normalize("../x") == "../x");
    CHECK(TarIndex::normalize("/abs") == "abs");
}

TEST_CASE("layout images are named by their reference annotation or the layout's name")
{
    using A = std::map<std::string, std::string>;
    auto nt = layout_name_tag(A { { "org.opencontainers.image.ref.name", "v1" } }, "v1", "mylayout");
    CHECK(nt.name == "mylayout");
    CHECK(nt.tag == "v1");
    nt = layout_name_tag(A { { "org.opencontainers.image.ref.name", "example.com/app:2.0" } }, "", "l");
    CHECK(nt.name == "example.com/app");
    CHECK(nt.tag == "2.0");
    nt = layout_name_tag(A { { "io.containerd.image.name", "127.0.0.1:5000/x/y:t" } }, "t", "l");
    CHECK(nt.name == "127.0.0.1:5000/x/y");
    CHECK(nt.tag == "t");
    nt = layout_name_tag(A {}, "", "untagged");
    CHECK(nt.name == "untagged");
    CHECK(nt.tag.empty());
}
