// SPDX-License-Identifier: Apache-2.0
// capsule fetch IMAGE...: fetch, verify and store; print each full image ID on stdout.
#include "fetch/fetch.h"
#include "cmd/capsule/app_args.h"
#include "cmd/capsule/command.h"

#include <cstdio>
#include <unistd.h>

namespace capsule::cmd {

namespace {

struct Options {
    std::vector<std::string> images;
    std::string pull_policy { "new" };
    std::string signature;
    std::string platform;
    bool full { true };
};

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
    fo.pull_policy = TRY_CTX(parse_pull_policy(o.pull_policy), "fetch");
    if (!o.platform.empty())
        fo.platform = TRY_CTX(oci::parse_platform(o.platform), "fetch");
    if (!g.quiet)
        fo.on_notice = [](const std::string& notice) { std::fprintf(stderr, "capsule: %s\n", notice.c_str()); };
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
    sub->footer("IMAGE is a path to an ACI (tar; plain, gzip, bzip2, xz or zstd), to an OCI archive or a\n"
                "`docker save` archive (sniffed), an https:// URL of an ACI, docker://[REGISTRY/]NAME[:TAG|@DIGEST],\n"
                "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, an image ID (sha512-…, sha256-…, a\n"
                "unique prefix) or a stored image name[:version]. Prints one full image ID per line.\n"
                "ACIs: the detached OpenPGP signature IMAGE.asc (or --signature) must verify with a key trusted\n"
                "for a prefix of the image's name, or a root key (see capsule trust). OCI and docker images carry\n"
                "no signatures: they need --insecure-options=image unless pulled by digest (@sha256:…).\n"
                "TLS certificates are verified (system CA store, or SSL_CERT_FILE / SSL_CERT_DIR);\n"
                "--insecure-options=tls skips that and --insecure-options=http allows plain http (URLs and\n"
                "registries). A URL or tag fetched before is answered from the\n"
                "store (--pull-policy=new), revalidated (update; says when a tag moved) or never fetched (never).\n"
                "See Documentation/oci-images.md.");
    sub->add_option("IMAGE", o->images, "Images to fetch")->required();
    sub->add_option("--pull-policy", o->pull_policy,
           "never: only the store; new: fetch what is not stored (default); update: re-read files, revalidate URLs and "
           "tags")
        ->capture_default_str();
    sub->add_option("--signature", o->signature, "Detached signature of the image (default: IMAGE.asc)");
    sub->add_option("--platform", o->platform,
        "OS/ARCH[/VARIANT] to pick from a multi-platform OCI index or manifest list (default: this host's)");
    sub->add_flag("--full", o->full, "Print full image IDs (always on; for rkt compatibility)");
    sub->callback([&g = ctx.globals, set = ctx.set_action, o] { set([&g, o] { return run(g, *o); }); });
}

const CommandRegistration registration("fetch", 20, setup);

} // namespace

} // namespace capsule::cmd
