// SPDX-License-Identifier: Apache-2.0
#include "stage0/prepare.h"

#include "fetch/fetch.h"
#include "lib/fs.h"
#include "lib/oci/config_map.h"
#include "lib/overlay.h"
#include "stage0/kvm_config.h"
#include "stage1/common/interface.h"
#include "store/oci.h"

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace capsule::stage0 {

namespace iface = capsule::stage1_interface;

namespace {

constexpr std::string_view run_options_file = "run-options";

/// Where an app's root filesystem comes from.
struct AppLowers {
    std::string image_id;
    bool oci { false };
    /// Topmost first: an ACI's rendered rootfs, or an OCI image's layer directories.
    std::vector<std::string> dirs;
};

struct Fetched {
    Stage1Image stage1;
    std::vector<ResolvedImage> images;
    std::vector<AppLowers> lowers;     ///< per app
    std::vector<std::string> to_touch; ///< images whose last use is not recent
    InsecureOptions insecure;          ///< global and pod --insecure-options together
};

/// `last used` is for `image gc`, which thinks in hours: skip the index write (and its
/// fsync) when the image was used within the last minute.
constexpr int64_t touch_resolution_seconds = 60;

/// An OCI image: its config read natively and seen as an appc app, the user database of its
/// root filesystem (read through the layers, nothing mounted or copied), its layers.
Result<ResolvedImage> resolve_oci(store::Store& store, const store::ImageInfo& info, AppLowers& lowers)
{
    auto img = TRY(store.oci_image(info.id));
    auto config = TRY_CTX(oci::parse_config(img.config), "config of image " + info.id);
    auto view = TRY_CTX(oci::image_manifest_view(config, info.name, info.labels), "config of image " + info.id);
    oci::DockerApp docker { config.entrypoint, config.cmd, config.user, {}, {} };
    docker.passwd = TRY(store.read_image_file(info.id, "etc/passwd")).value_or("");
    docker.group = TRY(store.read_image_file(info.id, "etc/group")).value_or("");
    lowers.oci = true;
    lowers.dirs.assign(img.layer_dirs.rbegin(), img.layer_dirs.rend());
    return ResolvedImage { info.id, info.name, info.labels, std::move(view), std::move(docker) };
}

Result<Fetched> fetch_images(store::Store& store, const PrepareContext& ctx, const PodSpec& spec)
{
    InsecureOptions insecure = ctx.insecure;
    if (spec.insecure_options) {
        auto extra = TRY(InsecureOptions::parse(*spec.insecure_options));
        for (uint32_t bit = 1; bit != 0; bit <<= 1)
            if (extra.bits() & bit)
                insecure.add(static_cast<Insecure>(bit));
    }
    Fetched f;
    f.insecure = insecure;
    f.stage1 = TRY(resolve_stage1(store, spec.stage1, ctx.system_config, insecure));
    if (f.stage1.manifest.annotation(iface::annotation_flavour).value_or("") == "fly" && spec.apps.size() != 1)
        return Error::msg("the fly stage1 runs exactly one app per pod, " + std::to_string(spec.apps.size())
            + " were given (--- separates apps)");
    fetch::FetchOptions opts;
    opts.insecure = insecure;
    opts.local_config = ctx.local_config;
    opts.system_config = ctx.system_config;
    opts.trust_keys_from_https = ctx.trust_keys_from_https;
    opts.pull_policy = spec.pull_policy.value_or(fetch::PullPolicy::New);
    if (spec.platform)
        opts.platform = *spec.platform;
    opts.progress = ctx.progress;
    opts.on_notice = ctx.on_notice;
    for (auto& app : spec.apps) {
        auto info = TRY_CTX(fetch::fetch_image(store, app.image, opts), "image '" + app.image + "'");
        AppLowers lowers { info.id, false, {} };
        if (info.type == "oci") {
            f.images.push_back(TRY_CTX(resolve_oci(store, info, lowers), "image '" + app.image + "'"));
        } else {
            auto manifest = TRY_CTX(store.manifest(info.id), "image " + info.id);
            lowers.dirs.push_back(store.tree_path(info.id) + "/rootfs");
            f.images.push_back({ info.id, info.name, info.labels, std::move(manifest), std::nullopt });
        }
        f.lowers.push_back(std::move(lowers));
        if (std::time(nullptr) - info.last_used >= touch_resolution_seconds)
            f.to_touch.push_back(info.id);
    }
    return f;
}

Result<std::vector<appc::NameValue>> pod_environment(const PodSpec& spec)
{
    std::vector<appc::NameValue> env;
    for (auto& file : spec.set_env_files) {
        auto text = TRY_CTX(read_file(file), "--set-env-file");
        auto vars = TRY_CTX(parse_env_file(text, file), "--set-env-file");
        env.insert(env.end(), vars.begin(), vars.end());
    }
    env.insert(env.end(), spec.set_env.begin(), spec.set_env.end());
    return env;
}

Status check_volumes(const appc::PodManifest& m)
{
    for (auto& v : m.volumes) {
        struct stat st;
        if (v.kind == "host" && ::stat(v.source.c_str(), &st) < 0)
            return Error::from_errno("volume '" + v.name + "': source '" + v.source + "'");
    }
    return {};
}

Status write_empty_volume(const std::string& pod, const appc::Volume& v)
{
    auto path = pod + "/" + std::string(iface::volumes) + "/" + v.name;
    TRY(mkdir_p(path, 0755));
    mode_t mode = v.mode ? static_cast<mode_t>(std::stoul(*v.mode, nullptr, 8)) : 0755;
    if (::chmod(path.c_str(), mode) < 0)
        return Error::from_errno("chmod '" + path + "'");
    if ((v.uid || v.gid) && ::chown(path.c_str(), v.uid.value_or(0), v.gid.value_or(0)) < 0)
        return Error::from_errno("chown '" + path + "'");
    return {};
}

/// The lower directories to write for an app: its layers stacked when the stage1 and the
/// kernel can take them (interface version 2, at most store::max_stacked_layers, options
/// within one page), else its layers flattened once into the store (store.flat_tree).
Result<std::vector<std::string>> stacked_lowers(store::Store& store, const AppLowers& l, const std::string& upper,
    const std::string& work, int interface_version, bool no_overlay)
{
    if (!l.oci)
        return l.dirs;
    bool stack = !no_overlay && !l.dirs.empty() && l.dirs.size() <= store::max_stacked_layers
        && (l.dirs.size() == 1 || interface_version >= 2)
        && overlay_options(l.dirs, upper, work).size() <= overlay_options_max;
    if (stack)
        return l.dirs;
    return std::vector<std::string> { TRY(store.flat_tree(l.image_id)) };
}

Status write_app(store::Store& store, const std::string& pod, const appc::RuntimeApp& app, const AppLowers& l,
    int interface_version, bool no_overlay)
{
    auto info = pod + "/" + std::string(iface::appsinfo) + "/" + app.name;
    auto rootfs = pod + "/" + std::string(iface::stage2_root) + "/" + app.name + "/rootfs";
    auto upper = info + "/" + std::string(iface::app_upper);
    auto work = info + "/" + std::string(iface::app_work);
    TRY(mkdir_p(info, 0700));
    TRY(write_file(info + "/" + std::string(iface::app_image), app.image.id));
    // The stage1 mounts with the pod's path as getcwd() gives it (symlinks resolved) under
    // run/, which is shorter than prepare/: options that fit now fit then.
    std::string real = pod;
    if (char* r = ::realpath(pod.c_str(), nullptr)) {
        real = r;
        ::free(r);
    }
    auto real_info = real + "/" + std::string(iface::appsinfo) + "/" + app.name;
    auto lowers = TRY(stacked_lowers(store, l, real_info + "/" + std::string(iface::app_upper),
        real_info + "/" + std::string(iface::app_work), interface_version, no_overlay));
    if (no_overlay) {
        TRY(mkdir_p(path_dirname(rootfs), 0755));
        return copy_tree(lowers.front(), rootfs);
    }
    std::string text;
    for (auto& d : lowers) {
        if (d.find('\n') != std::string::npos)
            return Error::msg("lower directory '" + d + "' has a newline in its path");
        text += d + "\n";
    }
    TRY(mkdir_p(rootfs, 0755));
    TRY(mkdir_p(upper, 0755));
    TRY(mkdir_p(work, 0700));
    return write_file(info + "/" + std::string(iface::app_lower), text);
}

/// The pod's limits: what its apps asked for, added up (a pod-level cgroup, as rkt's fly). A kvm
/// pod's memory is its VM's (the apps' limits size the guest) plus what qemu needs beside it.
CgroupLimits pod_limits(const PodSpec& spec, std::string_view flavour)
{
    CgroupLimits l;
    for (auto& a : spec.apps) {
        if (a.memory)
            l.memory_bytes = l.memory_bytes.value_or(0) + *a.memory;
        if (a.cpu_millicores)
            l.cpu_millicores = l.cpu_millicores.value_or(0) + *a.cpu_millicores;
    }
    if (flavour == "kvm" && l.memory_bytes)
        *l.memory_bytes += iface::kvm_guest_overhead + iface::kvm_qemu_overhead;
    return l;
}

Status write_pod(
    store::Store& store, const LockedPod& pod, const PodSpec& spec, const Fetched& f, const appc::PodManifest& m)
{
    const auto& p = pod.path();
    TRY(mkdir_p(p + "/stage1", 0755));
    TRY(write_file(path_join(p, iface::stage1_id), f.stage1.info.id));
    TRY(write_file(path_join(p, iface::stage1_tree), f.stage1.tree));
    for (size_t i = 0; i < m.apps.size(); i++)
        TRY(write_app(store, p, m.apps[i], f.lowers[i], f.stage1.entrypoints.interface_version, spec.no_overlay));
    for (auto& v : m.volumes)
        if (v.kind == "empty")
            TRY(write_empty_volume(p, v));
    nlohmann::json opts = { { "interactive", spec.interactive }, { "inheritEnv", spec.inherit_env },
        { "hostname", spec.hostname.value_or("") } };
    auto limits = pod_limits(spec, f.stage1.entrypoints.flavour);
    if (limits.memory_bytes)
        opts["memory"] = *limits.memory_bytes;
    if (limits.cpu_millicores)
        opts["cpuMillicores"] = *limits.cpu_millicores;
    if (!spec.unit_properties.empty())
        opts["unitProperties"] = spec.unit_properties;
    TRY(write_file(path_join(p, run_options_file), opts.dump()));
    // Written last: its mtime is the pod's creation time, and its presence means "complete".
    return write_file(path_join(p, iface::pod_manifest), appc::to_json(m).dump(2) + "\n", 0644);
}

} // namespace

Result<LockedPod> prepare_pod(const PrepareContext& ctx, const PodSpec& spec)
{
    if (spec.apps.empty())
        return Error::msg("no image given");
    // kvm.json is read before anything is fetched or written when the flavour is named; a
    // stage1 given otherwise is known to be kvm only once it is fetched (still before the pod).
    std::optional<KvmConfig> kvm;
    if (spec.stage1.kind == Stage1Selection::Kind::Flavour && spec.stage1.value == "kvm")
        kvm = TRY(load_kvm_config(ctx.system_config, ctx.local_config));
    // The store stays open (its shared lock held) until the pod references its images, so
    // `image rm` cannot remove them in between.
    auto store = TRY(store::Store::open(ctx.dir));
    auto fetched = TRY(fetch_images(*store, ctx, spec));
    if (fetched.stage1.entrypoints.flavour == "kvm" && !kvm)
        kvm = TRY(load_kvm_config(ctx.system_config, ctx.local_config));
    auto env = TRY(pod_environment(spec));
    auto manifest = TRY(build_pod_manifest(spec, fetched.images, env));
    TRY(check_volumes(manifest));
    // The protections a confining stage1 applies, turned off explicitly (stage1 interface:
    // the pod annotation capsule/insecure-options).
    std::string run_insecure;
    for (auto [bit, word] : { std::pair { Insecure::Capabilities, "capabilities" }, { Insecure::Paths, "paths" },
             { Insecure::Seccomp, "seccomp" } })
        if (fetched.insecure.has(bit))
            run_insecure += (run_insecure.empty() ? "" : ",") + std::string(word);
    if (!run_insecure.empty())
        manifest.annotations.push_back({ std::string(iface::annotation_insecure_options), run_insecure });
    // The kvm flavour's host configuration (kvm.json), for its stage1 (stage1-kvm.md).
    if (kvm && fetched.stage1.entrypoints.flavour == "kvm")
        for (auto& a : kvm_annotations(*kvm))
            manifest.annotations.push_back(std::move(a));

    auto pod = TRY(LockedPod::create_embryo(ctx.dir));
    auto fail = [&pod](Error e) -> Error {
        (void)pod.destroy();
        return e;
    };
    if (auto r = pod.move_to(PodDir::Prepare); !r)
        return fail(r.release_error());
    if (auto r = write_pod(*store, pod, spec, fetched, manifest); !r)
        return fail(r.release_error().wrap("prepare pod " + pod.uuid()));
    for (auto& id : fetched.to_touch)
        (void)store->touch(id);
    if (auto r = pod.move_to(PodDir::Prepared); !r)
        return fail(r.release_error());
    return pod;
}

RunOptions read_run_options(const std::string& pod_path)
{
    RunOptions o;
    auto text = read_file(path_join(pod_path, run_options_file));
    if (!text)
        return o;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object())
        return o;
    o.interactive = j.value("interactive", false);
    o.inherit_env = j.value("inheritEnv", false);
    o.hostname = j.value("hostname", std::string());
    if (j.contains("memory") && j["memory"].is_number_unsigned())
        o.limits.memory_bytes = j["memory"].get<uint64_t>();
    if (j.contains("cpuMillicores") && j["cpuMillicores"].is_number_unsigned())
        o.limits.cpu_millicores = j["cpuMillicores"].get<uint64_t>();
    if (j.contains("unitProperties") && j["unitProperties"].is_array())
        for (auto& p : j["unitProperties"])
            if (p.is_string())
                o.unit_properties.push_back(p.get<std::string>());
    return o;
}

} // namespace capsule::stage0
