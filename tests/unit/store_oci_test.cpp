// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"
#include "store/digest.h"
#include "store/oci.h"
#include "store/store.h"
#include "store_test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

using namespace capsule;
using namespace capsule::store;
using capsule::test::TarBuilder;

namespace {

std::string gzip(const std::string& data)
{
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    archive_write_open(
        a, &out, nullptr,
        [](archive*, void* self, const void* buf, size_t n) -> la_ssize_t {
            static_cast<std::string*>(self)->append(static_cast<const char*>(buf), n);
            return static_cast<la_ssize_t>(n);
        },
        nullptr);
    archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_pathname(e, "x");
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

std::string digest_of(const std::string& bytes)
{
    return "sha256:" + sha256_hex(bytes);
}

oci::Descriptor descriptor(const std::string& blob, bool gzipped)
{
    oci::Descriptor d;
    d.media_type = std::string(gzipped ? oci::media_oci_layer_gzip : oci::media_oci_layer);
    d.digest = digest_of(blob);
    d.size = static_cast<int64_t>(blob.size());
    return d;
}

/// Feeds `blob` in small pieces, as a download would.
Result<LayerInfo> import(Store& s, const std::string& blob, oci::Descriptor d)
{
    auto imp = TRY(s.begin_layer(d));
    for (size_t off = 0; off < blob.size(); off += 777)
        TRY(imp->write(blob.data() + off, std::min<size_t>(777, blob.size() - off)));
    return imp->commit();
}

Result<LayerInfo> import(Store& s, const std::string& blob, bool gzipped = false)
{
    return import(s, blob, descriptor(blob, gzipped));
}

size_t count_entries(const std::string& dir)
{
    size_t n = 0;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* de = ::readdir(d))
            n += std::string_view(de->d_name) != "." && std::string_view(de->d_name) != "..";
        ::closedir(d);
    }
    return n;
}

int64_t count_rows(const std::string& db_path, const char* table)
{
    sqlite3* db;
    REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st;
    auto sql = std::string("SELECT count(*) FROM ") + table;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    auto n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

struct TestStore {
    TempDir dir;
    std::unique_ptr<Store> store;
    TestStore()
    {
        dir = TempDir::create("/tmp", "capsule-oci-test-").release_value();
        store = Store::open(dir.path()).release_value();
    }
    std::string path(const std::string& p) const { return dir.path() + "/store/" + p; }
    /// Nothing of an import is left anywhere.
    void check_clean() const
    {
        CHECK(count_entries(path("tmp")) == 0);
        CHECK(count_entries(path("blobs/sha256")) == 0);
        CHECK(count_entries(path("layers")) == 0);
        CHECK(count_rows(path("index.db"), "layers") == 0);
        CHECK(count_rows(path("index.db"), "images") == 0);
    }
    /// Records an image over committed layers, with a manifest naming them.
    Result<ImageInfo> commit(const std::string& name, const std::string& tag, const std::vector<LayerInfo>& layers,
        const std::string& config = R"({"architecture":"amd64","os":"linux"})")
    {
        auto m = nlohmann::json::object();
        m["schemaVersion"] = 2;
        m["mediaType"] = oci::media_oci_manifest;
        m["config"]
            = { { "mediaType", oci::media_oci_config }, { "digest", digest_of(config) }, { "size", config.size() } };
        m["layers"] = nlohmann::json::array();
        for (auto& l : layers)
            m["layers"].push_back({ { "mediaType", l.media_type }, { "digest", l.digest }, { "size", l.size } });
        OciImageRecord rec;
        rec.name = name;
        rec.tag = tag;
        rec.manifest = m.dump();
        rec.manifest_media_type = std::string(oci::media_oci_manifest);
        rec.config = config;
        rec.layers = layers;
        rec.origin = "docker://" + name + ":" + tag;
        return store->commit_oci_image(rec);
    }
};

std::string layer_file(const TestStore& t, const LayerInfo& l, const std::string& p)
{
    return t.store->layer_path(l.digest) + "/" + p;
}

bool is_whiteout(const std::string& path)
{
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

std::string xattr(const std::string& path, const char* name)
{
    char v[16];
    ssize_t n = ::lgetxattr(path.c_str(), name, v, sizeof v);
    return n < 0 ? std::string() : std::string(v, static_cast<size_t>(n));
}

// A base layer and one that deletes, replaces and makes a directory opaque.
std::string base_layer()
{
    return TarBuilder()
        .dir("etc")
        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        .file("etc/deleteme", "old")
        .dir("opq")
        .file("opq/old", "old")
        .dir("opq/sub")
        .file("opq/sub/deep", "old")
        .dir("usr/bin")
        .file("usr/bin/tool", "tool")
        .symlink("bin", "usr/bin")
        .symlink("abs", "/etc")
        .dir("dir-then-file")
        .file("dir-then-file/x", "x")
        .finish();
}

std::string upper_layer()
{
    return TarBuilder()
        .file("etc/.wh.deleteme", "")
        .file("etc/layer2", "2")
        .file("opq/new", "new") // before the opaque marker: it stays
        .file("opq/.wh..wh..opq", "")
        .file("dir-then-file", "now a file")
        .finish();
}

} // namespace

TEST_CASE("oci layers: plain and gzip layers become overlay trees with whiteouts and opaque dirs")
{
    TestStore t;
    auto base = import(*t.store, base_layer());
    REQUIRE_MESSAGE(base, (base ? "" : base.error().message()));
    auto upper_blob = gzip(upper_layer());
    auto upper = import(*t.store, upper_blob, true);
    REQUIRE_MESSAGE(upper, (upper ? "" : upper.error().message()));
    CHECK(upper->size == upper_blob.size());
    CHECK(upper->tree_size > 0);
    CHECK(t.store->layer_path(upper->digest) == t.path("layers/sha256-" + sha256_hex(upper_blob)));
    // The blob is stored exactly as fetched.
    CHECK(*read_file(t.path("blobs/sha256/" + sha256_hex(upper_blob))) == upper_blob);

    CHECK(*read_file(layer_file(t, *base, "etc/passwd")) == "root:x:0:0::/root:/bin/sh\n");
    CHECK(*read_file(layer_file(t, *upper, "etc/layer2")) == "2");
    CHECK(is_whiteout(layer_file(t, *upper, "etc/deleteme")));
    CHECK(!path_exists(layer_file(t, *upper, "etc/.wh.deleteme")));
    CHECK(xattr(layer_file(t, *upper, "opq"), "trusted.overlay.opaque") == "y");
    CHECK(!path_exists(layer_file(t, *upper, "opq/.wh..wh..opq")));
    CHECK(*read_file(layer_file(t, *upper, "opq/new")) == "new");

    // A directory this layer whites out and makes again hides the lower one's contents.
    auto again = import(*t.store, TarBuilder().file("x/.wh.d", "").dir("x/d").file("x/d/new", "n").finish());
    REQUIRE_MESSAGE(again, (again ? "" : again.error().message()));
    CHECK(xattr(layer_file(t, *again, "x/d"), "trusted.overlay.opaque") == "y");
    CHECK(*read_file(layer_file(t, *again, "x/d/new")) == "n");

    auto found = t.store->find_layer(upper->digest);
    REQUIRE(found);
    REQUIRE(*found);
    CHECK((*found)->size == upper_blob.size());
    CHECK(!*t.store->find_layer(digest_of("other")));
    CHECK(count_entries(t.path("tmp")) == 0);
    CHECK(t.store->usage().layer_count == 3);
}

TEST_CASE("oci layers: bad blobs are refused and leave nothing behind")
{
    auto good = TarBuilder().file("a", "a").finish();
    struct Case {
        const char* what;
        std::string blob;
        oci::Descriptor desc;
        std::string expect;
    };
    auto wrong_digest = descriptor(good, false);
    wrong_digest.digest = digest_of("something else");
    auto short_desc = descriptor(good, false);
    short_desc.size = 100;
    auto long_desc = descriptor(good, false);
    long_desc.size += 1;
    auto esc = [](TarBuilder& b) {
        auto blob = b.finish();
        return std::make_pair(blob, descriptor(blob, false));
    };
    std::vector<Case> cases = {
        { "digest mismatch", good, wrong_digest,
            "layer " + wrong_digest.digest + ": digest mismatch: expected " + wrong_digest.digest + ", got "
                + digest_of(good) },
        { "oversized", good, short_desc,
            "layer " + short_desc.digest + ": more bytes than the descriptor's size (100 bytes)" },
        { "truncated", good, long_desc,
            "layer " + long_desc.digest + ": truncated (" + std::to_string(good.size()) + " of "
                + std::to_string(good.size() + 1) + " bytes)" },
    };
    auto add = [&](const char* what, std::pair<std::string, oci::Descriptor> b, std::string expect) {
        cases.push_back({ what, b.first, b.second, "layer " + b.second.digest + ": " + expect });
    };
    add("traversal", esc(TarBuilder().file("../x", "x")), "entry '../x': path contains '..'");
    add("absolute", esc(TarBuilder().file("/etc/x", "x")), "entry '/etc/x': absolute path");
    add("symlink escape", esc(TarBuilder().symlink("esc", "/").file("esc/x", "x")),
        "entry 'esc/x': path leaves the rootfs through a symlink");
    add("relative symlink escape", esc(TarBuilder().symlink("up", "..").file("up/x", "x")),
        "entry 'up/x': path leaves the rootfs through a symlink");
    add("hardlink traversal", esc(TarBuilder().hardlink("h", "../etc/passwd")),
        "entry 'h': hardlink target '../etc/passwd': path contains '..'");
    add("hardlink across layers", esc(TarBuilder().hardlink("h", "etc/passwd")),
        "entry 'h': hardlink target 'etc/passwd' is not in this layer");
    add("hardlink through symlink", esc(TarBuilder().symlink("s", "/etc").hardlink("h", "s/passwd")),
        "entry 'h': hardlink target 's/passwd': path leaves the rootfs through a symlink");
    add("bad whiteout", esc(TarBuilder().file("a/.wh...", "")), "entry 'a/.wh...': invalid whiteout");
    add("not a tar", std::make_pair(std::string(2000, 'z'), descriptor(std::string(2000, 'z'), false)),
        "not a tar archive");
    for (auto& c : cases) {
        CAPTURE(c.what);
        TestStore t;
        auto r = import(*t.store, c.blob, c.desc);
        REQUIRE(!r);
        CHECK(r.error().message() == c.expect);
        t.check_clean();
    }
}

TEST_CASE("oci layers: an unknown media type is refused before anything is written")
{
    TestStore t;
    auto d = descriptor("x", false);
    d.media_type = "application/vnd.example.unknown";
    auto r = t.store->begin_layer(d);
    REQUIRE(!r);
    CHECK(r.error().message() == "layer " + d.digest + ": unknown layer media type 'application/vnd.example.unknown'");
    t.check_clean();
}

TEST_CASE("oci layers: an import dropped before commit leaves nothing")
{
    TestStore t;
    auto blob = gzip(base_layer());
    {
        auto imp = t.store->begin_layer(descriptor(blob, true)).release_value();
        REQUIRE(imp->write(blob.data(), blob.size() / 2));
    }
    t.check_clean();
}

TEST_CASE("oci layers: the same layer imported by two threads at once ends as one tree")
{
    TestStore t;
    std::string big(3 << 20, 'b');
    auto blob = gzip(TarBuilder().file("big", big).file("small", "s").finish());
    Result<LayerInfo> r1 = Error("not run"), r2 = Error("not run");
    std::thread a([&] { r1 = import(*t.store, blob, true); });
    std::thread b([&] { r2 = import(*t.store, blob, true); });
    a.join();
    b.join();
    REQUIRE_MESSAGE(r1, (r1 ? "" : r1.error().message()));
    REQUIRE_MESSAGE(r2, (r2 ? "" : r2.error().message()));
    CHECK(count_entries(t.path("layers")) == 1);
    CHECK(count_entries(t.path("tmp")) == 0);
    CHECK(*read_file(layer_file(t, *r1, "big")) == big);
    CHECK(count_rows(t.path("index.db"), "layers") == 1);
}

TEST_CASE("oci images: layers are shared; rm drops the layers no other image uses")
{
    TestStore t;
    auto shared = import(*t.store, base_layer()).release_value();
    auto only_a = import(*t.store, TarBuilder().file("a", "a").finish()).release_value();
    auto only_b = import(*t.store, gzip(TarBuilder().file("b", "b").finish()), true).release_value();
    auto a = t.commit("127.0.0.1:5000/a", "latest", { shared, only_a });
    REQUIRE_MESSAGE(a, (a ? "" : a.error().message()));
    auto b = t.commit("127.0.0.1:5000/b", "1", { shared, only_b }, R"({"os":"linux","architecture":"amd64"})");
    REQUIRE(b);
    CHECK(a->type == "oci");
    CHECK(a->version() == "latest");
    CHECK(a->id.starts_with("sha256-"));
    CHECK(a->tree_size == shared.tree_size + only_a.tree_size);
    CHECK(a->blob_size > shared.size + only_a.size);

    auto img = t.store->oci_image(a->id).release_value();
    CHECK(img.layers.size() == 2);
    CHECK(img.layer_dirs
        == std::vector<std::string> { t.store->layer_path(shared.digest), t.store->layer_path(only_a.digest) });
    CHECK(img.config == R"({"architecture":"amd64","os":"linux"})");
    CHECK(oci::digest_from_image_id(a->id) == "sha256:" + sha256_hex(img.manifest));
    CHECK(t.store->list()->size() == 2);
    // Committing it again changes nothing but the origin.
    auto again = t.commit("127.0.0.1:5000/a", "latest", { shared, only_a });
    REQUIRE(again);
    CHECK(again->id == a->id);
    CHECK(t.store->list()->size() == 2);

    REQUIRE(t.store->remove(a->id, nullptr));
    CHECK(is_directory(t.store->layer_path(shared.digest)));
    CHECK(!path_exists(t.store->layer_path(only_a.digest)));
    CHECK(!path_exists(t.path("blobs/sha256/" + oci::digest_hex(only_a.digest))));
    CHECK(path_exists(t.path("blobs/sha256/" + oci::digest_hex(shared.digest))));
    CHECK(!*t.store->find_layer(only_a.digest));
    REQUIRE(t.store->remove("127.0.0.1:5000/b:1", nullptr));
    t.check_clean();
}

TEST_CASE("oci images: commit refuses layers that are not stored or not the manifest's")
{
    TestStore t;
    auto l = import(*t.store, TarBuilder().file("a", "a").finish()).release_value();
    auto fake = l;
    fake.digest = digest_of("never imported");
    auto r = t.commit("127.0.0.1:5000/x", "1", { fake });
    REQUIRE(!r);
    CHECK(r.error().message().find("layer " + fake.digest + " is not stored") != std::string::npos);
    CHECK(t.store->list()->empty());
}

TEST_CASE("oci images: a tag moves to the newest image; the old one stays, untagged")
{
    TestStore t;
    auto l1 = import(*t.store, TarBuilder().file("a", "1").finish()).release_value();
    auto l2 = import(*t.store, TarBuilder().file("a", "2").finish()).release_value();
    auto old = t.commit("127.0.0.1:5000/app", "latest", { l1 }).release_value();
    auto cur = t.commit("127.0.0.1:5000/app", "latest", { l2 }).release_value();
    CHECK(t.store->resolve("127.0.0.1:5000/app:latest")->id == cur.id);
    auto listed = t.store->list().release_value();
    REQUIRE(listed.size() == 2);
    for (auto& i : listed)
        CHECK(i.version() == (i.id == cur.id ? "latest" : ""));
    CHECK(t.store->resolve(old.id)->id == old.id);
}

TEST_CASE("oci images: resolve docker names, tags, digests and ID prefixes")
{
    TestStore t;
    auto l = import(*t.store, TarBuilder().file("a", "a").finish()).release_value();
    auto local = t.commit("127.0.0.1:5000/busybox", "latest", { l }).release_value();
    auto hub = t.commit("docker.io/library/busybox", "1.36", { l }, R"({"os":"linux"})").release_value();
    CHECK(t.store->resolve("127.0.0.1:5000/busybox:latest")->id == local.id);
    CHECK(t.store->resolve("127.0.0.1:5000/busybox")->id == local.id);
    CHECK(t.store->resolve("127.0.0.1:5000/busybox@" + oci::digest_from_image_id(local.id))->id == local.id);
    CHECK(t.store->resolve("docker.io/library/busybox:1.36")->id == hub.id);
    CHECK(t.store->resolve("busybox:1.36")->id == hub.id);
    CHECK(t.store->resolve("busybox")->id == hub.id);
    CHECK(t.store->resolve(local.id.substr(0, 20))->id == local.id);
    CHECK(short_id(local.id) == local.id.substr(0, 23));
    auto miss = t.store->resolve("127.0.0.1:5000/busybox:nope");
    REQUIRE(!miss);
    CHECK(miss.error().message() == "image 127.0.0.1:5000/busybox:nope: not found in the store");
    auto bad = t.store->resolve("127.0.0.1:5000/busybox@sha256:zz");
    REQUIRE(!bad);
    CHECK(bad.error().message().find("not a valid digest") != std::string::npos);
}

TEST_CASE("oci images: read_image_file walks the layers top-down through whiteouts and opaque dirs")
{
    TestStore t;
    auto base = import(*t.store, base_layer()).release_value();
    auto upper = import(*t.store, gzip(upper_layer()), true).release_value();
    auto img = t.commit("127.0.0.1:5000/multi", "latest", { base, upper }).release_value();
    auto read = [&](const std::string& p) { return t.store->read_image_file(img.id, p); };
    CHECK(**read("etc/passwd") == "root:x:0:0::/root:/bin/sh\n");
    CHECK(**read("/etc/layer2") == "2");
    CHECK(!*read("etc/deleteme")); // whiteout
    CHECK(!*read("opq/old"));      // opaque
    CHECK(!*read("opq/sub/deep"));
    CHECK(**read("opq/new") == "new");
    CHECK(**read("bin/tool") == "tool"); // a relative symlink, resolved in the stack
    CHECK(**read("abs/layer2") == "2");  // an absolute one resolves inside the image
    CHECK(**read("dir-then-file") == "now a file");
    CHECK(!*read("dir-then-file/x"));
    CHECK(!*read("nope"));
    CHECK(read("../etc/passwd").error().message().find("path contains '..'") != std::string::npos);
    CHECK(read("etc").error().message().find("is a directory") != std::string::npos);
}

TEST_CASE("oci images: flat_tree applies whiteouts and opaque dirs once")
{
    TestStore t;
    auto base = import(*t.store, base_layer()).release_value();
    auto upper = import(*t.store, gzip(upper_layer()), true).release_value();
    auto img = t.commit("127.0.0.1:5000/multi", "latest", { base, upper }).release_value();
    auto flat = t.store->flat_tree(img.id);
    REQUIRE_MESSAGE(flat, (flat ? "" : flat.error().message()));
    CHECK(*flat == t.store->tree_path(img.id) + "/rootfs");
    auto f = [&](const std::string& p) { return *flat + "/" + p; };
    CHECK(*read_file(f("etc/passwd")) == "root:x:0:0::/root:/bin/sh\n");
    CHECK(*read_file(f("etc/layer2")) == "2");
    CHECK(!path_exists(f("etc/deleteme")));
    CHECK(!path_exists(f("etc/.wh.deleteme")));
    CHECK(!path_exists(f("opq/old")));
    CHECK(!path_exists(f("opq/sub")));
    CHECK(!path_exists(f("opq/.wh..wh..opq")));
    CHECK(*read_file(f("opq/new")) == "new");
    CHECK(*read_file(f("dir-then-file")) == "now a file");
    CHECK(*read_file(f("bin/tool")) == "tool");
    struct stat st1, st2;
    REQUIRE(::stat(f("etc/layer2").c_str(), &st1) == 0);
    REQUIRE(t.store->flat_tree(img.id));
    REQUIRE(::stat(f("etc/layer2").c_str(), &st2) == 0);
    CHECK(st1.st_ino == st2.st_ino); // cached, not rendered again
    CHECK(count_entries(t.path("tmp")) == 0);
    // The flat tree goes with the image.
    REQUIRE(t.store->remove(img.id, nullptr));
    CHECK(!path_exists(t.store->tree_path(img.id)));
    t.check_clean();
}

TEST_CASE("oci images: a directory whited out and made again in one layer hides the lower one, stacked or flat")
{
    TestStore t;
    auto base = import(*t.store, TarBuilder().file("d/old", "old").finish()).release_value();
    // The whiteout after the directory's entries, then before them.
    auto after = import(*t.store, TarBuilder().file("d/new", "new").file(".wh.d", "").finish()).release_value();
    auto before = import(*t.store, TarBuilder().file(".wh.d", "").file("d/new", "new").finish()).release_value();
    for (auto& upper : { after, before }) {
        CAPTURE(upper.digest);
        auto img = t.commit("127.0.0.1:5000/d", upper.digest.substr(7, 8), { base, upper }).release_value();
        CHECK(xattr(layer_file(t, upper, "d"), "trusted.overlay.opaque") == "y");
        CHECK(!*t.store->read_image_file(img.id, "d/old"));
        CHECK(**t.store->read_image_file(img.id, "d/new") == "new");
        auto flat = t.store->flat_tree(img.id).release_value();
        CHECK(!path_exists(flat + "/d/old"));
        CHECK(*read_file(flat + "/d/new") == "new");
    }
}

TEST_CASE("oci images: flattening allows hardlinks to lower layers' files, overlay trees do not")
{
    TestStore t;
    auto base = import(*t.store, base_layer()).release_value();
    auto cross = import(*t.store, TarBuilder().hardlink("etc/h", "etc/passwd").finish());
    REQUIRE(!cross);
    CHECK(cross.error().message().find("hardlink target 'etc/passwd' is not in this layer") != std::string::npos);
    auto inside = import(*t.store, TarBuilder().file("x", "x").hardlink("y", "x").finish()).release_value();
    struct stat a, b;
    REQUIRE(::stat(layer_file(t, inside, "x").c_str(), &a) == 0);
    REQUIRE(::stat(layer_file(t, inside, "y").c_str(), &b) == 0);
    CHECK(a.st_ino == b.st_ino);
}

TEST_CASE("oci images: extract and export")
{
    TestStore t;
    auto base = import(*t.store, base_layer()).release_value();
    auto upper = import(*t.store, gzip(upper_layer()), true).release_value();
    auto img = t.commit("127.0.0.1:5000/multi", "v1", { base, upper }).release_value();
    auto out = TempDir::create("/tmp", "capsule-oci-out-").release_value();

    REQUIRE(t.store->extract_image(img.id, out.path() + "/tree", CopyWhat::Tree));
    CHECK(*read_file(out.path() + "/tree/manifest") == t.store->oci_image(img.id)->manifest);
    CHECK(*read_file(out.path() + "/tree/rootfs/etc/layer2") == "2");
    CHECK(!path_exists(out.path() + "/tree/rootfs/etc/deleteme"));
    REQUIRE(t.store->render_image(img.id, out.path() + "/rootfs", CopyWhat::RootfsOnly));
    CHECK(*read_file(out.path() + "/rootfs/opq/new") == "new");
    CHECK(!path_exists(out.path() + "/rootfs/opq/old"));

    REQUIRE(t.store->export_image(img.id, out.path() + "/image.tar"));
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    REQUIRE(archive_read_open_filename(a.get(), (out.path() + "/image.tar").c_str(), 1 << 16) == ARCHIVE_OK);
    std::set<std::string> names;
    std::string index;
    archive_entry* e;
    while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
        names.insert(archive_entry_pathname(e));
        if (std::string_view(archive_entry_pathname(e)) == "index.json") {
            index.resize(static_cast<size_t>(archive_entry_size(e)));
            archive_read_data(a.get(), index.data(), index.size());
        }
    }
    CHECK(names.contains("oci-layout"));
    CHECK(names.contains("blobs/sha256/" + oci::digest_hex(base.digest)));
    CHECK(names.contains("blobs/sha256/" + oci::digest_hex(upper.digest)));
    CHECK(names.contains("blobs/sha256/" + img.id.substr(7)));
    auto j = nlohmann::json::parse(index);
    CHECK(j["manifests"][0]["digest"] == oci::digest_from_image_id(img.id));
    CHECK(j["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1");
}

TEST_CASE("oci images: gc drops layers no image uses and orphan layer trees and blobs")
{
    TestStore t;
    auto kept = import(*t.store, TarBuilder().file("k", "k").finish()).release_value();
    auto img = t.commit("127.0.0.1:5000/k", "1", { kept }).release_value();
    auto unused = import(*t.store, TarBuilder().file("u", "u").finish()).release_value();
    REQUIRE(mkdir_p(t.path("layers/sha256-" + std::string(64, 'f'))));
    REQUIRE(write_file(t.path("blobs/sha256/" + std::string(64, 'e')), "orphan"));
    REQUIRE(mkdir_p(t.path("tmp/layer-leftover/tree")));
    GcOptions opts;
    opts.grace_period = std::chrono::hours(1);
    auto report = t.store->gc(opts);
    REQUIRE_MESSAGE(report, (report ? "" : report.error().message()));
    CHECK(report->removed.empty());
    CHECK(report->removed_layers == 1);
    CHECK(report->orphaned_trees == 1);
    CHECK(report->orphaned_blobs == 1);
    CHECK(report->tmp_entries == 1);
    CHECK(!path_exists(t.store->layer_path(unused.digest)));
    CHECK(is_directory(t.store->layer_path(kept.digest)));
    CHECK(t.store->oci_image(img.id));
    CHECK(t.store->read_image_file(img.id, "k").release_value() == "k");
    CHECK(count_entries(t.path("blobs/sha256")) == 3); // manifest, config, layer
    opts.grace_period = std::chrono::seconds(-10);
    report = t.store->gc(opts);
    REQUIRE(report);
    CHECK(report->removed.size() == 1);
    t.check_clean();
}

TEST_CASE("oci images: an archive's origin answers a re-fetch while its layers are stored")
{
    TestStore t;
    auto l = import(*t.store, TarBuilder().file("a", "a").finish()).release_value();
    auto archive_path = t.dir.path() + "/image.tar";
    REQUIRE(write_file(archive_path, "archive bytes"));
    struct stat st;
    REQUIRE(::stat(archive_path.c_str(), &st) == 0);
    auto m = nlohmann::json { { "schemaVersion", 2 }, { "mediaType", oci::media_oci_manifest },
        { "config", { { "mediaType", oci::media_oci_config }, { "digest", digest_of("{}") }, { "size", 2 } } },
        { "layers", { { { "mediaType", l.media_type }, { "digest", l.digest }, { "size", l.size } } } } };
    OciImageRecord rec;
    rec.name = "image";
    rec.tag = "latest";
    rec.manifest = m.dump();
    rec.config = "{}";
    rec.layers = { l };
    rec.origin = "oci-archive:" + archive_path;
    rec.origin_path = archive_path;
    rec.origin_stat = &st;
    auto img = t.store->commit_oci_image(rec).release_value();
    auto found = t.store->find_by_origin(archive_path, st).release_value();
    REQUIRE(found);
    CHECK(found->id == img.id);
    REQUIRE(remove_tree(t.store->layer_path(l.digest)));
    CHECK(!t.store->find_by_origin(archive_path, st).release_value());
}

TEST_CASE("oci images: a lower layer's file becomes an upper layer's directory")
{
    TestStore t;
    auto base = import(*t.store, TarBuilder().file("f", "file").finish()).release_value();
    auto upper = import(*t.store, TarBuilder().file("f/x", "x").finish()).release_value();
    auto img = t.commit("127.0.0.1:5000/f", "1", { base, upper }).release_value();
    CHECK(**t.store->read_image_file(img.id, "f/x") == "x");
    auto flat = t.store->flat_tree(img.id).release_value();
    CHECK(*read_file(flat + "/f/x") == "x");
    // Within one layer a file stays a file.
    auto same = import(*t.store, TarBuilder().file("g", "file").file("g/x", "x").finish());
    REQUIRE(!same);
    CHECK(same.error().message().find("entry 'g/x'") != std::string::npos);
}
