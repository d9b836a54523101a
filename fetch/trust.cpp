// SPDX-License-Identifier: Apache-2.0
#include "fetch/trust.h"

#include "lib/appc/types.h"
#include "lib/fs.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <spdlog/spdlog.h>

namespace capsule::fetch {

namespace {

namespace fs = std::filesystem;

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

/// Key files under `root` (recursively), as paths relative to it.
std::vector<std::string> key_files(const std::string& root, bool recursive)
{
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        return out;
    auto add = [&](const fs::directory_entry& e) {
        std::error_code e2;
        if (e.is_regular_file(e2))
            out.push_back(fs::relative(e.path(), root, e2).string());
    };
    if (recursive) {
        for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
            add(*it);
    } else {
        for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
            add(*it);
    }
    if (ec)
        spdlog::warn("trust store: reading '{}': {}, ignoring the rest", root, ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

void load_dir(const std::string& local, const std::string& system, bool prefixed, std::vector<TrustedKey>& out)
{
    std::set<std::string> seen;
    for (const auto* base : { &local, &system }) {
        for (auto& rel : key_files(*base, prefixed)) {
            // The local dir wins: the same relative path in the system dir is hidden.
            if (!seen.insert(rel).second)
                continue;
            auto path = path_join(*base, rel);
            std::optional<std::string> prefix;
            if (prefixed) {
                prefix = path_dirname(rel);
                if (*prefix == "." || !check_trust_prefix(*prefix)) {
                    spdlog::warn("trust store: '{}' is not under a valid prefix directory, ignoring", path);
                    continue;
                }
            }
            auto text = read_file(path);
            auto certs = text ? openpgp::parse_certificates(*text)
                              : Result<std::vector<openpgp::Certificate>>(text.release_error());
            if (!certs) {
                spdlog::warn("trust store: '{}': {}, ignoring", path, certs.error().message());
                continue;
            }
            for (auto& c : *certs)
                out.push_back({ path, prefix, std::move(c) });
        }
    }
}

} // namespace

Status check_trust_prefix(std::string_view prefix)
{
    if (prefix.empty())
        return Error("empty prefix", EINVAL);
    if (!appc::is_ac_identifier(prefix))
        return Error("prefix '" + std::string(prefix) + "' is not a valid appc name prefix", EINVAL);
    for (size_t start = 0; start <= prefix.size();) {
        auto end = std::min(prefix.find('/', start), prefix.size());
        auto c = prefix.substr(start, end - start);
        if (c.empty() || c == "." || c == "..")
            return Error("prefix '" + std::string(prefix) + "' has an empty, '.' or '..' component", EINVAL);
        start = end + 1;
    }
    return {};
}

bool prefix_covers(std::string_view prefix, std::string_view name)
{
    if (prefix.empty() || !name.starts_with(prefix))
        return false;
    return name.size() == prefix.size() || name[prefix.size()] == '/' || prefix.back() == '/';
}

std::string trust_dir(const std::string& config, const std::optional<std::string>& prefix)
{
    auto base = path_join(config, "trustedkeys");
    return prefix ? path_join(path_join(base, "prefix.d"), *prefix) : path_join(base, "root.d");
}

Result<std::vector<TrustedKey>> load_trusted_keys(const std::string& local_config, const std::string& system_config)
{
    std::vector<TrustedKey> out;
    load_dir(trust_dir(local_config, std::nullopt), trust_dir(system_config, std::nullopt), false, out);
    load_dir(
        path_join(local_config, "trustedkeys/prefix.d"), path_join(system_config, "trustedkeys/prefix.d"), true, out);
    return out;
}

bool trusted_for(const std::vector<TrustedKey>& keys, std::string_view fingerprint, std::string_view name)
{
    return std::any_of(keys.begin(), keys.end(), [&](const TrustedKey& k) {
        return k.cert.fingerprint() == fingerprint && (!k.prefix || prefix_covers(*k.prefix, name));
    });
}

Result<std::string> add_trusted_key(
    const std::string& local_config, const std::optional<std::string>& prefix, std::string_view armored)
{
    if (prefix)
        TRY(check_trust_prefix(*prefix));
    if (!openpgp::is_armored(armored))
        return Error("not an armored OpenPGP public key", EINVAL);
    auto certs = TRY(openpgp::parse_certificates(armored));
    if (certs.size() != 1)
        return Error("holds " + std::to_string(certs.size()) + " keys; give one key per file", EINVAL);
    auto dir = trust_dir(local_config, prefix);
    TRY(mkdir_p(dir, 0755));
    auto path = path_join(dir, lower(certs[0].fingerprint()));
    TRY(write_file_atomic(path, armored, 0644));
    return path;
}

} // namespace capsule::fetch
