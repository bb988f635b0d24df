// Unit test of plugin.hpp's C++ views for scorers and storage backends, driven through the C
// tables the adapters build, with fake host services: no host, no loader, no plugin library.
#include <gtest/gtest.h>
#include <lakehost/plugin.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using lakehost::RetrievalScorer;
using lakehost::StorageBackend;

lh_str s(std::string_view v) { return lakehost::str(v); }

// ---- scorer: the services view ----------------------------------------------------------------

// A host's documents: "a" exists, "broken" fails with UNAVAILABLE, anything else is absent.
lh_status status_of(lh_str id) {
  const std::string_view v = lakehost::view(id);
  return v == "a" ? LH_OK : v == "broken" ? LH_ERR_UNAVAILABLE : LH_ERR_NOT_FOUND;
}
lh_status fake_vector(void*, lh_str id, float* out) {
  if (status_of(id) == LH_OK) out[0] = 0.6f, out[1] = 0.8f;
  return status_of(id);
}
lh_status fake_text(void*, lh_str id, void (*sink)(void*, lh_str), void* ctx) {
  if (status_of(id) == LH_OK) sink(ctx, s("text of a"));
  return status_of(id);
}
lh_status fake_metadata(void*, lh_str id, void (*sink)(void*, lh_str), void* ctx) {
  if (status_of(id) == LH_OK) sink(ctx, s(R"({"year":2024})"));
  return status_of(id);
}
lh_status fake_scan(void*, void (*sink)(void*, lh_str, lh_str), void* ctx) {
  sink(ctx, s("a"), s("text of a"));
  sink(ctx, s("b"), s("text of b"));
  return LH_OK;
}

lh_score_services services_of_size(size_t struct_size) {
  return {static_cast<uint32_t>(struct_size),
          nullptr,
          &fake_vector,
          &fake_text,
          42,
          &fake_scan,
          &fake_metadata};
}

TEST(SdkScoreView, Abi13ServicesArePresent) {
  const lh_score_services raw = services_of_size(sizeof(lh_score_services));
  const RetrievalScorer::Services services(&raw, 2);
  EXPECT_EQ(services.revision(), std::optional<uint64_t>(42));
  EXPECT_TRUE(services.has_scan());
  EXPECT_TRUE(services.has_document_metadata());
  EXPECT_EQ(services.document_vector("a"), (std::vector<float>{0.6f, 0.8f}));
  EXPECT_EQ(services.document_text("a"), "text of a");
  EXPECT_EQ(services.document_metadata("a"), R"({"year":2024})");
  std::vector<std::pair<std::string, std::string>> seen;
  services.scan([&](std::string_view id, std::string_view text) { seen.emplace_back(id, text); });
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].second, "text of b");
}

TEST(SdkScoreView, NotFoundIsNulloptAndAnotherStatusThrows) {
  const lh_score_services raw = services_of_size(sizeof(lh_score_services));
  const RetrievalScorer::Services services(&raw, 2);
  EXPECT_EQ(services.document_vector("gone"), std::nullopt);
  EXPECT_EQ(services.document_text("gone"), std::nullopt);
  EXPECT_EQ(services.document_metadata("gone"), std::nullopt);
  for (auto call :
       {+[](const RetrievalScorer::Services& x) { (void)x.document_vector("broken"); },
        +[](const RetrievalScorer::Services& x) { (void)x.document_text("broken"); },
        +[](const RetrievalScorer::Services& x) { (void)x.document_metadata("broken"); }}) {
    try {
      call(services);
      ADD_FAILURE() << "no exception";
    } catch (const lakehost::Error& e) {
      EXPECT_EQ(e.status(), LH_ERR_UNAVAILABLE) << e.what();
    }
  }
}

lh_status status_thrown(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const lakehost::Error& e) {
    return e.status();
  }
  return LH_OK;
}

TEST(SdkScoreView, Abi10HostLacksRevisionScanAndMetadata) {
  // A 1.0 host's struct ends before revision; the members past it hold junk that must not be read.
  lh_score_services raw = services_of_size(offsetof(lh_score_services, revision));
  const RetrievalScorer::Services services(&raw, 2);
  EXPECT_EQ(services.revision(), std::nullopt);
  EXPECT_FALSE(services.has_scan());
  EXPECT_FALSE(services.has_document_metadata());
  EXPECT_EQ(status_thrown([&] { services.scan([](std::string_view, std::string_view) {}); }),
            LH_ERR_UNSUPPORTED);
  EXPECT_EQ(status_thrown([&] { (void)services.document_metadata("a"); }), LH_ERR_UNSUPPORTED);
  EXPECT_EQ(services.document_text("a"), "text of a");  // 1.0 services still work
}

TEST(SdkScoreView, Abi11HostHasScanButNoMetadata) {
  lh_score_services raw = services_of_size(offsetof(lh_score_services, document_metadata));
  const RetrievalScorer::Services services(&raw, 2);
  EXPECT_EQ(services.revision(), std::optional<uint64_t>(42));
  EXPECT_TRUE(services.has_scan());
  EXPECT_FALSE(services.has_document_metadata());
  EXPECT_EQ(status_thrown([&] { (void)services.document_metadata("a"); }), LH_ERR_UNSUPPORTED);
  raw.struct_size = sizeof(lh_score_services);
  raw.document_metadata = nullptr;  // covered but NULL: absent too
  EXPECT_FALSE(services.has_document_metadata());
}

TEST(SdkScoreView, AnExceptionInTheScanCallbackWaitsForTheHostToReturn) {
  const lh_score_services raw = services_of_size(sizeof(lh_score_services));
  const RetrievalScorer::Services services(&raw, 2);
  int calls = 0;
  EXPECT_THROW(services.scan([&](std::string_view, std::string_view) {
    ++calls;
    throw std::runtime_error("callback failed");
  }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);  // the host's second sink call was ignored
}

// ---- scorer: the request view through the adapter ---------------------------------------------

class EchoScorer final : public RetrievalScorer {
 public:
  EchoScorer(const lakehost::Host&, std::string_view) {}
  std::vector<Result> score(const ScoreRequest& r) override {
    if (r.query == "throw") throw std::runtime_error("scorer failed");
    std::vector<Result> out;
    for (const Candidate& c : r.candidates) out.push_back({std::string(c.id), c.distance, 0});
    for (const Feedback& f : r.feedback)
      out.push_back({std::string(f.id) + "/" + std::string(r.collection) + "/" +
                         std::string(r.role) + "/" + std::to_string(f.query_vector.size()),
                     f.score, LH_RESULT_INJECTED});
    out.push_back({"k", static_cast<float>(r.k), static_cast<uint32_t>(r.query_vector.size())});
    return out;
  }
};

TEST(SdkScoreView, RequestFieldsReachTheScorerAndResultsTheSink) {
  const auto* table =
      static_cast<const lh_retrieval_scorer_v1*>(lakehost::detail::Table<EchoScorer>::get());
  EchoScorer scorer(lakehost::Host(nullptr), "");
  void* self = static_cast<lakehost::Plugin*>(&scorer);
  const lh_score_services services = services_of_size(sizeof(lh_score_services));
  const float qv[2] = {1, 0};
  const lh_candidate candidates[] = {{s("x"), 0.1f}, {s("y"), 0.2f}};
  const lh_feedback feedback[] = {{s("q"), qv, s("ops"), s("z"), 0.5f}};
  lh_score_request req{sizeof(lh_score_request),
                       s("c1"),
                       s("q"),
                       s("ops"),
                       qv,
                       2,
                       7,
                       candidates,
                       2,
                       feedback,
                       1,
                       &services};
  std::map<std::string, std::pair<float, uint32_t>> got;
  auto sink = [](void* ctx, lh_str id, float d, uint32_t flags) {
    (*static_cast<decltype(got)*>(ctx))[std::string(lakehost::view(id))] = {d, flags};
  };
  lh_error err{};
  ASSERT_EQ(table->score(self, &req, sink, &got, &err), LH_OK) << err.message;
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(got["y"].first, 0.2f);
  EXPECT_EQ(got["z/c1/ops/2"], std::make_pair(0.5f, uint32_t{LH_RESULT_INJECTED}));
  EXPECT_EQ(got["k"], std::make_pair(7.0f, uint32_t{2}));

  req.query = s("throw");
  EXPECT_EQ(table->score(self, &req, sink, &got, &err), LH_ERR_INTERNAL);
  EXPECT_STREQ(err.message, "scorer failed");
}

// ---- storage: the adapter's NOT_FOUND rules and shapes ----------------------------------------

class MapStorage final : public StorageBackend {
 public:
  MapStorage(const lakehost::Host&, std::string_view) {}
  bool collection_put(std::string_view name, std::string_view settings) override {
    return collections_.insert_or_assign(std::string(name), std::string(settings)).second;
  }
  std::optional<std::string> collection_get(std::string_view name) override {
    auto it = collections_.find(std::string(name));
    if (it == collections_.end()) return std::nullopt;
    return it->second;
  }
  void collection_list(const CollectionFn& fn) override {
    for (const auto& [n, v] : collections_) fn(n, v);
  }
  void collection_delete(std::string_view) override {}
  void documents_upsert(std::string_view, std::span<const lh_document>) override {}
  bool document_get(std::string_view collection, std::string_view id,
                    const DocumentFn& fn) override {
    if (collection != "c1" || id != "d1") return false;
    fn({"d1", "text", "{}", vector_});
    return true;
  }
  void document_delete(std::string_view, std::string_view) override {}
  void documents_scan(std::string_view collection, const DocumentFn& fn) override {
    if (collection != "c1") throw lakehost::Error(LH_ERR_NOT_FOUND, "no collection");
    fn({"d1", "text", "{}", vector_});
    fn({"d2", "", "{}", {}});
  }
  uint64_t document_count(std::string_view) override { throw std::logic_error("boom"); }
  void kv_put(std::string_view, std::string_view) override {}
  std::optional<std::string> kv_get(std::string_view key) override {
    if (key != "k") return std::nullopt;
    return std::string("v\0w", 3);
  }
  void kv_delete(std::string_view) override {}
  void kv_list(std::string_view, const KvFn& fn) override { fn("k", "v"); }

 private:
  std::map<std::string, std::string> collections_{{"c1", "{}"}};
  std::vector<float> vector_{0.6f, 0.8f};
};

// What the C sinks received, one string per call.
void text_sink(void* ctx, lh_str a, lh_str b) {
  static_cast<std::vector<std::string>*>(ctx)->push_back(std::string(lakehost::view(a)) + "=" +
                                                         std::string(lakehost::view(b)));
}
void bytes_sink(void* ctx, lh_str b) {
  static_cast<std::vector<std::string>*>(ctx)->push_back(std::string(lakehost::view(b)));
}
void doc_sink(void* ctx, const lh_document* d) {
  std::string v = std::string(lakehost::view(d->id)) + ":" + std::to_string(d->dimension);
  if (d->dimension) v += ":" + std::to_string(d->vector[1]);
  if (!d->dimension && d->vector) v += ":non-null";
  static_cast<std::vector<std::string>*>(ctx)->push_back(v);
}
void change_sink(void* ctx, const lh_change* c) {
  static_cast<std::vector<std::string>*>(ctx)->push_back(
      std::to_string(c->struct_size == sizeof(lh_change)) + std::to_string(c->kind) +
      std::string(lakehost::view(c->collection)) + std::string(lakehost::view(c->key)) +
      std::to_string(c->committed_unix_us));
}

class SdkStorageAdapter : public ::testing::Test {
 protected:
  const lh_storage_backend_v1* t =
      static_cast<const lh_storage_backend_v1*>(lakehost::detail::Table<MapStorage>::get());
  MapStorage storage{lakehost::Host(nullptr), ""};
  void* self = static_cast<lakehost::Plugin*>(&storage);
  lh_error err{};
  std::vector<std::string> got;
};

TEST_F(SdkStorageAdapter, AbsentItemsAreNotFound) {
  EXPECT_EQ(t->collection_get(self, s("nope"), text_sink, &got, &err), LH_ERR_NOT_FOUND);
  EXPECT_STREQ(err.message, "no collection \"nope\"");
  EXPECT_EQ(t->document_get(self, s("c1"), s("nope"), doc_sink, &got, &err), LH_ERR_NOT_FOUND);
  EXPECT_STREQ(err.message, "no document \"nope\" in collection \"c1\"");
  EXPECT_EQ(t->kv_get(self, s("nope"), bytes_sink, &got, &err), LH_ERR_NOT_FOUND);
  EXPECT_EQ(t->documents_scan(self, s("nope"), doc_sink, &got, &err), LH_ERR_NOT_FOUND);
  EXPECT_TRUE(got.empty());
}

TEST_F(SdkStorageAdapter, PresentItemsReachTheSinks) {
  ASSERT_EQ(t->collection_get(self, s("c1"), text_sink, &got, &err), LH_OK);
  ASSERT_EQ(t->collection_list(self, text_sink, &got, &err), LH_OK);
  ASSERT_EQ(t->kv_get(self, s("k"), bytes_sink, &got, &err), LH_OK);
  ASSERT_EQ(t->kv_list(self, s(""), text_sink, &got, &err), LH_OK);
  ASSERT_EQ(t->document_get(self, s("c1"), s("d1"), doc_sink, &got, &err), LH_OK);
  ASSERT_EQ(t->documents_scan(self, s("c1"), doc_sink, &got, &err), LH_OK);
  EXPECT_EQ(got, (std::vector<std::string>{"c1={}", "c1={}", std::string("v\0w", 3), "k=v",
                                           "d1:2:0.800000", "d1:2:0.800000", "d2:0"}));
}

TEST_F(SdkStorageAdapter, OptionalCallsStayUnsupportedAndExceptionsStayInside) {
  EXPECT_EQ(t->changes_wait(self, 0, change_sink, &got, &err), LH_ERR_UNSUPPORTED);
  const lh_str ids[] = {s("d1")};
  EXPECT_EQ(t->documents_get(self, s("c1"), ids, 1, doc_sink, &got, &err), LH_ERR_UNSUPPORTED);
  uint64_t n = 0;
  EXPECT_EQ(t->document_count(self, s("c1"), &n, &err), LH_ERR_INTERNAL);
  EXPECT_STREQ(err.message, "boom");
}

class FeedStorage final : public StorageBackend {
 public:
  FeedStorage(const lakehost::Host&, std::string_view) {}
  bool collection_put(std::string_view, std::string_view) override { return false; }
  std::optional<std::string> collection_get(std::string_view) override { return std::nullopt; }
  void collection_list(const CollectionFn&) override {}
  void collection_delete(std::string_view) override {}
  void documents_upsert(std::string_view, std::span<const lh_document>) override {}
  bool document_get(std::string_view, std::string_view, const DocumentFn&) override {
    return false;
  }
  void document_delete(std::string_view, std::string_view) override {}
  void documents_scan(std::string_view, const DocumentFn&) override {}
  uint64_t document_count(std::string_view) override { return 0; }
  void kv_put(std::string_view, std::string_view) override {}
  std::optional<std::string> kv_get(std::string_view) override { return std::nullopt; }
  void kv_delete(std::string_view) override {}
  void kv_list(std::string_view, const KvFn&) override {}
  void changes_wait(uint32_t, const ChangeFn& fn) override {
    fn({LH_CHANGE_DOCUMENT, "c1", "d1", 1234});
  }
  void documents_get(std::string_view collection, std::span<const std::string_view> ids,
                     const DocumentFn& fn) override {
    for (auto id : ids) fn({id, collection, "{}", {}});
  }
};

TEST(SdkStorageFeed, ChangesAndManyDocumentsConvert) {
  const auto* t =
      static_cast<const lh_storage_backend_v1*>(lakehost::detail::Table<FeedStorage>::get());
  FeedStorage storage(lakehost::Host(nullptr), "");
  void* self = static_cast<lakehost::Plugin*>(&storage);
  std::vector<std::string> got;
  lh_error err{};
  ASSERT_EQ(t->changes_wait(self, 0, change_sink, &got, &err), LH_OK);
  const lh_str ids[] = {s("a"), s("b")};
  ASSERT_EQ(t->documents_get(self, s("c1"), ids, 2, doc_sink, &got, &err), LH_OK);
  EXPECT_EQ(got, (std::vector<std::string>{"12c1d11234", "a:0", "b:0"}));
}

}  // namespace
