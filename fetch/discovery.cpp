// SPDX-License-Identifier: Apache-2.0
#include "fetch/discovery.h"

#include "fetch/http.h"
#include "fetch/trust.h"

#include <algorithm>
#include <cctype>
#include <spdlog/spdlog.h>

namespace capsule::fetch {

namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool is_space(char c)
{
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

/// The attributes of one tag's text (after "<meta", up to '>'), names lowercased.
std::map<std::string, std::string> parse_attributes(std::string_view s)
{
    std::map<std::string, std::string> attrs;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (is_space(s[i]) || s[i] == '/'))
            ++i;
        size_t start = i;
        while (i < s.size() && !is_space(s[i]) && s[i] != '=' && s[i] != '/')
            ++i;
        if (i == start)
            break;
        auto key = lower(s.substr(start, i - start));
        while (i < s.size() && is_space(s[i]))
            ++i;
        std::string value;
        if (i < s.size() && s[i] == '=') {
            ++i;
            while (i < s.size() && is_space(s[i]))
                ++i;
            if (i < s.size() && (s[i] == '"' || s[i] == '\'')) {
                char q = s[i++];
                auto end = s.find(q, i);
                if (end == std::string_view::npos)
                    end = s.size();
                value = s.substr(i, end - i);
                i = end + 1;
            } else {
                start = i;
                while (i < s.size() && !is_space(s[i]))
                    ++i;
                value = s.substr(start, i - start);
            }
        }
        attrs.emplace(std::move(key), std::move(value));
    }
    return attrs;
}

std::string discovery_url(std::string_view scheme, std::string_view name)
{
    return std::string(scheme) + "://" + std::string(name) + "?ac-discovery=1";
}

/// The meta tags at `name`'s discovery page, https first (then http if allowed); an
/// unreachable or missing page has none.
std::vector<MetaTag> tags_at(std::string_view name, const DiscoveryOptions& opts)
{
    std::vector<std::string_view> schemes { "https" };
    if (opts.allow_http)
        schemes.push_back("http");
    for (auto scheme : schemes) {
        auto url = discovery_url(scheme, name);
        auto page = fetch_text(url, opts);
        if (!page) {
            spdlog::debug("discovery: {}: {}", url, page.error().message());
            continue;
        }
        auto tags = parse_meta_tags(*page);
        if (!tags.empty())
            return tags;
    }
    return {};
}

} // namespace

std::vector<MetaTag> parse_meta_tags(std::string_view html)
{
    std::vector<MetaTag> tags;
    auto text = lower(html);
    size_t pos = 0;
    while ((pos = text.find("<meta", pos)) != std::string::npos) {
        pos += 5;
        if (pos < text.size() && !is_space(text[pos]) && text[pos] != '/' && text[pos] != '>')
            continue; // <metadata …>
        auto end = text.find('>', pos);
        if (end == std::string::npos)
            break;
        auto attrs = parse_attributes(html.substr(pos, end - pos));
        pos = end + 1;
        auto name = attrs.find("name");
        auto content = attrs.find("content");
        if (name == attrs.end() || content == attrs.end())
            continue;
        auto kind = lower(name->second);
        if (kind != "ac-discovery" && kind != "ac-discovery-pubkeys")
            continue;
        std::string_view c = content->second;
        while (!c.empty() && is_space(c.front()))
            c.remove_prefix(1);
        while (!c.empty() && is_space(c.back()))
            c.remove_suffix(1);
        auto sp = std::find_if(c.begin(), c.end(), is_space);
        if (sp == c.end())
            continue;
        auto prefix = std::string_view(c.begin(), sp);
        auto rest = std::string_view(sp, c.end());
        while (!rest.empty() && is_space(rest.front()))
            rest.remove_prefix(1);
        if (prefix.empty() || rest.empty() || std::any_of(rest.begin(), rest.end(), is_space))
            continue;
        tags.push_back({ kind, std::string(prefix), std::string(rest) });
    }
    return tags;
}

std::optional<std::string> fill_template(std::string_view tmpl, const std::map<std::string, std::string>& labels)
{
    std::string out;
    size_t i = 0;
    while (i < tmpl.size()) {
        auto open = tmpl.find('{', i);
        if (open == std::string_view::npos) {
            out += tmpl.substr(i);
            break;
        }
        out += tmpl.substr(i, open - i);
        auto close = tmpl.find('}', open);
        if (close == std::string_view::npos)
            return std::nullopt;
        auto key = std::string(tmpl.substr(open + 1, close - open - 1));
        auto it = labels.find(key);
        if (it == labels.end() || it->second.empty())
            return std::nullopt;
        out += it->second;
        i = close + 1;
    }
    return out;
}

std::vector<std::string> discovery_names(std::string_view name)
{
    std::vector<std::string> names;
    std::string_view n = name;
    while (!n.empty() && n.back() == '/')
        n.remove_suffix(1);
    while (!n.empty()) {
        names.emplace_back(n);
        auto slash = n.rfind('/');
        if (slash == std::string_view::npos)
            break;
        n = n.substr(0, slash);
    }
    return names;
}

std::optional<ImageEndpoint> match_image_endpoint(
    const std::vector<MetaTag>& tags, std::string_view name, const std::map<std::string, std::string>& labels)
{
    auto with = labels;
    with["name"] = std::string(name);
    for (auto& t : tags) {
        if (t.name != "ac-discovery" || !prefix_covers(t.prefix, name))
            continue;
        with["ext"] = "aci";
        auto aci = fill_template(t.value, with);
        with["ext"] = "aci.asc";
        auto asc = fill_template(t.value, with);
        if (aci && asc)
            return ImageEndpoint { *aci, *asc };
    }
    return std::nullopt;
}

Result<std::string> fetch_text(const std::string& url, const DiscoveryOptions& opts, size_t max)
{
    HttpRequest req;
    req.url = url;
    req.allow_http = opts.allow_http;
    req.insecure_tls = opts.insecure_tls;
    std::string text;
    auto sink = [&](const char* data, size_t n) -> Status {
        if (text.size() + n > max)
            return Error::msg("larger than " + std::to_string(max) + " bytes");
        text.append(data, n);
        return {};
    };
    TRY(http_get(req, sink));
    return text;
}

Result<ImageEndpoint> discover_image(
    std::string_view name, std::map<std::string, std::string> labels, const DiscoveryOptions& opts)
{
    labels.try_emplace("version", "latest");
    labels.try_emplace("os", "linux");
    labels.try_emplace("arch", "amd64");
    for (auto& level : discovery_names(name))
        if (auto ep = match_image_endpoint(tags_at(level, opts), name, labels)) {
            spdlog::debug("discovery of {}: {} (signature {})", name, ep->aci, ep->asc);
            return *ep;
        }
    return Error("discovery of " + std::string(name) + ": no ac-discovery template at " + discovery_url("https", name)
            + " or its parents",
        ENOENT);
}

Result<std::vector<DiscoveredKey>> discover_pubkeys(std::string_view name, const DiscoveryOptions& opts)
{
    for (auto& level : discovery_names(name)) {
        std::vector<DiscoveredKey> keys;
        for (auto& t : tags_at(level, opts))
            if (t.name == "ac-discovery-pubkeys" && prefix_covers(t.prefix, name))
                keys.push_back({ t.prefix, t.value });
        if (!keys.empty())
            return keys;
    }
    return Error("discovery of " + std::string(name) + ": no ac-discovery-pubkeys at " + discovery_url("https", name)
            + " or its parents",
        ENOENT);
}

} // namespace capsule::fetch
