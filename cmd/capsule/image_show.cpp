// SPDX-License-Identifier: Apache-2.0
// capsule image cat-manifest | export | extract | render: inspect and copy out.
#include "cmd/capsule/image_common.h"
#include "store/oci.h"

#include <cstdio>

namespace capsule::cmd {

namespace {

struct Options {
    std::string image;
    std::string dest;
    bool rootfs_only { false };
    bool config { false }; ///< cat-manifest of an OCI image: its config instead
};

enum class Verb { CatManifest, Export, Extract, Render };

Result<int> run(const GlobalOptions& g, const Options& o, Verb verb)
{
    static constexpr const char* names[] = { "cat-manifest", "export", "extract", "render" };
    std::string what = std::string("image ") + names[static_cast<int>(verb)];
    auto store = TRY(store::Store::open(g.dir));
    auto info = TRY_CTX(store->resolve(o.image), what);
    auto how = o.rootfs_only ? store::CopyWhat::RootfsOnly : store::CopyWhat::Tree;
    switch (verb) {
    case Verb::CatManifest: {
        if (info.type == "oci") {
            // The documents exactly as stored (their digests still verify).
            auto img = TRY_CTX(store->oci_image(info.id), what + " " + info.id);
            const auto& doc = o.config ? img.config : img.manifest;
            std::fputs(doc.c_str(), stdout);
            if (doc.empty() || doc.back() != '\n')
                std::fputc('\n', stdout);
            break;
        }
        if (o.config)
            return Error::msg(
                what + " " + info.id + ": --config: an ACI has no image config (its manifest holds the app)");
        auto m = TRY_CTX(store->manifest(info.id), what);
        std::puts(m.raw.dump(2).c_str());
        break;
    }
    case Verb::Export:
        TRY_CTX(store->export_image(info.id, o.dest), what + " " + info.id);
        break;
    case Verb::Extract:
        TRY_CTX(store->extract_image(info.id, o.dest, how), what + " " + info.id);
        break;
    case Verb::Render:
        TRY_CTX(store->render_image(info.id, o.dest, how), what + " " + info.id);
        break;
    }
    return 0;
}

void add(CommandContext& ctx, CLI::App& image, Verb verb, const char* name, const char* help, const char* dest_help)
{
    auto o = std::make_shared<Options>();
    auto* sub = add_subcommand(image, name, help);
    sub->add_option("IMAGE", o->image, "Image ID (or unique prefix) or name[:version]")->required();
    if (dest_help)
        sub->add_option("DEST", o->dest, dest_help)->required();
    if (verb == Verb::CatManifest)
        sub->add_flag("--config", o->config, "OCI images: print the image config instead of the manifest");
    if (verb == Verb::Extract || verb == Verb::Render)
        sub->add_flag("--rootfs-only", o->rootfs_only, "Only the contents of rootfs/, without the manifest");
    sub->callback(
        [&g = ctx.globals, set = ctx.set_action, o, verb] { set([&g, o, verb] { return run(g, *o, verb); }); });
}

void setup(CommandContext& ctx)
{
    auto* image = image_command(ctx);
    add(ctx, *image, Verb::CatManifest, "cat-manifest",
        "Print an image's manifest (ACI: its appc manifest; OCI: the stored manifest, or --config)", nullptr);
    add(ctx, *image, Verb::Export, "export", "Write an image's ACI to a file", "File to write (must not exist)");
    add(ctx, *image, Verb::Extract, "extract", "Unpack an image's ACI into a new directory",
        "Directory to create (must not exist, or be empty)");
    add(ctx, *image, Verb::Render, "render", "Copy an image's rendered tree into a new directory",
        "Directory to create (must not exist, or be empty)");
}

const CommandRegistration registration("image", 32, setup);

} // namespace

} // namespace capsule::cmd
