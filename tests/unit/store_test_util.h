// SPDX-License-Identifier: Apache-2.0
#pragma once

// Builds test tars in memory with libarchive's writer.

#include <archive.h>
#include <archive_entry.h>
#include <string>

namespace capsule::test {

class TarBuilder {
public:
    TarBuilder()
    {
        m_a = archive_write_new();
        archive_write_set_format_pax_restricted(m_a);
        archive_write_open(m_a, this, nullptr, &TarBuilder::write_cb, nullptr);
    }
    ~TarBuilder()
    {
        if (m_a)
            archive_write_free(m_a);
    }

    TarBuilder& add(const std::string& path, unsigned type, const std::string& data = "", const char* link = nullptr,
        bool hard = false, unsigned mode = 0644)
    {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, path.c_str());
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, mode);
        archive_entry_set_mtime(e, 1000000000, 0);
        if (link && hard)
            archive_entry_set_hardlink(e, link);
        else if (link)
            archive_entry_set_symlink(e, link);
        archive_entry_set_size(e, type == AE_IFREG && !hard ? static_cast<la_int64_t>(data.size()) : 0);
        archive_write_header(m_a, e);
        if (type == AE_IFREG && !data.empty())
            archive_write_data(m_a, data.data(), data.size());
        archive_entry_free(e);
        return *this;
    }
    TarBuilder& file(const std::string& p, const std::string& data, unsigned mode = 0644)
    {
        return add(p, AE_IFREG, data, nullptr, false, mode);
    }
    TarBuilder& dir(const std::string& p, unsigned mode = 0755) { return add(p, AE_IFDIR, "", nullptr, false, mode); }
    TarBuilder& symlink(const std::string& p, const char* target) { return add(p, AE_IFLNK, "", target); }
    TarBuilder& hardlink(const std::string& p, const char* target) { return add(p, AE_IFREG, "", target, true); }

    std::string finish()
    {
        archive_write_close(m_a);
        archive_write_free(m_a);
        m_a = nullptr;
        return m_out;
    }

private:
    static la_ssize_t write_cb(archive*, void* self, const void* buf, size_t n)
    {
        static_cast<TarBuilder*>(self)->m_out.append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    }
    archive* m_a { nullptr };
    std::string m_out;
};

inline const char* minimal_manifest
    = R"({"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/t","labels":[{"name":"version","value":"1"}]})";

} // namespace capsule::test
