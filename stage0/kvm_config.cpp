// SPDX-License-Identifier: Apache-2.0
#include "stage0/kvm_config.h"

#include "lib/fs.h"
#include "stage1/common/interface.h"

#include <nlohmann/json.hpp>

namespace capsule::stage0 {

namespace iface = capsule::stage1_interface;

namespace {

using json = nlohmann::json;

constexpr std::string_view kind_key = "capsuleKind";
constexpr std::string_view version_key = "capsuleVersion";

std::string json_quoted(std::string_view s)
{
    return json(std::string(s)).dump();
}

/// nlohmann's parse error without its "[json.exception.parse_error.101] " tag.
std::string parse_error_text(const json::parse_error& e)
{
    std::string_view what = e.what();
    if (auto end = what.find("] "); what.starts_with("[json.exception.") && end != std::string_view::npos)
        what.remove_prefix(end + 2);
    return std::string(what);
}

Result<json> parse_object(std::string_view text)
{
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        return Error::msg("not valid JSON: " + parse_error_text(e));
    }
    if (!j.is_object())
        return Error::msg("not a JSON object");
    return j;
}

Result<std::string> string_value(std::string_view key, const json& value)
{
    if (!value.is_string())
        return Error::msg(json_quoted(key) + " must be a string, not " + value.dump());
    auto s = value.get<std::string>();
    if (s.empty())
        return Error::msg(json_quoted(key) + " must not be empty");
    return s;
}

Status check_header(const json& j, std::string_view key, std::string_view expected)
{
    auto it = j.find(key);
    if (it == j.end())
        return Error::msg(json_quoted(key) + " must be " + json_quoted(expected) + " (it is missing)");
    if (!it->is_string() || it->get<std::string>() != expected)
        return Error::msg(json_quoted(key) + " must be " + json_quoted(expected) + ", not " + it->dump());
    return {};
}

} // namespace

Result<KvmConfig> parse_kvm_config(std::string_view text)
{
    auto j = TRY(parse_object(text));
    TRY(check_header(j, kind_key, "kvm"));
    TRY(check_header(j, version_key, "v1"));
    KvmConfig c;
    for (auto& [key, value] : j.items()) {
        if (key == kind_key || key == version_key)
            continue;
        std::optional<std::string>* slot = key == "kernel" ? &c.kernel
            : key == "qemu"                                ? &c.qemu
            : key == "accelerator"                         ? &c.accelerator
                                                           : nullptr;
        if (!slot)
            return Error::msg(
                "unknown key " + json_quoted(key) + " (known: capsuleKind, capsuleVersion, kernel, qemu, accelerator)");
        *slot = TRY(string_value(key, value));
    }
    if (c.accelerator && *c.accelerator != "auto" && *c.accelerator != "kvm" && *c.accelerator != "tcg")
        return Error::msg("\"accelerator\" must be auto, kvm or tcg, not " + json_quoted(*c.accelerator));
    return c;
}

KvmConfig merge_kvm_config(KvmConfig base, const KvmConfig& over)
{
    for (auto [to, from] : { std::pair { &base.kernel, &over.kernel }, { &base.qemu, &over.qemu },
             { &base.accelerator, &over.accelerator } })
        if (*from)
            *to = *from;
    return base;
}

Result<KvmConfig> load_kvm_config(const std::string& system_config, const std::string& local_config)
{
    KvmConfig c;
    for (auto* dir : { &system_config, &local_config }) {
        auto path = path_join(*dir, kvm_config_file);
        auto text = read_file(path);
        if (!text) {
            int code = text.error().code();
            if (code == ENOENT)
                continue;
            return code ? Error::from_errno(path, code) : text.release_error().wrap(path);
        }
        auto parsed = TRY_CTX(parse_kvm_config(*text), path);
        c = merge_kvm_config(std::move(c), parsed);
    }
    return c;
}

std::vector<appc::NameValue> kvm_annotations(const KvmConfig& c)
{
    std::vector<appc::NameValue> out;
    for (auto [name, value] : { std::pair { iface::annotation_kvm_kernel, &c.kernel },
             { iface::annotation_kvm_qemu, &c.qemu }, { iface::annotation_kvm_accelerator, &c.accelerator } })
        if (*value)
            out.push_back({ std::string(name), **value });
    return out;
}

} // namespace capsule::stage0
