// SPDX-License-Identifier: Apache-2.0
// The guest's initramfs: our init, the kernel modules it needs (for the kernel the pod boots,
// found through its release string) and the pod's configuration.
#include "stage1/kvm/kvm.h"

#include "lib/fd.h"
#include "lib/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace capsule::stage1::kvm {

Result<std::string> kernel_release(const std::string& kernel)
{
    auto fd = TRY_CTX(open_fd(kernel, O_RDONLY | O_CLOEXEC), "kernel '" + kernel + "'");
    // The x86 boot protocol's setup header: "HdrS" at 0x202; at 0x20e the offset (from 0x200)
    // of a NUL-terminated version string, "6.1.0-56-cloud-amd64 (debian-kernel@...) #1 ...".
    unsigned char hdr[0x210];
    if (::pread(fd.get(), hdr, sizeof hdr, 0) != static_cast<ssize_t>(sizeof hdr)
        || std::string_view(reinterpret_cast<char*>(hdr) + 0x202, 4) != "HdrS")
        return Error::msg("kernel '" + kernel + "': not a Linux bzImage");
    unsigned offset = hdr[0x20e] | (hdr[0x20f] << 8);
    char text[256] = {};
    if (offset == 0 || ::pread(fd.get(), text, sizeof text - 1, 0x200 + offset) <= 0)
        return Error::msg("kernel '" + kernel + "': its header names no version");
    std::string release(text, ::strnlen(text, sizeof text - 1));
    release = release.substr(0, release.find(' '));
    if (release.empty() || release.find('/') != std::string::npos || release.starts_with("."))
        return Error::msg("kernel '" + kernel + "': bad version string");
    return release;
}

namespace {

/// "kernel/drivers/block/virtio_blk.ko" -> "virtio_blk" (dashes as underscores, as modprobe).
std::string module_name(std::string_view path)
{
    auto base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
    base = base.substr(0, base.find(".ko"));
    std::string name(base);
    for (auto& c : name)
        if (c == '-')
            c = '_';
    return name;
}

std::vector<std::string_view> split_ws(std::string_view s)
{
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
        size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\t')
            ++j;
        if (j > i)
            out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

std::vector<std::string_view> lines_of(std::string_view text)
{
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos)
            nl = text.size();
        out.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

} // namespace

Result<std::vector<std::string>> module_load_order_from(
    std::string_view modules_dep, std::string_view modules_builtin, const std::vector<std::string>& names)
{
    std::map<std::string, std::string> path_of;                 // name -> path
    std::map<std::string, std::vector<std::string>> depends_on; // path -> paths
    for (auto line : lines_of(modules_dep)) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        std::string path(line.substr(0, colon));
        path_of[module_name(path)] = path;
        auto& deps = depends_on[path];
        for (auto d : split_ws(line.substr(colon + 1)))
            deps.emplace_back(d);
    }
    std::set<std::string> builtin;
    for (auto line : lines_of(modules_builtin))
        if (!line.empty())
            builtin.insert(module_name(line));
    std::vector<std::string> order;
    std::set<std::string> seen;
    // Depth first, dependencies before the module: modules.dep lists every (transitive)
    // dependency, and loading each one's own dependencies first orders them.
    std::function<Status(const std::string&, int)> visit = [&](const std::string& path, int depth) -> Status {
        if (seen.count(path))
            return {};
        if (depth > 64)
            return Error::msg("modules.dep: a dependency loop at '" + path + "'");
        seen.insert(path);
        for (auto& d : depends_on[path])
            TRY(visit(d, depth + 1));
        order.push_back(path);
        return {};
    };
    for (auto& name : names) {
        if (builtin.count(name))
            continue;
        auto it = path_of.find(name);
        if (it == path_of.end())
            return Error("kernel module '" + name + "' is neither built in nor in modules.dep", ENOENT);
        TRY(visit(it->second, 0));
    }
    return order;
}

Result<std::vector<std::string>> module_load_order(const std::string& moddir, const std::vector<std::string>& names)
{
    auto dep = TRY_CTX(read_file(moddir + "/modules.dep"), "kernel modules");
    auto builtin = read_file(moddir + "/modules.builtin");
    return module_load_order_from(dep, builtin ? *builtin : std::string(), names).wrap(moddir);
}

namespace {

struct ArchiveDeleter {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
    void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

class CpioWriter {
public:
    static Result<CpioWriter> open(const std::string& path)
    {
        CpioWriter w;
        w.m_path = path;
        w.m_a.reset(archive_write_new());
        if (!w.m_a || archive_write_set_format_cpio_newc(w.m_a.get()) != ARCHIVE_OK
            || archive_write_add_filter_none(w.m_a.get()) != ARCHIVE_OK
            || archive_write_open_filename(w.m_a.get(), path.c_str()) != ARCHIVE_OK)
            return w.error("create");
        return w;
    }
    Status dir(const std::string& name) { return add(name, AE_IFDIR | 0755, {}); }
    Status file(const std::string& name, int mode, std::string_view data) { return add(name, AE_IFREG | mode, data); }
    Status chardev(const std::string& name, unsigned major, unsigned minor)
    {
        return add(name, AE_IFCHR | 0600, {}, ::makedev(major, minor));
    }
    Status close()
    {
        if (archive_write_close(m_a.get()) != ARCHIVE_OK)
            return error("write");
        return {};
    }

private:
    Error error(std::string_view what) const
    {
        const char* why = m_a ? archive_error_string(m_a.get()) : nullptr;
        return Error::msg(std::string(what) + " initramfs '" + m_path + "': " + (why ? why : "out of memory"));
    }
    Status add(const std::string& name, int mode, std::string_view data, dev_t rdev = 0)
    {
        std::unique_ptr<struct archive_entry, EntryDeleter> e(archive_entry_new());
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_mode(e.get(), static_cast<mode_t>(mode));
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
        archive_entry_set_nlink(e.get(), (mode & AE_IFMT) == AE_IFDIR ? 2 : 1);
        if (rdev)
            archive_entry_set_rdev(e.get(), rdev);
        archive_entry_set_ino(e.get(), ++m_ino);
        if (archive_write_header(m_a.get(), e.get()) != ARCHIVE_OK)
            return error("write '" + name + "' to");
        if (!data.empty()
            && archive_write_data(m_a.get(), data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
            return error("write '" + name + "' to");
        return {};
    }
    std::string m_path;
    std::unique_ptr<struct archive, ArchiveDeleter> m_a;
    la_int64_t m_ino { 0 };
};

} // namespace

Status write_initramfs(const std::string& out, const std::string& init_binary, const std::string& moddir,
    const std::vector<std::string>& modules, std::string_view config_json)
{
    auto init = TRY_CTX(read_file(init_binary), "the guest's init");
    auto w = TRY(CpioWriter::open(out));
    for (auto* d : { "dev", "proc", "sys", "pod", "lib", "lib/modules", "capsule" })
        TRY(w.dir(d));
    TRY(w.chardev("dev/console", 5, 1));
    TRY(w.file("init", 0755, init));
    for (auto& m : modules) {
        auto data = TRY_CTX(read_file(moddir + "/" + m), "kernel module");
        TRY(w.file("lib/modules/" + path_basename(m), 0644, data));
    }
    TRY(w.file(std::string(guest_config_path).substr(1), 0644, config_json));
    return w.close();
}

} // namespace capsule::stage1::kvm
