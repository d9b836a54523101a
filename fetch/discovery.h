// SPDX-License-Identifier: Apache-2.0
#pragma once

// appc meta discovery: for an image name such as example.com/app, GET
// https://example.com/app?ac-discovery=1 and read its
//   <meta name="ac-discovery" content="PREFIX TEMPLATE">
//   <meta name="ac-discovery-pubkeys" content="PREFIX URL">
// tags; a tag applies when PREFIX covers the name (whole path components). Templates
// name the image and its signature with {name} {version} {os} {arch} {ext}. When no
// template fits, the parent names are tried in turn (example.com/app, then example.com).

#include "lib/result.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capsule::fetch {

/// One ac-discovery or ac-discovery-pubkeys meta tag.
struct MetaTag {
    std::string name;   ///< "ac-discovery" or "ac-discovery-pubkeys"
    std::string prefix; ///< the name prefix the tag applies to
    std::string value;  ///< a URL template, or a key URL
};

/// The ac-discovery and ac-discovery-pubkeys meta tags of an HTML page, in order;
/// attribute order and quoting may vary, other tags and malformed contents are ignored.
std::vector<MetaTag> parse_meta_tags(std::string_view html);

/// `tmpl` with every {label} replaced from `labels`; nullopt if a placeholder has no value.
std::optional<std::string> fill_template(std::string_view tmpl, const std::map<std::string, std::string>& labels);

/// The names discovery asks, in order: `name` and then each parent
/// ("example.com/app/sub", "example.com/app", "example.com").
std::vector<std::string> discovery_names(std::string_view name);

/// The image and signature URLs of the first template of `tags` that applies to `name`
/// and whose placeholders `labels` fill (with {name} = name, {ext} = aci / aci.asc).
struct ImageEndpoint {
    std::string aci;
    std::string asc;
};
std::optional<ImageEndpoint> match_image_endpoint(
    const std::vector<MetaTag>& tags, std::string_view name, const std::map<std::string, std::string>& labels);

struct DiscoveryOptions {
    bool allow_http { false };   ///< also try http:// (--insecure-options=http)
    bool insecure_tls { false }; ///< --insecure-options=tls
};

/// `name`'s image and signature URLs; `labels` are the version, os and arch (defaults:
/// latest, linux, amd64). Errors are "discovery of NAME: …".
Result<ImageEndpoint> discover_image(
    std::string_view name, std::map<std::string, std::string> labels, const DiscoveryOptions&);

/// A public key URL published for a prefix of the name.
struct DiscoveredKey {
    std::string prefix;
    std::string url;
};

/// The ac-discovery-pubkeys URLs that apply to `name` (from the first level that has some).
Result<std::vector<DiscoveredKey>> discover_pubkeys(std::string_view name, const DiscoveryOptions&);

/// GET a small text document (a discovery page or a key) over https; at most `max` bytes.
Result<std::string> fetch_text(const std::string& url, const DiscoveryOptions&, size_t max = 1 << 20);

} // namespace capsule::fetch
