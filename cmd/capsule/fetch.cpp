// SPDX-License-Identifier: Apache-2.0
// capsule fetch IMAGE...: fetch, verify and store; print each full image ID on stdout.
#include "fetch/fetch.h"
#include "cmd/capsule/command.h"

#include <cstdio>
#include <unistd.h>

namespace capsule::cmd {

namespace {

struct Options {
    std::vector<std::string> images;
    std::string pull_policy { "new" };
    std::string signature;
    bool full { true };
};

Result<fetch::PullPolicy> parse_pull_policy(const std::string& s)
{
    if (s == "never")
        return fetch::PullPolicy::Never;
    if (s == "new")
        return fetch::PullPolicy::New;
    if (s == "update")
        return fetch::PullPolicy::Update;
    return Error::msg("fetch: --pull-policy=" + s + ": expected never, new or update");
}

Result<int> run(const GlobalOptions& g, const Options& o)
{
    fetch::FetchOptions fo;
    fo.insecure = g.insecure;
    fo.local_config = g.local_config;
    fo.system_config = g.system_config;
    fo.trust_keys_from_https = g.trust_keys_from_https;
    if (!g.quiet)
        fo.on_verified = [](const store::ImageInfo& info, const openpgp::Signer& s) {
            std::fprintf(stderr, "capsule: signature verified for %s by key %s%s\n", info.name.c_str(),
                s.primary_fingerprint.c_str(), s.user_id.empty() ? "" : (" (" + s.user_id + ")").c_str());
        };
    fo.progress = !g.quiet && ::isatty(STDERR_FILENO);
    fo.pull_policy = TRY(parse_pull_policy(o.pull_policy));
    if (!o.signature.empty()) {
        if (o.images.size() != 1)
            return Error::msg("fetch: --signature=" + o.signature + ": applies to exactly one image");
        fo.signature = o.signature;
    }
    auto store = TRY(store::Store::open(g.dir));
    for (auto& ref : o.images) {
        auto info = TRY(fetch::fetch_image(*store, ref, fo));
        std::printf("%s\n", info.id.c_str());
        std::fflush(stdout);
    }
    return 0;
}

void setup(CommandContext& ctx)
{
    auto o = std::make_shared<Options>();
    auto* sub = add_subcommand(ctx, "fetch", "Fetch images, verify them and put them in the store");
    sub->footer("IMAGE is a path to an ACI (tar; plain, gzip, bzip2, xz or zstd), an https:// URL of one, an\n"
                "image ID (sha512-…, a unique prefix) or a stored image name[:version]. Prints one full image\n"
                "ID per line. The detached OpenPGP signature IMAGE.asc (or --signature) must verify with a key\n"
                "trusted for a prefix of the image's name, or a root key (see capsule trust); unsigned images\n"
                "are refused unless --insecure-options=image is given. TLS certificates are verified (system\n"
                "CA store, or SSL_CERT_FILE / SSL_CERT_DIR); --insecure-options=tls skips that and\n"
                "--insecure-options=http allows http:// URLs. A URL fetched before is answered from the store\n"
                "(--pull-policy=new), revalidated (update) or never fetched (never).");
    sub->add_option("IMAGE", o->images, "Images to fetch")->required();
    sub->add_option("--pull-policy", o->pull_policy,
           "never: only the store; new: fetch what is not stored (default); update: re-read files, revalidate URLs")
        ->capture_default_str();
    sub->add_option("--signature", o->signature, "Detached signature of the image (default: IMAGE.asc)");
    sub->add_flag("--full", o->full, "Print full image IDs (always on; for rkt compatibility)");
    sub->callback([&g = ctx.globals, set = ctx.set_action, o] { set([&g, o] { return run(g, *o); }); });
}

const CommandRegistration registration("fetch", 20, setup);

} // namespace

} // namespace capsule::cmd
