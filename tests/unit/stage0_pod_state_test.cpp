// SPDX-License-Identifier: Apache-2.0
#include "lib/fs.h"
#include "stage0/gc.h"
#include "stage0/pod_info.h"
#include "stage0/pod_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

using namespace capsule;
using namespace capsule::stage0;

namespace {

struct TestDir {
    TempDir tmp = TempDir::create("/tmp", "capsule-stage0-test.").release_value();
    std::string dir = tmp.path();
};

} // namespace

TEST_CASE("UUID prefixes: unique, ambiguous, unknown, invalid")
{
    std::vector<std::string> uuids = { "0a1b2c3d-0000-4000-8000-000000000001", "0a1b9999-0000-4000-8000-000000000002",
        "ffee0000-0000-4000-8000-000000000003" };
    CHECK(*match_uuid_prefix(uuids, "ff") == uuids[2]);
    CHECK(*match_uuid_prefix(uuids, "0A1B2") == uuids[0]);
    CHECK(*match_uuid_prefix(uuids, "0a1b2c3d0000") == uuids[0]); // dashes optional
    CHECK(*match_uuid_prefix(uuids, uuids[1]) == uuids[1]);
    auto amb = match_uuid_prefix(uuids, "0a1b");
    REQUIRE(!amb);
    CHECK(amb.error().message()
        == "pod UUID prefix '0a1b' is ambiguous: matches 0a1b2c3d-0000-4000-8000-000000000001, "
           "0a1b9999-0000-4000-8000-000000000002");
    auto none = match_uuid_prefix(uuids, "abc");
    REQUIRE(!none);
    CHECK(none.error().message() == "no pod with UUID 'abc'");
    CHECK(none.error().code() == ENOENT);
    CHECK(match_uuid_prefix(uuids, "xyz").error().message() == "invalid pod UUID 'xyz'");
    CHECK(!match_uuid_prefix(uuids, ""));
}

TEST_CASE("pod state machine: embryo -> prepare -> prepared -> run, by rename under lock")
{
    TestDir t;
    auto pod = LockedPod::create_embryo(t.dir);
    REQUIRE(pod);
    auto uuid = pod->uuid();
    CHECK(pod->path() == pod_path(t.dir, PodDir::Embryo, uuid));
    CHECK(probe_state(pod->ref()) == PodState::Embryo);
    REQUIRE(pod->move_to(PodDir::Prepare));
    CHECK(path_exists(pod_path(t.dir, PodDir::Prepare, uuid)));
    CHECK(!path_exists(pod_path(t.dir, PodDir::Embryo, uuid)));
    CHECK(probe_state(pod->ref()) == PodState::Preparing); // we hold the lock

    // Someone else cannot lock it while we hold it.
    auto other = LockedPod::lock(t.dir, pod->ref());
    REQUIRE(!other);
    CHECK(other.error().code() == EWOULDBLOCK);

    REQUIRE(pod->move_to(PodDir::Prepared));
    REQUIRE(pod->move_to(PodDir::Run));
    CHECK(probe_state(pod->ref()) == PodState::Running);
    auto found = find_pod(t.dir, uuid.substr(0, 6));
    REQUIRE(found);
    CHECK(found->where == PodDir::Run);
    auto ref = pod->ref();
    *pod = LockedPod {}; // release the lock: the pod has exited
    CHECK(probe_state(ref) == PodState::Exited);
}

TEST_CASE("an unlocked prepare dir is an aborted prepare; gc removes it and dead embryos")
{
    TestDir t;
    auto a = LockedPod::create_embryo(t.dir).release_value();
    REQUIRE(a.move_to(PodDir::Prepare));
    auto aborted = a.ref();
    auto b = LockedPod::create_embryo(t.dir).release_value();
    auto embryo = b.ref();
    auto live = LockedPod::create_embryo(t.dir).release_value();
    REQUIRE(live.move_to(PodDir::Prepare));
    a = LockedPod {};
    b = LockedPod {};
    CHECK(probe_state(aborted) == PodState::AbortedPrepare);
    auto report = gc_pods(t.dir, GcOptions {});
    REQUIRE(report);
    CHECK(!path_exists(aborted.path));
    CHECK(!path_exists(pod_path(t.dir, PodDir::Garbage, aborted.uuid)));
    CHECK(!path_exists(embryo.path));
    CHECK(path_exists(live.path())); // locked: being prepared, untouched
    CHECK(report->removed.size() == 2);
}

TEST_CASE("gc marks exited pods, sweeps them after the grace period, never touches running ones")
{
    TestDir t;
    auto running = LockedPod::create_embryo(t.dir).release_value();
    REQUIRE(running.move_to(PodDir::Run));
    auto exited = LockedPod::create_embryo(t.dir).release_value();
    REQUIRE(exited.move_to(PodDir::Run));
    auto uuid = exited.uuid();
    exited = LockedPod {};

    GcOptions opts;
    opts.mark_only = true;
    auto r1 = gc_pods(t.dir, opts);
    REQUIRE(r1);
    CHECK(r1->marked == std::vector<std::string> { uuid });
    CHECK(path_exists(pod_path(t.dir, PodDir::ExitedGarbage, uuid)));
    CHECK(probe_state(PodRef { uuid, PodDir::ExitedGarbage, pod_path(t.dir, PodDir::ExitedGarbage, uuid) })
        == PodState::ExitedGarbage);

    opts.mark_only = false; // default grace period: 30 minutes
    REQUIRE(gc_pods(t.dir, opts));
    CHECK(path_exists(pod_path(t.dir, PodDir::ExitedGarbage, uuid)));

    opts.grace_period = std::chrono::milliseconds(0);
    auto r2 = gc_pods(t.dir, opts);
    REQUIRE(r2);
    CHECK(r2->removed == std::vector<std::string> { uuid });
    CHECK(!path_exists(pod_path(t.dir, PodDir::ExitedGarbage, uuid)));
    CHECK(path_exists(running.path()));
}

TEST_CASE("rm refuses a running pod and removes an exited one")
{
    TestDir t;
    auto pod = LockedPod::create_embryo(t.dir).release_value();
    REQUIRE(pod.move_to(PodDir::Run));
    auto uuid = pod.uuid();
    auto refused = remove_pod(t.dir, uuid.substr(0, 8));
    REQUIRE(!refused);
    CHECK(refused.error().message() == "pod " + uuid + " is running; stop it first (capsule stop " + uuid + ")");
    pod = LockedPod {};
    auto removed = remove_pod(t.dir, uuid.substr(0, 8));
    REQUIRE(removed);
    CHECK(*removed == uuid);
    CHECK(!find_pod(t.dir, uuid));
}

TEST_CASE("images_in_use reads pod manifests and stage1 IDs, skipping garbage")
{
    TestDir t;
    auto pod = LockedPod::create_embryo(t.dir).release_value();
    REQUIRE(pod.move_to(PodDir::Prepared));
    REQUIRE(mkdir_p(pod.path() + "/stage1"));
    REQUIRE(write_file(pod.path() + "/stage1/id", "sha512-stage1"));
    REQUIRE(write_file(pod.path() + "/pod",
        R"({"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a","image":{"id":"sha512-app"}}]})"));
    auto ids = images_in_use(t.dir);
    REQUIRE(ids);
    CHECK(*ids == std::set<std::string> { "sha512-app", "sha512-stage1" });
    REQUIRE(pod.move_to(PodDir::Garbage));
    CHECK(images_in_use(t.dir)->empty());
}

TEST_CASE("pod info: timestamps from files, exit status per app")
{
    TestDir t;
    auto pod = LockedPod::create_embryo(t.dir).release_value();
    REQUIRE(pod.move_to(PodDir::Run));
    REQUIRE(write_file(pod.path() + "/pod",
        R"({"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"web","image":{"id":"sha512-x","name":"example.com/web"}}]})"));
    REQUIRE(write_file(pod.path() + "/pid", "4242\n"));
    REQUIRE(mkdir_p(pod.path() + "/status"));
    REQUIRE(write_file(pod.path() + "/status/web", "3\n"));
    auto ref = pod.ref();
    pod = LockedPod {};
    auto info = read_pod_info(ref);
    CHECK(info.state == PodState::Exited);
    CHECK(info.exited());
    CHECK(*info.pid == 4242);
    CHECK(info.started.has_value());
    CHECK(info.created > 0);
    REQUIRE(info.apps.size() == 1);
    CHECK(info.apps[0].name == "web");
    CHECK(info.apps[0].image_name == "example.com/web");
    CHECK(*info.apps[0].exit_code == 3);
}
