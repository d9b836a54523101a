// SPDX-License-Identifier: Apache-2.0
#pragma once

// libcurl, loaded at run time. The capsule binary links libcrypto statically for start-up
// time (Documentation/hacking.md); libcurl brings its own shared libssl/libcrypto and about
// fifteen more libraries, which every `capsule run` would pay for at start. So it is not
// linked: the first http(s) fetch dlopen()s it, as systemd loads its optional libraries.
// <curl/curl.h> is used for types and constants only.

#include "lib/result.h"

#include <curl/curl.h>

namespace capsule::fetch {

/// The libcurl functions capsule calls, resolved with dlsym().
struct CurlApi {
    CURLcode (*global_init)(long);
    CURL* (*easy_init)();
    void (*easy_cleanup)(CURL*);
    void (*easy_reset)(CURL*);
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    const char* (*easy_strerror)(CURLcode);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
};

/// Loads libcurl.so.4 once (process lifetime) and returns its function table, or a
/// one-line error naming the package to install.
Result<const CurlApi*> curl_api();

} // namespace capsule::fetch
