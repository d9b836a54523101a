// SPDX-License-Identifier: Apache-2.0
#include "stage1/common/diag.h"

#include <cstdarg>
#include <cstdio>

namespace capsule::stage1 {

namespace {
const char* g_flavour = "stage1";
bool g_debug = false;

void vprint(const char* level, const char* fmt, va_list ap)
{
    char line[2048];
    std::vsnprintf(line, sizeof line, fmt, ap);
    std::fprintf(stderr, "capsule: %s: %s%s\n", g_flavour, level, line);
}
} // namespace

void diag_init(const char* flavour, bool debug)
{
    g_flavour = flavour;
    g_debug = debug;
}

void diag_error(const Error& e)
{
    std::fprintf(stderr, "capsule: %s: %s\n", g_flavour, e.message().c_str());
}

void diag_debug(const char* fmt, ...)
{
    if (!g_debug)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprint("debug: ", fmt, ap);
    va_end(ap);
}

void diag_warn(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint("warning: ", fmt, ap);
    va_end(ap);
}

} // namespace capsule::stage1
