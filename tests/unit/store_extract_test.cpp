// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"
#include "store/extract.h"
#include "store_test_util.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

using namespace capsule;
using namespace capsule::store;
using capsule::test::TarBuilder;

namespace {

struct Target {
    TempDir dir;
    Target() { dir = TempDir::create("/tmp", "capsule-extract-test-").release_value(); }
    std::string path(const std::string& p) const { return dir.path() + "/" + p; }
};

Result<AciContents> extract(const std::string& tar, const Target& t, bool rootfs_only = false)
{
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    archive_read_open_memory(a.get(), tar.data(), tar.size());
    auto fd = open_fd(t.dir.path(), O_RDONLY | O_DIRECTORY).release_value();
    ExtractOptions opts;
    opts.rootfs_only = rootfs_only;
    return extract_aci(a.get(), fd.get(), opts);
}

} // namespace

TEST_CASE("entry paths are split, '.' dropped, '..' and absolute refused")
{
    CHECK(*split_entry_path("./rootfs//bin/./sh") == std::vector<std::string> { "rootfs", "bin", "sh" });
    CHECK(split_entry_path("rootfs/../x").error().message() == "path contains '..'");
    CHECK(split_entry_path("/etc/passwd").error().message() == "absolute path");
    CHECK(split_entry_path("").error().message() == "empty path");
    CHECK(split_entry_path("./").value().empty());
}

TEST_CASE("a normal image: files, dirs, symlinks, hardlinks, modes, mtimes")
{
    Target t;
    auto tar = TarBuilder()
                   .file("manifest", test::minimal_manifest)
                   .dir("rootfs")
                   .dir("rootfs/bin", 0555)
                   .file("rootfs/bin/tool", "#!/bin/sh\n", 04755)
                   .symlink("rootfs/bin/link", "tool")
                   .hardlink("rootfs/bin/hard", "rootfs/bin/tool")
                   .file("rootfs/deep/missing/parents", "x")
                   .finish();
    auto r = extract(tar, t);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    CHECK(r->has_manifest);
    CHECK(r->has_rootfs);
    CHECK(*read_file(t.path("manifest")) == test::minimal_manifest);
    struct stat st, st2;
    REQUIRE(::stat(t.path("rootfs/bin/tool").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 04755);
    CHECK(st.st_mtime == 1000000000);
    REQUIRE(::stat(t.path("rootfs/bin/hard").c_str(), &st2) == 0);
    CHECK(st.st_ino == st2.st_ino);
    REQUIRE(::lstat(t.path("rootfs/bin/link").c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    REQUIRE(::stat(t.path("rootfs/bin").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0555); // applied after its children were written
    CHECK(*read_file(t.path("rootfs/deep/missing/parents")) == "x");
}

TEST_CASE("escapes are refused")
{
    struct Case {
        const char* what;
        std::string tar;
        const char* expect;
    };
    std::vector<Case> cases = {
        { "dotdot", TarBuilder().file("rootfs/../../evil", "x").finish(), "path contains '..'" },
        { "absolute", TarBuilder().file("/tmp/evil", "x").finish(), "absolute path" },
        { "absolute symlink parent", TarBuilder().symlink("rootfs/etc", "/etc").file("rootfs/etc/evil", "x").finish(),
            "leaves the rootfs through a symlink" },
        { "relative symlink parent", TarBuilder().symlink("rootfs/up", "../../..").file("rootfs/up/evil", "x").finish(),
            "leaves the rootfs through a symlink" },
        { "hardlink outside", TarBuilder().hardlink("rootfs/h", "/etc/passwd").finish(), "absolute path" },
        { "hardlink to manifest",
            TarBuilder().file("manifest", test::minimal_manifest).hardlink("rootfs/h", "manifest").finish(),
            "outside rootfs/" },
        { "rootfs not a dir", TarBuilder().symlink("rootfs", "/").finish(), "rootfs is not a directory" },
        { "manifest symlink", TarBuilder().symlink("manifest", "/etc/passwd").finish(),
            "manifest is not a regular file" },
    };
    for (auto& c : cases) {
        CAPTURE(c.what);
        Target t;
        auto r = extract(c.tar, t);
        REQUIRE(!r);
        CHECK(r.error().message().find(c.expect) != std::string::npos);
    }
}

TEST_CASE("a symlink in place of a file is replaced, never followed")
{
    Target t;
    auto outside = t.path("outside");
    REQUIRE(write_file(outside, "untouched"));
    auto tar = TarBuilder().symlink("rootfs/x", outside.c_str()).file("rootfs/x", "inside").finish();
    auto r = extract(tar, t);
    REQUIRE(r);
    CHECK(*read_file(outside) == "untouched");
    CHECK(*read_file(t.path("rootfs/x")) == "inside");
}

TEST_CASE("in-rootfs relative symlinks to directories work")
{
    Target t;
    auto tar = TarBuilder().dir("rootfs/usr/lib").symlink("rootfs/lib", "usr/lib").file("rootfs/lib/x", "1").finish();
    REQUIRE(extract(tar, t));
    CHECK(*read_file(t.path("rootfs/usr/lib/x")) == "1");
}

TEST_CASE("rootfs-only extraction writes the rootfs contents into the target")
{
    Target t;
    auto tar = TarBuilder().file("manifest", test::minimal_manifest).file("rootfs/a", "1").finish();
    REQUIRE(extract(tar, t, true));
    CHECK(*read_file(t.path("a")) == "1");
    CHECK(!path_exists(t.path("manifest")));
}

TEST_CASE("an entry replaced in a subdirectory is written there")
{
    Target t;
    auto tar = TarBuilder().file("rootfs/d/x", "1").symlink("rootfs/d/x", "/etc").file("rootfs/d/x", "2").finish();
    auto r = extract(tar, t);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    CHECK(*read_file(t.path("rootfs/d/x")) == "2");
}
