// SPDX-License-Identifier: Apache-2.0
#include "store/index.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>
#include <utility>

namespace capsule::store {

namespace {

// Ordered migrations: entry N takes the schema from user_version N to N+1. Never edit a
// released entry; append a new one (tests/unit/store_index_test.cpp migrates from 0).
constexpr const char* migrations[] = {
    // 1: images with sizes and times kept in the row, so `image list` is one query.
    R"(CREATE TABLE images (
           id TEXT PRIMARY KEY NOT NULL,
           name TEXT NOT NULL,
           version TEXT NOT NULL DEFAULT '',
           labels TEXT NOT NULL DEFAULT '[]',
           type TEXT NOT NULL DEFAULT 'aci',
           origin TEXT NOT NULL DEFAULT '',
           blob_size INTEGER NOT NULL DEFAULT 0,
           tree_size INTEGER NOT NULL DEFAULT 0,
           import_time INTEGER NOT NULL,
           last_used INTEGER NOT NULL DEFAULT 0
       );
       CREATE INDEX images_name ON images (name, version);
       CREATE TABLE origins (
           path TEXT PRIMARY KEY NOT NULL,
           dev INTEGER NOT NULL,
           ino INTEGER NOT NULL,
           size INTEGER NOT NULL,
           mtime_ns INTEGER NOT NULL,
           image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE
       );
       CREATE INDEX origins_image ON origins (image_id);)",
    // 2: who vouched for an image: the primary fingerprint of the key whose signature was
    // verified at fetch ("" for images fetched with --insecure-options=image).
    R"(ALTER TABLE images ADD COLUMN signed_by TEXT NOT NULL DEFAULT '')",
    // 3: the remote cache: what an http(s) URL resolved to when it was fetched, with the
    // validators (ETag) and freshness (Cache-Control max-age) to revalidate it later.
    R"(CREATE TABLE remotes (
           url TEXT PRIMARY KEY NOT NULL,
           resolved_url TEXT NOT NULL DEFAULT '',
           etag TEXT NOT NULL DEFAULT '',
           max_age INTEGER NOT NULL DEFAULT -1,
           fetched_at INTEGER NOT NULL,
           image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE
       );
       CREATE INDEX remotes_image ON remotes (image_id);)",
    // 4: OCI images. Layers are stored once by blob digest and shared; image_layers says
    // which image stacks which layers, in order, so rm and gc know when a layer is unused.
    R"(CREATE TABLE layers (
           digest TEXT PRIMARY KEY NOT NULL,
           media_type TEXT NOT NULL DEFAULT '',
           size INTEGER NOT NULL DEFAULT 0,
           tree_size INTEGER NOT NULL DEFAULT 0,
           import_time INTEGER NOT NULL
       );
       CREATE TABLE oci_images (
           image_id TEXT PRIMARY KEY NOT NULL REFERENCES images (id) ON DELETE CASCADE,
           manifest_digest TEXT NOT NULL,
           manifest_media_type TEXT NOT NULL DEFAULT '',
           config_digest TEXT NOT NULL
       );
       CREATE INDEX oci_images_config ON oci_images (config_digest);
       CREATE TABLE image_layers (
           image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
           position INTEGER NOT NULL,
           digest TEXT NOT NULL REFERENCES layers (digest),
           PRIMARY KEY (image_id, position)
       );
       CREATE INDEX image_layers_digest ON image_layers (digest);)",
};

constexpr const char* image_columns
    = "id, name, version, labels, type, origin, blob_size, tree_size, import_time, last_used, signed_by";

Error db_error(sqlite3* db, std::string_view what)
{
    int code = sqlite3_extended_errcode(db);
    // SQLITE_FULL maps to ENOSPC so callers can react to a full disk.
    int err = (code & 0xff) == SQLITE_FULL ? ENOSPC : 0;
    return Error("index: " + std::string(what) + ": " + sqlite3_errmsg(db), err);
}

/// A prepared statement, finalized on destruction.
class Stmt {
public:
    static Result<Stmt> prepare(sqlite3* db, const char* sql)
    {
        Stmt s;
        s.m_db = db;
        if (sqlite3_prepare_v2(db, sql, -1, &s.m_stmt, nullptr) != SQLITE_OK)
            return db_error(db, "prepare");
        return s;
    }
    Stmt() = default;
    Stmt(Stmt&& o) noexcept
        : m_db(o.m_db)
        , m_stmt(std::exchange(o.m_stmt, nullptr))
    {
    }
    Stmt(const Stmt&) = delete;
    ~Stmt() { sqlite3_finalize(m_stmt); }

    Stmt& bind(int i, std::string_view v)
    {
        sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind(int i, int64_t v)
    {
        sqlite3_bind_int64(m_stmt, i, v);
        return *this;
    }
    /// true: a row is ready; false: done.
    Result<bool> step()
    {
        int r = sqlite3_step(m_stmt);
        if (r == SQLITE_ROW)
            return true;
        if (r == SQLITE_DONE)
            return false;
        return db_error(m_db, "step");
    }
    std::string text(int col) const
    {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(m_stmt, col))) : std::string();
    }
    int64_t integer(int col) const { return sqlite3_column_int64(m_stmt, col); }

private:
    sqlite3* m_db { nullptr };
    sqlite3_stmt* m_stmt { nullptr };
};

ImageInfo read_image(const Stmt& s)
{
    ImageInfo info;
    info.id = s.text(0);
    info.name = s.text(1);
    auto labels = nlohmann::json::parse(s.text(3), nullptr, false);
    if (labels.is_array()) {
        for (auto& l : labels)
            if (l.is_array() && l.size() == 2 && l[0].is_string() && l[1].is_string())
                info.labels.push_back({ l[0].get<std::string>(), l[1].get<std::string>() });
    }
    info.type = s.text(4);
    info.origin = s.text(5);
    info.blob_size = static_cast<uint64_t>(s.integer(6));
    info.tree_size = static_cast<uint64_t>(s.integer(7));
    info.import_time = s.integer(8);
    info.last_used = s.integer(9);
    info.signed_by = s.text(10);
    return info;
}

std::string labels_json(const std::vector<appc::NameValue>& labels)
{
    nlohmann::json j = nlohmann::json::array();
    for (auto& l : labels)
        j.push_back({ l.name, l.value });
    return j.dump();
}

Result<std::vector<ImageInfo>> collect(Stmt& s)
{
    std::vector<ImageInfo> out;
    while (TRY(s.step()))
        out.push_back(read_image(s));
    return out;
}

} // namespace

int Index::current_schema_version()
{
    return static_cast<int>(std::size(migrations));
}

Index::Index(Index&& o) noexcept
    : m_db(std::exchange(o.m_db, nullptr))
{
}

Index& Index::operator=(Index&& o) noexcept
{
    if (this != &o) {
        sqlite3_close_v2(m_db);
        m_db = std::exchange(o.m_db, nullptr);
    }
    return *this;
}

Index::~Index()
{
    sqlite3_close_v2(m_db);
}

Status Index::exec(const char* sql)
{
    char* msg = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        auto e = db_error(m_db, msg ? msg : sql);
        sqlite3_free(msg);
        return e;
    }
    return {};
}

Result<Index> Index::open(const std::string& path)
{
    Index idx;
    int r = sqlite3_open_v2(
        path.c_str(), &idx.m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (r != SQLITE_OK)
        return Error::msg("open index '" + path + "': " + (idx.m_db ? sqlite3_errmsg(idx.m_db) : "out of memory"));
    // Concurrent capsule processes wait for each other rather than fail.
    sqlite3_busy_timeout(idx.m_db, 30000);
    // Switching a new database to WAL, and reading it while another process creates or
    // migrates it, can answer SQLITE_BUSY without consulting the busy handler: retry
    // those for as long as the busy timeout would have waited.
    int version = 0;
    for (int attempt = 0;; attempt++) {
        auto opened = idx.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        Result<int> v = opened ? idx.schema_version() : Result<int>(opened.error());
        if (v) {
            version = *v;
            break;
        }
        if ((sqlite3_extended_errcode(idx.m_db) & 0xff) != SQLITE_BUSY || attempt >= 3000)
            return v.release_error().wrap("open '" + path + "'");
        ::usleep(10'000);
    }
    if (version > current_schema_version())
        return Error::msg("open index '" + path + "': schema version " + std::to_string(version)
            + " is newer than this capsule supports (" + std::to_string(current_schema_version()) + ")");
    if (version < current_schema_version()) {
        TRY(idx.exec("BEGIN IMMEDIATE"));
        // Re-read under the write lock: another process may have migrated meanwhile.
        version = TRY(idx.schema_version());
        for (int v = version; v < current_schema_version(); v++) {
            spdlog::debug("store index: migrating schema {} -> {}", v, v + 1);
            std::string sql = std::string(migrations[v]) + "; PRAGMA user_version=" + std::to_string(v + 1) + ";";
            if (auto m = idx.exec(sql.c_str()); !m) {
                (void)idx.exec("ROLLBACK");
                return m.release_error().wrap("migrate index '" + path + "' to schema " + std::to_string(v + 1));
            }
        }
        TRY(idx.exec("COMMIT"));
    }
    return idx;
}

Result<int> Index::schema_version()
{
    auto s = TRY(Stmt::prepare(m_db, "PRAGMA user_version"));
    if (!TRY(s.step()))
        return 0;
    return static_cast<int>(s.integer(0));
}

Status Index::insert(const ImageInfo& info, const OriginKey* origin)
{
    TRY(exec("BEGIN IMMEDIATE"));
    auto body = [&]() -> Status {
        auto s = TRY(Stmt::prepare(m_db,
            "INSERT OR IGNORE INTO images (id, name, version, labels, type, origin, blob_size, tree_size, "
            "import_time, last_used, signed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        s.bind(1, info.id)
            .bind(2, info.name)
            .bind(3, info.version())
            .bind(4, labels_json(info.labels))
            .bind(5, info.type);
        s.bind(6, info.origin).bind(7, static_cast<int64_t>(info.blob_size));
        s.bind(8, static_cast<int64_t>(info.tree_size)).bind(9, info.import_time).bind(10, info.last_used);
        s.bind(11, info.signed_by);
        TRY(s.step());
        if (origin)
            TRY(record_origin(*origin, info.id));
        return {};
    };
    if (auto r = body(); !r) {
        (void)exec("ROLLBACK");
        return r;
    }
    return exec("COMMIT");
}

Status Index::set_signed_by(const std::string& id, const std::string& fingerprint)
{
    auto s = TRY(Stmt::prepare(m_db, "UPDATE images SET signed_by = ? WHERE id = ? AND signed_by = ''"));
    s.bind(1, fingerprint).bind(2, id);
    TRY(s.step());
    return {};
}

Result<std::optional<ImageInfo>> Index::get(const std::string& id)
{
    auto sql = std::string("SELECT ") + image_columns + " FROM images WHERE id = ?";
    auto s = TRY(Stmt::prepare(m_db, sql.c_str()));
    s.bind(1, id);
    if (!TRY(s.step()))
        return std::optional<ImageInfo>();
    return std::optional<ImageInfo>(read_image(s));
}

Result<std::vector<ImageInfo>> Index::find_prefix(std::string_view prefix)
{
    // A range instead of LIKE: IDs are case-sensitive and the primary key index serves it.
    auto sql = std::string("SELECT ") + image_columns + " FROM images WHERE id >= ? AND id < ? ORDER BY id";
    auto s = TRY(Stmt::prepare(m_db, sql.c_str()));
    std::string upper(prefix);
    upper += '\x7f';
    s.bind(1, prefix).bind(2, upper);
    return collect(s);
}

Result<std::vector<ImageInfo>> Index::find_name(std::string_view name, std::optional<std::string_view> version)
{
    auto sql = std::string("SELECT ") + image_columns + " FROM images WHERE name = ?"
        + (version ? " AND version = ?" : "") + " ORDER BY import_time DESC, rowid DESC";
    auto s = TRY(Stmt::prepare(m_db, sql.c_str()));
    s.bind(1, name);
    if (version)
        s.bind(2, *version);
    return collect(s);
}

Result<std::vector<ImageInfo>> Index::list()
{
    auto sql = std::string("SELECT ") + image_columns + " FROM images ORDER BY import_time DESC, rowid DESC";
    auto s = TRY(Stmt::prepare(m_db, sql.c_str()));
    return collect(s);
}

Result<std::optional<std::string>> Index::find_origin(const OriginKey& k)
{
    auto s = TRY(Stmt::prepare(
        m_db, "SELECT image_id FROM origins WHERE path = ? AND dev = ? AND ino = ? AND size = ? AND mtime_ns = ?"));
    s.bind(1, k.path).bind(2, static_cast<int64_t>(k.dev)).bind(3, static_cast<int64_t>(k.ino));
    s.bind(4, static_cast<int64_t>(k.size)).bind(5, k.mtime_ns);
    if (!TRY(s.step()))
        return std::optional<std::string>();
    return std::optional<std::string>(s.text(0));
}

Status Index::record_origin(const OriginKey& k, const std::string& id)
{
    auto s = TRY(Stmt::prepare(
        m_db, "INSERT OR REPLACE INTO origins (path, dev, ino, size, mtime_ns, image_id) VALUES (?, ?, ?, ?, ?, ?)"));
    s.bind(1, k.path).bind(2, static_cast<int64_t>(k.dev)).bind(3, static_cast<int64_t>(k.ino));
    s.bind(4, static_cast<int64_t>(k.size)).bind(5, k.mtime_ns).bind(6, id);
    TRY(s.step());
    return {};
}

Result<std::optional<RemoteInfo>> Index::find_remote(const std::string& url)
{
    auto s = TRY(Stmt::prepare(
        m_db, "SELECT url, resolved_url, etag, max_age, fetched_at, image_id FROM remotes WHERE url = ?"));
    s.bind(1, url);
    if (!TRY(s.step()))
        return std::optional<RemoteInfo>();
    RemoteInfo r;
    r.url = s.text(0);
    r.resolved_url = s.text(1);
    r.etag = s.text(2);
    r.max_age = s.integer(3);
    r.fetched_at = s.integer(4);
    r.image_id = s.text(5);
    return std::optional<RemoteInfo>(std::move(r));
}

Status Index::record_remote(const RemoteInfo& r)
{
    auto s = TRY(Stmt::prepare(m_db,
        "INSERT OR REPLACE INTO remotes (url, resolved_url, etag, max_age, fetched_at, image_id) "
        "VALUES (?, ?, ?, ?, ?, ?)"));
    s.bind(1, r.url).bind(2, r.resolved_url).bind(3, r.etag).bind(4, r.max_age).bind(5, r.fetched_at);
    s.bind(6, r.image_id);
    TRY(s.step());
    return {};
}

Status Index::touch(const std::string& id, int64_t now)
{
    auto s = TRY(Stmt::prepare(m_db, "UPDATE images SET last_used = ? WHERE id = ?"));
    s.bind(1, now).bind(2, id);
    TRY(s.step());
    return {};
}

Result<bool> Index::remove(const std::string& id)
{
    auto s = TRY(Stmt::prepare(m_db, "DELETE FROM images WHERE id = ?"));
    s.bind(1, id);
    TRY(s.step());
    return sqlite3_changes(m_db) > 0;
}

Status Index::rollback_on_error(Status r)
{
    if (!r) {
        (void)exec("ROLLBACK");
        return r;
    }
    return exec("COMMIT");
}

Status Index::insert_layer(const LayerInfo& l, int64_t now)
{
    auto s = TRY(Stmt::prepare(m_db,
        "INSERT OR IGNORE INTO layers (digest, media_type, size, tree_size, import_time) VALUES (?, ?, ?, ?, ?)"));
    s.bind(1, l.digest).bind(2, l.media_type).bind(3, static_cast<int64_t>(l.size));
    s.bind(4, static_cast<int64_t>(l.tree_size)).bind(5, now);
    TRY(s.step());
    return {};
}

Result<std::optional<LayerInfo>> Index::get_layer(const std::string& digest)
{
    auto s = TRY(Stmt::prepare(m_db, "SELECT digest, media_type, size, tree_size FROM layers WHERE digest = ?"));
    s.bind(1, digest);
    if (!TRY(s.step()))
        return std::optional<LayerInfo>();
    return std::optional<LayerInfo>(
        LayerInfo { s.text(0), s.text(1), static_cast<uint64_t>(s.integer(2)), static_cast<uint64_t>(s.integer(3)) });
}

namespace {

std::vector<appc::NameValue> without_version(std::vector<appc::NameValue> labels)
{
    std::erase_if(labels, [](const appc::NameValue& l) { return l.name == "version"; });
    return labels;
}

} // namespace

Result<ImageInfo> Index::commit_oci(const ImageInfo& info, const OciRefs& refs)
{
    TRY(exec("BEGIN IMMEDIATE"));
    auto body = [&]() -> Status {
        for (auto& l : refs.layers)
            if (!TRY(get_layer(l.digest)))
                return Error("layer " + l.digest + " is not stored", ENOENT);
        auto version = info.version();
        if (!version.empty()) {
            // A name:tag names one image: an older holder keeps its row, untagged.
            auto held = TRY(find_name(info.name, version));
            for (auto& old : held) {
                if (old.id == info.id)
                    continue;
                auto s = TRY(Stmt::prepare(m_db, "UPDATE images SET version = '', labels = ? WHERE id = ?"));
                s.bind(1, labels_json(without_version(old.labels))).bind(2, old.id);
                TRY(s.step());
            }
        }
        if (auto existing = TRY(get(info.id))) {
            auto s = TRY(Stmt::prepare(m_db,
                "UPDATE images SET origin = ?, signed_by = CASE WHEN signed_by = '' THEN ? ELSE signed_by END "
                "WHERE id = ?"));
            s.bind(1, info.origin).bind(2, info.signed_by).bind(3, info.id);
            TRY(s.step());
            if (!version.empty()) {
                auto u = TRY(Stmt::prepare(m_db, "UPDATE images SET name = ?, version = ?, labels = ? WHERE id = ?"));
                u.bind(1, info.name).bind(2, version).bind(3, labels_json(info.labels)).bind(4, info.id);
                TRY(u.step());
            }
            return {};
        }
        auto s = TRY(Stmt::prepare(m_db,
            "INSERT INTO images (id, name, version, labels, type, origin, blob_size, tree_size, "
            "import_time, last_used, signed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        s.bind(1, info.id).bind(2, info.name).bind(3, version).bind(4, labels_json(info.labels)).bind(5, info.type);
        s.bind(6, info.origin).bind(7, static_cast<int64_t>(info.blob_size));
        s.bind(8, static_cast<int64_t>(info.tree_size)).bind(9, info.import_time).bind(10, info.last_used);
        s.bind(11, info.signed_by);
        TRY(s.step());
        auto o = TRY(Stmt::prepare(m_db,
            "INSERT INTO oci_images (image_id, manifest_digest, manifest_media_type, config_digest) "
            "VALUES (?, ?, ?, ?)"));
        o.bind(1, info.id).bind(2, refs.manifest_digest).bind(3, refs.manifest_media_type);
        o.bind(4, refs.config_digest);
        TRY(o.step());
        for (size_t i = 0; i < refs.layers.size(); i++) {
            auto l = TRY(Stmt::prepare(m_db, "INSERT INTO image_layers (image_id, position, digest) VALUES (?, ?, ?)"));
            l.bind(1, info.id).bind(2, static_cast<int64_t>(i)).bind(3, refs.layers[i].digest);
            TRY(l.step());
        }
        return {};
    };
    TRY(rollback_on_error(body()));
    auto stored = TRY(get(info.id));
    if (!stored)
        return Error("image " + info.id + " vanished from the index", ENOENT);
    return *stored;
}

Result<std::optional<OciRefs>> Index::get_oci(const std::string& id)
{
    auto s = TRY(Stmt::prepare(
        m_db, "SELECT manifest_digest, manifest_media_type, config_digest FROM oci_images WHERE image_id = ?"));
    s.bind(1, id);
    if (!TRY(s.step()))
        return std::optional<OciRefs>();
    OciRefs refs { s.text(0), s.text(1), s.text(2), {} };
    auto l = TRY(Stmt::prepare(m_db,
        "SELECT l.digest, l.media_type, l.size, l.tree_size FROM image_layers il JOIN layers l ON l.digest = il.digest "
        "WHERE il.image_id = ? ORDER BY il.position"));
    l.bind(1, id);
    while (TRY(l.step()))
        refs.layers.push_back(LayerInfo {
            l.text(0), l.text(1), static_cast<uint64_t>(l.integer(2)), static_cast<uint64_t>(l.integer(3)) });
    return std::optional<OciRefs>(std::move(refs));
}

Result<bool> Index::config_in_use(const std::string& digest, const std::string& except_id)
{
    auto s = TRY(Stmt::prepare(m_db, "SELECT 1 FROM oci_images WHERE config_digest = ? AND image_id != ? LIMIT 1"));
    s.bind(1, digest).bind(2, except_id);
    return s.step();
}

Result<bool> Index::remove_layer_if_unused(const std::string& digest)
{
    auto s = TRY(Stmt::prepare(
        m_db, "DELETE FROM layers WHERE digest = ?1 AND NOT EXISTS (SELECT 1 FROM image_layers WHERE digest = ?1)"));
    s.bind(1, digest);
    TRY(s.step());
    return sqlite3_changes(m_db) > 0;
}

Result<std::vector<std::string>> Index::unused_layers()
{
    auto s = TRY(Stmt::prepare(m_db,
        "SELECT digest FROM layers WHERE NOT EXISTS "
        "(SELECT 1 FROM image_layers WHERE image_layers.digest = layers.digest)"));
    std::vector<std::string> out;
    while (TRY(s.step()))
        out.push_back(s.text(0));
    return out;
}

Result<std::unordered_set<std::string>> Index::layer_digests()
{
    auto s = TRY(Stmt::prepare(m_db, "SELECT digest FROM layers"));
    std::unordered_set<std::string> out;
    while (TRY(s.step()))
        out.insert(s.text(0));
    return out;
}

Result<std::unordered_set<std::string>> Index::oci_blob_digests()
{
    auto out = TRY(layer_digests());
    auto s = TRY(Stmt::prepare(m_db, "SELECT manifest_digest, config_digest FROM oci_images"));
    while (TRY(s.step())) {
        out.insert(s.text(0));
        out.insert(s.text(1));
    }
    return out;
}

} // namespace capsule::store
