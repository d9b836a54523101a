// SPDX-License-Identifier: Apache-2.0
#include "fetch/discovery.h"

#include <doctest/doctest.h>

using namespace capsule::fetch;

TEST_CASE("discovery meta tags: attribute order and quoting vary, other tags are ignored")
{
    auto tags = parse_meta_tags(R"(<!DOCTYPE html><html><head>
<meta charset="utf-8">
<meta name="description" content="not this">
<META content="example.com/app https://example.com/{name}-{version}-{os}-{arch}.{ext}" name="ac-discovery">
<meta name='ac-discovery-pubkeys' content='example.com https://example.com/pubkeys.gpg'/>
<meta name=ac-discovery content="example.com/other">
<metadata name="ac-discovery" content="example.com https://wrong/{name}">
<meta
  name="ac-discovery"   content=" example.com   https://mirror.example.com/{name}.{ext} " >
</head></html>)");
    REQUIRE(tags.size() == 3);
    CHECK(tags[0].name == "ac-discovery");
    CHECK(tags[0].prefix == "example.com/app");
    CHECK(tags[0].value == "https://example.com/{name}-{version}-{os}-{arch}.{ext}");
    CHECK(tags[1].name == "ac-discovery-pubkeys");
    CHECK(tags[1].prefix == "example.com");
    CHECK(tags[1].value == "https://example.com/pubkeys.gpg");
    CHECK(tags[2].prefix == "example.com");
    CHECK(tags[2].value == "https://mirror.example.com/{name}.{ext}");
    CHECK(parse_meta_tags("").empty());
    CHECK(parse_meta_tags("<meta name=\"ac-discovery\" content=\"a b\"").empty());
}

TEST_CASE("templates are filled from labels; an unfilled placeholder skips the template")
{
    std::map<std::string, std::string> l { { "name", "example.com/app" }, { "version", "v1" }, { "ext", "aci" } };
    CHECK(fill_template("https://h/{name}-{version}.{ext}", l) == "https://h/example.com/app-v1.aci");
    CHECK(fill_template("https://h/plain.aci", l) == "https://h/plain.aci");
    CHECK_FALSE(fill_template("https://h/{name}-{os}.{ext}", l));
    CHECK_FALSE(fill_template("https://h/{name", l));
}

TEST_CASE("discovery walks up the name")
{
    CHECK(discovery_names("example.com/app/sub")
        == std::vector<std::string> { "example.com/app/sub", "example.com/app", "example.com" });
    CHECK(discovery_names("example.com") == std::vector<std::string> { "example.com" });
}

TEST_CASE("the first applicable, fillable template names the image and its signature")
{
    std::vector<MetaTag> tags {
        { "ac-discovery", "example.com/apple", "https://wrong/{name}.{ext}" },
        { "ac-discovery", "example.com", "https://h/{name}-{version}-{flavor}.{ext}" },
        { "ac-discovery-pubkeys", "example.com", "https://h/key.asc" },
        { "ac-discovery", "example.com", "https://h/{name}-{version}-{os}-{arch}.{ext}" },
    };
    std::map<std::string, std::string> l { { "version", "v1" }, { "os", "linux" }, { "arch", "amd64" } };
    auto ep = match_image_endpoint(tags, "example.com/app", l);
    REQUIRE(ep);
    CHECK(ep->aci == "https://h/example.com/app-v1-linux-amd64.aci");
    CHECK(ep->asc == "https://h/example.com/app-v1-linux-amd64.aci.asc");
    CHECK_FALSE(match_image_endpoint(tags, "other.org/app", l));
}
