// SPDX-License-Identifier: Apache-2.0
#include "fetch/fetch.h"

#include <doctest/doctest.h>

using namespace capsule::fetch;

TEST_CASE("references are classified by their text")
{
    CHECK(parse_ref("./x.aci").kind == RefKind::File);
    CHECK(parse_ref("/abs/x").kind == RefKind::File);
    CHECK(parse_ref("../x").kind == RefKind::File);
    CHECK(parse_ref("images/x.aci").kind == RefKind::File);
    CHECK(parse_ref("sha512-abc").kind == RefKind::ImageId);
    CHECK(parse_ref("example.com/app:v1").kind == RefKind::Name);
    CHECK(parse_ref("example.com/app").kind == RefKind::Name);
    auto d = parse_ref("docker://busybox");
    CHECK(d.kind == RefKind::Unsupported);
    CHECK(d.scheme == "docker");
    CHECK(parse_ref("https://example.com/x.aci").scheme == "https");
    CHECK(parse_ref("oci:/tmp/layout:tag").scheme == "oci");
    CHECK(parse_ref("oci-archive:x.tar").scheme == "oci-archive");
    CHECK(parse_ref("docker-archive:x.tar").scheme == "docker-archive");
}
