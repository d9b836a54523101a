// SPDX-License-Identifier: Apache-2.0
#include "fetch/tar_index.h"

#include <algorithm>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace capsule::fetch {

namespace {

constexpr size_t block = 512;
/// pax and GNU long-name headers are small; more is not a sane archive.
constexpr uint64_t max_extended_header = 1 << 20;
constexpr size_t max_members = 1 << 20;

uint64_t round_up(uint64_t n)
{
    return (n + block - 1) / block * block;
}

/// An octal field (NUL/space padded), or base-256 when the high bit of the first byte is set.
std::optional<uint64_t> parse_number(const unsigned char* f, size_t len)
{
    if (f[0] & 0x80) {
        uint64_t v = f[0] & 0x3f;
        for (size_t i = 1; i < len; i++) {
            if (v >> 56)
                return std::nullopt;
            v = (v << 8) | f[i];
        }
        return v;
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    bool any = false;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++, any = true) {
        if (v >> 60)
            return std::nullopt;
        v = v * 8 + (f[i] - '0');
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != 0)
            return std::nullopt;
    return any ? std::optional<uint64_t>(v) : std::optional<uint64_t>(0);
}

std::string field(const unsigned char* f, size_t len)
{
    auto end = std::find(f, f + len, 0);
    return std::string(reinterpret_cast<const char*>(f), end - f);
}

Status pread_all(int fd, void* buf, size_t len, uint64_t off, const std::string& what)
{
    auto* p = static_cast<char*>(buf);
    while (len > 0) {
        auto n = ::pread(fd, p, len, static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("read '" + what + "'");
        }
        if (n == 0)
            return Error("'" + what + "' is truncated (a tar member ends past the end of the file)", EIO);
        p += n;
        len -= static_cast<size_t>(n);
        off += static_cast<uint64_t>(n);
    }
    return {};
}

bool regular(char type)
{
    return type == '0' || type == 0 || type == '7';
}

/// pax extended header records: "LEN key=value\n".
void parse_pax(std::string_view data, std::optional<std::string>& path, std::optional<std::string>& link,
    uint64_t& size, bool& has_size)
{
    while (!data.empty()) {
        auto sp = data.find(' ');
        if (sp == std::string_view::npos)
            return;
        size_t len = 0;
        for (size_t i = 0; i < sp; i++) {
            if (data[i] < '0' || data[i] > '9')
                return;
            len = len * 10 + static_cast<size_t>(data[i] - '0');
        }
        if (len <= sp + 1 || len > data.size())
            return;
        auto rec = data.substr(sp + 1, len - sp - 1);
        if (rec.ends_with('\n'))
            rec.remove_suffix(1);
        if (auto eq = rec.find('='); eq != std::string_view::npos) {
            auto key = rec.substr(0, eq);
            auto value = std::string(rec.substr(eq + 1));
            if (key == "path")
                path = value;
            else if (key == "linkpath")
                link = value;
            else if (key == "size") {
                size = std::strtoull(value.c_str(), nullptr, 10);
                has_size = true;
            }
        }
        data.remove_prefix(len);
    }
}

/// Calls `visit(name, member)` for every member; `visit` returns false to stop.
Status walk(int fd, const std::string& what, const std::function<bool(const std::string&, const TarMember&)>& visit)
{
    uint64_t pos = 0;
    std::optional<std::string> pax_path, pax_link, long_name, long_link;
    uint64_t pax_size = 0;
    bool has_pax_size = false;
    for (size_t n = 0; n < max_members; n++) {
        unsigned char h[block];
        auto got = ::pread(fd, h, block, static_cast<off_t>(pos));
        if (got < 0)
            return Error::from_errno("read '" + what + "'");
        if (got == 0 && n > 0)
            return {}; // no end-of-archive blocks: tolerated
        if (static_cast<size_t>(got) < block)
            return Error("'" + what + "' is not an uncompressed tar archive (short header at offset "
                    + std::to_string(pos) + ")",
                EINVAL);
        if (std::all_of(h, h + block, [](unsigned char c) { return c == 0; }))
            return {};
        if (!is_tar_header(h))
            return Error(
                "'" + what + "' is not an uncompressed tar archive (bad header at offset " + std::to_string(pos) + ")",
                EINVAL);
        char type = static_cast<char>(h[156]);
        auto size = parse_number(h + 124, 12);
        if (!size)
            return Error("'" + what + "': bad size in the tar header at offset " + std::to_string(pos), EINVAL);
        uint64_t data = pos + block;
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
            if (*size > max_extended_header)
                return Error(
                    "'" + what + "': extended tar header at offset " + std::to_string(pos) + " is too large", EINVAL);
            std::string text(*size, '\0');
            TRY(pread_all(fd, text.data(), text.size(), data, what));
            if (type == 'x')
                parse_pax(text, pax_path, pax_link, pax_size, has_pax_size);
            else if (type == 'L')
                long_name = text.substr(0, text.find('\0'));
            else if (type == 'K')
                long_link = text.substr(0, text.find('\0'));
            pos = data + round_up(*size);
            continue;
        }
        std::string name;
        if (pax_path)
            name = *pax_path;
        else if (long_name)
            name = *long_name;
        else {
            auto prefix = std::memcmp(h + 257, "ustar", 5) == 0 ? field(h + 345, 155) : std::string();
            name = (prefix.empty() ? "" : prefix + "/") + field(h, 100);
        }
        TarMember m;
        m.type = type;
        m.offset = data;
        m.size = has_pax_size ? pax_size : *size;
        m.link = pax_link ? *pax_link : long_link ? *long_link : field(h + 157, 100);
        pax_path.reset(), pax_link.reset(), long_name.reset(), long_link.reset();
        has_pax_size = false;
        bool has_data = !(type >= '1' && type <= '6');
        if (!has_data)
            m.size = 0;
        if (!visit(name, m))
            return {};
        pos = data + round_up(m.size);
    }
    return Error("'" + what + "' has more than " + std::to_string(max_members) + " members", EFBIG);
}

} // namespace

bool is_tar_header(const unsigned char* h)
{
    bool ustar = std::memcmp(h + 257, "ustar", 5) == 0;
    auto stored = parse_number(h + 148, 8);
    if (!stored)
        return false;
    uint64_t sum = 0;
    int64_t signed_sum = 0;
    for (size_t i = 0; i < block; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
        sum += c;
        signed_sum += static_cast<signed char>(c);
    }
    if (*stored != sum && static_cast<int64_t>(*stored) != signed_sum)
        return false;
    return ustar || h[0] != 0;
}

std::string TarIndex::normalize(std::string_view name)
{
    std::vector<std::string_view> parts;
    while (!name.empty()) {
        auto slash = name.find('/');
        auto part = name.substr(0, slash);
        if (!part.empty() && part != ".") {
            if (part == ".." && !parts.empty() && parts.back() != "..")
                parts.pop_back();
            else
                parts.push_back(part);
        }
        if (slash == std::string_view::npos)
            break;
        name.remove_prefix(slash + 1);
    }
    std::string out;
    for (auto p : parts)
        out += (out.empty() ? "" : "/") + std::string(p);
    return out;
}

Result<TarIndex> TarIndex::read(int fd, const std::string& what)
{
    TarIndex idx;
    idx.m_fd = fd;
    idx.m_what = what;
    TRY(walk(fd, what, [&](const std::string& name, const TarMember& m) {
        idx.m_members[normalize(name)] = m;
        return true;
    }));
    if (idx.m_members.empty())
        return Error("'" + what + "' is an empty tar archive", EINVAL);
    return idx;
}

std::optional<TarMember> TarIndex::find(std::string_view name) const
{
    std::string cur = normalize(name);
    for (int hops = 0; hops < 16; hops++) {
        auto it = m_members.find(cur);
        if (it == m_members.end())
            return std::nullopt;
        const auto& m = it->second;
        if (regular(m.type))
            return m;
        if (m.type == '1')
            cur = normalize(m.link);
        else if (m.type == '2') {
            auto slash = cur.rfind('/');
            auto dir = slash == std::string::npos ? std::string() : cur.substr(0, slash);
            cur = normalize(m.link.starts_with('/') ? m.link : dir + "/" + m.link);
        } else
            return std::nullopt;
    }
    return std::nullopt;
}

Result<std::string> TarIndex::read_member(const TarMember& m, size_t limit) const
{
    if (m.size > limit)
        return Error("is larger than " + std::to_string(limit) + " bytes", EFBIG);
    std::string out(m.size, '\0');
    TRY(pread_all(m_fd, out.data(), out.size(), m.offset, m_what));
    return out;
}

Status TarIndex::stream_member(
    const TarMember& m, uint64_t max, const std::function<Status(const void*, size_t)>& sink) const
{
    constexpr size_t chunk = 1 << 20;
    std::vector<char> buf(chunk);
    uint64_t left = std::min(m.size, max);
    uint64_t off = m.offset;
    while (left > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk));
        TRY(pread_all(m_fd, buf.data(), n, off, m_what));
        TRY(sink(buf.data(), n));
        off += n;
        left -= n;
    }
    return {};
}

TarSniff sniff_tar(int fd)
{
    TarSniff s;
    unsigned char h[block];
    if (::pread(fd, h, block, 0) != static_cast<ssize_t>(block) || !is_tar_header(h))
        return s;
    s.tar = true;
    (void)walk(fd, "archive", [&](const std::string& raw, const TarMember&) {
        auto name = TarIndex::normalize(raw);
        if (name == "oci-layout")
            s.oci_layout = true;
        else if (name == "manifest.json")
            s.manifest_json = true;
        else if (name == "repositories")
            s.repositories = true;
        else if (name == "manifest")
            s.aci_manifest = true;
        return !s.aci_manifest;
    });
    return s;
}

} // namespace capsule::fetch
