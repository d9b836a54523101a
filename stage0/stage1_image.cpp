// SPDX-License-Identifier: Apache-2.0
#include "stage0/stage1_image.h"

#include "fetch/fetch.h"
#include "lib/fs.h"
#include "stage1/common/interface.h"

#include <charconv>
#include <cstdlib>
#include <unistd.h>

namespace capsule::stage0 {

namespace iface = capsule::stage1_interface;

Result<Stage1Entrypoints> stage1_entrypoints(const appc::ImageManifest& m)
{
    Stage1Entrypoints e;
    auto version = m.annotation(iface::annotation_version);
    if (!version)
        return Error::msg("not a stage1 image: annotation '" + std::string(iface::annotation_version) + "' is missing");
    auto [p, ec] = std::from_chars(version->data(), version->data() + version->size(), e.interface_version);
    if (ec != std::errc() || p != version->data() + version->size())
        return Error::msg("interface version '" + *version + "' is not a number");
    if (e.interface_version < iface::min_version || e.interface_version > iface::version)
        return Error::msg("stage1 interface version " + *version + " is not supported (this capsule speaks versions "
            + std::to_string(iface::min_version) + " to " + std::to_string(iface::version) + ")");
    auto get = [&](std::string_view key) { return m.annotation(key).value_or(""); };
    e.run = get(iface::annotation_run);
    e.enter = get(iface::annotation_enter);
    e.stop = get(iface::annotation_stop);
    e.gc = get(iface::annotation_gc);
    e.flavour = get(iface::annotation_flavour);
    if (e.run.empty())
        return Error::msg("annotation '" + std::string(iface::annotation_run) + "' is missing");
    for (auto* path : { &e.run, &e.enter, &e.stop, &e.gc })
        if (!path->empty() && (path->front() != '/' || path->find("..") != std::string::npos))
            return Error::msg("entrypoint '" + *path + "' is not an absolute path inside the stage1");
    return e;
}

std::string default_stage1_flavour()
{
    const char* env = std::getenv("CAPSULE_STAGE1");
    return env && *env ? env : "systemd";
}

std::vector<std::string> builtin_stage1_candidates(const std::string& flavour, const std::string& system_config)
{
    std::string file = "stage1-" + flavour + ".aci";
    std::vector<std::string> out;
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        std::string bindir = path_dirname(std::string(buf, static_cast<size_t>(n)));
        out.push_back(path_join(bindir, file));
        out.push_back(path_join(path_dirname(bindir), "lib/capsule/" + file));
    }
    out.push_back(path_join(system_config, file));
    return out;
}

static Result<store::ImageInfo> fetch_stage1(
    store::Store& store, const Stage1Selection& sel, const std::string& system_config, InsecureOptions insecure)
{
    fetch::FetchOptions opts;
    opts.insecure = insecure;
    switch (sel.kind) {
    case Stage1Selection::Kind::Flavour: {
        if (sel.value != "fly" && sel.value != "systemd" && sel.value != "kvm")
            return Error::msg("unknown stage1 flavour '" + sel.value + "' (this build has: fly, systemd, kvm)");
        auto candidates = builtin_stage1_candidates(sel.value, system_config);
        for (auto& c : candidates) {
            if (!path_exists(c))
                continue;
            opts.trusted_builtin = true;
            return fetch::fetch_image(store, c, opts).wrap("stage1 '" + c + "'");
        }
        std::string where;
        for (auto& c : candidates)
            where += (where.empty() ? "" : ", ") + c;
        return Error("stage1 flavour '" + sel.value + "': image not found (looked in " + where + ")", ENOENT);
    }
    case Stage1Selection::Kind::Path:
        return fetch::fetch_image(store, path_absolute(sel.value), opts).wrap("stage1 '" + sel.value + "'");
    case Stage1Selection::Kind::Name:
        return fetch::fetch_image(store, sel.value, opts).wrap("stage1 '" + sel.value + "'");
    case Stage1Selection::Kind::Hash:
        return store.resolve(sel.value).wrap("stage1 '" + sel.value + "'");
    }
    return Error::msg("bad stage1 selection");
}

Result<Stage1Image> resolve_stage1(
    store::Store& store, const Stage1Selection& sel, const std::string& system_config, InsecureOptions insecure)
{
    Stage1Image s;
    s.info = TRY(fetch_stage1(store, sel, system_config, insecure));
    auto ctx = "stage1 " + s.info.id;
    s.manifest = TRY_CTX(store.manifest(s.info.id), ctx);
    s.entrypoints = TRY_CTX(stage1_entrypoints(s.manifest), ctx);
    s.tree = store.tree_path(s.info.id);
    return s;
}

} // namespace capsule::stage0
