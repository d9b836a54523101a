// SPDX-License-Identifier: Apache-2.0
#pragma once

// A shared library loaded on first use with dlopen(3), for the dependencies that would cost
// every start of capsule if they were linked (libcurl, libsystemd; Documentation/hacking.md):
//
//   auto lib = TRY(DynamicLibrary::open("libfoo.so.1", "bar needs libfoo (package libfoo1): "));
//   lib.symbol("foo_init", api.init);
//   TRY(lib.check());

#include "lib/result.h"

#include <dlfcn.h>
#include <string>

namespace capsule {

class DynamicLibrary {
public:
    /// dlopen(name, RTLD_NOW | RTLD_LOCAL) (local: the library's own dependencies must not
    /// interpose on what capsule links statically). `needs` starts every error message.
    static Result<DynamicLibrary> open(const char* name, std::string needs)
    {
        void* handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* e = ::dlerror();
            return Error(needs + (e ? e : "dlopen failed"), ENOENT);
        }
        return DynamicLibrary(handle, name, std::move(needs));
    }

    /// Resolve `symbol` into the function pointer `out` (null, and remembered, if missing).
    template<typename F> void symbol(const char* symbol, F& out)
    {
        out = reinterpret_cast<F>(::dlsym(m_handle, symbol));
        if (!out && m_missing.empty())
            m_missing = symbol;
    }

    /// Once every symbol is resolved: an error naming the first missing one (the library is
    /// closed then), else the library stays loaded for the life of the process.
    Status check()
    {
        if (m_missing.empty())
            return {};
        ::dlclose(m_handle);
        return Error(m_needs + m_name + " has no " + m_missing, ENOENT);
    }

private:
    DynamicLibrary(void* handle, const char* name, std::string needs)
        : m_handle(handle)
        , m_name(name)
        , m_needs(std::move(needs))
    {
    }

    void* m_handle;
    std::string m_name;
    std::string m_needs;
    std::string m_missing;
};

} // namespace capsule
