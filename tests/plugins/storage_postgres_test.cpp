// Contract test of the storage-postgres plugin through the host's loader and the C table only,
// against the throwaway cluster of tests/postgres/pg_cluster.sh (the ctest fixture `postgres`),
// plus a look at the database with libpq itself (tables, schema version, killed connections).
// Every test works in a schema of its own ("t_<random>"), dropped at the end.
//
// The connection string is read from the file named by LAKEHOST_TEST_PG_CONNINFO_FILE; without
// that variable (the test binary run by hand, outside ctest) every test is skipped.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <random>
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

  const lh_storage_backend_v1& table() const { return t_; }
  void* self() const { return self_; }

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

std::vector<std::string> ids(const std::vector<Doc>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(d.id);
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Runs one statement with libpq and returns the first column of the first row as text ("" if
// none).
std::string sql_value(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);  // "drop cascades to ..."
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    ADD_FAILURE() << "libpq: " << PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        << sql << ": " << PQresultErrorMessage(r);
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

// A loopback port nobody listens on (bound, then released).
int unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("cannot bind a loopback port");
  close(fd);
  return ntohs(a.sin_port);
}

class StoragePostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* file = std::getenv("LAKEHOST_TEST_PG_CONNINFO_FILE");
    if (!file || !*file)
      GTEST_SKIP() << "LAKEHOST_TEST_PG_CONNINFO_FILE is not set: these tests need the PostgreSQL "
                      "cluster of the ctest fixture `postgres` (run them through ctest, or start "
                      "tests/postgres/pg_cluster.sh yourself and point the variable at its file)";
    std::ifstream in(file);
    std::getline(in, conninfo_);
    ASSERT_FALSE(conninfo_.empty())
        << "no connection string in " << file << " (did postgres_cluster_start fail?)";
    std::random_device rd;
    schema_ = "t_" + std::to_string(rd()) + "_" + std::to_string(rd());
  }
  void TearDown() override {
    if (!conninfo_.empty()) sql_value(conninfo_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }

  // The config of an instance on this test's schema; `extra` is appended inside the object.
  std::string config(const std::string& extra = "") const {
    return R"({"conninfo":)" + json_string(conninfo_) + R"(,"schema":")" + schema_ + "\"" +
           (extra.empty() ? "" : "," + extra) + "}";
  }
  std::unique_ptr<Store> open_store(const std::string& extra = "") const {
    return open_raw(config(extra));
  }
  static std::unique_ptr<Store> open_raw(const std::string& config) {
    return std::make_unique<Store>(lakehost::test::load_plugin("storage-postgres", config));
  }

  std::string conninfo_;
  std::string schema_;
};

// ---- collections --------------------------------------------------------------------------------

TEST_F(StoragePostgres, CollectionsPutGetListDelete) {
  auto s = open_store();
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
  EXPECT_EQ(settings, R"({"v":2})") << "settings are stored as given, not normalised";
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
  // Every ASCII byte but NUL, then code points of 2, 3 and 4 bytes (PostgreSQL text holds valid
  // UTF-8 only: that is checked by NonUtf8AndNulAreRefused).
  std::string all_ascii;
  for (int b = 1; b < 128; ++b) all_ascii += static_cast<char>(b);
  all_ascii += "\u00ff\u07ff\u0800\uffff\U00010000\U0010ffff";
  float nan_with_payload;
  const uint32_t nan_bits = 0x7fc01234u;
  std::memcpy(&nan_with_payload, &nan_bits, sizeof nan_bits);
  // -0, the smallest denormal, the largest float and a NaN with a payload.
  const std::vector<float> odd = {-0.0f, 1e-45f, std::numeric_limits<float>::max(),
                                  nan_with_payload};
  return {
      {"b", "naïve café — 日本語 🙂", R"({"lang":"fr","tags":["ü","ß"]})", {0.6f, -0.8f}},
      {"a", all_ascii, R"({"kind":"all"})", odd},
      {"ä", "", "{}", {}},  // no vector, empty text
      {"A", "upper", "{}", {1.0f}},
  };
}

TEST_F(StoragePostgres, DocumentsRoundTripBitExact) {
  auto s = open_store();
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

  // Scans are ordered by id bytewise (COLLATE "C", which is also UTF-8 code point order).
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

  // An empty collection scans to nothing (not NOT_FOUND).
  ASSERT_EQ(s->put_collection("empty", "{}"), LH_OK);
  scanned.clear();
  EXPECT_EQ(s->scan("empty", &scanned), LH_OK) << last_error;
  EXPECT_TRUE(scanned.empty());
  EXPECT_EQ(s->count("empty"), 0u);
}

// Text columns hold valid UTF-8 without NUL: anything else is refused, never truncated or
// mangled, and nothing of the batch is written.
TEST_F(StoragePostgres, NonUtf8AndNulAreRefused) {
  auto s = open_store();
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  EXPECT_EQ(s->upsert("c", {{"ok", "t", "{}", {}}, {"x", "bad \xff byte", "{}", {}}}),
            LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(last_error.find("postgres"), std::string::npos) << last_error;
  EXPECT_EQ(s->upsert("c", {{"x", std::string("nul\0inside", 10), "{}", {}}}),
            LH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s->count("c"), 0u);
  EXPECT_EQ(s->kv_put("k\xff", "v"), LH_ERR_INVALID_ARGUMENT);
  KeyValues out;
  EXPECT_EQ(s->kv_list("k\xff", &out), LH_ERR_INVALID_ARGUMENT);
  // Values are bytes: anything goes.
  EXPECT_EQ(s->kv_put("k", std::string("\xff\0", 2)), LH_OK) << last_error;
}

TEST_F(StoragePostgres, SameIdTwiceInABatchLastWins) {
  auto s = open_store();
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(s->upsert("c", {{"x", "first", "{}", {1.0f}}, {"x", "second", "{}", {0.0f, 1.0f}}}),
            LH_OK)
      << last_error;
  Doc got;
  ASSERT_EQ(s->get("c", "x", &got), LH_OK);
  EXPECT_TRUE(same(got, {"x", "second", "{}", {0.0f, 1.0f}}));
  EXPECT_EQ(s->count("c"), 1u);
}

TEST_F(StoragePostgres, MissingCollectionIsNotFoundAndNothingIsWritten) {
  auto s = open_store();
  EXPECT_EQ(s->upsert("c", {{"x", "t", "{}", {}}}), LH_ERR_NOT_FOUND);
  EXPECT_NE(last_error.find("\"c\""), std::string::npos) << last_error;
  std::vector<Doc> docs;
  uint64_t n = 0;
  EXPECT_EQ(s->scan("c", &docs), LH_ERR_NOT_FOUND);
  EXPECT_EQ(s->count("c", &n), LH_ERR_NOT_FOUND);

  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  EXPECT_EQ(s->count("c"), 0u) << "the refused batch left no document behind";
}

TEST_F(StoragePostgres, DeletingACollectionDeletesItsDocuments) {
  auto s = open_store();
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(s->put_collection("keep", "{}"), LH_OK);
  ASSERT_EQ(s->upsert("c", sample_documents()), LH_OK);
  ASSERT_EQ(s->upsert("keep", sample_documents()), LH_OK);
  ASSERT_EQ(s->delete_collection("c"), LH_OK) << last_error;
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  EXPECT_EQ(s->count("c"), 0u) << "a re-created collection starts empty";
  EXPECT_EQ(s->count("keep"), 4u);
}

// A batch that fails half-way leaves nothing behind, in this instance and in the database.
TEST_F(StoragePostgres, FailedBatchIsAllOrNothing) {
  auto s = open_store(R"("pool_size":1)");  // the same connection must be usable afterwards
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  ASSERT_EQ(s->upsert("c", {{"old", "kept", "{}", {1.0f}}}), LH_OK);

  const float v[] = {0.5f, 0.5f};
  const char* no_data = nullptr;
  const std::vector<std::vector<lh_document>> bad_batches = {
      // The second document claims a vector it does not have.
      {{lh("new1"), lh("t"), lh("{}"), v, 2}, {lh("old"), lh("overwrite"), lh("{}"), nullptr, 2}},
      // The second document's id claims 5 bytes at a null pointer.
      {{lh("new1"), lh("t"), lh("{}"), v, 2}, {{no_data, 5}, lh("t"), lh("{}"), nullptr, 0}},
      // The server refuses the second document (not UTF-8) after it wrote the first.
      {{lh("new1"), lh("t"), lh("{}"), v, 2}, {lh("old"), lh("\xc3("), lh("{}"), nullptr, 0}},
  };
  for (const auto& batch : bad_batches) {
    EXPECT_EQ(s->upsert_raw("c", batch), LH_ERR_INVALID_ARGUMENT);
    EXPECT_FALSE(last_error.empty());
    EXPECT_EQ(s->count("c"), 1u) << last_error;
    Doc got;
    EXPECT_EQ(s->get("c", "new1", &got), LH_ERR_NOT_FOUND);
    ASSERT_EQ(s->get("c", "old", &got), LH_OK);
    EXPECT_EQ(got.text, "kept");
  }
  // The failed transactions were rolled back, not left open: writes still work.
  ASSERT_EQ(s->upsert("c", {{"new2", "t", "{}", {}}}), LH_OK) << last_error;

  s.reset();
  s = open_store();
  std::vector<Doc> docs;
  ASSERT_EQ(s->scan("c", &docs), LH_OK);
  EXPECT_EQ(ids(docs), (std::vector<std::string>{"new2", "old"}));
}

// ---- key/value ----------------------------------------------------------------------------------

TEST_F(StoragePostgres, KeyValue) {
  auto s = open_store();
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

TEST_F(StoragePostgres, KvListMatchesPrefixesLiterally) {
  auto s = open_store();
  // '%' and '_' are LIKE wildcards; U+10FFFF has no successor; "a\x7f"'s successor is
  // U+0080, two bytes; U+D7FF's successor skips the surrogates to U+E000.
  const std::string max = "\U0010ffff", d7ff = "\ud7ff", e000 = "\ue000";
  const std::vector<std::string> keys = {
      "a%b",     "a%c", "axb", "a_1",   "ab1",       "A_1",     "a" + max,  "a" + max + max,
      "a",       "b",   "a%",  "a\x7f", "a\x7f\x01", "a\u0080", "a" + d7ff, "a" + d7ff + "x",
      "a" + e000};
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
  EXPECT_EQ(list("a" + max), (Keys{"a" + max, "a" + max + max}));
  EXPECT_EQ(list("a\x7f"), (Keys{"a\x7f", "a\x7f\x01"}));
  EXPECT_EQ(list("a" + d7ff), (Keys{"a" + d7ff, "a" + d7ff + "x"}));
  EXPECT_EQ(list("a%b"), (Keys{"a%b"}));
  EXPECT_EQ(list("zzz"), Keys{});
  Keys all = keys;
  std::sort(all.begin(), all.end());  // std::string orders bytes as unsigned, like COLLATE "C"
  EXPECT_EQ(list(""), all);
}

// ---- persistence, schema, configuration ---------------------------------------------------------

TEST_F(StoragePostgres, PersistsAcrossInstances) {
  auto s = open_store();
  ASSERT_EQ(s->put_collection("c", R"({"x":1})"), LH_OK);
  ASSERT_EQ(s->upsert("c", sample_documents()), LH_OK);
  ASSERT_EQ(s->kv_put("key", "value"), LH_OK);
  s.reset();

  s = open_store(R"("pool_size":2)");
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

TEST_F(StoragePostgres, SchemaIsCreatedWithAVersion) {
  open_store().reset();
  EXPECT_EQ(sql_value(conninfo_,
                      "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM "
                      "pg_tables WHERE schemaname = '" +
                          schema_ + "'"),
            "collections,documents,kv,meta");
  EXPECT_EQ(
      sql_value(conninfo_, "SELECT value FROM " + schema_ + ".meta WHERE key = 'schema_version'"),
      "2");
  EXPECT_EQ(sql_value(conninfo_,
                      "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON "
                      "c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = '" +
                          schema_ + "' AND t.tgname = 'notify_change'"),
            "3")
      << "one change-feed trigger per table";
  EXPECT_EQ(sql_value(conninfo_, "SHOW synchronous_commit"), "on");
  open_store().reset();  // a second start finds the schema and keeps it
}

TEST_F(StoragePostgres, RefusesANewerSchemaAndForeignTables) {
  open_store().reset();
  sql_value(conninfo_, "UPDATE " + schema_ + ".meta SET value = '3'");
  try {
    open_store();
    ADD_FAILURE() << "a schema from a newer plugin was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }

  const std::string other = schema_ + "_other";
  sql_value(conninfo_,
            "CREATE SCHEMA " + other + "; CREATE TABLE " + other + ".someone_elses (x int)");
  const std::string config =
      R"({"conninfo":)" + json_string(conninfo_) + R"(,"schema":")" + other + "\"}";
  EXPECT_THROW(open_raw(config), std::runtime_error);
  EXPECT_EQ(
      sql_value(conninfo_, "SELECT count(*) FROM pg_tables WHERE schemaname = '" + other + "'"),
      "1")
      << "the foreign schema was not modified";
  sql_value(conninfo_, "DROP SCHEMA " + other + " CASCADE");
}

TEST_F(StoragePostgres, ConfigSchema) {
  EXPECT_NO_THROW(open_store(R"("pool_size":1)"));
  EXPECT_NO_THROW(open_store(R"("pool_size":64)"));
  EXPECT_THROW(open_store(R"("pool_size":0)"), std::runtime_error);
  EXPECT_THROW(open_store(R"("pool_size":65)"), std::runtime_error);
  EXPECT_THROW(open_store(R"("path":"x")"), std::runtime_error) << "additionalProperties: false";
  EXPECT_THROW(open_raw(R"({"schema":"x"})"), std::runtime_error) << "no conninfo";
  EXPECT_THROW(open_store(R"("conninfo_env":"LAKEHOST_TEST_PG_X")"), std::runtime_error)
      << "conninfo and conninfo_env";

  ::setenv("LAKEHOST_TEST_PG_CONNINFO", conninfo_.c_str(), 1);
  auto s = open_raw(R"({"conninfo_env":"LAKEHOST_TEST_PG_CONNINFO","schema":")" + schema_ + "\"}");
  EXPECT_EQ(s->kv_put("k", "v"), LH_OK) << last_error;
  ::unsetenv("LAKEHOST_TEST_PG_UNSET");
  try {
    open_raw(R"({"conninfo_env":"LAKEHOST_TEST_PG_UNSET"})");
    ADD_FAILURE() << "an unset conninfo_env was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("LAKEHOST_TEST_PG_UNSET"), std::string::npos) << e.what();
  }
}

// ---- servers and connections --------------------------------------------------------------------

TEST_F(StoragePostgres, UnreachableServerFailsCreateNamingHostAndPort) {
  const std::string port = std::to_string(unused_port());
  const auto started = std::chrono::steady_clock::now();
  try {
    open_raw(R"({"conninfo":"host=127.0.0.1 port=)" + port +
             R"( dbname=lakehost_test user=postgres connect_timeout=5"})");
    ADD_FAILURE() << "created an instance on a dead port";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("127.0.0.1"), std::string::npos) << m;
    EXPECT_NE(m.find(port), std::string::npos) << m;
    EXPECT_NE(m.find("cannot connect"), std::string::npos) << m;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

// The base of host replicas: two instances (two hosts) on one database see each other's
// acknowledged writes at once, and write concurrently without failing.
TEST_F(StoragePostgres, TwoInstancesSeeEachOthersWritesImmediately) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_EQ(a->put_collection("c", "{}"), LH_OK);
  std::string settings;
  EXPECT_EQ(b->get_collection("c", &settings), LH_OK);
  for (int i = 0; i < 10; ++i) {
    const std::string id = "x" + std::to_string(i);
    ASSERT_EQ(a->upsert("c", {{id, "t" + id, "{}", {float(i)}}}), LH_OK) << last_error;
    Doc got;
    ASSERT_EQ(b->get("c", id, &got), LH_OK) << id;
    EXPECT_EQ(got.text, "t" + id);
    ASSERT_EQ(b->kv_put("k" + std::to_string(i), id), LH_OK);
    std::string v;
    ASSERT_EQ(a->kv_get("k" + std::to_string(i), &v), LH_OK);
    EXPECT_EQ(v, id);
  }
  ASSERT_EQ(b->delete_collection("c"), LH_OK);
  uint64_t n = 0;
  EXPECT_EQ(a->count("c", &n), LH_ERR_NOT_FOUND);

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

// The server drops every connection of the instance (a restart, an administrator): the next
// calls reconnect and succeed.
TEST_F(StoragePostgres, ReconnectsAfterTheServerDropsItsConnections) {
  const std::string app = "lh_" + schema_;
  const std::string config = R"({"conninfo":)" +
                             json_string(conninfo_ + " application_name=" + app) +
                             R"(,"schema":")" + schema_ + R"(","pool_size":2})";
  auto s = open_raw(config);
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  for (int round = 0; round < 2; ++round) {
    EXPECT_NE(sql_value(conninfo_,
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = '" +
                            app + "'"),
              "0");
    ASSERT_EQ(s->upsert("c", {{"d" + std::to_string(round), "t", "{}", {}}}), LH_OK) << last_error;
    EXPECT_EQ(s->count("c"), uint64_t(round + 1)) << last_error;
    EXPECT_EQ(s->kv_put("k", "v"), LH_OK) << last_error;
  }
}

// A sink that calls back into the plugin does not deadlock, even with a pool of one connection:
// the connection is back in the pool before the sink runs.
TEST_F(StoragePostgres, SinkMayCallBackIntoThePlugin) {
  auto s = open_store(R"("pool_size":1)");
  ASSERT_EQ(s->put_collection("a", "{}"), LH_OK);
  ASSERT_EQ(s->put_collection("b", "{}"), LH_OK);
  struct Ctx {
    const lh_storage_backend_v1* t;
    void* self;
    int calls = 0;
    int failures = 0;
  } ctx{&s->table(), s->self()};
  auto sink = [](void* p, lh_str name, lh_str) {
    auto& c = *static_cast<Ctx*>(p);
    ++c.calls;
    lh_error err{};
    if (c.t->kv_put(c.self, name, lh("seen"), &err) != LH_OK) ++c.failures;
  };
  lh_error err{};
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(s->table().collection_list(s->self(), sink, &ctx, &err), LH_OK) << err.message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(ctx.calls, 2);
  EXPECT_EQ(ctx.failures, 0);
  std::string v;
  EXPECT_EQ(s->kv_get("b", &v), LH_OK);
}

TEST_F(StoragePostgres, ManyThreadsMixReadsAndWrites) {
  auto s = open_store(R"("pool_size":4)");
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

// ---- change feed (several host replicas on one database) ----------------------------------------

struct Change {
  uint32_t kind;
  std::string collection;
  std::string key;
  bool operator==(const Change&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Change& c) {
  return os << "{" << c.kind << ", " << c.collection << ", " << c.key << "}";
}

// Everything the feed reports within `ms` (several waits: one wait may return after the first
// notifications).
std::vector<Change> changes(const Store& s, uint32_t ms = 300) {
  std::vector<Change> out;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    lh_error err{};
    auto sink = [](void* ctx, const lh_change* c) {
      static_cast<std::vector<Change>*>(ctx)->push_back(
          {c->kind, copy(c->collection), copy(c->key)});
    };
    const lh_status st = s.table().changes_wait(s.self(), 100, sink, &out, &err);
    if (st != LH_OK) {
      ADD_FAILURE() << "changes_wait: " << st << " " << err.message;
      break;
    }
  }
  return out;
}

TEST_F(StoragePostgres, ChangeFeedReportsOtherWritersInCommitOrder) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_GE(a->table().struct_size, offsetof(lh_storage_backend_v1, changes_wait) + sizeof(void*));
  ASSERT_EQ(a->put_collection("c", R"({"v":1})"), LH_OK) << last_error;
  ASSERT_EQ(a->upsert("c", {{"d1", "one", "{}", {1.0f}}, {"d2", "two", "{}", {}}}), LH_OK);
  ASSERT_EQ(a->remove("c", "d1"), LH_OK);
  ASSERT_EQ(a->kv_put("playbooks/c/p1", "{}"), LH_OK);
  ASSERT_EQ(a->kv_delete("playbooks/c/p1"), LH_OK);
  const std::vector<Change> expected = {
      {LH_CHANGE_COLLECTION, "c", ""},      {LH_CHANGE_DOCUMENT, "c", "d1"},
      {LH_CHANGE_DOCUMENT, "c", "d2"},      {LH_CHANGE_DOCUMENT, "c", "d1"},
      {LH_CHANGE_KV, "", "playbooks/c/p1"}, {LH_CHANGE_KV, "", "playbooks/c/p1"}};
  EXPECT_EQ(changes(*b), expected);
  EXPECT_TRUE(changes(*a, 200).empty()) << "an instance is not told of its own writes";
}

TEST_F(StoragePostgres, ChangeFeedSkipsRolledBackWritesAndCascadedDeletes) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_EQ(a->put_collection("c", "{}"), LH_OK);
  std::vector<Doc> many;
  for (int i = 0; i < 50; ++i) many.push_back({"d" + std::to_string(i), "t", "{}", {}});
  ASSERT_EQ(a->upsert("c", many), LH_OK);
  EXPECT_EQ(changes(*b).size(), 51u);
  // A batch that fails half-way (a NUL byte in a text) is rolled back: nothing was committed,
  // so nothing is reported.
  const char bad[] = {'x', '\0', 'y'};
  std::vector<lh_document> in = {{lh("ok"), lh("fine"), lh("{}"), nullptr, 0},
                                 {lh("bad"), {bad, 3}, lh("{}"), nullptr, 0}};
  EXPECT_NE(a->upsert_raw("c", in), LH_OK);
  EXPECT_TRUE(changes(*b, 200).empty());
  // Deleting the collection deletes its 50 documents in the same statement: one notification.
  ASSERT_EQ(a->delete_collection("c"), LH_OK);
  EXPECT_EQ(changes(*b), (std::vector<Change>{{LH_CHANGE_COLLECTION, "c", ""}}));
}

TEST_F(StoragePostgres, ChangeFeedAnIdTooLongForANotificationAsksForAResync) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_EQ(a->put_collection("c", "{}"), LH_OK);
  changes(*b, 150);
  const std::string long_id(9000, 'x');
  ASSERT_EQ(a->upsert("c", {{long_id, "t", "{}", {}}}), LH_OK) << last_error;
  EXPECT_EQ(changes(*b), (std::vector<Change>{{LH_CHANGE_RESYNC, "", ""}}));
}

TEST_F(StoragePostgres, ChangeFeedIsPerSchemaAndCanBeTurnedOff) {
  auto a = open_store();
  auto off = open_store(R"("change_feed":false)");
  lh_error err{};
  auto sink = [](void*, const lh_change*) {};
  EXPECT_EQ(off->table().changes_wait(off->self(), 10, sink, nullptr, &err), LH_ERR_UNSUPPORTED);
  // Another schema's writes are not this instance's business.
  const std::string other = schema_ + "_o";
  auto o = open_raw(R"({"conninfo":)" + json_string(conninfo_) + R"(,"schema":")" + other + "\"}");
  ASSERT_EQ(o->put_collection("c", "{}"), LH_OK);
  EXPECT_TRUE(changes(*a, 200).empty());
  o.reset();
  sql_value(conninfo_, "DROP SCHEMA " + other + " CASCADE");
}

TEST_F(StoragePostgres, ChangeFeedReconnectsAndAsksForAResync) {
  const std::string app = "lhf_" + schema_;
  auto b = open_raw(R"({"conninfo":)" + json_string(conninfo_ + " application_name=" + app) +
                    R"(,"schema":")" + schema_ + "\"}");
  auto a = open_store();
  EXPECT_NE(sql_value(conninfo_,
                      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE application_name = '" +
                          app + "'"),
            "0");
  ASSERT_EQ(a->put_collection("lost", "{}"), LH_OK);  // sent while b was not listening
  // The broken listener fails one wait (the host logs it and retries); the next one reconnects
  // and reports a resync, since what was sent meanwhile is gone.
  std::vector<Change> got;
  lh_status last = LH_OK;
  for (int i = 0; i < 3 && got.empty(); ++i) {
    lh_error err{};
    auto sink = [](void* ctx, const lh_change* c) {
      static_cast<std::vector<Change>*>(ctx)->push_back(
          {c->kind, copy(c->collection), copy(c->key)});
    };
    last = b->table().changes_wait(b->self(), 200, sink, &got, &err);
  }
  EXPECT_EQ(got, (std::vector<Change>{{LH_CHANGE_RESYNC, "", ""}})) << "last status " << last;
  ASSERT_EQ(a->put_collection("after", "{}"), LH_OK);
  EXPECT_EQ(changes(*b), (std::vector<Change>{{LH_CHANGE_COLLECTION, "after", ""}}));
}

TEST_F(StoragePostgres, SchemaVersion1IsMigratedToTheChangeFeed) {
  open_store().reset();
  sql_value(conninfo_, "DROP FUNCTION " + schema_ + ".notify_change() CASCADE");
  sql_value(conninfo_, "UPDATE " + schema_ + ".meta SET value = '1'");
  auto a = open_store();
  ASSERT_EQ(a->put_collection("c", "{}"), LH_OK);
  EXPECT_EQ(
      sql_value(conninfo_, "SELECT value FROM " + schema_ + ".meta WHERE key = 'schema_version'"),
      "2");
  auto b = open_store();
  ASSERT_EQ(a->kv_put("k", "v"), LH_OK);
  EXPECT_EQ(changes(*b), (std::vector<Change>{{LH_CHANGE_KV, "", "k"}}));
}

}  // namespace

// ---- ABI 1.2 ------------------------------------------------------------------------------------

TEST_F(StoragePostgres, DocumentsGetReadsManyIdsInOneCallAndSkipsAbsentOnes) {
  auto s = open_store();
  ASSERT_GE(s->table().struct_size, offsetof(lh_storage_backend_v1, documents_get) + sizeof(void*));
  ASSERT_NE(s->table().documents_get, nullptr);
  ASSERT_EQ(s->put_collection("c", "{}"), LH_OK);
  std::vector<Doc> docs;
  for (int i = 0; i < 30; ++i)
    docs.push_back(
        {"d" + std::to_string(i), "text " + std::to_string(i), "{\"i\":1}", {0.5f, -0.25f}});
  docs.push_back({"quote'\"[]{},", "odd id", "{}", {}});
  ASSERT_EQ(s->upsert("c", docs), LH_OK) << last_error;
  const std::vector<std::string> want = {"d3", "missing", "d17", "quote'\"[]{},", "d29"};
  std::vector<lh_str> ids;
  for (const auto& id : want) ids.push_back(lh(id));
  std::map<std::string, Doc> got;
  auto sink = [](void* ctx, const lh_document* d) {
    Doc doc{copy(d->id), copy(d->text), copy(d->metadata_json), {}};
    if (d->vector) doc.vector.assign(d->vector, d->vector + d->dimension);
    (*static_cast<std::map<std::string, Doc>*>(ctx))[doc.id] = doc;
  };
  lh_error err{};
  ASSERT_EQ(s->table().documents_get(s->self(), lh("c"), ids.data(), ids.size(), sink, &got, &err),
            LH_OK)
      << err.message;
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got["d17"].text, "text 17");
  EXPECT_EQ(got["d17"].vector, (std::vector<float>{0.5f, -0.25f}));
  EXPECT_EQ(got["quote'\"[]{},"].text, "odd id");
  EXPECT_EQ(
      s->table().documents_get(s->self(), lh("nope"), ids.data(), ids.size(), sink, &got, &err),
      LH_ERR_NOT_FOUND);
}

TEST_F(StoragePostgres, ChangeFeedStampsEachChangeWithItsWriteTime) {
  auto a = open_store();
  auto b = open_store();
  const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  ASSERT_EQ(a->put_collection("c", "{}"), LH_OK);
  std::vector<int64_t> stamps;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (stamps.empty() && std::chrono::steady_clock::now() < until) {
    lh_error err{};
    auto sink = [](void* ctx, const lh_change* c) {
      ASSERT_GE(c->struct_size, offsetof(lh_change, committed_unix_us) + sizeof(int64_t));
      static_cast<std::vector<int64_t>*>(ctx)->push_back(c->committed_unix_us);
    };
    ASSERT_EQ(b->table().changes_wait(b->self(), 100, sink, &stamps, &err), LH_OK);
  }
  ASSERT_EQ(stamps.size(), 1u);
  // The server's clock is this machine's: within a few seconds of ours.
  EXPECT_GT(stamps[0], before - 5'000'000);
  EXPECT_LT(stamps[0], before + 5'000'000);
}
