// SPDX-License-Identifier: Apache-2.0
#include "stage0/isolators.h"

#include "lib/appc/validate.h"
#include "lib/units.h"

#include <algorithm>
#include <initializer_list>

namespace capsule::stage0 {

namespace {

using nlohmann::json;

bool has(const std::vector<appc::Isolator>& isolators, std::string_view name)
{
    return std::any_of(isolators.begin(), isolators.end(), [&](auto& i) { return i.name == name; });
}

/// Put `iso` where the first isolator named like it or one of `also` was, dropping the
/// others of those names; at the end when there is none.
void put(std::vector<appc::Isolator>& isolators, appc::Isolator iso, std::initializer_list<std::string_view> also = {})
{
    auto replaced = [&](const appc::Isolator& i) {
        return i.name == iso.name || std::find(also.begin(), also.end(), i.name) != also.end();
    };
    auto first = std::find_if(isolators.begin(), isolators.end(), replaced);
    if (first == isolators.end()) {
        isolators.push_back(std::move(iso));
        return;
    }
    *first = std::move(iso);
    isolators.erase(std::remove_if(first + 1, isolators.end(), replaced), isolators.end());
}

/// The image's value of a resource isolator, or {} when it has none.
json resource_value(const std::vector<appc::Isolator>& isolators, std::string_view name)
{
    for (auto& i : isolators)
        if (i.name == name && i.value.is_object())
            return i.value;
    return json::object();
}

/// A resource isolator with `limit` from a flag; an image's `request` above the new limit is
/// lowered to it (appc: a request is at most what the limit allows).
appc::Isolator resource_isolator(const std::vector<appc::Isolator>& image, std::string_view name, uint64_t limit,
    std::string limit_text, Result<uint64_t> (*parse)(std::string_view))
{
    auto value = resource_value(image, name);
    value["limit"] = limit_text;
    auto request = value.find("request");
    if (request != value.end() && request->is_string()) {
        auto r = parse(request->get<std::string>());
        if (r && *r > limit)
            *request = limit_text;
    }
    return { std::string(name), std::move(value) };
}

json seccomp_value(const SeccompSpec& s)
{
    json value = { { "set", s.set } };
    if (s.errno_name)
        value["errno"] = *s.errno_name;
    return value;
}

Status check_exclusive(const std::vector<appc::Isolator>& isolators, std::string_view retain, std::string_view remove,
    std::string_view flags, std::string_view image_name)
{
    if (has(isolators, retain) && has(isolators, remove))
        return Error::msg("image " + std::string(image_name) + " has both " + std::string(retain) + " and "
            + std::string(remove) + " (appc allows one); choose with " + std::string(flags));
    return {};
}

} // namespace

Result<std::vector<appc::Isolator>> app_isolators(
    const AppSpec& spec, const std::vector<appc::Isolator>& image, std::string_view image_name)
{
    std::vector<appc::Isolator> out = image;
    if (spec.memory)
        put(out, resource_isolator(image, isolator_memory, *spec.memory, std::to_string(*spec.memory), parse_quantity));
    if (spec.cpu_millicores)
        put(out,
            resource_isolator(image, isolator_cpu, *spec.cpu_millicores, std::to_string(*spec.cpu_millicores) + "m",
                parse_millicores));
    if (spec.capabilities) {
        bool retain = spec.capabilities->mode == SetMode::Retain;
        put(out,
            { std::string(retain ? isolator_caps_retain : isolator_caps_remove),
                { { "set", spec.capabilities->set } } },
            { isolator_caps_retain, isolator_caps_remove });
    }
    if (spec.seccomp) {
        bool retain = spec.seccomp->mode == SetMode::Retain;
        put(out,
            { std::string(retain ? isolator_seccomp_retain : isolator_seccomp_remove), seccomp_value(*spec.seccomp) },
            { isolator_seccomp_retain, isolator_seccomp_remove });
    }
    TRY(check_exclusive(out, isolator_caps_retain, isolator_caps_remove, "--cap-retain or --cap-remove", image_name));
    TRY(check_exclusive(out, isolator_seccomp_retain, isolator_seccomp_remove, "--seccomp", image_name));
    for (auto& i : out)
        TRY_CTX(appc::validate_isolator_value(i.name, i.value), "isolator " + i.name);
    return out;
}

} // namespace capsule::stage0
