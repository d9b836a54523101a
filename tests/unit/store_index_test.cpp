// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"
#include "store/digest.h"
#include "store/index.h"
#include "store/oci.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

using namespace capsule;
using namespace capsule::store;

namespace {

ImageInfo image(const std::string& hexchar, const std::string& name, const std::string& version, int64_t t)
{
    ImageInfo i;
    i.id = "sha512-" + std::string(128, hexchar[0]);
    i.name = name;
    i.labels = { { "version", version } };
    i.type = "aci";
    i.blob_size = 10;
    i.tree_size = 20;
    i.import_time = t;
    return i;
}

} // namespace

TEST_CASE("index: fresh database migrates to the current schema")
{
    auto dir = TempDir::create("/tmp", "capsule-index-test-").release_value();
    auto idx = Index::open(dir.path() + "/index.db");
    REQUIRE(idx);
    CHECK(*idx->schema_version() == Index::current_schema_version());
    // Reopening is a no-op.
    auto again = Index::open(dir.path() + "/index.db");
    REQUIRE(again);
}

TEST_CASE("index: a newer schema is refused")
{
    auto dir = TempDir::create("/tmp", "capsule-index-test-").release_value();
    auto path = dir.path() + "/index.db";
    sqlite3* db;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    auto idx = Index::open(path);
    REQUIRE(!idx);
    CHECK(idx.error().message().find("schema version 99 is newer") != std::string::npos);
}

TEST_CASE("index: insert, prefix and name queries, touch, remove")
{
    auto dir = TempDir::create("/tmp", "capsule-index-test-").release_value();
    auto idx = Index::open(dir.path() + "/index.db").release_value();
    REQUIRE(idx.insert(image("a", "example.com/x", "1", 100), nullptr));
    REQUIRE(idx.insert(image("b", "example.com/x", "2", 200), nullptr));
    REQUIRE(idx.insert(image("c", "example.com/y", "1", 300), nullptr));
    // Inserting again keeps the existing row.
    REQUIRE(idx.insert(image("a", "example.com/other", "9", 999), nullptr));

    auto all = *idx.list();
    REQUIRE(all.size() == 3);
    CHECK(all[0].name == "example.com/y"); // newest first
    CHECK((*idx.get(all[2].id))->name == "example.com/x");
    CHECK(idx.find_prefix("sha512-a")->size() == 1);
    CHECK(idx.find_prefix("sha512-")->size() == 3);
    CHECK(idx.find_prefix("sha512-d")->empty());
    auto xs = *idx.find_name("example.com/x", std::nullopt);
    REQUIRE(xs.size() == 2);
    CHECK(xs[0].version() == "2");
    CHECK(idx.find_name("example.com/x", "1")->size() == 1);

    OriginKey key { "/tmp/a.aci", 1, 2, 3, 4 };
    REQUIRE(idx.record_origin(key, all[2].id));
    CHECK(*idx.find_origin(key) == all[2].id);
    key.mtime_ns = 5;
    CHECK(!*idx.find_origin(key));

    REQUIRE(idx.touch(all[0].id, 555));
    CHECK((*idx.get(all[0].id))->last_used == 555);
    CHECK(*idx.remove(all[2].id));
    CHECK(!*idx.remove(all[2].id));
    key.mtime_ns = 4;
    CHECK(!*idx.find_origin(key)); // origins go with their image
    CHECK(idx.list()->size() == 2);
}

TEST_CASE("image IDs and compression sniffing")
{
    // sha512("") is well known.
    CHECK(sha512_hex("").substr(0, 16) == "cf83e1357eefb8bd");
    auto id = aci_image_id(sha512_hex("abc"));
    CHECK(id.starts_with("sha512-ddaf35a193617aba"));
    CHECK(aci_id_hex(id).size() == 128);
    CHECK(aci_id_hex("sha512-abc").empty());
    CHECK(aci_id_hex("sha256-" + std::string(128, 'a')).empty());

    auto sniff = [](std::initializer_list<unsigned char> b) {
        std::vector<unsigned char> v(b);
        return sniff_compression(v);
    };
    CHECK(sniff({ 0x1f, 0x8b, 8, 0 }) == Compression::Gzip);
    CHECK(sniff({ 'B', 'Z', 'h', '9' }) == Compression::Bzip2);
    CHECK(sniff({ 0xfd, '7', 'z', 'X', 'Z', 0 }) == Compression::Xz);
    CHECK(sniff({ 0xfd, '7', 'z', 'X', 'Z' }) == Compression::None); // too short to be sure
    CHECK(sniff({ 0x28, 0xb5, 0x2f, 0xfd }) == Compression::Zstd);
    CHECK(sniff({ 'm', 'a', 'n', 'i' }) == Compression::None);
    CHECK(sniff({}) == Compression::None);
}

TEST_CASE("index: schema 1 migrates to 2 keeping rows; signed_by is stored and set once")
{
    auto dir = TempDir::create("/tmp", "capsule-index-test-").release_value();
    auto path = dir.path() + "/index.db";
    sqlite3* db;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    // Schema 1 as released: images without signed_by.
    REQUIRE(sqlite3_exec(db,
                "CREATE TABLE images (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL "
                "DEFAULT '', labels TEXT NOT NULL DEFAULT '[]', type TEXT NOT NULL DEFAULT 'aci', origin TEXT NOT "
                "NULL DEFAULT '', blob_size INTEGER NOT NULL DEFAULT 0, tree_size INTEGER NOT NULL DEFAULT 0, "
                "import_time INTEGER NOT NULL, last_used INTEGER NOT NULL DEFAULT 0);"
                "CREATE TABLE origins (path TEXT PRIMARY KEY NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL, "
                "size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, image_id TEXT NOT NULL REFERENCES images (id) ON "
                "DELETE CASCADE);"
                "INSERT INTO images (id, name, import_time) VALUES ('sha512-old', 'example.com/old', 5);"
                "PRAGMA user_version=1;",
                nullptr, nullptr, nullptr)
        == SQLITE_OK);
    sqlite3_close(db);
    auto idx = Index::open(path).release_value();
    CHECK(*idx.schema_version() == Index::current_schema_version());
    auto old = idx.get("sha512-old").release_value();
    REQUIRE(old);
    CHECK(old->name == "example.com/old");
    CHECK(old->signed_by.empty());
    REQUIRE(idx.set_signed_by("sha512-old", "AAAA"));
    REQUIRE(idx.set_signed_by("sha512-old", "BBBB")); // a recorded signer is kept
    CHECK(idx.get("sha512-old").release_value()->signed_by == "AAAA");
    auto signed_image = image("d", "example.com/s", "1", 10);
    signed_image.signed_by = "0D6D090AEFBB52BE10897F3EE8AF40FC94D55726";
    REQUIRE(idx.insert(signed_image, nullptr));
    CHECK(idx.get(signed_image.id).release_value()->signed_by == signed_image.signed_by);
}

TEST_CASE("index: schema 3 adds the remote cache; entries go with their image")
{
    auto dir = TempDir::create("/tmp", "capsule-index-test-").release_value();
    auto idx = Index::open(dir.path() + "/index.db").release_value();
    CHECK(Index::current_schema_version() >= 3);
    auto img = image("e", "example.com/r", "1", 10);
    REQUIRE(idx.insert(img, nullptr));
    CHECK(!*idx.find_remote("https://example.com/r.aci"));
    RemoteInfo r { "https://example.com/r.aci", "https://cdn.example.com/r.aci", "\"abc\"", 60, 1000, img.id };
    REQUIRE(idx.record_remote(r));
    auto got = idx.find_remote(r.url).release_value();
    REQUIRE(got);
    CHECK(got->resolved_url == r.resolved_url);
    CHECK(got->etag == "\"abc\"");
    CHECK(got->max_age == 60);
    CHECK(got->fetched_at == 1000);
    CHECK(got->image_id == img.id);
    r.etag = "\"def\"";
    r.max_age = -1;
    REQUIRE(idx.record_remote(r)); // replaces
    CHECK(idx.find_remote(r.url).release_value()->etag == "\"def\"");
    CHECK(idx.find_remote(r.url).release_value()->max_age == -1);
    CHECK(*idx.remove(img.id));
    CHECK(!*idx.find_remote(r.url));
}

namespace {

LayerInfo layer(char c, uint64_t size)
{
    return LayerInfo { "sha256:" + std::string(64, c), std::string(oci::media_oci_layer_gzip), size, size * 2 };
}

ImageInfo oci_image(char c, const std::string& name, const std::string& tag)
{
    ImageInfo i;
    i.id = "sha256-" + std::string(64, c);
    i.name = name;
    if (!tag.empty())
        i.labels = { { "version", tag }, { "os", "linux" } };
    i.type = "oci";
    i.origin = "docker://" + name + ":" + tag;
    i.import_time = 100;
    return i;
}

OciRefs refs(char c, std::vector<LayerInfo> layers)
{
    return OciRefs { "sha256:" + std::string(64, c), std::string(oci::media_oci_manifest),
        "sha256:" + std::string(63, c) + "0", std::move(layers) };
}

} // namespace

TEST_CASE("index: schema 4 keeps OCI images, their layers in order, and shares layers")
{
    auto dir = TempDir::create("/tmp", "capsule-index-test-").release_value();
    auto idx = Index::open(dir.path() + "/index.db").release_value();
    CHECK(Index::current_schema_version() == 4);
    // Layers must be stored before an image uses them.
    auto missing = idx.commit_oci(oci_image('a', "127.0.0.1:5000/x", "1"), refs('a', { layer('1', 10) }));
    REQUIRE(!missing);
    CHECK(missing.error().message().find("is not stored") != std::string::npos);
    CHECK(idx.list()->empty());

    for (char c : { '1', '2', '3' })
        REQUIRE(idx.insert_layer(layer(c, 10), 5));
    REQUIRE(idx.insert_layer(layer('1', 99), 5)); // kept as it was
    CHECK((*idx.get_layer(layer('1', 0).digest))->size == 10);
    auto a = idx.commit_oci(oci_image('a', "127.0.0.1:5000/x", "1"), refs('a', { layer('2', 10), layer('1', 10) }));
    REQUIRE_MESSAGE(a, (a ? "" : a.error().message()));
    CHECK(a->type == "oci");
    CHECK(a->version() == "1");
    auto b = idx.commit_oci(oci_image('b', "127.0.0.1:5000/y", "1"), refs('b', { layer('1', 10), layer('3', 10) }));
    REQUIRE(b);
    auto got = (*idx.get_oci(a->id)).value();
    REQUIRE(got.layers.size() == 2);
    CHECK(got.layers[0].digest == layer('2', 0).digest); // bottom first, as committed
    CHECK(got.layers[1].digest == layer('1', 0).digest);
    CHECK(got.manifest_digest == "sha256:" + std::string(64, 'a'));
    CHECK(*idx.unused_layers() == std::vector<std::string>());
    CHECK(idx.oci_blob_digests()->size() == 3 + 4);
    CHECK(!*idx.config_in_use(got.config_digest, a->id));

    // A layer goes only once no image uses it.
    CHECK(!*idx.remove_layer_if_unused(layer('1', 0).digest));
    CHECK(*idx.remove(a->id));
    CHECK(!*idx.get_oci(a->id));
    CHECK(*idx.unused_layers() == std::vector<std::string> { layer('2', 0).digest });
    CHECK(*idx.remove_layer_if_unused(layer('2', 0).digest));
    CHECK(!*idx.remove_layer_if_unused(layer('1', 0).digest));
}

TEST_CASE("index: a tag names one OCI image; re-committing updates origin and tag")
{
    auto dir = TempDir::create("/tmp", "capsule-index-test-").release_value();
    auto idx = Index::open(dir.path() + "/index.db").release_value();
    REQUIRE(idx.insert_layer(layer('1', 10), 5));
    auto old = idx.commit_oci(oci_image('a', "127.0.0.1:5000/x", "latest"), refs('a', { layer('1', 10) }));
    REQUIRE(old);
    auto moved = idx.commit_oci(oci_image('b', "127.0.0.1:5000/x", "latest"), refs('b', { layer('1', 10) }));
    REQUIRE(moved);
    auto tagged = *idx.find_name("127.0.0.1:5000/x", "latest");
    REQUIRE(tagged.size() == 1);
    CHECK(tagged[0].id == moved->id);
    auto dangling = (*idx.get(old->id)).value();
    CHECK(dangling.version().empty());
    CHECK(dangling.labels.size() == 1); // os stays
    // The old image is committed again under a new tag: it takes the tag and the origin.
    auto again = oci_image('a', "127.0.0.1:5000/x", "v2");
    again.origin = "oci:/tmp/layout:v2";
    auto r = idx.commit_oci(again, refs('a', { layer('1', 10) }));
    REQUIRE(r);
    CHECK(r->version() == "v2");
    CHECK(r->origin == "oci:/tmp/layout:v2");
    CHECK(r->import_time == 100);
    CHECK(idx.list()->size() == 2);
}
