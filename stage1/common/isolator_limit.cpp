// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/isolator_limit.h"

#include "lib/units.h"

namespace capsule::stage1 {

Result<uint64_t> quantity_limit(const nlohmann::json& value, std::string_view isolator, bool millicores)
{
    if (!value.is_object() || !value.contains("limit"))
        return Error::msg("isolator " + std::string(isolator) + ": no limit");
    auto& l = value["limit"];
    std::string text = l.is_string() ? l.get<std::string>() : l.is_number() ? l.dump() : "";
    auto v = millicores ? parse_millicores(text) : parse_quantity(text);
    if (!v)
        return v.error().wrap("isolator " + std::string(isolator));
    return *v;
}

} // namespace capsule::stage1
