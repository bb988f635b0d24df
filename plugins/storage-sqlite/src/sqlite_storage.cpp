// storage-sqlite — a lakehost storage backend on one SQLite file.
//
// Durability. The database runs in WAL mode and every write call is one transaction that has
// committed before the call returns. A commit appends to the -wal file with write(2), so once a
// call returned the data is in the kernel and survives kill -9 whatever `synchronous` says; with
// synchronous=FULL (the default) the commit also fsyncs the WAL, so it survives power loss too.
//
// Concurrency (LH_FLAG_THREAD_SAFE). One writer connection behind a mutex, plus a pool of reader
// connections:
//  - SQLite admits one writer per database at a time anyway. Queueing writers on an in-process
//    mutex is fair and cheap, where letting them race would make all but one sleep in the busy
//    handler. BEGIN IMMEDIATE still takes SQLite's write lock, which guards against other
//    processes (those wait up to busy_timeout_ms).
//  - In WAL mode readers block neither the writer nor each other, so every read runs on a
//    connection of its own, in a snapshot of its own, and never touches the write mutex. A slow
//    sink therefore delays nobody else.
//  - A pool rather than a thread_local connection per thread: connections must be closed with the
//    instance, not with the host's threads, and a sink may call back into the plugin while a scan
//    is still stepping its connection's statement. The pool grows to the peak number of
//    concurrent reads, which the host's thread count bounds.
#include <lakehost/plugin.hpp>
#include <lakehost/storage_util.hpp>

#include <rapidjson/document.h>
#include <sqlite3.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using lakehost::Error;

constexpr const char* kConfigSchema = R"json({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "path": {
      "description": "Database file; a relative path is resolved against the host's data_dir",
      "type": "string", "minLength": 1, "default": "lakehost.sqlite3"
    },
    "busy_timeout_ms": {
      "description": "How long a call waits for a lock held by another process before failing",
      "type": "integer", "minimum": 0, "maximum": 2147483647, "default": 5000
    },
    "synchronous": {
      "description": "FULL: a commit survives power loss; NORMAL: only a process crash",
      "enum": ["FULL", "NORMAL"], "default": "FULL"
    }
  }
})json";

// PRAGMA user_version of the schema below. Bump it, and migrate in SqliteStorage::migrate(), when
// the schema changes; a file with a larger version was written by a newer plugin and is refused.
constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE collections (
  name     TEXT PRIMARY KEY NOT NULL,
  settings TEXT NOT NULL                 -- host-defined JSON, stored as given
) WITHOUT ROWID;

-- A rowid table on purpose: rows carry a text and a vector (kilobytes), and SQLite advises
-- WITHOUT ROWID only for small rows. The primary key's index serves lookups and ordered scans.
CREATE TABLE documents (
  collection TEXT NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
  id         TEXT NOT NULL,
  text       TEXT NOT NULL,
  metadata   TEXT NOT NULL,              -- JSON object, stored as given (the host validated it)
  vector     BLOB,                       -- little-endian float32[dimension]; NULL if dimension 0
  dimension  INTEGER NOT NULL,
  PRIMARY KEY (collection, id),
  CHECK ((dimension = 0 AND vector IS NULL) OR (dimension > 0 AND length(vector) IS 4 * dimension))
);

CREATE TABLE kv (
  key   TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
);
)sql";

// ---- SQLite plumbing ----------------------------------------------------------------------------

// A statement this plugin runs. `what` names the operation in error messages. Connections cache
// prepared statements by the address of these constants, so only ever pass the constants.
struct Sql {
  const char* what;
  const char* text;
};

constexpr Sql kBeginRead{"begin read transaction", "BEGIN"};
constexpr Sql kBeginWrite{"begin write transaction", "BEGIN IMMEDIATE"};
constexpr Sql kCommit{"commit", "COMMIT"};
constexpr Sql kJournalMode{"set journal_mode", "PRAGMA journal_mode = WAL"};
constexpr Sql kUserVersion{"read user_version", "PRAGMA user_version"};
constexpr Sql kReadSchema{"read schema", "SELECT count(*) FROM sqlite_master"};
constexpr Sql kCollectionExists{"look up collection", "SELECT 1 FROM collections WHERE name = ?1"};
constexpr Sql kCollectionGet{"read collection",
                             "SELECT name, settings FROM collections WHERE name = ?1"};
constexpr Sql kCollectionList{"list collections",
                              "SELECT name, settings FROM collections ORDER BY name"};
constexpr Sql kCollectionPut{"write collection",
                             "INSERT INTO collections (name, settings) VALUES (?1, ?2) "
                             "ON CONFLICT (name) DO UPDATE SET settings = excluded.settings"};
constexpr Sql kCollectionDelete{"delete collection", "DELETE FROM collections WHERE name = ?1"};
constexpr Sql kDocumentPut{
    "write document",
    "INSERT INTO documents (collection, id, text, metadata, vector, dimension) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (collection, id) DO UPDATE SET "
    "text = excluded.text, metadata = excluded.metadata, vector = excluded.vector, "
    "dimension = excluded.dimension"};
constexpr Sql kDocumentGet{"read document",
                           "SELECT id, text, metadata, vector, dimension FROM documents "
                           "WHERE collection = ?1 AND id = ?2"};
constexpr Sql kDocumentScan{"scan documents",
                            "SELECT id, text, metadata, vector, dimension FROM documents "
                            "WHERE collection = ?1 ORDER BY id"};
constexpr Sql kDocumentCount{"count documents",
                             "SELECT count(*) FROM documents WHERE collection = ?1"};
constexpr Sql kDocumentDelete{"delete document",
                              "DELETE FROM documents WHERE collection = ?1 AND id = ?2"};
constexpr Sql kKvPut{"write key",
                     "INSERT INTO kv (key, value) VALUES (?1, ?2) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value"};
constexpr Sql kKvGet{"read key", "SELECT value FROM kv WHERE key = ?1"};
constexpr Sql kKvDelete{"delete key", "DELETE FROM kv WHERE key = ?1"};
// Prefix matching as a key range, not LIKE: LIKE treats '%' and '_' in the prefix as wildcards
// (and folds ASCII case). TEXT compares with the BINARY collation, i.e. memcmp, so the keys that
// start with P are exactly those in [P, successor(P)).
constexpr Sql kKvListFrom{"list keys", "SELECT key, value FROM kv WHERE key >= ?1 ORDER BY key"};
constexpr Sql kKvListRange{"list keys",
                           "SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key"};

// Every SQLite failure becomes an Error naming the operation and carrying SQLite's message.
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what) {
  lh_status status = LH_ERR_INTERNAL;
  const int primary = rc & 0xff;
  // BUSY/LOCKED: another process held the lock for longer than busy_timeout_ms; retry later.
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) status = LH_ERR_UNAVAILABLE;
  if (primary == SQLITE_TOOBIG) status = LH_ERR_INVALID_ARGUMENT;
  throw Error(status, "sqlite: " + std::string(what) + ": " +
                          (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

struct Config {
  std::string path = "lakehost.sqlite3";
  int busy_timeout_ms = 5000;
  std::string synchronous = "FULL";
};

// One SQLite connection with its cache of prepared statements. Used by one thread at a time (the
// writer under its mutex, a reader while leased), hence SQLITE_OPEN_NOMUTEX.
class Connection {
 public:
  enum Role { kWriter, kReader };

  Connection(const std::string& path, const Config& config, Role role) {
    const int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (role == kWriter ? SQLITE_OPEN_CREATE : 0);
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    db_.reset(db);  // even on failure, so the handle is closed
    if (rc != SQLITE_OK) fail(db, rc, "open " + path);
    sqlite3_busy_timeout(db, config.busy_timeout_ms);
    exec("PRAGMA synchronous = " + config.synchronous);
    if (role == kWriter) {
      exec("PRAGMA foreign_keys = ON");  // per connection: makes collection_delete cascade
    } else {
      exec("PRAGMA query_only = ON");  // a bug that writes through a reader fails loudly
    }
  }

  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_.get(); }

  // For one-off setup statements (PRAGMAs, the schema); calls go through prepare().
  void exec(const std::string& sql) {
    const int rc = sqlite3_exec(db(), sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(db(), rc, sql.substr(0, sql.find('\n')));
  }

  sqlite3_stmt* prepare(const Sql& sql) {
    auto [it, fresh] = cache_.try_emplace(&sql, nullptr);
    if (fresh) {
      const int rc =
          sqlite3_prepare_v3(db(), sql.text, -1, SQLITE_PREPARE_PERSISTENT, &it->second, nullptr);
      if (rc != SQLITE_OK) {
        cache_.erase(it);
        fail(db(), rc, std::string("prepare ") + sql.what);
      }
    }
    return it->second;
  }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
  std::unordered_map<const Sql*, sqlite3_stmt*> cache_;  // keyed by the constants above
};

// One use of a cached statement. Resets it on scope exit, which also ends the implicit read a
// SELECT holds, and clears the bindings, which point into caller-owned (host) memory.
class Query {
 public:
  Query(Connection& c, const Sql& sql) : c_(c), sql_(sql), stmt_(c.prepare(sql)) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // SQLITE_STATIC: SQLite does not copy, the bytes must outlive the step, which they do (the
  // statement is stepped and reset within the plugin call that received them). A null pointer
  // would bind SQL NULL, so empty values get a non-null one.
  Query& bind(int i, std::string_view text) {
    return check(sqlite3_bind_text64(stmt_, i, text.data() ? text.data() : "", text.size(),
                                     SQLITE_STATIC, SQLITE_UTF8));
  }
  Query& bind_blob(int i, std::string_view bytes) {
    return check(sqlite3_bind_blob64(stmt_, i, bytes.data() ? bytes.data() : "", bytes.size(),
                                     SQLITE_STATIC));
  }
  Query& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }
  Query& bind_int(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }

  // Steps once: true if a row is ready, false when done.
  bool next() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(c_.db(), rc, sql_.what);
  }
  // Runs a statement that returns no rows, then resets it so it can be bound again.
  void run() {
    while (next()) {
    }
    sqlite3_reset(stmt_);
  }

  // Column values are valid until the next step or the reset.
  std::string_view text(int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return {p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  std::string_view blob(int col) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return {p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  Query& check(int rc) {
    if (rc != SQLITE_OK) fail(c_.db(), rc, std::string("bind ") + sql_.what);
    return *this;
  }

  Connection& c_;
  const Sql& sql_;
  sqlite3_stmt* stmt_;
};

// BEGIN on construction, COMMIT on commit(), ROLLBACK if it is left any other way.
class Transaction {
 public:
  Transaction(Connection& c, const Sql& begin) : c_(c) { Query(c, begin).run(); }
  ~Transaction() {
    // Errors are ignored: an exception is already on its way, and SQLite may already have
    // rolled back by itself (then autocommit is on again and there is nothing to do).
    if (!sqlite3_get_autocommit(c_.db()))
      sqlite3_exec(c_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() { Query(c_, kCommit).run(); }

 private:
  Connection& c_;
};

// ---- values -------------------------------------------------------------------------------------

using lakehost::storage::decode_vector;
using lakehost::storage::encode_vector;
using lakehost::storage::field;

// The smallest key above every key that starts with `prefix`; none if every key does (the
// prefix is empty or all 0xFF bytes).
std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xFF) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

Config parse_config(std::string_view json) {
  // The host validated the config against kConfigSchema; these checks only keep a caller that
  // did not from crashing on a wrongly typed field.
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject())
    throw Error(LH_ERR_INVALID_ARGUMENT, "config is not a JSON object");
  // HasMember + [] rather than FindMember: RapidJSON 1.1's iterator != is ambiguous in C++20.
  auto member = [&](const char* name) { return d.HasMember(name) ? &d[name] : nullptr; };
  Config c;
  if (const auto* v = member("path")) {
    if (!v->IsString() || v->GetStringLength() == 0)
      throw Error(LH_ERR_INVALID_ARGUMENT, "config: path must be a non-empty string");
    c.path = v->GetString();
  }
  if (const auto* v = member("busy_timeout_ms")) {
    if (!v->IsInt() || v->GetInt() < 0)
      throw Error(LH_ERR_INVALID_ARGUMENT, "config: busy_timeout_ms must be an integer >= 0");
    c.busy_timeout_ms = v->GetInt();
  }
  if (const auto* v = member("synchronous")) {
    const std::string_view s = v->IsString() ? v->GetString() : "";
    if (s != "FULL" && s != "NORMAL")
      throw Error(LH_ERR_INVALID_ARGUMENT, "config: synchronous must be \"FULL\" or \"NORMAL\"");
    c.synchronous = s;
  }
  return c;
}

// ---- the backend --------------------------------------------------------------------------------

class SqliteStorage final : public lakehost::StorageBackend {
 public:
  SqliteStorage(const lakehost::Host& host, std::string_view config_json)
      : config_(parse_config(config_json)) {
    if (!sqlite3_threadsafe())
      throw Error(LH_ERR_INTERNAL, "the SQLite library was built without thread support");
    fs::path path(config_.path);
    if (path.is_relative()) path = fs::path(host.data_dir()) / path;
    path_ = path.string();
    if (path.has_parent_path()) {
      std::error_code ec;
      fs::create_directories(path.parent_path(), ec);
      if (ec)
        throw Error(LH_ERR_INVALID_ARGUMENT,
                    "cannot create the directory of " + in_quotes(path_) + ": " + ec.message());
    }
    writer_ = std::make_unique<Connection>(path_, config_, Connection::kWriter);
    enable_wal();
    migrate();
    host.info("opened " + path_ + " (schema version " + std::to_string(kSchemaVersion) +
              ", WAL, synchronous=" + config_.synchronous + ")");
  }

  void health() override {
    read([](Connection& c) { Query(c, kReadSchema).next(); });
  }

  bool collection_put(std::string_view name, std::string_view settings_json) override {
    bool created = false;
    write([&](Connection& c) {
      created = !collection_exists(c, name);
      Query(c, kCollectionPut).bind(1, name).bind(2, settings_json).run();
    });
    return created;
  }

  std::optional<std::string> collection_get(std::string_view name) override {
    std::optional<std::string> settings;
    read([&](Connection& c) {
      Query q(c, kCollectionGet);
      q.bind(1, name);
      if (q.next()) settings.emplace(q.text(1));
    });
    return settings;
  }

  void collection_list(const CollectionFn& fn) override {
    read([&](Connection& c) {
      Query q(c, kCollectionList);
      while (q.next()) fn(q.text(0), q.text(1));
    });
  }

  void collection_delete(std::string_view name) override {
    write([&](Connection& c) {
      // The foreign key's ON DELETE CASCADE removes the documents in this same transaction.
      Query(c, kCollectionDelete).bind(1, name).run();
      if (sqlite3_changes(c.db()) == 0)
        throw Error(LH_ERR_NOT_FOUND, "no collection " + in_quotes(name));
    });
  }

  void documents_upsert(std::string_view collection,
                        std::span<const lh_document> documents) override {
    write([&](Connection& c) {
      // Checked inside the transaction, so a concurrent collection_delete cannot slip between.
      require_collection(c, collection);
      Query put(c, kDocumentPut);
      std::string scratch;
      for (size_t i = 0; i < documents.size(); ++i) {
        // A bad document throws here, possibly after earlier ones were written: the Transaction
        // rolls them back, so the batch is all or nothing.
        const lh_document& d = documents[i];
        put.bind(1, collection)
            .bind(2, field(d.id, "id", i))
            .bind(3, field(d.text, "text", i))
            .bind(4, field(d.metadata_json, "metadata_json", i))
            .bind_int(6, d.dimension);
        if (d.dimension == 0) {
          put.bind_null(5);
        } else if (!d.vector) {
          throw Error(LH_ERR_INVALID_ARGUMENT, "document " + std::to_string(i) + ": dimension " +
                                                   std::to_string(d.dimension) + " but no vector");
        } else {
          put.bind_blob(5, encode_vector(d.vector, d.dimension, scratch));
        }
        put.run();
      }
    });
  }

  // A missing collection has no documents either: false, which is NOT_FOUND as well.
  bool document_get(std::string_view collection, std::string_view id,
                    const DocumentFn& fn) override {
    bool found = false;
    read([&](Connection& c) {
      Query q(c, kDocumentGet);
      q.bind(1, collection).bind(2, id);
      if (!q.next()) return;
      std::vector<float> vector;
      emit_document(q, vector, fn);
      found = true;
    });
    return found;
  }

  // ABI 1.2: many documents in one read transaction (one snapshot), absent ids skipped.
  void documents_get(std::string_view collection, std::span<const std::string_view> ids,
                     const DocumentFn& fn) override {
    read([&](Connection& c) {
      require_collection(c, collection);  // same snapshot as the reads
      std::vector<float> vector;
      for (const std::string_view id : ids) {
        Query q(c, kDocumentGet);
        q.bind(1, collection).bind(2, id);
        if (q.next()) emit_document(q, vector, fn);
      }
    });
  }

  void document_delete(std::string_view collection, std::string_view id) override {
    write([&](Connection& c) {
      Query(c, kDocumentDelete).bind(1, collection).bind(2, id).run();
      if (sqlite3_changes(c.db()) == 0)
        throw Error(LH_ERR_NOT_FOUND,
                    "no document " + in_quotes(id) + " in collection " + in_quotes(collection));
    });
  }

  void documents_scan(std::string_view collection, const DocumentFn& fn) override {
    read([&](Connection& c) {
      require_collection(c, collection);  // same snapshot as the scan
      Query q(c, kDocumentScan);
      q.bind(1, collection);
      std::vector<float> vector;  // reused across rows
      while (q.next()) emit_document(q, vector, fn);
    });
  }

  uint64_t document_count(std::string_view collection) override {
    uint64_t count = 0;
    read([&](Connection& c) {
      require_collection(c, collection);
      Query q(c, kDocumentCount);
      q.bind(1, collection).next();
      count = static_cast<uint64_t>(q.integer(0));
    });
    return count;
  }

  void kv_put(std::string_view key, std::string_view value) override {
    write([&](Connection& c) { Query(c, kKvPut).bind(1, key).bind_blob(2, value).run(); });
  }

  std::optional<std::string> kv_get(std::string_view key) override {
    std::optional<std::string> value;
    read([&](Connection& c) {
      Query q(c, kKvGet);
      q.bind(1, key);
      if (q.next()) value.emplace(q.blob(0));
    });
    return value;
  }

  void kv_delete(std::string_view key) override {
    write([&](Connection& c) {
      Query(c, kKvDelete).bind(1, key).run();
      if (sqlite3_changes(c.db()) == 0) throw Error(LH_ERR_NOT_FOUND, "no key " + in_quotes(key));
    });
  }

  void kv_list(std::string_view prefix, const KvFn& fn) override {
    const std::optional<std::string> end = prefix_successor(prefix);
    read([&](Connection& c) {
      Query q(c, end ? kKvListRange : kKvListFrom);
      q.bind(1, prefix);
      if (end) q.bind(2, *end);
      while (q.next()) fn(q.text(0), q.blob(1));
    });
  }

 private:
  // Returns the reader it leased to the pool when the read is over.
  class Lease {
   public:
    explicit Lease(SqliteStorage& s) : s_(s), c_(s.take_reader()) {}
    ~Lease() { s_.give_back(std::move(c_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *c_; }

   private:
    SqliteStorage& s_;
    std::unique_ptr<Connection> c_;
  };

  // Runs fn(connection) in one write transaction: committed if fn returns, rolled back if it
  // throws. Writers queue on write_mu_; readers never take it.
  template <typename Fn>
  void write(Fn&& fn) {
    std::lock_guard lock(write_mu_);
    Transaction tx(*writer_, kBeginWrite);
    fn(*writer_);
    tx.commit();
  }

  // Runs fn(connection) in one read transaction, i.e. against one consistent snapshot.
  template <typename Fn>
  void read(Fn&& fn) {
    Lease lease(*this);
    Transaction tx(*lease, kBeginRead);
    fn(*lease);
    tx.commit();
  }

  std::unique_ptr<Connection> take_reader() {
    {
      std::lock_guard lock(pool_mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return std::make_unique<Connection>(path_, config_, Connection::kReader);  // outside the lock
  }

  void give_back(std::unique_ptr<Connection> c) noexcept {
    // A connection still inside a transaction (its ROLLBACK failed) is closed, not reused.
    if (!c || !sqlite3_get_autocommit(c->db())) return;
    std::lock_guard lock(pool_mu_);
    try {
      idle_.push_back(std::move(c));
    } catch (...) {  // out of memory: close it instead
    }
  }

  void enable_wal() {
    // journal_mode answers with the mode in effect, which stays the old one if WAL is impossible
    // (e.g. a file system without shared memory); a write would then not be crash-safe as
    // documented, so refuse.
    Query q(*writer_, kJournalMode);
    if (!q.next() || q.text(0) != "wal")
      throw Error(LH_ERR_INTERNAL, "cannot put " + in_quotes(path_) +
                                       " in WAL mode (journal_mode " + std::string(q.text(0)) +
                                       ")");
  }

  void migrate() {
    Transaction tx(*writer_, kBeginWrite);  // IMMEDIATE: two processes cannot both create
    const int64_t version = single_integer(kUserVersion);
    if (version > kSchemaVersion)
      throw Error(LH_ERR_CONFLICT, in_quotes(path_) + " has schema version " +
                                       std::to_string(version) +
                                       ", written by a newer storage-sqlite; this one knows up "
                                       "to version " +
                                       std::to_string(kSchemaVersion) + ". Upgrade the plugin.");
    if (version == 0) {
      if (single_integer(kReadSchema) != 0)
        throw Error(LH_ERR_CONFLICT, in_quotes(path_) +
                                         " is an SQLite database that storage-sqlite did not "
                                         "create (it has tables but no schema version); refusing "
                                         "to modify it");
      writer_->exec(kSchema);
      writer_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    }
    tx.commit();
  }

  int64_t single_integer(const Sql& sql) {
    Query q(*writer_, sql);
    q.next();
    return q.integer(0);
  }

  static bool collection_exists(Connection& c, std::string_view name) {
    Query q(c, kCollectionExists);
    return q.bind(1, name).next();
  }

  static void require_collection(Connection& c, std::string_view name) {
    if (!collection_exists(c, name))
      throw Error(LH_ERR_NOT_FOUND, "no collection " + in_quotes(name));
  }

  // Passes the current row (id, text, metadata, vector, dimension) to fn.
  static void emit_document(Query& q, std::vector<float>& vector, const DocumentFn& fn) {
    const int64_t dimension = q.integer(4);
    const std::string_view blob = q.blob(3);
    if (dimension < 0 || dimension > UINT32_MAX || blob.size() != size_t(dimension) * 4)
      throw Error(LH_ERR_INTERNAL, "corrupt row: document " + in_quotes(q.text(0)) + " has a " +
                                       std::to_string(blob.size()) + "-byte vector of dimension " +
                                       std::to_string(dimension));
    decode_vector(blob, vector);
    fn({q.text(0), q.text(1), q.text(2), std::span<const float>(vector)});
  }

  const Config config_;
  std::string path_;
  // Declared before the pool so it is closed last: the last connection to close checkpoints the
  // WAL into the database file and removes it.
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;  // guarded by write_mu_
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by pool_mu_
};

}  // namespace

LAKEHOST_PLUGIN(SqliteStorage, "storage-sqlite", "1.0.0",
                "Collections, documents and key/value in one SQLite file (WAL, crash-safe)",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
