// SPDX-License-Identifier: Apache-2.0
// A fly pod's log files: written by the stage1 (stage1/common/log_files.h), read by `capsule
// logs` (cmd/capsule/pod_logfiles.h), and how `logs` prints a line (cmd/capsule/log_format.h).
#include "cmd/capsule/log_format.h"
#include "cmd/capsule/pod_logfiles.h"
#include "lib/fs.h"
#include "lib/units.h"
#include "stage1/common/log_files.h"

#include <sys/stat.h>

#include <doctest/doctest.h>

using namespace capsule;
using capsule::cmd::LogFormat;
using capsule::cmd::LogRecord;
using capsule::stage1::AppLog;
using capsule::stage1::LogStream;

namespace {

constexpr uint64_t t0 = 1'795'867'200'123'456; // 2026-11-28T12:00:00.123456Z

std::vector<std::string> messages(const std::vector<LogRecord>& records)
{
    std::vector<std::string> out;
    for (auto& r : records)
        out.push_back(r.message);
    return out;
}

std::vector<LogRecord> read_app(const std::string& dir, const std::string& app)
{
    auto files = cmd::PodLogFiles::open(dir, { app });
    REQUIRE(files);
    auto all = files->read_all();
    REQUIRE(all);
    return all->at(0);
}

uint64_t file_size(const std::string& path)
{
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

} // namespace

TEST_CASE("log lines: the writer's format, parsed back")
{
    CHECK(format_rfc3339_usec(t0) == "2026-11-28T12:00:00.123456Z");
    CHECK(format_rfc3339_usec(7) == "1970-01-01T00:00:00.000007Z");
    CHECK(stage1::format_log_line(t0, LogStream::Stderr, "oops") == "2026-11-28T12:00:00.123456Z stderr oops\n");
    CHECK(cmd::parse_log_time("2026-11-28T12:00:00.123456Z") == t0);
    CHECK(cmd::parse_log_time("2024-02-29T23:59:59.999999Z") == 1'709'251'199'999'999);
    for (auto bad : { "", "2026-11-28T12:00:00Z", "2026-11-28T12:00:00.123456+00:00", "2026-13-28T12:00:00.123456Z",
             "2026-11-28T24:00:00.123456Z", "2026-11-28 12:00:00.123456Z", "2026-11-28T12:00:00.12345xZ" })
        CHECK_MESSAGE(!cmd::parse_log_time(bad), bad);

    auto r = cmd::parse_log_line("2026-11-28T12:00:00.123456Z stdout  two  spaces ", "web");
    REQUIRE(r);
    CHECK(r->realtime_usec == t0);
    CHECK(r->app == "web");
    CHECK(r->stream == "stdout");
    CHECK(r->message == " two  spaces ");
    auto empty = cmd::parse_log_line("2026-11-28T12:00:00.123456Z stderr ", "web");
    REQUIRE(empty);
    CHECK(empty->message.empty());
    CHECK(!cmd::parse_log_line("2026-11-28T12:00:00.123456Z stdin x", "web"));
    CHECK(!cmd::parse_log_line("garbage", "web"));
    CHECK(!cmd::parse_log_line("", "web"));
}

TEST_CASE("log lines: the cap from the pod annotation capsule/log-max-size")
{
    appc::PodManifest m;
    CHECK(*stage1::log_max_size(m) == stage1::default_log_max_size);
    m.annotations.push_back({ "capsule/log-max-size", "4096" });
    CHECK(*stage1::log_max_size(m) == 4096);
    for (auto bad : { "0", "-1", "1k", "", " 5" }) {
        m.annotations.back().value = bad;
        auto r = stage1::log_max_size(m);
        REQUIRE_FALSE(r);
        CHECK(r.error().message()
            == "pod annotation capsule/log-max-size: '" + std::string(bad) + "' is not a positive number of bytes");
    }
}

TEST_CASE("app log: lines across chunks, both streams, a last line without newline, long lines split")
{
    auto t = TempDir::create("/tmp", "capsule-logfiles.");
    REQUIRE(t);
    auto dir = t->path() + "/logs";
    {
        auto log = AppLog::open(dir, "app", stage1::default_log_max_size);
        REQUIRE(log);
        log->add(LogStream::Stdout, "one\ntw", t0);
        log->add(LogStream::Stderr, "err1\n\nerr", t0 + 1);
        log->add(LogStream::Stdout, "o\nthree", t0 + 2);
        log->finish(LogStream::Stdout, t0 + 3);
        log->finish(LogStream::Stderr, t0 + 3);
        log->add(LogStream::Stdout, std::string(stage1::log_max_line * 2 + 5, 'x') + "\n", t0 + 4);
        // Exactly the limit, then its newline in the next chunk: one line, not an empty one after it.
        log->add(LogStream::Stderr, std::string(stage1::log_max_line, 'y'), t0 + 5);
        log->add(LogStream::Stderr, "\n", t0 + 5);
    }
    auto records = read_app(dir, "app");
    REQUIRE(records.size() == 10);
    CHECK(messages(records)
        == std::vector<std::string> { "one", "err1", "", "two", "three", "err", std::string(stage1::log_max_line, 'x'),
            std::string(stage1::log_max_line, 'x'), "xxxxx", std::string(stage1::log_max_line, 'y') });
    CHECK(records[1].stream == "stderr");
    CHECK(records[3].stream == "stdout");
    CHECK(records[3].realtime_usec == t0 + 2);
    CHECK(*read_file(dir + "/app.log")
        == "2026-11-28T12:00:00.123456Z stdout one\n2026-11-28T12:00:00.123457Z stderr err1\n"
           "2026-11-28T12:00:00.123457Z stderr \n2026-11-28T12:00:00.123458Z stdout two\n"
           "2026-11-28T12:00:00.123459Z stdout three\n2026-11-28T12:00:00.123459Z stderr err\n"
            + stage1::format_log_line(t0 + 4, LogStream::Stdout, std::string(stage1::log_max_line, 'x'))
            + stage1::format_log_line(t0 + 4, LogStream::Stdout, std::string(stage1::log_max_line, 'x'))
            + stage1::format_log_line(t0 + 4, LogStream::Stdout, "xxxxx")
            + stage1::format_log_line(t0 + 5, LogStream::Stderr, std::string(stage1::log_max_line, 'y')));
}

TEST_CASE("app log: rotation keeps three files under the cap; reading and following span them")
{
    auto t = TempDir::create("/tmp", "capsule-logfiles.");
    REQUIRE(t);
    auto dir = t->path() + "/logs";
    constexpr uint64_t cap = 400; // 10 lines of 40 bytes: "<27> stdout NNNN\n"
    auto log = AppLog::open(dir, "app", cap);
    REQUIRE(log);
    int n = 0;
    auto write_lines = [&](int count) {
        std::string chunk;
        for (int i = 0; i < count; i++, n++) {
            char line[16];
            std::snprintf(line, sizeof line, "%04d\n", n);
            chunk += line;
        }
        log->add(LogStream::Stdout, chunk, t0 + static_cast<uint64_t>(n));
    };
    write_lines(25); // app.log.2 (0-9), app.log.1 (10-19), app.log (20-24)
    auto files = cmd::PodLogFiles::open(dir, { "app" });
    REQUIRE(files);
    auto all = files->read_all();
    REQUIRE(all);
    REQUIRE(all->at(0).size() == 25);
    CHECK(all->at(0).front().message == "0000");
    CHECK(all->at(0).back().message == "0024");
    CHECK(!path_exists(dir + "/app.log.3"));

    // Two rotations between two reads: the lines in between come from app.log.1, app.log.
    write_lines(20);
    auto fresh = files->read_new();
    REQUIRE(fresh);
    REQUIRE(fresh->size() == 20);
    CHECK(fresh->front().message == "0025");
    CHECK(fresh->back().message == "0044");
    REQUIRE(files->read_new());
    CHECK(files->read_new()->empty());

    write_lines(100);
    for (auto name : { "app.log", "app.log.1", "app.log.2", "app.log.3" })
        CHECK_MESSAGE(file_size(dir + "/" + name) <= cap, name);
    CHECK(!path_exists(dir + "/app.log.4"));
    auto kept = read_app(dir, "app");
    REQUIRE(kept.size() == 35); // 3 full rotated files and the current one's 5 lines
    CHECK(kept.front().message == "0110");
    CHECK(kept.back().message == "0144");
    // Its file was rotated out while it was not looking: the rest of it (still open), then
    // the files there are now; the ones rotated out in between are gone.
    fresh = files->read_new();
    REQUIRE(fresh);
    REQUIRE(fresh->size() == 40);
    CHECK(fresh->at(0).message == "0045");
    CHECK(fresh->at(4).message == "0049");
    CHECK(fresh->at(5).message == "0110");
    CHECK(fresh->back().message == "0144");
}

TEST_CASE("log records: several apps merged by time, --since, --tail")
{
    auto rec = [](uint64_t t, std::string app, std::string msg) {
        return LogRecord { t, std::move(app), std::move(msg), std::nullopt, "stdout" };
    };
    std::vector<std::vector<LogRecord>> per_app = {
        { rec(10, "a", "a1"), rec(30, "a", "a2"), rec(5, "a", "a3-clock-stepped-back") },
        { rec(20, "b", "b1"), rec(30, "b", "b2") },
    };
    CHECK(messages(cmd::select_records(per_app, std::nullopt, std::nullopt))
        == std::vector<std::string> { "a1", "b1", "a2", "a3-clock-stepped-back", "b2" });
    CHECK(messages(cmd::select_records(per_app, 20, std::nullopt)) == std::vector<std::string> { "b1", "a2", "b2" });
    CHECK(messages(cmd::select_records(per_app, std::nullopt, 2))
        == std::vector<std::string> { "a3-clock-stepped-back", "b2" });
    CHECK(cmd::select_records(per_app, 20, 0).empty());
    CHECK(messages(cmd::select_records(per_app, 25, 10)) == std::vector<std::string> { "a2", "b2" });
}

TEST_CASE("logs output: cat, json with stream and priority")
{
    LogRecord r { t0, "web", "hello \"there\"", std::nullopt, "stderr" };
    CHECK(cmd::format_log_record(r, LogFormat::Cat) == "hello \"there\"\n");
    CHECK(cmd::format_log_record(r, LogFormat::Json)
        == R"({"time":"2026-11-28T12:00:00.123456Z","app":"web","message":"hello \"there\"","priority":null,"stream":"stderr"})"
           "\n");
    LogRecord j { t0, "web", "x\xff", 6, std::nullopt };
    CHECK(cmd::format_log_record(j, LogFormat::Json)
        == "{\"time\":\"2026-11-28T12:00:00.123456Z\",\"app\":\"web\",\"message\":\"x\xef\xbf\xbd\",\"priority\":6}\n");
    auto s = cmd::format_log_record(r, LogFormat::Short);
    CHECK(s.ends_with(" web: hello \"there\"\n"));
    CHECK(s == cmd::format_short_time(t0) + " web: hello \"there\"\n");
}
