// SPDX-License-Identifier: Apache-2.0
#include "lib/result.h"

#include <cstring>

namespace capsule {

Error Error::from_errno(std::string_view what, int err)
{
    std::string m(what);
    m += ": ";
    m += std::strerror(err);
    return Error(std::move(m), err);
}

Error Error::wrap(std::string_view context) const&
{
    return Error(std::string(context) + ": " + m_message, m_code);
}

Error Error::wrap(std::string_view context) &&
{
    m_message.insert(0, ": ");
    m_message.insert(0, context);
    return std::move(*this);
}

} // namespace capsule
