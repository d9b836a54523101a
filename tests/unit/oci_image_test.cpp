// SPDX-License-Identifier: Apache-2.0
#include "lib/oci/image.h"

#include <doctest/doctest.h>

using namespace capsule::oci;

namespace {
const std::string h64(64, 'a');
const std::string d64 = "sha256:" + h64;
} // namespace

TEST_CASE("oci digests")
{
    CHECK(is_valid_digest(d64));
    CHECK(is_valid_digest("sha512:" + std::string(128, '0')));
    CHECK_FALSE(is_valid_digest("sha256:" + std::string(63, 'a')));
    CHECK_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
    CHECK_FALSE(is_valid_digest("md5:" + std::string(32, 'a')));
    CHECK_FALSE(is_valid_digest(""));
    CHECK(digest_algorithm(d64) == "sha256");
    CHECK(digest_hex(d64) == h64);
    CHECK(digest_hex("bogus").empty());
    CHECK(image_id_from_digest(d64) == "sha256-" + h64);
    CHECK(digest_from_image_id("sha256-" + h64) == d64);
}

TEST_CASE("docker references are normalised as docker does")
{
    auto r = parse_docker_ref("busybox");
    REQUIRE(r);
    CHECK(r->registry == "docker.io");
    CHECK(r->repository == "library/busybox");
    CHECK(r->tag == "latest");
    CHECK(r->endpoint() == "registry-1.docker.io");
    CHECK(r->str() == "docker.io/library/busybox:latest");

    r = parse_docker_ref("127.0.0.1:5000/busybox:1.36");
    REQUIRE(r);
    CHECK(r->registry == "127.0.0.1:5000");
    CHECK(r->repository == "busybox");
    CHECK(r->tag == "1.36");
    CHECK(r->name() == "127.0.0.1:5000/busybox");
    CHECK(r->endpoint() == "127.0.0.1:5000");

    r = parse_docker_ref("localhost/team/app@" + d64);
    REQUIRE(r);
    CHECK(r->registry == "localhost");
    CHECK(r->repository == "team/app");
    CHECK(r->tag.empty());
    CHECK(r->digest == d64);
    CHECK(r->str() == "localhost/team/app@" + d64);

    r = parse_docker_ref("team/app:v1@" + d64);
    REQUIRE(r);
    CHECK(r->repository == "team/app");
    CHECK(r->tag == "v1");

    CHECK_FALSE(parse_docker_ref(""));
    CHECK_FALSE(parse_docker_ref("BusyBox"));
    CHECK_FALSE(parse_docker_ref("busybox:bad!tag"));
    CHECK_FALSE(parse_docker_ref("busybox@sha256:123"));
    CHECK_FALSE(parse_docker_ref("127.0.0.1:5000/"));
    auto e = parse_docker_ref("Busy");
    CHECK(e.error().message().find("invalid docker reference 'Busy'") == 0);
}

TEST_CASE("layout references split the tag after the last slash")
{
    CHECK(parse_layout_ref("/tmp/lay:v1").path == "/tmp/lay");
    CHECK(parse_layout_ref("/tmp/lay:v1").tag == "v1");
    CHECK(parse_layout_ref("/tmp/a:b/lay").path == "/tmp/a:b/lay");
    CHECK(parse_layout_ref("/tmp/a:b/lay").tag.empty());
    CHECK(parse_layout_ref("lay").tag.empty());
}

TEST_CASE("platforms")
{
    auto p = parse_platform("linux/arm64/v8");
    REQUIRE(p);
    CHECK(p->os == "linux");
    CHECK(p->architecture == "arm64");
    CHECK(p->variant == "v8");
    CHECK(p->str() == "linux/arm64/v8");
    CHECK_FALSE(parse_platform("linux"));
    CHECK_FALSE(parse_platform("linux//"));
    CHECK_FALSE(parse_platform("a/b/c/d"));
    CHECK(host_platform().os == "linux");
}

TEST_CASE("manifests")
{
    std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")"
        + d64 + R"(","size":10},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")"
        + d64 + R"(","size":20}]})";
    auto p = parse_manifest(m);
    REQUIRE(p);
    CHECK(p->media_type == media_oci_manifest);
    CHECK(p->config.size == 10);
    REQUIRE(p->layers.size() == 1);
    CHECK(p->layers[0].digest == d64);
    CHECK(parse_manifest(m, "application/vnd.oci.image.manifest.v1+json; charset=utf-8"));
    auto clash = parse_manifest(m, media_docker_manifest);
    REQUIRE_FALSE(clash);
    CHECK(clash.error().message().find("served as") != std::string::npos);
    CHECK(document_media_type(m).value() == media_oci_manifest);

    auto bad_digest = parse_manifest(R"({"schemaVersion":2,"config":{"digest":"sha256:1","size":1},"layers":[]})");
    REQUIRE_FALSE(bad_digest);
    CHECK(bad_digest.error().message().find("invalid digest") != std::string::npos);
    auto v1 = parse_manifest(R"({"schemaVersion":1})");
    REQUIRE_FALSE(v1);
    CHECK(v1.error().code() == ENOTSUP);
    auto big = parse_manifest(std::string(max_document_size + 1, ' '));
    REQUIRE_FALSE(big);
    CHECK(big.error().code() == EFBIG);
    auto unknown = parse_manifest(R"({"schemaVersion":2,"mediaType":"application/x-foo"})");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().message().find("application/x-foo") != std::string::npos);
}

TEST_CASE("layer media types")
{
    CHECK(layer_compression(media_oci_layer_gzip).value() == LayerCompression::Gzip);
    CHECK(layer_compression(media_docker_layer_gzip).value() == LayerCompression::Gzip);
    CHECK(layer_compression(media_oci_layer).value() == LayerCompression::None);
    CHECK(layer_compression(media_oci_layer_zstd).value() == LayerCompression::Zstd);
    auto foreign = layer_compression("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
    REQUIRE_FALSE(foreign);
    CHECK(foreign.error().message().find("non-distributable") != std::string::npos);
    CHECK_FALSE(layer_compression("text/plain"));
}

TEST_CASE("indexes select a platform")
{
    auto entry = [](const std::string& arch, const std::string& variant) {
        return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d64
            + R"(","size":1,"platform":{"os":"linux","architecture":")" + arch + R"(","variant":")" + variant
            + R"("}})";
    };
    std::string text = R"({"schemaVersion":2,"manifests":[)" + entry("arm64", "v8") + "," + entry("amd64", "") + "]}";
    auto idx = parse_index(text);
    REQUIRE(idx);
    CHECK(idx->media_type == media_oci_index);
    Platform amd64;
    CHECK(select_platform(*idx, amd64).value().platform->architecture == "amd64");
    Platform arm;
    arm.architecture = "arm64";
    CHECK(select_platform(*idx, arm).value().platform->variant == "v8");
    Platform s390;
    s390.architecture = "s390x";
    auto none = select_platform(*idx, s390);
    REQUIRE_FALSE(none);
    CHECK(none.error().message()
        == "no image for platform linux/s390x in the index (it has: linux/arm64/v8, linux/amd64); choose one with "
           "--platform");
}

TEST_CASE("image configs")
{
    auto c = parse_config(R"({"os":"linux","architecture":"amd64","config":{"Entrypoint":["/bin/sh","-c"],
        "Cmd":["echo hi"],"Env":["A=1","PATH=/bin"],"WorkingDir":"/etc","User":"app:grp",
        "ExposedPorts":{"8080/tcp":{},"53/udp":{}},"Volumes":{"/data":{}},"Labels":{"k":"v"}},
        "rootfs":{"type":"layers","diff_ids":[")"
        + d64 + R"("]}})");
    REQUIRE(c);
    CHECK(c->entrypoint == std::vector<std::string> { "/bin/sh", "-c" });
    CHECK(c->cmd == std::vector<std::string> { "echo hi" });
    CHECK(c->env.size() == 2);
    CHECK(c->working_dir == "/etc");
    CHECK(c->user == "app:grp");
    CHECK(c->exposed_ports == std::vector<std::string> { "53/udp", "8080/tcp" });
    CHECK(c->volumes == std::vector<std::string> { "/data" });
    CHECK(c->labels.at("k") == "v");
    CHECK(c->diff_ids.size() == 1);
    CHECK(parse_config(R"({"config":null})"));
    auto bad = parse_config(R"({"config":{"Cmd":"echo"}})");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message() == "image config: 'Cmd' is not an array of strings");
}
