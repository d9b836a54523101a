// SPDX-License-Identifier: Apache-2.0
#include "stage0/pod_info.h"

#include "lib/appc/types.h"
#include "lib/fs.h"
#include "stage0/host_systemd.h"
#include "stage1/common/interface.h"

#include <algorithm>
#include <charconv>
#include <sys/stat.h>

namespace capsule::stage0 {

namespace iface = capsule::stage1_interface;

bool PodInfo::exited() const
{
    return state == PodState::Exited || state == PodState::ExitedGarbage
        || (state == PodState::Garbage && started.has_value());
}

namespace {

std::optional<int64_t> mtime_of(const std::string& path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) < 0)
        return std::nullopt;
    return static_cast<int64_t>(st.st_mtim.tv_sec);
}

std::optional<int> read_int(const std::string& path)
{
    auto text = read_file(path);
    if (!text)
        return std::nullopt;
    std::string_view s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.remove_suffix(1);
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
        return std::nullopt;
    return v;
}

} // namespace

Result<std::string> read_pod_manifest_text(const PodRef& ref)
{
    return read_file(path_join(ref.path, iface::pod_manifest)).wrap("pod " + ref.uuid);
}

PodInfo read_pod_info(const PodRef& ref)
{
    PodInfo info;
    info.ref = ref;
    info.state = probe_state(ref);
    auto created = mtime_of(path_join(ref.path, iface::pod_manifest));
    info.created = created.value_or(mtime_of(ref.path).value_or(0));
    info.started = mtime_of(path_join(ref.path, iface::pid_file));
    info.pid = read_int(path_join(ref.path, iface::pid_file));
    info.unit = read_pod_unit(ref.path);
    if (auto text = read_file(path_join(ref.path, iface::pod_manifest))) {
        if (auto m = appc::parse_pod_manifest(*text))
            info.manifest = m.release_value();
    }
    if (!info.manifest)
        return info;
    for (auto& a : info.manifest->apps) {
        AppStatus s { a.name, a.image.id, a.image.name, std::nullopt, std::nullopt };
        auto status_path = path_join(ref.path, std::string(iface::status_dir) + "/" + a.name);
        s.exit_code = read_int(status_path);
        s.finished_at = mtime_of(status_path);
        info.apps.push_back(std::move(s));
    }
    return info;
}

Result<std::vector<PodInfo>> read_all_pods(const std::string& dir)
{
    auto refs = TRY(list_pods(dir));
    std::vector<PodInfo> out;
    out.reserve(refs.size());
    for (auto& r : refs)
        out.push_back(read_pod_info(r));
    std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.created < b.created; });
    return out;
}

Result<std::set<std::string>> images_in_use(const std::string& dir)
{
    std::set<std::string> ids;
    auto refs = TRY(list_pods(dir));
    for (auto& r : refs) {
        if (r.where == PodDir::Garbage)
            continue;
        if (auto id = read_file(path_join(r.path, iface::stage1_id)))
            ids.insert(*id);
        if (auto text = read_file(path_join(r.path, iface::pod_manifest))) {
            if (auto m = appc::parse_pod_manifest(*text)) {
                for (auto& a : m->apps)
                    ids.insert(a.image.id);
            }
        }
    }
    return ids;
}

std::optional<std::string> pod_flavour(const PodRef& ref)
{
    auto tree = read_file(path_join(ref.path, iface::stage1_tree));
    if (!tree)
        return std::nullopt;
    auto text = read_file(path_join(*tree, "manifest"));
    if (!text)
        return std::nullopt;
    auto manifest = appc::parse_image_manifest(*text);
    if (!manifest)
        return std::nullopt;
    return manifest->annotation(iface::annotation_flavour);
}

} // namespace capsule::stage0
