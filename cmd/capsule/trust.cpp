// SPDX-License-Identifier: Apache-2.0
// capsule trust [--prefix=PREFIX | --root] KEY...: add armored OpenPGP public keys to the
// local trust store, after showing their fingerprint (and asking, on a TTY).
#include "fetch/trust.h"
#include "cmd/capsule/command.h"
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

Result<int> run(const GlobalOptions& g, const Options& o)
{
    if (o.root == !o.prefix.empty())
        return Error::msg("trust: give exactly one of --prefix=PREFIX or --root");
    std::optional<std::string> prefix;
    if (!o.prefix.empty()) {
        TRY_CTX(fetch::check_trust_prefix(o.prefix), "trust: --prefix");
        prefix = o.prefix;
    }
    if (o.keys.empty()) {
        if (prefix)
            return Error("trust: --prefix=" + o.prefix
                    + " without KEY: appc discovery of keys is not supported yet; give the key file",
                ENOTSUP);
        return Error::msg("trust: --root needs a KEY file");
    }
    bool tty = ::isatty(STDIN_FILENO);
    if (!o.skip_review && !tty)
        return Error::msg("trust: stdin is not a terminal, so the fingerprint cannot be reviewed; pass "
                          "--skip-fingerprint-review to trust the key without review");
    std::string scope = prefix ? "prefix \"" + *prefix + "\"" : "all images (root key)";
    for (auto& key : o.keys) {
        if (key.starts_with("https://") || key.starts_with("http://"))
            return Error(
                "trust: " + key + ": fetching keys from URLs is not supported yet; download the key file", ENOTSUP);
        auto text = TRY_CTX(read_file(key), "trust: " + key);
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
    sub->footer("KEY is a file holding one armored OpenPGP public key, as gpg exports it. It is written\n"
                "to <local-config>/trustedkeys/prefix.d/PREFIX/<fingerprint>, or root.d/ with --root.\n"
                "The fingerprint is shown and confirmed on a terminal; without one, pass\n"
                "--skip-fingerprint-review.");
    sub->add_option("KEY", o->keys, "Armored public key files");
    sub->add_option("--prefix", o->prefix, "Trust the keys for images whose name is PREFIX or below it");
    sub->add_flag("--root", o->root, "Trust the keys for every image");
    sub->add_flag("--skip-fingerprint-review", o->skip_review, "Do not ask to confirm the fingerprint");
    sub->callback([&g = ctx.globals, set = ctx.set_action, o] { set([&g, o] { return run(g, *o); }); });
}

const CommandRegistration registration("trust", 25, setup);

} // namespace

} // namespace capsule::cmd
