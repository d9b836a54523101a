// SPDX-License-Identifier: Apache-2.0
#pragma once

// Random access to the members of an uncompressed tar file (an OCI archive, `docker save`
// output): one pass over the headers records where each member's data lies, and blobs are
// then read with pread() straight from the file, from several threads at once, without
// unpacking anything. Handles ustar, pax ('x') and GNU long-name ('L'/'K') headers.

#include "lib/result.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace capsule::fetch {

struct TarMember {
    char type { '0' }; ///< the typeflag: '0' file, '5' directory, '2' symlink, '1' hardlink
    uint64_t offset { 0 };
    uint64_t size { 0 };
    std::string link; ///< symlink / hardlink target
};

class TarIndex {
public:
    /// Index the tar in `fd` (read with pread; the file offset is left alone). An error when the
    /// file is not an uncompressed tar (a bad first header) or a header is cut short.
    static Result<TarIndex> read(int fd, const std::string& what);

    /// The regular file member `name` ("./x" and "x" alike), following symlinks and hardlinks
    /// inside the archive; nullopt when absent.
    std::optional<TarMember> find(std::string_view name) const;
    /// Top-level member names (directories without their trailing '/').
    bool has_top_level(std::string_view name) const { return m_members.contains(normalize(name)); }

    /// Read a member whole; an error when it is larger than `limit` bytes.
    Result<std::string> read_member(const TarMember&, size_t limit) const;
    /// Stream at most `max` bytes of a member to `sink`.
    Status stream_member(const TarMember&, uint64_t max, const std::function<Status(const void*, size_t)>& sink) const;

    int fd() const { return m_fd; }
    /// "a/./b/" -> "a/b"; "../x" keeps its "..".
    static std::string normalize(std::string_view);

private:
    int m_fd { -1 };
    std::string m_what;
    std::map<std::string, TarMember, std::less<>> m_members;
};

/// Is this 512-byte block a tar header (ustar or old-style magic, valid checksum)?
bool is_tar_header(const unsigned char* block);

/// What sniffing the top of a tar found.
struct TarSniff {
    bool tar { false };
    bool oci_layout { false };    ///< an `oci-layout` member
    bool manifest_json { false }; ///< a top-level `manifest.json`
    bool repositories { false };  ///< a top-level `repositories` (docker save)
    bool aci_manifest { false };  ///< a top-level `manifest` (an ACI)
};
/// Walk the headers of the tar in `fd` (pread) until an ACI `manifest` is seen or the end.
TarSniff sniff_tar(int fd);

} // namespace capsule::fetch
