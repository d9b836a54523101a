// SPDX-License-Identifier: Apache-2.0
#include "fetch/curl_dl.h"

#include <dlfcn.h>

namespace capsule::fetch {

namespace {

template<typename F> bool load(void* lib, const char* name, F& out, std::string& missing)
{
    out = reinterpret_cast<F>(::dlsym(lib, name));
    if (!out && missing.empty())
        missing = name;
    return out != nullptr;
}

Result<const CurlApi*> load_curl()
{
    // RTLD_LOCAL: libcurl's libcrypto must not interpose on the static one in this binary.
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char* e = ::dlerror();
        return Error(std::string("https fetch needs libcurl (package libcurl4): ") + (e ? e : "dlopen failed"), ENOENT);
    }
    static CurlApi api;
    std::string missing;
    load(lib, "curl_global_init", api.global_init, missing);
    load(lib, "curl_easy_init", api.easy_init, missing);
    load(lib, "curl_easy_cleanup", api.easy_cleanup, missing);
    load(lib, "curl_easy_reset", api.easy_reset, missing);
    load(lib, "curl_easy_setopt", api.easy_setopt, missing);
    load(lib, "curl_easy_perform", api.easy_perform, missing);
    load(lib, "curl_easy_getinfo", api.easy_getinfo, missing);
    load(lib, "curl_easy_strerror", api.easy_strerror, missing);
    load(lib, "curl_slist_append", api.slist_append, missing);
    load(lib, "curl_slist_free_all", api.slist_free_all, missing);
    if (!missing.empty()) {
        ::dlclose(lib);
        return Error("https fetch needs libcurl (package libcurl4): libcurl.so.4 has no " + missing, ENOENT);
    }
    if (auto r = api.global_init(CURL_GLOBAL_DEFAULT); r != CURLE_OK)
        return Error(std::string("https fetch: libcurl initialisation failed: ") + api.easy_strerror(r), EIO);
    return &api;
}

} // namespace

Result<const CurlApi*> curl_api()
{
    // Loaded once; an error is returned again to every caller.
    static Result<const CurlApi*> loaded = load_curl();
    return loaded;
}

} // namespace capsule::fetch
