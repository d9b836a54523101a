// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"

#include "lib/insecure.h"
#include "lib/units.h"
#include "lib/uuid.h"
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

using namespace capsule;

namespace {

Status fails_with_context()
{
    TRY_CTX(open_fd("/nonexistent/x", 0), "load thing");
    return {};
}

Result<int> doubles(Result<int> in)
{
    int v = TRY(std::move(in));
    return v * 2;
}

} // namespace

TEST_CASE("Result and TRY carry values and wrapped errors")
{
    CHECK(*doubles(21) == 42);
    auto e = doubles(Error::msg("boom"));
    REQUIRE(!e);
    CHECK(e.error().message() == "boom");
    auto s = fails_with_context();
    REQUIRE(!s);
    CHECK(s.error().message() == "load thing: open '/nonexistent/x': No such file or directory");
    CHECK(s.error().code() == ENOENT);
}

TEST_CASE("quantities follow Kubernetes/appc suffixes")
{
    CHECK(*parse_quantity("64M") == 64'000'000ULL);
    CHECK(*parse_quantity("64Mi") == 64ULL * 1024 * 1024);
    CHECK(*parse_quantity("1.5Gi") == 1610612736ULL);
    CHECK(*parse_quantity("100") == 100ULL);
    CHECK(!parse_quantity("12Q"));
    CHECK(!parse_quantity("M"));
    CHECK(!parse_quantity(""));
    CHECK(*parse_millicores("500m") == 500);
    CHECK(*parse_millicores("2") == 2000);
    CHECK(*parse_millicores("0.5") == 500);
    CHECK(!parse_millicores("2x"));
}

TEST_CASE("durations")
{
    using namespace std::chrono_literals;
    CHECK(*parse_duration("0") == 0ms);
    CHECK(*parse_duration("0s") == 0ms);
    CHECK(*parse_duration("30m") == 30min);
    CHECK(*parse_duration("1h30m") == 90min);
    CHECK(*parse_duration("500ms") == 500ms);
    CHECK(!parse_duration("10"));
    CHECK(!parse_duration("abc"));
    CHECK(!parse_duration("5y"));
}

TEST_CASE("UUIDs")
{
    auto u = make_uuid();
    CHECK(is_uuid(u));
    CHECK(u[14] == '4');
    CHECK(*parse_uuid("0123456789ABCDEF0123456789abcdef") == "01234567-89ab-cdef-0123-456789abcdef");
    CHECK(!parse_uuid("xyz"));
    CHECK(!is_uuid("01234567-89ab-cdef-0123-456789abcdeg"));
}

TEST_CASE("insecure options")
{
    auto o = InsecureOptions::parse("image,tls");
    REQUIRE(o);
    CHECK(o->has(Insecure::Image));
    CHECK(o->has(Insecure::Tls));
    CHECK(!o->has(Insecure::Http));
    CHECK(InsecureOptions::parse("all-run")->has(Insecure::Seccomp));
    CHECK(!InsecureOptions::parse("image,bogus"));
}

TEST_CASE("paths")
{
    CHECK(path_join("/a/", "/b") == "/a/b");
    CHECK(path_join("a", "b") == "a/b");
    CHECK(path_dirname("/a/b") == "/a");
    CHECK(path_dirname("/a") == "/");
    CHECK(path_basename("/a/b/") == "b");
}

TEST_CASE("write_file_atomic, copy_tree, remove_tree, disk_usage")
{
    auto t = TempDir::create("/tmp", "capsule-unit.");
    REQUIRE(t);
    auto dir = t->path();
    REQUIRE(mkdir_p(dir + "/a/b/c"));
    REQUIRE(write_file_atomic(dir + "/a/b/f", "hello"));
    CHECK(*read_file(dir + "/a/b/f") == "hello");
    REQUIRE(::symlink("f", (dir + "/a/b/l").c_str()) == 0);
    REQUIRE(::link((dir + "/a/b/f").c_str(), (dir + "/a/h").c_str()) == 0);
    REQUIRE(copy_tree(dir + "/a", dir + "/copy"));
    CHECK(*read_file(dir + "/copy/b/l") == "hello");
    struct stat s1, s2;
    REQUIRE(::stat((dir + "/copy/b/f").c_str(), &s1) == 0);
    REQUIRE(::stat((dir + "/copy/h").c_str(), &s2) == 0);
    CHECK(s1.st_ino == s2.st_ino);
    CHECK(disk_usage(dir + "/a").files == 5);
    REQUIRE(remove_tree(dir + "/a"));
    CHECK(!path_exists(dir + "/a"));
    CHECK(remove_tree(dir + "/missing"));
}

TEST_CASE("parse_rfc3339: the forms --since takes, and what is not a date")
{
    CHECK(parse_rfc3339("2026-11-28T04:18:30Z") == int64_t(1'795'839'510) * 1'000'000);
    CHECK(parse_rfc3339("2026-11-28T06:18:30.5+02:00") == int64_t(1'795'839'510) * 1'000'000 + 500'000);
    CHECK(parse_rfc3339("2026-11-28 04:18:30.000001z") == int64_t(1'795'839'510) * 1'000'000 + 1);
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z"));
    for (auto bad : { "", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-28T04:18:30", "2026-11-28T24:00:00Z",
             "2026-11-28T04:18:30.Z", "2026-11-28T04:18:30+0200", "2026-13-01T00:00:00Z" })
        CHECK_MESSAGE(!parse_rfc3339(bad), bad);
    CHECK(format_rfc3339_usec(7) == "1970-01-01T00:00:00.000007Z");
}
