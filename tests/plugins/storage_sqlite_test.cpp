// Contract test of the storage-sqlite plugin through the host's loader and the C table only, plus
// a look at the database file with SQLite itself (journal mode, schema version). The crash test
// kills a child process with SIGKILL right after a write was acknowledged.
#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../support/plugin_fixture.h"

namespace {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct Doc {
  std::string id;
  std::string text;
  std::string metadata = "{}";
  std::vector<float> vector;
};

// Bit-exact: compares the floats' bytes, so -0.0f, denormals and NaN payloads must survive.
bool same(const Doc& a, const Doc& b) {
  return a.id == b.id && a.text == b.text && a.metadata == b.metadata &&
         a.vector.size() == b.vector.size() &&
         (a.vector.empty() ||
          std::memcmp(a.vector.data(), b.vector.data(), a.vector.size() * sizeof(float)) == 0);
}

lh_str lh(std::string_view s) { return {s.data(), s.size()}; }
std::string copy(lh_str s) { return {s.data ? s.data : "", s.size}; }

// The message of the last failed call on this thread, for test output.
thread_local std::string last_error;

// A storage instance and its C table. Sinks copy what they receive: their arguments are valid
// only during the sink call.
class Store {
 public:
  explicit Store(std::unique_ptr<lakehost::test::LoadedPlugin> p)
      : p_(std::move(p)), t_(*p_->table<lh_storage_backend_v1>()), self_(p_->self()) {}

  lh_status put_collection(std::string_view name, std::string_view settings,
                           int* created = nullptr) const {
    int c = -1;
    lh_status st = check(t_.collection_put(self_, lh(name), lh(settings), &c, &err_));
    if (created) *created = c;
    return st;
  }
  lh_status get_collection(std::string_view name, std::string* settings) const {
    auto sink = [](void* ctx, lh_str, lh_str s) { *static_cast<std::string*>(ctx) = copy(s); };
    return check(t_.collection_get(self_, lh(name), sink, settings, &err_));
  }
  lh_status list_collections(KeyValues* out) const {
    auto sink = [](void* ctx, lh_str n, lh_str s) {
      static_cast<KeyValues*>(ctx)->emplace_back(copy(n), copy(s));
    };
    return check(t_.collection_list(self_, sink, out, &err_));
  }
  lh_status delete_collection(std::string_view name) const {
    return check(t_.collection_delete(self_, lh(name), &err_));
  }

  lh_status upsert(std::string_view collection, const std::vector<Doc>& docs) const {
    std::vector<lh_document> in;
    for (const auto& d : docs)
      in.push_back({lh(d.id), lh(d.text), lh(d.metadata),
                    d.vector.empty() ? nullptr : d.vector.data(),
                    static_cast<uint32_t>(d.vector.size())});
    return upsert_raw(collection, in);
  }
  lh_status upsert_raw(std::string_view collection, const std::vector<lh_document>& in) const {
    return check(t_.documents_upsert(self_, lh(collection), in.data(), in.size(), &err_));
  }
  lh_status get(std::string_view collection, std::string_view id, Doc* out) const {
    auto sink = [](void* ctx, const lh_document* d) { *static_cast<Doc*>(ctx) = to_doc(*d); };
    return check(t_.document_get(self_, lh(collection), lh(id), sink, out, &err_));
  }
  lh_status scan(std::string_view collection, std::vector<Doc>* out) const {
    auto sink = [](void* ctx, const lh_document* d) {
      static_cast<std::vector<Doc>*>(ctx)->push_back(to_doc(*d));
    };
    return check(t_.documents_scan(self_, lh(collection), sink, out, &err_));
  }
  lh_status count(std::string_view collection, uint64_t* n) const {
    return check(t_.document_count(self_, lh(collection), n, &err_));
  }
  lh_status remove(std::string_view collection, std::string_view id) const {
    return check(t_.document_delete(self_, lh(collection), lh(id), &err_));
  }

  lh_status kv_put(std::string_view key, std::string_view value) const {
    return check(t_.kv_put(self_, lh(key), lh(value), &err_));
  }
  lh_status kv_get(std::string_view key, std::string* value) const {
    auto sink = [](void* ctx, lh_str b) { *static_cast<std::string*>(ctx) = copy(b); };
    return check(t_.kv_get(self_, lh(key), sink, value, &err_));
  }
  lh_status kv_delete(std::string_view key) const {
    return check(t_.kv_delete(self_, lh(key), &err_));
  }
  lh_status kv_list(std::string_view prefix, KeyValues* out) const {
    auto sink = [](void* ctx, lh_str k, lh_str v) {
      static_cast<KeyValues*>(ctx)->emplace_back(copy(k), copy(v));
    };
    return check(t_.kv_list(self_, lh(prefix), sink, out, &err_));
  }
  // ABI 1.2 documents_get: the ids (and texts) found, in the order the sink saw them.
  lh_status get_many(std::string_view collection, const std::vector<std::string>& ids,
                     std::vector<std::pair<std::string, std::string>>* out) const {
    if (t_.struct_size < offsetof(lh_storage_backend_v1, documents_get) + sizeof(void*) ||
        !t_.documents_get)
      return LH_ERR_UNSUPPORTED;
    std::vector<lh_str> in;
    for (const auto& id : ids) in.push_back(lh(id));
    auto sink = [](void* ctx, const lh_document* d) {
      static_cast<std::vector<std::pair<std::string, std::string>>*>(ctx)->emplace_back(
          copy(d->id), copy(d->text));
    };
    return check(t_.documents_get(self_, lh(collection), in.data(), in.size(), sink, out, &err_));
  }

  // Convenience for assertions: the count, or max() on error.
  uint64_t count(std::string_view collection) const {
    uint64_t n = 0;
    return count(collection, &n) == LH_OK ? n : std::numeric_limits<uint64_t>::max();
  }

 private:
  static Doc to_doc(const lh_document& d) {
    Doc out{copy(d.id), copy(d.text), copy(d.metadata_json), {}};
    // The ABI says: vector is NULL exactly when dimension is 0.
    EXPECT_EQ(d.vector == nullptr, d.dimension == 0) << "document " << out.id;
    if (d.vector) out.vector.assign(d.vector, d.vector + d.dimension);
    return out;
  }
  lh_status check(lh_status st) const {
    last_error = st == LH_OK ? "" : err_.message;
    return st;
  }

  std::unique_ptr<lakehost::test::LoadedPlugin> p_;
  const lh_storage_backend_v1& t_;
  void* self_;
  static thread_local lh_error err_;
};
thread_local lh_error Store::err_{};

std::unique_ptr<Store> open_store(const std::string& data_dir, const std::string& config = "{}") {
  return std::make_unique<Store>(lakehost::test::load_plugin("storage-sqlite", config, data_dir));
}

std::vector<std::string> ids(const std::vector<Doc>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(d.id);
  return out;
}

// Runs one statement on a database file with SQLite itself (the plugin must not have it open) and
// returns the first column of the first row as text ("" if none).
std::string sql_value(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

// ---- collections --------------------------------------------------------------------------------

TEST(StorageSqlite, CollectionsPutGetListDelete) {
  auto s = open_store(lakehost::test::temp_dir());
  int created = -1;
  ASSERT_EQ(s->put_collection("b", R"({"v":1})", &created), LH_OK) << last_error;
  EXPECT_EQ(created, 1);
  ASSERT_EQ(s->put_collection("b", R"({"v":2})", &created), LH_OK) << last_error;
  EXPECT_EQ(created, 0) << "the second put replaces the settings";
  ASSERT_EQ(s->put_collection("a", "{}", &created), LH_OK);
  EXPECT_EQ(created, 1);
  ASSERT_EQ(s->put_collection("c_%", "{}"), LH_OK);

  std::string settings;
  ASSERT_EQ(s->get_collection("b", &settings), LH_OK);
  EXPECT_EQ(settings, R"({"v":2})");
  EXPECT_EQ(s->get_collection("nope", &settings), LH_ERR_NOT_FOUND);
  EXPECT_NE(last_error.find("nope"), std::string::npos) << "the message names the collection";

  KeyValues list;
  ASSERT_EQ(s->list_collections(&list), LH_OK);
  EXPECT_EQ(list, (KeyValues{{"a", "{}"}, {"b", R"({"v":2})"}, {"c_%", "{}"}}));

  EXPECT_EQ(s->delete_collection("b"), LH_OK);
  EXPECT_EQ(s->delete_collection("b"), LH_ERR_NOT_FOUND);
  EXPECT_EQ(s->get_collection("b", &settings), LH_ERR_NOT_FOUND);
  list.clear();
  ASSERT_EQ(s->list_collections(&list), LH_OK);
  EXPECT_EQ(list, (KeyValues{{"a", "{}"}, {"c_%", "{}"}}));
}

// ---- documents ----------------------------------------------------------------------------------

std::vector<Doc> sample_documents() {
  std::string all_bytes;  // every byte but NUL: not valid UTF-8, must still round-trip
  for (int b = 1; b < 256; ++b) all_bytes += static_cast<char>(b);
  float nan_with_payload;
  const uint32_t nan_bits = 0x7fc01234u;
  std::memcpy(&nan_with_payload, &nan_bits, sizeof nan_bits);
  // -0, the smallest denormal, the largest float and a NaN with a payload.
  const std::vector<float> odd = {-0.0f, 1e-45f, std::numeric_limits<float>::max(),
                                  nan_with_payload};
  return {
      {"b", "naïve café — 日本語 🙂", R"({"lang":"fr","tags":["ü","ß"]})", {0.6f, -0.8f}},
      {"a", all_bytes, R"({"kind":"binary"})", odd},
      {"ä", "", "{}", {}},  // no vector, empty text
      {"A", "upper", "{}", {1.0f}},
  };
}

TEST(StorageSqlite, DocumentsRoundTripBitExact) {
  auto s = open_store(lakehost::test::temp_dir());
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(s->put_collection("other", "{}"), LH_OK);
  const auto docs = sample_documents();
  ASSERT_EQ(s->upsert("c", docs), LH_OK) << last_error;
  ASSERT_EQ(s->upsert("other", {{"z", "elsewhere", "{}", {}}}), LH_OK) << last_error;

  for (const auto& d : docs) {
    Doc got;
    ASSERT_EQ(s->get("c", d.id, &got), LH_OK) << d.id << ": " << last_error;
    EXPECT_TRUE(same(got, d)) << d.id;
  }
  EXPECT_EQ(s->count("c"), 4u);

  // Scans are ordered by id bytewise (which is also UTF-8 code point order).
  std::vector<Doc> scanned;
  ASSERT_EQ(s->scan("c", &scanned), LH_OK) << last_error;
  EXPECT_EQ(ids(scanned), (std::vector<std::string>{"A", "a", "b", "ä"}));
  for (const auto& got : scanned)
    EXPECT_TRUE(same(got, *std::find_if(docs.begin(), docs.end(),
                                        [&](const Doc& d) { return d.id == got.id; })));

  // Replacing a document replaces all of it, vector included.
  ASSERT_EQ(s->upsert("c", {{"b", "new", R"({"v":2})", {}}}), LH_OK);
  Doc got;
  ASSERT_EQ(s->get("c", "b", &got), LH_OK);
  EXPECT_TRUE(same(got, {"b", "new", R"({"v":2})", {}}));
  EXPECT_EQ(s->count("c"), 4u);

  EXPECT_EQ(s->remove("c", "b"), LH_OK);
  EXPECT_EQ(s->remove("c", "b"), LH_ERR_NOT_FOUND);
  EXPECT_EQ(s->get("c", "b", &got), LH_ERR_NOT_FOUND);
  EXPECT_EQ(s->get("c", "z", &got), LH_ERR_NOT_FOUND) << "documents belong to one collection";
  EXPECT_EQ(s->remove("nope", "a"), LH_ERR_NOT_FOUND);
  EXPECT_EQ(s->count("c"), 3u);
  EXPECT_EQ(s->count("other"), 1u);
}

TEST(StorageSqlite, SameIdTwiceInABatchLastWins) {
  auto s = open_store(lakehost::test::temp_dir());
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(s->upsert("c", {{"x", "first", "{}", {1.0f}}, {"x", "second", "{}", {0.0f, 1.0f}}}),
            LH_OK)
      << last_error;
  Doc got;
  ASSERT_EQ(s->get("c", "x", &got), LH_OK);
  EXPECT_TRUE(same(got, {"x", "second", "{}", {0.0f, 1.0f}}));
  EXPECT_EQ(s->count("c"), 1u);
}

TEST(StorageSqlite, MissingCollectionIsNotFoundAndNothingIsWritten) {
  auto s = open_store(lakehost::test::temp_dir());
  EXPECT_EQ(s->upsert("c", {{"x", "t", "{}", {}}}), LH_ERR_NOT_FOUND);
  std::vector<Doc> docs;
  uint64_t n = 0;
  EXPECT_EQ(s->scan("c", &docs), LH_ERR_NOT_FOUND);
  EXPECT_EQ(s->count("c", &n), LH_ERR_NOT_FOUND);

  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  EXPECT_EQ(s->count("c"), 0u) << "the refused batch left no document behind";
}

TEST(StorageSqlite, DeletingACollectionDeletesItsDocuments) {
  auto s = open_store(lakehost::test::temp_dir());
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(s->put_collection("keep", "{}"), LH_OK);
  ASSERT_EQ(s->upsert("c", sample_documents()), LH_OK);
  ASSERT_EQ(s->upsert("keep", sample_documents()), LH_OK);
  ASSERT_EQ(s->delete_collection("c"), LH_OK) << last_error;
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  EXPECT_EQ(s->count("c"), 0u) << "a re-created collection starts empty";
  EXPECT_EQ(s->count("keep"), 4u);
}

// A batch that fails half-way leaves nothing behind, in this instance and in the file.
TEST(StorageSqlite, FailedBatchIsAllOrNothing) {
  const std::string dir = lakehost::test::temp_dir();
  auto s = open_store(dir);
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(s->upsert("c", {{"old", "kept", "{}", {1.0f}}}), LH_OK);

  const float v[] = {0.5f, 0.5f};
  const char* no_data = nullptr;
  const std::vector<std::vector<lh_document>> bad_batches = {
      // The second document claims a vector it does not have.
      {{lh("new1"), lh("t"), lh("{}"), v, 2}, {lh("old"), lh("overwrite"), lh("{}"), nullptr, 2}},
      // The second document's id claims 5 bytes at a null pointer.
      {{lh("new1"), lh("t"), lh("{}"), v, 2}, {{no_data, 5}, lh("t"), lh("{}"), nullptr, 0}},
  };
  for (const auto& batch : bad_batches) {
    EXPECT_EQ(s->upsert_raw("c", batch), LH_ERR_INVALID_ARGUMENT);
    EXPECT_FALSE(last_error.empty());
    EXPECT_EQ(s->count("c"), 1u);
    Doc got;
    EXPECT_EQ(s->get("c", "new1", &got), LH_ERR_NOT_FOUND);
    ASSERT_EQ(s->get("c", "old", &got), LH_OK);
    EXPECT_EQ(got.text, "kept");
  }
  // The failed transactions were rolled back, not left open: writes still work.
  ASSERT_EQ(s->upsert("c", {{"new2", "t", "{}", {}}}), LH_OK) << last_error;

  s.reset();
  s = open_store(dir);
  std::vector<Doc> docs;
  ASSERT_EQ(s->scan("c", &docs), LH_OK);
  EXPECT_EQ(ids(docs), (std::vector<std::string>{"new2", "old"}));
}

// ---- key/value ----------------------------------------------------------------------------------

TEST(StorageSqlite, KeyValue) {
  auto s = open_store(lakehost::test::temp_dir());
  const std::string binary("\0\x01\xff\0end", 7);  // values are bytes: NULs included
  ASSERT_EQ(s->kv_put("k", binary), LH_OK) << last_error;
  ASSERT_EQ(s->kv_put("empty", ""), LH_OK);
  std::string value;
  ASSERT_EQ(s->kv_get("k", &value), LH_OK);
  EXPECT_EQ(value, binary);
  ASSERT_EQ(s->kv_get("empty", &value), LH_OK);
  EXPECT_EQ(value, "");
  ASSERT_EQ(s->kv_put("k", "v2"), LH_OK);
  ASSERT_EQ(s->kv_get("k", &value), LH_OK);
  EXPECT_EQ(value, "v2");

  EXPECT_EQ(s->kv_delete("k"), LH_OK);
  EXPECT_EQ(s->kv_delete("k"), LH_ERR_NOT_FOUND);
  EXPECT_EQ(s->kv_get("k", &value), LH_ERR_NOT_FOUND);
}

TEST(StorageSqlite, KvListMatchesPrefixesLiterally) {
  auto s = open_store(lakehost::test::temp_dir());
  // '%' and '_' are LIKE wildcards; "\xff" has no successor byte; "ab" sorts between them.
  const std::vector<std::string> keys = {"a%b",   "a%c",       "axb", "a_1", "ab1", "A_1",
                                         "a\xff", "a\xff\xff", "a",   "b",   "a%"};
  for (const auto& k : keys) ASSERT_EQ(s->kv_put(k, "v:" + k), LH_OK) << last_error;

  auto list = [&](std::string_view prefix) {
    KeyValues out;
    EXPECT_EQ(s->kv_list(prefix, &out), LH_OK) << last_error;
    std::vector<std::string> ks;
    for (const auto& [k, v] : out) {
      EXPECT_EQ(v, "v:" + k);
      ks.push_back(k);
    }
    return ks;
  };
  using Keys = std::vector<std::string>;
  EXPECT_EQ(list("a%"), (Keys{"a%", "a%b", "a%c"}));
  EXPECT_EQ(list("a_"), (Keys{"a_1"}));
  EXPECT_EQ(list("a\xff"), (Keys{"a\xff", "a\xff\xff"}));
  EXPECT_EQ(list("a%b"), (Keys{"a%b"}));
  EXPECT_EQ(list("zzz"), Keys{});
  Keys all = keys;
  std::sort(all.begin(), all.end());  // std::string orders bytes as unsigned, like memcmp
  EXPECT_EQ(list(""), all);
}

// ---- files, configuration, durability -----------------------------------------------------------

TEST(StorageSqlite, PersistsAcrossInstancesAtARelativePath) {
  const std::string dir = lakehost::test::temp_dir();
  const std::string config = R"({"path":"nested/dir/store.db"})";
  auto s = open_store(dir, config);
  ASSERT_EQ(s->put_collection("c", R"({"x":1})"), LH_OK);
  ASSERT_EQ(s->upsert("c", sample_documents()), LH_OK);
  ASSERT_EQ(s->kv_put("key", "value"), LH_OK);
  s.reset();
  EXPECT_TRUE(std::filesystem::exists(dir + "/nested/dir/store.db"))
      << "the path is resolved against data_dir and missing directories are created";

  s = open_store(dir, config);
  std::string value;
  ASSERT_EQ(s->get_collection("c", &value), LH_OK);
  EXPECT_EQ(value, R"({"x":1})");
  std::vector<Doc> docs;
  ASSERT_EQ(s->scan("c", &docs), LH_OK);
  ASSERT_EQ(docs.size(), 4u);
  for (const auto& d : sample_documents()) {
    Doc got;
    ASSERT_EQ(s->get("c", d.id, &got), LH_OK);
    EXPECT_TRUE(same(got, d)) << d.id;
  }
  ASSERT_EQ(s->kv_get("key", &value), LH_OK);
  EXPECT_EQ(value, "value");
}

TEST(StorageSqlite, AbsolutePathIgnoresDataDir) {
  const std::string file = lakehost::test::temp_dir() + "/abs.sqlite3";
  const std::string config = R"({"path":")" + file + R"("})";
  EXPECT_EQ(open_store(lakehost::test::temp_dir(), config)->kv_put("k", "v"), LH_OK);
  std::string value;
  EXPECT_EQ(open_store(lakehost::test::temp_dir(), config)->kv_get("k", &value), LH_OK);
  EXPECT_EQ(value, "v");
}

TEST(StorageSqlite, FileIsWalWithASchemaVersion) {
  const std::string dir = lakehost::test::temp_dir();
  EXPECT_EQ(open_store(dir)->kv_put("k", "v"), LH_OK);  // default path: data_dir/lakehost.sqlite3
  const std::string file = dir + "/lakehost.sqlite3";
  ASSERT_TRUE(std::filesystem::exists(file));
  // journal_mode=WAL is persistent: it is recorded in the file itself.
  EXPECT_EQ(sql_value(file, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_value(file, "PRAGMA user_version"), "1");
  EXPECT_EQ(sql_value(file,
                      "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master "
                      "WHERE type = 'table' ORDER BY name)"),
            "collections,documents,kv");
}

TEST(StorageSqlite, RefusesANewerSchemaAndForeignDatabases) {
  const std::string dir = lakehost::test::temp_dir();
  open_store(dir).reset();
  sql_value(dir + "/lakehost.sqlite3", "PRAGMA user_version = 2");
  try {
    open_store(dir);
    ADD_FAILURE() << "a database from a newer plugin was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }

  const std::string other = lakehost::test::temp_dir();
  sql_value(other + "/lakehost.sqlite3", "CREATE TABLE someone_elses (x)");
  EXPECT_THROW(open_store(other), std::runtime_error);
  EXPECT_EQ(sql_value(other + "/lakehost.sqlite3", "SELECT count(*) FROM sqlite_master"), "1")
      << "the foreign database was not modified";
}

TEST(StorageSqlite, ConfigSchema) {
  const std::string dir = lakehost::test::temp_dir();
  EXPECT_NO_THROW(open_store(dir, R"({"synchronous":"NORMAL","busy_timeout_ms":0})"));
  EXPECT_THROW(open_store(dir, R"({"synchronous":"OFF"})"), std::runtime_error);
  EXPECT_THROW(open_store(dir, R"({"busy_timeout_ms":-1})"), std::runtime_error);
  EXPECT_THROW(open_store(dir, R"({"path":""})"), std::runtime_error);
  EXPECT_THROW(open_store(dir, R"({"journal_mode":"DELETE"})"), std::runtime_error)
      << "additionalProperties: false";
}

TEST(StorageSqlite, ManyThreadsMixReadsAndWrites) {
  auto s = open_store(lakehost::test::temp_dir());
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  constexpr int kThreads = 8, kRounds = 20, kBatch = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto fail = [&](const char* what) {
        ++failures;
        ADD_FAILURE() << "thread " << t << ": " << what << ": " << last_error;
      };
      const std::string prefix = "t" + std::to_string(t) + "/";
      for (int r = 0; r < kRounds; ++r) {
        std::vector<Doc> batch;
        for (int i = 0; i < kBatch; ++i) {
          const std::string id = prefix + std::to_string(r * kBatch + i);
          batch.push_back({id, "text " + id, "{}", {float(t), float(r), float(i)}});
        }
        if (s->upsert("c", batch) != LH_OK) fail("upsert");
        std::vector<Doc> docs;
        if (s->scan("c", &docs) != LH_OK) fail("scan");
        if (!std::is_sorted(docs.begin(), docs.end(),
                            [](const Doc& a, const Doc& b) { return a.id < b.id; }))
          fail("scan order");
        if (std::count_if(docs.begin(), docs.end(), [&](const Doc& d) {
              return d.id.starts_with(prefix);
            }) != (r + 1) * kBatch)
          fail("scan does not show this thread's own acknowledged writes");
        Doc got;
        if (s->get("c", batch.back().id, &got) != LH_OK || !same(got, batch.back())) fail("get");
        if (s->kv_put(prefix + std::to_string(r), "v") != LH_OK) fail("kv_put");
        KeyValues kvs;
        if (s->kv_list(prefix, &kvs) != LH_OK || kvs.size() != size_t(r + 1)) fail("kv_list");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(s->count("c"), uint64_t{kThreads * kRounds * kBatch});
}

// Two instances on one file, as while the host swaps an old generation for a new one: each sees
// the other's acknowledged writes, and concurrent writers wait for SQLite's lock, not fail.
TEST(StorageSqlite, TwoInstancesShareAFile) {
  const std::string dir = lakehost::test::temp_dir();
  auto a = open_store(dir);
  auto b = open_store(dir);
  ASSERT_EQ(a->put_collection("c", "{}"), LH_OK);
  std::atomic<int> failures{0};
  auto writer = [&](const Store& s, const std::string& prefix) {
    for (int i = 0; i < 20; ++i)
      if (s.upsert("c", {{prefix + std::to_string(i), "t", "{}", {1.0f}}}) != LH_OK) {
        ++failures;
        ADD_FAILURE() << last_error;
      }
  };
  std::thread ta(writer, std::cref(*a), "a");
  std::thread tb(writer, std::cref(*b), "b");
  ta.join();
  tb.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(a->count("c"), 40u);
  EXPECT_EQ(b->count("c"), 40u);
}

// An acknowledged write survives kill -9: a child process writes, tells us the call returned,
// and is SIGKILLed; then we open the same file and find the documents.
TEST(StorageSqlite, AcknowledgedWriteSurvivesSigkill) {
  const std::string dir = lakehost::test::temp_dir();
  const std::vector<Doc> docs = sample_documents();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: no gtest assertions and no clean shutdown, only _exit or the signal.
    close(fds[0]);
    char ack = 'E';
    try {
      Store* s = open_store(dir).release();  // never destroyed: the process dies holding it
      if (s->put_collection("c", "{}") == LH_OK && s->upsert("c", docs) == LH_OK &&
          s->kv_put("k", "v") == LH_OK)
        ack = 'K';
    } catch (...) {
    }
    if (write(fds[1], &ack, 1) != 1 || ack != 'K') _exit(1);
    for (;;) pause();
  }
  close(fds[1]);
  pollfd pfd{fds[0], POLLIN, 0};
  char ack = 0;
  const bool acked = poll(&pfd, 1, 60'000) == 1 && read(fds[0], &ack, 1) == 1;
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  ASSERT_TRUE(acked) << "the child did not report back";
  ASSERT_EQ(ack, 'K') << "the child's writes failed";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  auto s = open_store(dir);
  for (const auto& d : docs) {
    Doc got;
    ASSERT_EQ(s->get("c", d.id, &got), LH_OK) << d.id << ": " << last_error;
    EXPECT_TRUE(same(got, d)) << d.id;
  }
  std::string value;
  EXPECT_EQ(s->kv_get("k", &value), LH_OK);
}

}  // namespace

// ---- ABI 1.2 ------------------------------------------------------------------------------------

TEST(StorageSqlite, DocumentsGetReadsManyIdsAndSkipsAbsentOnes) {
  auto s = open_store(lakehost::test::temp_dir());
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(
      s->upsert("c", {{"a", "alpha", "{}", {}}, {"b", "beta", "{}", {}}, {"c", "gamma", "{}", {}}}),
      LH_OK)
      << last_error;
  std::vector<std::pair<std::string, std::string>> got;
  ASSERT_EQ(s->get_many("c", {"c", "nope", "a"}, &got), LH_OK) << last_error;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got,
            (std::vector<std::pair<std::string, std::string>>{{"a", "alpha"}, {"c", "gamma"}}));
  EXPECT_EQ(s->get_many("nope", {"a"}, &got), LH_ERR_NOT_FOUND);
}
