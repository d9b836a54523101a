// SPDX-License-Identifier: Apache-2.0
#include "stage0/pod_spec.h"

#include "stage0/isolators.h"
#include "stage1/common/interface.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace capsule::stage0 {

std::string app_name_from_image(std::string_view image_name)
{
    auto slash = image_name.rfind('/');
    std::string_view last = slash == std::string_view::npos ? image_name : image_name.substr(slash + 1);
    std::string out;
    for (char c : last) {
        auto u = static_cast<unsigned char>(c);
        out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
    }
    while (!out.empty() && out.front() == '-')
        out.erase(out.begin());
    while (!out.empty() && out.back() == '-')
        out.pop_back();
    return out.empty() ? "app" : out;
}

Result<appc::NameValue> parse_env_assignment(std::string_view s)
{
    auto eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0)
        return Error::msg("'" + std::string(s) + "': expected NAME=VALUE");
    auto name = s.substr(0, eq);
    bool ok = !std::isdigit(static_cast<unsigned char>(name.front()));
    for (char c : name)
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok)
        return Error::msg("'" + std::string(name) + "' is not a valid environment variable name");
    return appc::NameValue { std::string(name), std::string(s.substr(eq + 1)) };
}

Result<std::vector<appc::NameValue>> parse_env_file(std::string_view text, const std::string& path)
{
    std::vector<appc::NameValue> out;
    size_t line_no = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        line_no++;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        if (line.empty() || line.front() == '#')
            continue;
        auto nv = parse_env_assignment(line);
        if (!nv)
            return nv.release_error().wrap("'" + path + "' line " + std::to_string(line_no));
        out.push_back(nv.release_value());
    }
    return out;
}

namespace {

void set_env(std::vector<appc::NameValue>& env, const appc::NameValue& nv)
{
    auto it = std::find_if(env.begin(), env.end(), [&](auto& e) { return e.name == nv.name; });
    if (it != env.end())
        it->value = nv.value;
    else
        env.push_back(nv);
}

/// Docker's rules for an OCI image: `--exec` replaces the Entrypoint, `-- ARGS` the Cmd; the
/// config's User is resolved in the image's /etc/passwd and /etc/group unless both --user and
/// --group replace it (which then take appc's meaning, as for ACIs).
Status apply_docker_rules(appc::App& app, const AppSpec& spec, const ResolvedImage& image, appc::RuntimeApp& ra)
{
    auto& d = *image.oci;
    app.exec = TRY(oci::docker_exec(d.entrypoint, d.cmd, spec.exec, spec.args, image.name));
    if (spec.user && spec.group)
        return {};
    auto user = oci::resolve_user(d.user, d.passwd, d.group);
    if (!user)
        return user.release_error().wrap("image " + image.name);
    app.user = std::to_string(user->uid);
    app.group = std::to_string(user->gid);
    if (!spec.user && !spec.group) {
        app.supplementary_gids = user->supplementary_gids;
        ra.annotations.push_back({ std::string(stage1_interface::annotation_exact_groups), "true" });
    }
    return {};
}

Result<appc::App> effective_app(
    const AppSpec& spec, const ResolvedImage& image, appc::RuntimeApp& ra, const std::vector<appc::NameValue>& pod_env)
{
    const auto& name = ra.name;
    appc::App app = image.manifest.app.value_or(appc::App {});
    if (!image.manifest.app) {
        app.user = "0";
        app.group = "0";
    }
    if (image.oci) {
        TRY_CTX(apply_docker_rules(app, spec, image, ra), "app '" + name + "'");
    } else {
        if (spec.exec)
            app.exec = { *spec.exec };
        app.exec.insert(app.exec.end(), spec.args.begin(), spec.args.end());
        if (app.exec.empty())
            return Error::msg("app '" + name + "': image " + image.name + " has no exec; give one with --exec");
    }
    if (spec.user)
        app.user = *spec.user;
    if (spec.group)
        app.group = *spec.group;
    if (spec.working_dir) {
        if (spec.working_dir->empty() || spec.working_dir->front() != '/')
            return Error::msg("app '" + name + "': --working-dir '" + *spec.working_dir + "' is not absolute");
        app.working_directory = *spec.working_dir;
    }
    for (auto& nv : pod_env)
        set_env(app.environment, nv);
    for (auto& nv : spec.environment)
        set_env(app.environment, nv);
    app.isolators = TRY_CTX(app_isolators(spec, app.isolators, image.name), "app '" + name + "'");
    return app;
}

Result<std::vector<appc::PodMount>> app_mounts(
    const AppSpec& spec, const appc::App& app, const std::string& name, const std::vector<appc::Volume>& volumes)
{
    std::vector<appc::PodMount> mounts;
    auto defined = [&](const std::string& v) {
        return std::any_of(volumes.begin(), volumes.end(), [&](auto& vol) { return vol.name == v; });
    };
    for (auto& m : spec.mounts) {
        if (!defined(m.volume))
            return Error::msg("app '" + name + "': --mount of undefined volume '" + m.volume
                + "' (define it with --volume=" + m.volume + ",kind=…)");
        if (m.path.empty() || m.path.front() != '/')
            return Error::msg("app '" + name + "': --mount target '" + m.path + "' is not absolute");
        mounts.push_back(m);
    }
    // appc: a pod volume fulfils the image mount point of the same name.
    for (auto& mp : app.mount_points) {
        bool explicit_mount = std::any_of(mounts.begin(), mounts.end(), [&](auto& m) { return m.volume == mp.name; });
        if (!explicit_mount && defined(mp.name))
            mounts.push_back({ mp.name, mp.path });
    }
    return mounts;
}

} // namespace

Result<appc::PodManifest> build_pod_manifest(
    const PodSpec& spec, const std::vector<ResolvedImage>& images, const std::vector<appc::NameValue>& pod_env)
{
    if (spec.apps.size() != images.size())
        return Error::msg("internal: apps and images differ in number");
    appc::PodManifest m;
    std::set<std::string> volume_names;
    for (auto& v : spec.volumes)
        if (!volume_names.insert(v.name).second)
            return Error::msg("volume '" + v.name + "' is defined twice");
    m.volumes = spec.volumes;
    std::set<std::string> names;
    for (size_t i = 0; i < spec.apps.size(); i++) {
        auto& as = spec.apps[i];
        auto& img = images[i];
        appc::RuntimeApp ra;
        ra.name = as.name ? *as.name : app_name_from_image(img.name);
        if (!appc::is_ac_name(ra.name))
            return Error::msg("app name '" + ra.name + "' is not a valid AC name (lower-case letters, digits, -)");
        if (!names.insert(ra.name).second)
            return Error::msg("app name '" + ra.name + "' is used twice in the pod; set one with --name");
        ra.image = { img.name, img.id, img.labels };
        // rkt's: the app speaks sd_notify. An OCI image's config labels are its view's annotations.
        if (auto v = img.manifest.annotation(stage1_interface::annotation_supports_notify))
            ra.annotations.push_back({ std::string(stage1_interface::annotation_supports_notify), *v });
        auto app = TRY(effective_app(as, img, ra, pod_env));
        ra.mounts = TRY(app_mounts(as, app, ra.name, m.volumes));
        ra.app = std::move(app);
        m.apps.push_back(std::move(ra));
    }
    return m;
}

} // namespace capsule::stage0
