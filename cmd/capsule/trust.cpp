// SPDX-License-Identifier: Apache-2.0
// capsule trust [--prefix=PREFIX | --root] KEY...: add armored OpenPGP public keys (files
// or https URLs, or found by appc discovery for PREFIX) to the local trust store, after
// showing their fingerprint (and asking, on a TTY).
#include "fetch/trust.h"
#include "cmd/capsule/command.h"
#include "fetch/discovery.h"
#include "fetch/http.h"
#include "lib/fs.h"

#include <cstdio>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace capsule::cmd {

namespace {

struct Options {
    std::vector<std::string> keys;
    std::string prefix;
    bool root { false };
    bool skip_review { false };
};

/// Show the key and ask "yes/no" on the terminal; anything but yes refuses.
bool confirm(const std::string& what, const std::string& fingerprint, const std::vector<std::string>& uids)
{
    std::printf("Key %s: fingerprint %s\n", what.c_str(), fingerprint.c_str());
    for (auto& u : uids)
        std::printf("  uid: %s\n", u.c_str());
    std::printf("Are you sure you want to trust this key (yes/no)? ");
    std::fflush(stdout);
    std::string answer;
    if (!std::getline(std::cin, answer))
        return false;
    return answer == "yes" || answer == "y";
}

/// The text of a KEY argument: a file, or an http(s) URL fetched with TLS verified.
Result<std::string> read_key(const GlobalOptions& g, const std::string& key)
{
    if (fetch::url_scheme(key) == fetch::Scheme::Other)
        return read_file(key).wrap("trust: " + key);
    fetch::DiscoveryOptions d { g.insecure.has(Insecure::Http), g.insecure.has(Insecure::Tls) };
    return fetch::fetch_text(key, d).wrap("trust: " + key);
}

Result<int> run(const GlobalOptions& g, const Options& o)
{
    if (o.root == !o.prefix.empty())
        return Error::msg("trust: give exactly one of --prefix=PREFIX or --root");
    std::optional<std::string> prefix;
    if (!o.prefix.empty()) {
        TRY_CTX(fetch::check_trust_prefix(o.prefix), "trust: --prefix");
        prefix = o.prefix;
    }
    if (o.keys.empty() && !prefix)
        return Error::msg("trust: --root needs a KEY file");
    bool tty = ::isatty(STDIN_FILENO);
    if (!o.skip_review && !tty)
        return Error::msg("trust: stdin is not a terminal, so the fingerprint cannot be reviewed; pass "
                          "--skip-fingerprint-review to trust the key without review");
    std::vector<std::string> urls = o.keys;
    if (o.keys.empty()) {
        // appc discovery of the prefix's keys (ac-discovery-pubkeys).
        fetch::DiscoveryOptions d { g.insecure.has(Insecure::Http), g.insecure.has(Insecure::Tls) };
        for (auto& k : TRY_CTX(fetch::discover_pubkeys(*prefix, d), "trust"))
            urls.push_back(k.url);
    }
    std::string scope = prefix ? "prefix \"" + *prefix + "\"" : "all images (root key)";
    for (auto& key : urls) {
        auto text = TRY(read_key(g, key));
        if (!openpgp::is_armored(text))
            return Error("trust: " + key + ": not an armored OpenPGP public key", EINVAL);
        auto certs = TRY_CTX(openpgp::parse_certificates(text), "trust: " + key);
        if (certs.size() != 1)
            return Error::msg(
                "trust: " + key + ": holds " + std::to_string(certs.size()) + " keys; give one key per file");
        auto& cert = certs.front();
        if (!o.skip_review && !confirm(key, cert.fingerprint(), cert.user_ids))
            return Error::msg("trust: " + key + ": not trusted (answer was not yes)");
        if (o.skip_review && !g.quiet) {
            std::printf("Key %s: fingerprint %s\n", key.c_str(), cert.fingerprint().c_str());
            for (auto& u : cert.user_ids)
                std::printf("  uid: %s\n", u.c_str());
        }
        auto path = TRY_CTX(fetch::add_trusted_key(g.local_config, prefix, text), "trust: " + key);
        if (!g.quiet)
            std::printf("Added key %s for %s at \"%s\"\n", cert.fingerprint().c_str(), scope.c_str(), path.c_str());
    }
    return 0;
}

void setup(CommandContext& ctx)
{
    auto o = std::make_shared<Options>();
    auto* sub = add_subcommand(ctx, "trust", "Trust an OpenPGP public key to sign images");
    sub->footer("KEY is a file or an https URL holding one armored OpenPGP public key, as gpg exports\n"
                "it. With --prefix and no KEY, the keys are found by appc discovery of PREFIX\n"
                "(ac-discovery-pubkeys meta tags at https://PREFIX?ac-discovery=1 or its parents).\n"
                "Each key is written\n"
                "to <local-config>/trustedkeys/prefix.d/PREFIX/<fingerprint>, or root.d/ with --root.\n"
                "The fingerprint is shown and confirmed on a terminal; without one, pass\n"
                "--skip-fingerprint-review.");
    sub->add_option("KEY", o->keys, "Armored public key files or https URLs");
    sub->add_option("--prefix", o->prefix, "Trust the keys for images whose name is PREFIX or below it");
    sub->add_flag("--root", o->root, "Trust the keys for every image");
    sub->add_flag("--skip-fingerprint-review", o->skip_review, "Do not ask to confirm the fingerprint");
    sub->callback([&g = ctx.globals, set = ctx.set_action, o] { set([&g, o] { return run(g, *o); }); });
}

const CommandRegistration registration("trust", 25, setup);

} // namespace

} // namespace capsule::cmd
