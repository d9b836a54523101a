// SPDX-License-Identifier: Apache-2.0
#include "stage0/pod_state.h"

#include "lib/fs.h"
#include "lib/uuid.h"

#include <algorithm>
#include <cctype>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>

namespace capsule::stage0 {

std::string_view dir_name(PodDir d)
{
    switch (d) {
    case PodDir::Embryo:
        return "embryo";
    case PodDir::Prepare:
        return "prepare";
    case PodDir::Prepared:
        return "prepared";
    case PodDir::Run:
        return "run";
    case PodDir::ExitedGarbage:
        return "exited-garbage";
    case PodDir::Garbage:
        return "garbage";
    }
    return "?";
}

std::string_view state_name(PodState s)
{
    switch (s) {
    case PodState::Embryo:
        return "embryo";
    case PodState::Preparing:
        return "preparing";
    case PodState::AbortedPrepare:
        return "aborted prepare";
    case PodState::Prepared:
        return "prepared";
    case PodState::Running:
        return "running";
    case PodState::Exited:
        return "exited";
    case PodState::ExitedGarbage:
        return "exited garbage";
    case PodState::Garbage:
        return "garbage";
    }
    return "?";
}

std::string pods_root(const std::string& dir)
{
    return path_join(dir, "pods");
}

std::string pod_path(const std::string& dir, PodDir d, const std::string& uuid)
{
    return pods_root(dir) + "/" + std::string(dir_name(d)) + "/" + uuid;
}

Result<std::vector<PodRef>> list_pods(const std::string& dir)
{
    std::vector<PodRef> out;
    std::set<std::string> seen;
    for (PodDir d : all_pod_dirs) {
        std::string parent = pods_root(dir) + "/" + std::string(dir_name(d));
        DIR* dp = ::opendir(parent.c_str());
        if (!dp) {
            if (errno == ENOENT)
                continue;
            return Error::from_errno("list pods: open '" + parent + "'");
        }
        std::vector<std::string> names;
        while (struct dirent* de = ::readdir(dp))
            if (is_uuid(de->d_name))
                names.emplace_back(de->d_name);
        ::closedir(dp);
        std::sort(names.begin(), names.end());
        // A pod renamed forward while we list may show up twice: keep its later state.
        for (auto& n : names) {
            if (!seen.insert(n).second)
                std::erase_if(out, [&](const PodRef& r) { return r.uuid == n; });
            out.push_back({ n, d, parent + "/" + n });
        }
    }
    return out;
}

static std::string normalize_prefix(std::string_view prefix)
{
    std::string out;
    for (char c : prefix)
        if (c != '-')
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

Result<std::string> match_uuid_prefix(const std::vector<std::string>& uuids, std::string_view prefix)
{
    std::string want = normalize_prefix(prefix);
    if (want.empty() || want.find_first_not_of("0123456789abcdef") != std::string::npos)
        return Error::msg("invalid pod UUID '" + std::string(prefix) + "'");
    std::vector<std::string> hits;
    for (auto& u : uuids) {
        if (normalize_prefix(u).starts_with(want) && std::find(hits.begin(), hits.end(), u) == hits.end())
            hits.push_back(u);
    }
    if (hits.empty())
        return Error("no pod with UUID '" + std::string(prefix) + "'", ENOENT);
    if (hits.size() > 1) {
        std::string list;
        for (size_t i = 0; i < hits.size() && i < 5; i++)
            list += (i ? ", " : "") + hits[i];
        if (hits.size() > 5)
            list += ", …";
        return Error("pod UUID prefix '" + std::string(prefix) + "' is ambiguous: matches " + list, EINVAL);
    }
    return hits.front();
}

Result<PodRef> find_pod(const std::string& dir, std::string_view prefix)
{
    auto pods = TRY(list_pods(dir));
    std::vector<std::string> uuids;
    for (auto& p : pods)
        uuids.push_back(p.uuid);
    auto uuid = TRY(match_uuid_prefix(uuids, prefix));
    // Probe from the latest state back: the pod may have moved on since the listing.
    for (auto it = std::rbegin(all_pod_dirs); it != std::rend(all_pod_dirs); ++it) {
        auto path = pod_path(dir, *it, uuid);
        if (path_exists(path))
            return PodRef { uuid, *it, path };
    }
    return Error("pod " + uuid + " disappeared", ENOENT);
}

static bool is_locked(const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    auto lock = FileLock::acquire_fd(UniqueFd(fd), path, LockMode::Shared, LockWait::NonBlock);
    return !lock && lock.error().code() == EWOULDBLOCK;
}

PodState probe_state(const PodRef& ref)
{
    switch (ref.where) {
    case PodDir::Embryo:
        return PodState::Embryo;
    case PodDir::Prepare:
        return is_locked(ref.path) ? PodState::Preparing : PodState::AbortedPrepare;
    case PodDir::Prepared:
        return PodState::Prepared;
    case PodDir::Run:
        return is_locked(ref.path) ? PodState::Running : PodState::Exited;
    case PodDir::ExitedGarbage:
        return PodState::ExitedGarbage;
    case PodDir::Garbage:
        return PodState::Garbage;
    }
    return PodState::Garbage;
}

static bool same_inode(int fd, const std::string& path)
{
    struct stat a, b;
    return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Result<LockedPod> LockedPod::create_embryo(const std::string& dir)
{
    auto parent = pods_root(dir) + "/embryo";
    TRY_CTX(mkdir_p(parent, 0711), "create pod");
    // gc may lock and remove an unlocked embryo between our mkdir and flock: if the directory
    // we locked is no longer at its path, start over with a new UUID.
    for (int attempt = 0; attempt < 5; attempt++) {
        PodRef ref { make_uuid(), PodDir::Embryo, "" };
        ref.path = parent + "/" + ref.uuid;
        if (::mkdir(ref.path.c_str(), 0711) < 0)
            return Error::from_errno("create pod: mkdir '" + ref.path + "'");
        auto fd = open_fd(ref.path, O_RDONLY | O_DIRECTORY);
        if (!fd && fd.error().code() == ENOENT)
            continue;
        if (!fd)
            return fd.release_error().wrap("create pod");
        auto lock = FileLock::acquire_fd(fd.release_value(), ref.path, LockMode::Exclusive, LockWait::NonBlock);
        if (!lock || !same_inode(lock->fd(), ref.path))
            continue;
        LockedPod pod;
        pod.m_dir = dir;
        pod.m_ref = std::move(ref);
        pod.m_lock = lock.release_value();
        return pod;
    }
    return Error("create pod in '" + parent + "': lost the race with gc five times", EAGAIN);
}

Result<LockedPod> LockedPod::lock(const std::string& dir, const PodRef& ref)
{
    int raw = ::open(ref.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (raw < 0)
        return Error::from_errno("pod " + ref.uuid + ": open '" + ref.path + "'");
    auto lock = FileLock::acquire_fd(UniqueFd(raw), ref.path, LockMode::Exclusive, LockWait::NonBlock);
    if (!lock)
        return lock.release_error().wrap("pod " + ref.uuid);
    if (!same_inode(lock->fd(), ref.path))
        return Error("pod " + ref.uuid + ": moved away from '" + ref.path + "' while locking", ENOENT);
    LockedPod pod;
    pod.m_dir = dir;
    pod.m_ref = ref;
    pod.m_lock = lock.release_value();
    return pod;
}

Status LockedPod::move_to(PodDir to)
{
    auto parent = pods_root(m_dir) + "/" + std::string(dir_name(to));
    if (::mkdir(parent.c_str(), 0711) < 0 && errno != EEXIST)
        return Error::from_errno("pod " + m_ref.uuid + ": mkdir '" + parent + "'");
    auto dest = parent + "/" + m_ref.uuid;
    if (::rename(m_ref.path.c_str(), dest.c_str()) < 0)
        return Error::from_errno("pod " + m_ref.uuid + ": rename '" + m_ref.path + "' to '" + dest + "'");
    m_ref.path = dest;
    m_ref.where = to;
    return {};
}

Status LockedPod::destroy()
{
    if (m_ref.where != PodDir::Garbage)
        TRY(move_to(PodDir::Garbage));
    return remove_tree(m_ref.path).wrap("pod " + m_ref.uuid + ": remove");
}

} // namespace capsule::stage0
