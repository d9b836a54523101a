// SPDX-License-Identifier: Apache-2.0
#include "fetch/curl_dl.h"

#include "lib/dl.h"

namespace capsule::fetch {

namespace {

Result<const CurlApi*> load_curl()
{
    // Local: libcurl's libcrypto must not interpose on the static one in this binary.
    auto lib = TRY(DynamicLibrary::open("libcurl.so.4", "https fetch needs libcurl (package libcurl4): "));
    static CurlApi api;
    lib.symbol("curl_global_init", api.global_init);
    lib.symbol("curl_easy_init", api.easy_init);
    lib.symbol("curl_easy_cleanup", api.easy_cleanup);
    lib.symbol("curl_easy_reset", api.easy_reset);
    lib.symbol("curl_easy_setopt", api.easy_setopt);
    lib.symbol("curl_easy_perform", api.easy_perform);
    lib.symbol("curl_easy_getinfo", api.easy_getinfo);
    lib.symbol("curl_easy_strerror", api.easy_strerror);
    lib.symbol("curl_slist_append", api.slist_append);
    lib.symbol("curl_slist_free_all", api.slist_free_all);
    TRY(lib.check());
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
