// storage-postgres — a lakehost storage backend on a PostgreSQL database.
//
// Durability. Every write call is one transaction (a single autocommitted statement, or
// BEGIN ... COMMIT for documents_upsert) that has committed before the call returns. Each
// connection sets synchronous_commit = on, so a commit waits for the server's WAL flush: an
// acknowledged write survives a crash of this process, of the server and of its machine.
//
// Concurrency (LH_FLAG_THREAD_SAFE). A fixed-size pool of connections (pool_size) behind a mutex
// and a condition variable. A call leases one connection, runs its statements, gives it back and
// only THEN passes the results to the sink: a sink that calls back into the plugin cannot starve
// the pool. PostgreSQL's MVCC does the rest (one statement sees one snapshot; documents_upsert
// locks the collection row FOR KEY SHARE, so a concurrent collection_delete waits for it).
//
// Connections prepare their statements on first use, and ask for binary results (bytea and
// integers arrive as raw bytes, no hex decoding). Parameters are sent in binary too, with explicit
// lengths: a NUL byte in a text cannot silently truncate it, the server refuses it.
//
// Connection loss. An idle pooled connection whose server went away is noticed (without a round
// trip) when it is leased, and reset. A connection lost in the middle of a call is reset and the
// call retried once when that is safe (a read, an idempotent write, or a transaction that had not
// sent its COMMIT); otherwise, or if the retry fails too, the call fails with LH_ERR_UNAVAILABLE.
//
// Change feed (several host replicas on one database). Row triggers on the three tables send a
// NOTIFY on channel "lakehost_changes" naming what changed (schema, collection, id or key) and
// the writer's origin token, which every pooled connection sets as the session variable
// lakehost.origin. NOTIFY is transactional: a listener hears of a write only once it committed,
// in commit order. One extra connection LISTENs from create() on; changes_wait() hands the
// notifications of OTHER origins to the host. A lost listener reconnects and reports a resync,
// since notifications sent meanwhile are gone.
#include <lakehost/plugin.hpp>
#include <lakehost/storage_util.hpp>

#include <libpq-fe.h>
#include <rapidjson/document.h>

#include <poll.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using lakehost::Error;

constexpr const char* kConfigSchema = R"json({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "conninfo": {
      "description": "libpq connection string (keyword=value or postgresql:// URI)",
      "type": "string", "minLength": 1
    },
    "conninfo_env": {
      "description": "Name of an environment variable that holds the connection string",
      "type": "string", "minLength": 1
    },
    "pool_size": {
      "description": "Number of connections to the server",
      "type": "integer", "minimum": 1, "maximum": 64, "default": 4
    },
    "schema": {
      "description": "PostgreSQL schema that holds the tables; created if missing",
      "type": "string", "minLength": 1, "maxLength": 63, "default": "lakehost"
    },
    "change_feed": {
      "description": "Report writes of other host replicas sharing this schema (LISTEN/NOTIFY, one extra connection)",
      "type": "boolean", "default": true
    }
  },
  "oneOf": [{"required": ["conninfo"]}, {"required": ["conninfo_env"]}]
})json";

// Version recorded in <schema>.meta. Bump it, and migrate in PostgresStorage::migrate(), when the
// schema changes; a schema with a larger version was written by a newer plugin and is refused.
// Version 2 added the change-feed triggers (kChangeFeed).
constexpr int kSchemaVersion = 2;

// {s} stands for the quoted schema name. Keys and names compare bytewise (COLLATE "C"), as in
// storage-sqlite: for valid UTF-8 that is code point order.
constexpr const char* kSchema = R"sql(
CREATE TABLE {s}.collections (
  name     text COLLATE "C" PRIMARY KEY,
  settings text NOT NULL                 -- host-defined JSON, stored as given
);
CREATE TABLE {s}.documents (
  collection text COLLATE "C" NOT NULL REFERENCES {s}.collections (name) ON DELETE CASCADE,
  id         text COLLATE "C" NOT NULL,
  text       text NOT NULL,
  metadata   text NOT NULL,              -- JSON object, stored as given (the host validated it)
  vector     bytea,                      -- little-endian float32[dimension]; NULL if dimension 0
  dimension  integer NOT NULL,
  PRIMARY KEY (collection, id),
  CHECK ((dimension = 0 AND vector IS NULL) OR
         (dimension > 0 AND octet_length(vector) = 4 * dimension))
);
CREATE TABLE {s}.kv (
  key   text COLLATE "C" PRIMARY KEY,
  value bytea NOT NULL
);
CREATE TABLE {s}.meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO {s}.meta (key, value) VALUES ('schema_version', '{version}');
)sql";

// NOTIFY channel of the change feed; the payload names the schema, so schemas can share it.
constexpr const char* kChannel = "lakehost_changes";

// Schema version 2: every committed write notifies listeners. Payloads are JSON; one that would
// exceed NOTIFY's 8000-byte limit (a very long id or key) becomes a resync request instead of
// failing the write. Documents deleted by a collection's ON DELETE CASCADE stay quiet (their
// collection row is already gone when their trigger runs): the collection's own notification
// covers them. "t" is when the row was written (server clock, microseconds since the epoch), so
// a replica can tell how far behind it is; listeners that predate it ignore the extra member,
// which is why adding it replaced the function without a new schema version (kFeedFunction).
constexpr const char* kFeedFunction = R"sql(
CREATE OR REPLACE FUNCTION {s}.notify_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  coll text;
  k text;
  payload text;
BEGIN
  IF TG_ARGV[0] = 'c' THEN
    IF TG_OP = 'DELETE' THEN coll := OLD.name; ELSE coll := NEW.name; END IF;
  ELSIF TG_ARGV[0] = 'd' THEN
    IF TG_OP = 'DELETE' THEN
      coll := OLD.collection;
      k := OLD.id;
      IF NOT EXISTS (SELECT 1 FROM {s}.collections WHERE name = coll) THEN
        RETURN NULL;
      END IF;
    ELSE
      coll := NEW.collection;
      k := NEW.id;
    END IF;
  ELSE
    IF TG_OP = 'DELETE' THEN k := OLD.key; ELSE k := NEW.key; END IF;
  END IF;
  payload := json_build_object('s', TG_TABLE_SCHEMA, 'o', current_setting('lakehost.origin', true),
                               'k', TG_ARGV[0], 'c', coll, 'id', k,
                               't', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)::text;
  IF octet_length(payload) > 7900 THEN
    payload := json_build_object('s', TG_TABLE_SCHEMA,
                                 'o', current_setting('lakehost.origin', true), 'k', 'r')::text;
  END IF;
  PERFORM pg_notify('lakehost_changes', payload);
  RETURN NULL;
END
$fn$;
)sql";
// Marks the current kFeedFunction: a function without it is replaced at start.
constexpr const char* kFeedFunctionMark = "clock_timestamp()";
constexpr const char* kFeedTriggers = R"sql(
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON {s}.collections
  FOR EACH ROW EXECUTE FUNCTION {s}.notify_change('c');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON {s}.documents
  FOR EACH ROW EXECUTE FUNCTION {s}.notify_change('d');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON {s}.kv
  FOR EACH ROW EXECUTE FUNCTION {s}.notify_change('v');
)sql";

// ---- statements ---------------------------------------------------------------------------------

constexpr Oid kText = 25, kBytea = 17, kInt4 = 23, kTextArray = 1009;

enum Stmt {
  kCollectionPut,
  kCollectionGet,
  kCollectionList,
  kCollectionDelete,
  kCollectionLock,
  kDocumentPut,
  kDocumentGet,
  kDocumentGetMany,
  kDocumentScan,
  kDocumentCount,
  kDocumentDelete,
  kKvPut,
  kKvGet,
  kKvDelete,
  kKvListFrom,
  kKvListRange,
  kPing,
  kStmtCount
};

// `what` names the operation in error messages.
struct StmtDef {
  const char* what;
  const char* text;
  std::initializer_list<Oid> types;
};

const StmtDef kStmts[kStmtCount] = {
    // (xmax = 0) is true for a freshly inserted row, false for one the ON CONFLICT updated.
    {"write collection",
     "INSERT INTO {s}.collections (name, settings) VALUES ($1, $2) "
     "ON CONFLICT (name) DO UPDATE SET settings = excluded.settings RETURNING (xmax = 0)",
     {kText, kText}},
    {"read collection", "SELECT name, settings FROM {s}.collections WHERE name = $1", {kText}},
    {"list collections", "SELECT name, settings FROM {s}.collections ORDER BY name", {}},
    {"delete collection", "DELETE FROM {s}.collections WHERE name = $1", {kText}},
    {"look up collection", "SELECT 1 FROM {s}.collections WHERE name = $1 FOR KEY SHARE", {kText}},
    {"write document",
     "INSERT INTO {s}.documents (collection, id, text, metadata, vector, dimension) "
     "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (collection, id) DO UPDATE SET "
     "text = excluded.text, metadata = excluded.metadata, vector = excluded.vector, "
     "dimension = excluded.dimension",
     {kText, kText, kText, kText, kBytea, kInt4}},
    {"read document",
     "SELECT id, text, metadata, vector, dimension FROM {s}.documents "
     "WHERE collection = $1 AND id = $2",
     {kText, kText}},
    // As "scan documents": no row means no collection, a NULL id means none of the ids exists.
    {"read documents",
     "SELECT d.id, d.text, d.metadata, d.vector, d.dimension FROM {s}.collections c "
     "LEFT JOIN {s}.documents d ON d.collection = c.name AND d.id = ANY($2) WHERE c.name = $1",
     {kText, kTextArray}},
    // One statement, hence one snapshot: no row means no collection, one row with a NULL id
    // means an empty collection.
    {"scan documents",
     "SELECT d.id, d.text, d.metadata, d.vector, d.dimension FROM {s}.collections c "
     "LEFT JOIN {s}.documents d ON d.collection = c.name WHERE c.name = $1 ORDER BY d.id",
     {kText}},
    {"count documents",
     "SELECT (SELECT count(*) FROM {s}.documents WHERE collection = $1) "
     "FROM {s}.collections WHERE name = $1",
     {kText}},
    {"delete document",
     "DELETE FROM {s}.documents WHERE collection = $1 AND id = $2",
     {kText, kText}},
    {"write key",
     "INSERT INTO {s}.kv (key, value) VALUES ($1, $2) "
     "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
     {kText, kBytea}},
    {"read key", "SELECT value FROM {s}.kv WHERE key = $1", {kText}},
    {"delete key", "DELETE FROM {s}.kv WHERE key = $1", {kText}},
    // Prefix matching as a key range, not LIKE: LIKE treats '%' and '_' in the prefix as
    // wildcards. With COLLATE "C" the keys that start with P are exactly [P, successor(P)).
    {"list keys",
     "SELECT key, value FROM {s}.kv WHERE key >= $1 COLLATE \"C\" ORDER BY key",
     {kText}},
    {"list keys",
     "SELECT key, value FROM {s}.kv WHERE key >= $1 COLLATE \"C\" AND key < $2 COLLATE \"C\" "
     "ORDER BY key",
     {kText, kText}},
    {"ping", "SELECT 1", {}},
};

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

std::string quote_ident(std::string_view s) {
  return "\"" + replace_all(std::string(s), "\"", "\"\"") + "\"";
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// libpq's messages end with a newline and may span lines; error messages are one line.
std::string one_line(const char* message) {
  std::string s;
  for (const char* p = message ? message : ""; *p; ++p) {
    const bool space = *p == '\n' || *p == '\t' || *p == ' ';
    if (!space) {
      s += *p;
    } else if (!s.empty() && s.back() != ' ') {
      s += ' ';
    }
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// ---- libpq plumbing -----------------------------------------------------------------------------

// The connection broke during a call. `retry_safe`: nothing of the call can have been committed.
class Lost : public Error {
 public:
  Lost(const std::string& message, bool retry_safe)
      : Error(LH_ERR_UNAVAILABLE, message), retry_safe_(retry_safe) {}
  bool retry_safe() const { return retry_safe_; }

 private:
  bool retry_safe_;
};

struct ClearResult {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

// One parameter, always sent in binary format with an explicit length. data == nullptr is NULL.
struct Param {
  const char* data;
  int length;
};

// A host-given byte range as a parameter; a range with a size but no data is refused, not read.
Param param(std::string_view s) {
  if (s.size() > size_t{INT32_MAX}) throw Error(LH_ERR_INVALID_ARGUMENT, "value too large");
  return {s.data() ? s.data() : "", static_cast<int>(s.size())};
}

uint32_t be32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// A text[] parameter in PostgreSQL's binary array format: dimensions, no NULLs, element type
// text, lower bound 1, then each element as length + bytes.
std::string encode_text_array(std::span<const std::string_view> items) {
  if (items.size() > size_t{INT32_MAX}) throw Error(LH_ERR_INVALID_ARGUMENT, "too many ids");
  std::string out;
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(v >> shift);
  };
  put32(1);  // dimensions
  put32(0);  // has NULLs
  put32(kText);
  put32(static_cast<uint32_t>(items.size()));
  put32(1);  // lower bound
  for (const std::string_view v : items) {
    if (v.size() > size_t{INT32_MAX}) throw Error(LH_ERR_INVALID_ARGUMENT, "id too large");
    put32(static_cast<uint32_t>(v.size()));
    out.append(v);
  }
  return out;
}

struct ConnectParams {
  std::string conninfo;
  const lakehost::Host* host = nullptr;  // server notices go to its debug log
  std::string origin;                    // this instance's token in change notifications
};

// Opens a connection (UTF-8, a connect timeout, an application name) or throws UNAVAILABLE.
PGconn* connect(const ConnectParams& params) {
  // Entries before the expanded dbname are defaults the connection string may override;
  // entries after it override the connection string.
  const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", "client_encoding",
                        nullptr};
  const char* values[] = {"10", "lakehost storage-postgres", params.conninfo.c_str(), "UTF8",
                          nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (!conn) throw Error(LH_ERR_INTERNAL, "postgres: cannot connect: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string message = one_line(PQerrorMessage(conn));
    PQfinish(conn);
    throw Error(LH_ERR_UNAVAILABLE, "postgres: cannot connect: " + message);
  }
  return conn;
}

// One libpq connection with its prepared statements. Used by one thread at a time (leased).
class Connection {
 public:
  Connection(const ConnectParams& params, const std::vector<std::string>& stmts)
      : stmts_(stmts), host_(params.host), origin_(params.origin), prepared_(stmts.size(), false) {
    conn_ = connect(params);
    setup();
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // False if the server closed this (idle) connection; reads what is pending, no round trip.
  // A server that drops a connection sends a FATAL message, then closes: the first read may
  // return only the message, the second sees the end of the stream.
  bool alive() {
    for (int i = 0; i < 2; ++i)
      if (PQstatus(conn_) != CONNECTION_OK || PQconsumeInput(conn_) != 1) return false;
    return PQstatus(conn_) == CONNECTION_OK;
  }

  // Usable for the next call: connected and outside any transaction.
  bool idle() const {
    return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
  }

  // Reconnects with the same parameters. Prepared statements are gone with the old session.
  void reconnect() {
    PQreset(conn_);
    prepared_.assign(prepared_.size(), false);
    in_tx_ = committing_ = false;
    if (PQstatus(conn_) != CONNECTION_OK)
      throw Error(LH_ERR_UNAVAILABLE,
                  "postgres: cannot reconnect: " + one_line(PQerrorMessage(conn_)));
    setup();
  }

  // Runs a prepared statement with binary parameters; results come back in binary.
  Result exec(Stmt s, std::initializer_list<Param> params) {
    const StmtDef& def = kStmts[s];
    if (!prepared_[s]) {
      const std::vector<Oid> types(def.types);
      Result r(PQprepare(conn_, name(s).c_str(), stmts_[s].c_str(), static_cast<int>(types.size()),
                         types.data()));
      check(r.get(), PGRES_COMMAND_OK, std::string("prepare ") + def.what);
      prepared_[s] = true;
    }
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Param& p : params) {
      values.push_back(p.data);
      lengths.push_back(p.length);
      formats.push_back(1);
    }
    Result r(PQexecPrepared(conn_, name(s).c_str(), static_cast<int>(values.size()), values.data(),
                            lengths.data(), formats.data(), 1));
    if (!r ||
        (PQresultStatus(r.get()) != PGRES_TUPLES_OK && PQresultStatus(r.get()) != PGRES_COMMAND_OK))
      fail(r.get(), def.what);
    return r;
  }

  // A statement without parameters (transaction control, setup, schema).
  Result simple(const std::string& sql, std::string_view what) {
    Result r(PQexec(conn_, sql.c_str()));
    if (!r ||
        (PQresultStatus(r.get()) != PGRES_TUPLES_OK && PQresultStatus(r.get()) != PGRES_COMMAND_OK))
      fail(r.get(), what);
    return r;
  }
  // The same with text parameters and text results (setup only).
  Result params(const char* sql, std::string_view what, std::initializer_list<const char*> p) {
    std::vector<const char*> values(p);
    Result r(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) fail(r.get(), what);
    return r;
  }

  void begin() {
    in_tx_ = true;  // a BEGIN that is lost commits nothing either
    simple("BEGIN", "begin transaction");
  }
  void commit() {
    committing_ = true;
    simple("COMMIT", "commit");
    in_tx_ = committing_ = false;
  }
  void rollback_quietly() noexcept {
    if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
      PQclear(PQexec(conn_, "ROLLBACK"));
    in_tx_ = committing_ = false;
  }

 private:
  static std::string name(Stmt s) { return "lh" + std::to_string(static_cast<int>(s)); }

  void setup() {
    // libpq's default prints NOTICEs ("schema already exists, skipping") to stderr.
    PQsetNoticeProcessor(
        conn_,
        [](void* host, const char* message) {
          if (host)
            static_cast<const lakehost::Host*>(host)->log(LH_LOG_DEBUG,
                                                          "postgres: " + one_line(message));
        },
        const_cast<lakehost::Host*>(host_));
    // The default, made explicit: a commit returns only once its WAL record is flushed, whatever
    // the server's configuration says.
    simple("SET synchronous_commit = on", "set synchronous_commit");
    // Tags this session's writes in change notifications, so this instance can skip its own.
    params("SELECT set_config('lakehost.origin', $1, false)", "set origin", {origin_.c_str()});
  }

  void check(PGresult* r, ExecStatusType expected, std::string_view what) {
    if (!r || PQresultStatus(r) != expected) fail(r, what);
  }

  // Every failure becomes an Error naming the operation and carrying the server's message.
  [[noreturn]] void fail(PGresult* r, std::string_view what) {
    std::string message = one_line(r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr);
    if (message.empty()) message = one_line(PQerrorMessage(conn_));
    const std::string text = "postgres: " + std::string(what) + ": " + message;
    if (PQstatus(conn_) != CONNECTION_OK) throw Lost(text, in_tx_ && !committing_);
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string_view code = state ? state : "";
    lh_status status = LH_ERR_INTERNAL;
    if (code.starts_with("22") || code == "54000")  // data exception, value too large
      status = LH_ERR_INVALID_ARGUMENT;
    else if (code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") ||
             code == "40001" || code == "40P01")  // connection, resources, shutdown, retry
      status = LH_ERR_UNAVAILABLE;
    else if (code == "23503")  // foreign key: the collection is gone
      status = LH_ERR_NOT_FOUND;
    throw Error(status, text);
  }

  const std::vector<std::string>& stmts_;
  const lakehost::Host* host_;
  std::string origin_;
  PGconn* conn_ = nullptr;
  std::vector<bool> prepared_;
  bool in_tx_ = false;       // inside BEGIN ... (nothing committed yet)
  bool committing_ = false;  // COMMIT sent: its outcome is unknown if the connection breaks
};

// BEGIN on construction, COMMIT on commit(), ROLLBACK if it is left any other way.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) { c_.begin(); }
  ~Transaction() {
    if (!done_) c_.rollback_quietly();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    c_.commit();
    done_ = true;
  }

 private:
  Connection& c_;
  bool done_ = false;
};

// ---- values -------------------------------------------------------------------------------------

using lakehost::storage::decode_vector;
using lakehost::storage::encode_vector;
using lakehost::storage::field;

// The smallest string above every string that starts with `prefix`, in code point order (which
// is COLLATE "C"'s byte order for valid UTF-8); none if every key does (the prefix is empty or
// all U+10FFFF). Works on code points, not bytes, because the bound is sent as text and must
// itself be valid UTF-8.
std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::vector<char32_t> cps;
  for (size_t i = 0; i < prefix.size();) {
    const auto b0 = static_cast<unsigned char>(prefix[i]);
    const int n = b0 < 0x80           ? 1
                  : (b0 >> 5) == 0x6  ? 2
                  : (b0 >> 4) == 0xE  ? 3
                  : (b0 >> 3) == 0x1E ? 4
                                      : 0;
    if (n == 0 || i + n > prefix.size())
      throw Error(LH_ERR_INVALID_ARGUMENT, "kv_list: the prefix is not valid UTF-8");
    char32_t cp = n == 1 ? b0 : b0 & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(prefix[i + k]);
      if ((b & 0xC0) != 0x80)
        throw Error(LH_ERR_INVALID_ARGUMENT, "kv_list: the prefix is not valid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    cps.push_back(cp);
    i += n;
  }
  while (!cps.empty() && cps.back() >= 0x10FFFF) cps.pop_back();
  if (cps.empty()) return std::nullopt;
  cps.back() = cps.back() == 0xD7FF ? 0xE000 : cps.back() + 1;  // skip the surrogates
  std::string out;
  for (char32_t cp : cps) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

struct Config {
  std::string conninfo;
  int pool_size = 4;
  std::string schema = "lakehost";
  bool change_feed = true;
};

Config parse_config(std::string_view json) {
  // The host validated the config against kConfigSchema; these checks only keep a caller that
  // did not from crashing on a wrongly typed field.
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject())
    throw Error(LH_ERR_INVALID_ARGUMENT, "config is not a JSON object");
  auto member = [&](const char* name) { return d.HasMember(name) ? &d[name] : nullptr; };
  auto string = [&](const char* name) -> std::optional<std::string> {
    const auto* v = member(name);
    if (!v) return std::nullopt;
    if (!v->IsString() || v->GetStringLength() == 0)
      throw Error(LH_ERR_INVALID_ARGUMENT,
                  std::string("config: ") + name + " must be a non-empty string");
    return std::string(v->GetString(), v->GetStringLength());
  };
  Config c;
  const auto conninfo = string("conninfo");
  const auto env = string("conninfo_env");
  if (conninfo && env)
    throw Error(LH_ERR_INVALID_ARGUMENT, "config: give conninfo or conninfo_env, not both");
  if (conninfo) {
    c.conninfo = *conninfo;
  } else if (env) {
    const char* value = std::getenv(env->c_str());
    if (!value || !*value)
      throw Error(LH_ERR_INVALID_ARGUMENT,
                  "config: conninfo_env: the environment variable " + *env + " is not set");
    c.conninfo = value;
  } else {
    throw Error(LH_ERR_INVALID_ARGUMENT, "config: conninfo or conninfo_env is required");
  }
  if (const auto* v = member("pool_size")) {
    if (!v->IsInt() || v->GetInt() < 1 || v->GetInt() > 64)
      throw Error(LH_ERR_INVALID_ARGUMENT, "config: pool_size must be an integer in 1..64");
    c.pool_size = v->GetInt();
  }
  if (const auto s = string("schema")) {
    if (s->size() > 63 || s->find('\0') != std::string::npos)
      throw Error(LH_ERR_INVALID_ARGUMENT, "config: schema must be a name of 1 to 63 bytes");
    c.schema = *s;
  }
  if (const auto* v = member("change_feed")) {
    if (!v->IsBool()) throw Error(LH_ERR_INVALID_ARGUMENT, "config: change_feed must be a boolean");
    c.change_feed = v->GetBool();
  }
  return c;
}

// ---- change feed --------------------------------------------------------------------------------

// A random token naming this instance's writes in notifications.
std::string make_origin() {
  std::random_device rd;
  std::string token;
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(rd()));
    token += part;
  }
  return token;
}

// The LISTENing connection. Used by one thread at a time (the host's follower thread).
class ChangeListener {
 public:
  ChangeListener(const ConnectParams& params, std::string schema)
      : params_(params), schema_(std::move(schema)) {
    open();
  }
  ~ChangeListener() { PQfinish(conn_); }
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  void wait(uint32_t timeout_ms, const lakehost::StorageBackend::ChangeFn& fn) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      // Notifications sent while we were not listening are lost: tell the host to re-read.
      open();
      emit_resync(fn);
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (PQconsumeInput(conn_) != 1 || PQstatus(conn_) != CONNECTION_OK) {
        const std::string message = one_line(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        throw Error(LH_ERR_UNAVAILABLE, "postgres: change feed connection lost: " + message);
      }
      size_t delivered = 0;
      while (PGnotify* n = PQnotifies(conn_)) {
        try {
          delivered += deliver(n->extra ? n->extra : "", fn);
        } catch (...) {
          PQfreemem(n);
          throw;
        }
        PQfreemem(n);
      }
      if (delivered) return;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return;
      pollfd pfd{PQsocket(conn_), POLLIN, 0};
      const int r = ::poll(&pfd, 1, static_cast<int>(left));
      if (r == 0) return;
      if (r < 0 && errno != EINTR)
        throw Error(LH_ERR_INTERNAL, std::string("poll: ") + std::strerror(errno));
    }
  }

 private:
  void open() {
    PQfinish(std::exchange(conn_, nullptr));
    conn_ = connect(params_);
    Result r(PQexec(conn_, (std::string("LISTEN ") + kChannel).c_str()));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      throw Error(LH_ERR_UNAVAILABLE, "postgres: LISTEN: " + one_line(PQerrorMessage(conn_)));
  }

  static void emit_resync(const lakehost::StorageBackend::ChangeFn& fn) {
    fn({LH_CHANGE_RESYNC, {}, {}, 0});
  }

  // Passes one notification to the host unless it is ours or another schema's; returns 1 if
  // something was passed.
  size_t deliver(std::string_view payload, const lakehost::StorageBackend::ChangeFn& fn) {
    rapidjson::Document d;
    d.Parse(payload.data(), payload.size());
    auto text = [&](const char* name) -> std::string_view {
      if (!d.IsObject() || !d.HasMember(name) || !d[name].IsString()) return {};
      return {d[name].GetString(), d[name].GetStringLength()};
    };
    if (d.HasParseError() || !d.IsObject()) {  // not ours to interpret: be safe
      emit_resync(fn);
      return 1;
    }
    if (text("s") != schema_ || text("o") == params_.origin) return 0;
    const std::string_view kind = text("k");
    const int64_t written = d.HasMember("t") && d["t"].IsInt64() ? d["t"].GetInt64() : int64_t{0};
    lakehost::StorageBackend::Change c{LH_CHANGE_RESYNC, text("c"), text("id"), written};
    if (kind == "c")
      c.kind = LH_CHANGE_COLLECTION;
    else if (kind == "d")
      c.kind = LH_CHANGE_DOCUMENT;
    else if (kind == "v")
      c.kind = LH_CHANGE_KV;
    fn(c);
    return 1;
  }

  ConnectParams params_;
  std::string schema_;
  PGconn* conn_ = nullptr;
};

// ---- the backend --------------------------------------------------------------------------------

class PostgresStorage final : public lakehost::StorageBackend {
 public:
  PostgresStorage(const lakehost::Host& host, std::string_view config_json)
      : host_(host), config_(parse_config(config_json)) {
    if (!PQisthreadsafe())
      throw Error(LH_ERR_INTERNAL, "the libpq library was built without thread support");
    const std::string schema = quote_ident(config_.schema);
    for (const StmtDef& def : kStmts) stmts_.push_back(replace_all(def.text, "{s}", schema));
    params_.conninfo = config_.conninfo;
    params_.host = &host_;
    params_.origin = make_origin();
    // The first connection is made here, so that an unreachable server fails create().
    auto first = std::make_unique<Connection>(params_, stmts_);
    migrate(*first);
    open_ = 1;
    idle_.push_back(std::move(first));
    // Listening starts before the host reads anything, so no later write goes unreported.
    if (config_.change_feed) listener_ = std::make_unique<ChangeListener>(params_, config_.schema);
    host.info("connected to PostgreSQL, schema " + in_quotes(config_.schema) + " (schema version " +
              std::to_string(kSchemaVersion) + ", pool of " + std::to_string(config_.pool_size) +
              ")");
  }

  void health() override {
    run(true, [](Connection& c) { c.exec(kPing, {}); });
  }

  bool collection_put(std::string_view name, std::string_view settings_json) override {
    Result r;
    run(true, [&](Connection& c) {
      r = c.exec(kCollectionPut, {param(name), param(settings_json)});
    });
    return PQntuples(r.get()) == 1 && PQgetlength(r.get(), 0, 0) == 1 &&
           PQgetvalue(r.get(), 0, 0)[0] != 0;
  }

  std::optional<std::string> collection_get(std::string_view name) override {
    Result r;
    run(true, [&](Connection& c) { r = c.exec(kCollectionGet, {param(name)}); });
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return std::string(value(r.get(), 0, 1));
  }

  void collection_list(const CollectionFn& fn) override {
    Result r;
    run(true, [&](Connection& c) { r = c.exec(kCollectionList, {}); });
    for (int i = 0, n = PQntuples(r.get()); i < n; ++i)
      fn(value(r.get(), i, 0), value(r.get(), i, 1));
  }

  void collection_delete(std::string_view name) override {
    Result r;
    // Not retried after a lost connection: a retry of a delete that did commit would say
    // NOT_FOUND. The ON DELETE CASCADE removes the documents in the same statement.
    run(false, [&](Connection& c) { r = c.exec(kCollectionDelete, {param(name)}); });
    if (affected(r.get()) == 0) throw Error(LH_ERR_NOT_FOUND, "no collection " + in_quotes(name));
  }

  void documents_upsert(std::string_view collection,
                        std::span<const lh_document> documents) override {
    run(true, [&](Connection& c) {
      Transaction tx(c);
      // Checked inside the transaction, and the row stays locked FOR KEY SHARE until COMMIT: a
      // concurrent collection_delete waits for this batch instead of slipping between.
      if (PQntuples(c.exec(kCollectionLock, {param(collection)}).get()) == 0)
        throw Error(LH_ERR_NOT_FOUND, "no collection " + in_quotes(collection));
      std::string scratch;
      for (size_t i = 0; i < documents.size(); ++i) {
        // A bad document throws here, possibly after earlier ones were written: the Transaction
        // rolls them back, so the batch is all or nothing.
        const lh_document& d = documents[i];
        Param vector{nullptr, 0};
        if (d.dimension > 0) {
          if (!d.vector)
            throw Error(LH_ERR_INVALID_ARGUMENT, "document " + std::to_string(i) + ": dimension " +
                                                     std::to_string(d.dimension) +
                                                     " but no vector");
          if (d.dimension > INT32_MAX / 4)
            throw Error(LH_ERR_INVALID_ARGUMENT, "document " + std::to_string(i) + ": dimension " +
                                                     std::to_string(d.dimension) + " is too large");
          vector = param(encode_vector(d.vector, d.dimension, scratch));
        }
        const uint32_t dim = d.dimension;
        const char dim_be[4] = {static_cast<char>(dim >> 24), static_cast<char>(dim >> 16),
                                static_cast<char>(dim >> 8), static_cast<char>(dim)};
        c.exec(kDocumentPut,
               {param(collection), param(field(d.id, "id", i)), param(field(d.text, "text", i)),
                param(field(d.metadata_json, "metadata_json", i)), vector, Param{dim_be, 4}});
      }
      tx.commit();
    });
  }

  // A missing collection has no documents either: false, which is NOT_FOUND as well.
  bool document_get(std::string_view collection, std::string_view id,
                    const DocumentFn& fn) override {
    Result r;
    run(true, [&](Connection& c) { r = c.exec(kDocumentGet, {param(collection), param(id)}); });
    if (PQntuples(r.get()) == 0) return false;
    std::vector<float> vector;
    emit_document(r.get(), 0, vector, fn);
    return true;
  }

  // ABI 1.2: one statement (one snapshot, one round trip) for many ids.
  void documents_get(std::string_view collection, std::span<const std::string_view> ids,
                     const DocumentFn& fn) override {
    const std::string array = encode_text_array(ids);
    Result r;
    run(true, [&](Connection& c) {
      r = c.exec(kDocumentGetMany, {param(collection), param(array)});
    });
    const int n = PQntuples(r.get());
    if (n == 0) throw Error(LH_ERR_NOT_FOUND, "no collection " + in_quotes(collection));
    std::vector<float> vector;
    for (int i = 0; i < n; ++i)
      if (!PQgetisnull(r.get(), i, 0)) emit_document(r.get(), i, vector, fn);
  }

  void document_delete(std::string_view collection, std::string_view id) override {
    Result r;
    run(false, [&](Connection& c) { r = c.exec(kDocumentDelete, {param(collection), param(id)}); });
    if (affected(r.get()) == 0)
      throw Error(LH_ERR_NOT_FOUND,
                  "no document " + in_quotes(id) + " in collection " + in_quotes(collection));
  }

  void documents_scan(std::string_view collection, const DocumentFn& fn) override {
    Result r;
    run(true, [&](Connection& c) { r = c.exec(kDocumentScan, {param(collection)}); });
    const int n = PQntuples(r.get());
    if (n == 0) throw Error(LH_ERR_NOT_FOUND, "no collection " + in_quotes(collection));
    std::vector<float> vector;  // reused across rows
    for (int i = 0; i < n; ++i)
      if (!PQgetisnull(r.get(), i, 0)) emit_document(r.get(), i, vector, fn);
  }

  uint64_t document_count(std::string_view collection) override {
    Result r;
    run(true, [&](Connection& c) { r = c.exec(kDocumentCount, {param(collection)}); });
    if (PQntuples(r.get()) == 0)
      throw Error(LH_ERR_NOT_FOUND, "no collection " + in_quotes(collection));
    if (PQgetlength(r.get(), 0, 0) != 8)
      throw Error(LH_ERR_INTERNAL, "postgres: count documents: unexpected result");
    return be64(PQgetvalue(r.get(), 0, 0));
  }

  void kv_put(std::string_view key, std::string_view value) override {
    run(true, [&](Connection& c) { c.exec(kKvPut, {param(key), param(value)}); });
  }

  std::optional<std::string> kv_get(std::string_view key) override {
    Result r;
    run(true, [&](Connection& c) { r = c.exec(kKvGet, {param(key)}); });
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return std::string(value(r.get(), 0, 0));
  }

  void kv_delete(std::string_view key) override {
    Result r;
    run(false, [&](Connection& c) { r = c.exec(kKvDelete, {param(key)}); });
    if (affected(r.get()) == 0) throw Error(LH_ERR_NOT_FOUND, "no key " + in_quotes(key));
  }

  void changes_wait(uint32_t timeout_ms, const ChangeFn& fn) override {
    if (!listener_)
      throw Error(LH_ERR_UNSUPPORTED, "the change feed is disabled (config change_feed: false)");
    std::lock_guard lock(listen_mu_);
    listener_->wait(timeout_ms, fn);
  }

  void kv_list(std::string_view prefix, const KvFn& fn) override {
    const std::optional<std::string> end = prefix_successor(prefix);
    Result r;
    run(true, [&](Connection& c) {
      r = end ? c.exec(kKvListRange, {param(prefix), param(*end)})
              : c.exec(kKvListFrom, {param(prefix)});
    });
    for (int i = 0, n = PQntuples(r.get()); i < n; ++i)
      fn(value(r.get(), i, 0), value(r.get(), i, 1));
  }

 private:
  // Gives the connection it leased back to the pool when the call is over.
  class Lease {
   public:
    explicit Lease(PostgresStorage& s) : s_(s), c_(s.take()) {}
    ~Lease() { s_.give_back(std::move(c_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *c_; }

   private:
    PostgresStorage& s_;
    std::unique_ptr<Connection> c_;
  };

  // Runs fn(connection) on a leased connection. If the connection breaks, reconnects and runs fn
  // once more when `idempotent` or when nothing can have been committed; otherwise (or if the
  // retry breaks too) fails with LH_ERR_UNAVAILABLE.
  template <typename Fn>
  void run(bool idempotent, Fn&& fn) {
    Lease lease(*this);
    Connection& c = *lease;
    if (!c.alive()) {
      host_.warn("postgres: a pooled connection was closed by the server; reconnecting");
      c.reconnect();
    }
    try {
      fn(c);
      return;
    } catch (const Lost& e) {
      if (!idempotent && !e.retry_safe())
        throw Error(LH_ERR_UNAVAILABLE,
                    std::string(e.what()) + " (connection lost; the outcome is unknown)");
      host_.warn(std::string(e.what()) + "; reconnecting and retrying once");
    }
    c.reconnect();
    fn(c);  // a second Lost is an LH_ERR_UNAVAILABLE Error: it propagates as is
  }

  std::unique_ptr<Connection> take() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30),
                      [&] { return !idle_.empty() || open_ < config_.pool_size; }))
      throw Error(LH_ERR_UNAVAILABLE, "postgres: all " + std::to_string(config_.pool_size) +
                                          " pooled connections stayed busy for 30 s");
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;
    lock.unlock();
    try {
      return std::make_unique<Connection>(params_, stmts_);  // outside the lock
    } catch (...) {
      lock.lock();
      --open_;
      cv_.notify_one();
      throw;
    }
  }

  void give_back(std::unique_ptr<Connection> c) noexcept {
    // A connection that is broken, or still inside a transaction (its ROLLBACK failed), is
    // closed, not reused; the pool opens a fresh one when it needs it.
    if (c && !c->idle()) c.reset();
    std::lock_guard lock(mu_);
    try {
      if (c) {
        idle_.push_back(std::move(c));
      } else {
        --open_;
      }
    } catch (...) {  // out of memory: close it instead
      --open_;
    }
    cv_.notify_one();
  }

  void migrate(Connection& c) {
    Transaction tx(c);
    // Two instances starting at once must not both create the tables.
    c.params("SELECT pg_advisory_xact_lock(hashtext($1))", "lock schema",
             {("lakehost storage-postgres " + config_.schema).c_str()});
    const std::string schema = quote_ident(config_.schema);
    c.simple("CREATE SCHEMA IF NOT EXISTS " + schema, "create schema");
    auto tables = [&](const char* sql) {
      Result r = c.params(sql, "read schema", {config_.schema.c_str()});
      return std::atoll(PQgetvalue(r.get(), 0, 0));
    };
    if (tables("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'meta'")) {
      Result r = c.simple("SELECT value FROM " + schema + ".meta WHERE key = 'schema_version'",
                          "read schema version");
      const long long version = PQntuples(r.get()) ? std::atoll(PQgetvalue(r.get(), 0, 0)) : 0;
      if (version > kSchemaVersion)
        throw Error(LH_ERR_CONFLICT,
                    "schema " + in_quotes(config_.schema) + " has schema version " +
                        std::to_string(version) +
                        ", written by a newer storage-postgres; this one knows up to version " +
                        std::to_string(kSchemaVersion) + ". Upgrade the plugin.");
      if (version < 1)
        throw Error(LH_ERR_CONFLICT, "schema " + in_quotes(config_.schema) +
                                         " has a meta table without a schema version; refusing "
                                         "to modify it");
      if (version < 2) {
        c.simple(replace_all(kFeedFunction, "{s}", schema), "add change-feed function");
        c.simple(replace_all(kFeedTriggers, "{s}", schema), "add change-feed triggers");
        c.simple("UPDATE " + schema + ".meta SET value = '2' WHERE key = 'schema_version'",
                 "update schema version");
        host_.info("schema " + in_quotes(config_.schema) + " migrated from version " +
                   std::to_string(version) + " to 2 (change-feed triggers)");
      }
    } else {
      if (tables("SELECT count(*) FROM pg_tables WHERE schemaname = $1"))
        throw Error(LH_ERR_CONFLICT, "schema " + in_quotes(config_.schema) +
                                         " has tables that storage-postgres did not create (no "
                                         "schema version); refusing to modify it");
      c.simple(replace_all(replace_all(kSchema, "{s}", schema), "{version}",
                           std::to_string(kSchemaVersion)),
               "create tables");
      c.simple(replace_all(kFeedFunction, "{s}", schema), "create change-feed function");
      c.simple(replace_all(kFeedTriggers, "{s}", schema), "create change-feed triggers");
    }
    // A schema set up by an older plugin: its notifications lack the write time.
    Result fn = c.params(
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = $1 AND p.proname = 'notify_change' AND strpos(p.prosrc, $2) > 0",
        "read change-feed function", {config_.schema.c_str(), kFeedFunctionMark});
    if (std::atoll(PQgetvalue(fn.get(), 0, 0)) == 0)
      c.simple(replace_all(kFeedFunction, "{s}", schema), "update change-feed function");
    tx.commit();
  }

  static std::string_view value(const PGresult* r, int row, int col) {
    return {PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col))};
  }

  static uint64_t affected(PGresult* r) { return std::strtoull(PQcmdTuples(r), nullptr, 10); }

  // Passes row `row` (id, text, metadata, vector, dimension) to fn.
  static void emit_document(const PGresult* r, int row, std::vector<float>& vector,
                            const DocumentFn& fn) {
    const std::string_view id = value(r, row, 0);
    const std::string_view blob = value(r, row, 3);
    const uint32_t dimension = PQgetlength(r, row, 4) == 4 ? be32(PQgetvalue(r, row, 4)) : ~0u;
    if (dimension > INT32_MAX || blob.size() != size_t{dimension} * 4)
      throw Error(LH_ERR_INTERNAL, "corrupt row: document " + in_quotes(id) + " has a " +
                                       std::to_string(blob.size()) + "-byte vector of dimension " +
                                       std::to_string(dimension));
    decode_vector(blob, vector);
    fn({id, value(r, row, 1), value(r, row, 2), std::span<const float>(vector)});
  }

  const lakehost::Host host_;
  const Config config_;
  ConnectParams params_;
  std::vector<std::string> stmts_;  // kStmts with the schema filled in
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_ = 0;                                   // connections open, idle or leased; mu_
  std::mutex listen_mu_;
  std::unique_ptr<ChangeListener> listener_;  // null when change_feed is off
};

}  // namespace

LAKEHOST_PLUGIN(PostgresStorage, "storage-postgres", "1.0.0",
                "Collections, documents and key/value in a PostgreSQL database (pooled, durable)",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
