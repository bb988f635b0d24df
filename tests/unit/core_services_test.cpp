// The core services (core/services.h) in process, without HTTP: the collection catalog, the
// write path, search with the role gate, feedback, key/value storage and chat preparation, on a
// real registry with the default manifests (embed-hash, vector-faiss, scorer-playbook,
// storage-sqlite). Each failure is checked by its domain error code, which http/errors.h alone
// turns into a status.
#include <gtest/gtest.h>

#include <fstream>

#include "core/services.h"
#include "registry_fixture.h"

using namespace lakehost;

namespace {

// The code of the HostError `fn` throws, or "(none)".
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const HostError& e) {
    return e.code();
  }
  return "(none)";
}

DocumentRecord doc(std::string id, std::string text, std::string metadata = "{}") {
  DocumentRecord d;
  d.id = std::move(id);
  d.text = std::move(text);
  d.metadata_json = std::move(metadata);
  return d;
}

class CoreServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<test::InProcessRegistry>();
    ASSERT_TRUE(registry().current());
    core_ = std::make_unique<CoreServices>(registry(), 1000);
  }
  void TearDown() override {
    core_.reset();
    host_.reset();
  }

  Registry& registry() { return *host_->registry; }

  // A small staffing corpus in collection "c".
  void load_corpus() {
    ASSERT_TRUE(core_->catalog.create("c", {}).created);
    core_->documents.upsert("c", {doc("fork", "forklift operator moving pallets in a warehouse",
                                      R"({"role": "Forklift Operator", "city": "Dayton"})"),
                                  doc("cnc", "cnc machinist holding tight tolerances on a mill",
                                      R"({"role": "CNC Operator", "city": "Toledo"})"),
                                  doc("weld", "welder with mig and tig certification",
                                      R"({"role": "Welder", "city": "Dayton"})"),
                                  doc("nurse", "registered nurse on night shift in an icu",
                                      R"({"role": "Nurse", "city": "Akron"})")});
  }
  std::vector<std::string> ids(const std::vector<SearchHit>& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(h.id);
    return out;
  }

  std::unique_ptr<test::InProcessRegistry> host_;
  std::unique_ptr<CoreServices> core_;
};

}  // namespace

TEST_F(CoreServicesTest, CatalogCreatesIdempotentlyAndRefusesAConflictingCreate) {
  auto first = core_->catalog.create("c", {});
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.collection->embedder()->id(), "embed-hash");
  // The same plugins, named or by default: the existing collection, not a new one.
  auto again = core_->catalog.create("c", {.embedder = "embed-hash"});
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.collection, first.collection);
  EXPECT_EQ(error_of([&] { core_->catalog.create("c", {.scorer = "scorer-cosine"}); }), "conflict");
  EXPECT_EQ(error_of([&] { core_->catalog.create("bad name", {}); }), "invalid_name");
  EXPECT_EQ(error_of([&] { core_->catalog.create("d", {.vector_backend = "nope"}); }),
            "unknown_plugin");
  EXPECT_EQ(registry().current()->collections().size(), 1u) << "a refused create added nothing";
  // Stored: a reload attaches it to the next generation.
  ASSERT_TRUE(registry().reload("test").ok);
  EXPECT_NE(registry().current()->collection("c"), nullptr);
}

TEST_F(CoreServicesTest, CatalogDropRemovesDocumentsAndPlaybooks) {
  load_corpus();
  Playbook p;
  p.collection = "c";
  p.query = "pallets";
  p.role = "lead";
  p.doc_id = "fork";
  p.score = 1;
  core_->feedback.record(p);
  core_->catalog.drop("c");
  EXPECT_EQ(registry().current()->collection("c"), nullptr);
  EXPECT_EQ(error_of([&] { core_->catalog.drop("c"); }), "collection_not_found");
  // Created again: empty, and the old playbooks are gone with the old collection.
  core_->catalog.create("c", {});
  EXPECT_EQ(registry().current()->collection("c")->size(), 0u);
  EXPECT_TRUE(core_->feedback.list("c", nullptr).empty());
}

TEST_F(CoreServicesTest, DocumentsAreStoredIndexedReadAndDeleted) {
  load_corpus();
  EXPECT_EQ(registry().current()->collection("c")->size(), 4u);
  auto d = core_->documents.get("c", "weld");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->text, "welder with mig and tig certification");
  EXPECT_EQ(d->metadata_json, R"({"role": "Welder", "city": "Dayton"})") << "kept as given";
  core_->documents.remove("c", "weld");
  EXPECT_EQ(registry().current()->collection("c")->size(), 3u);
  EXPECT_EQ(error_of([&] { core_->documents.get("c", "weld"); }), "document_not_found");
  EXPECT_EQ(error_of([&] { core_->documents.remove("c", "weld"); }), "document_not_found");
  EXPECT_EQ(error_of([&] { core_->documents.upsert("ghost", {doc("x", "y")}); }),
            "collection_not_found");
  // An upsert replaces a document in storage and in the index.
  core_->documents.upsert("c", {doc("fork", "registered nurse on night shift in an icu")});
  EXPECT_EQ(registry().current()->collection("c")->size(), 3u);
  SearchQuery q;
  q.collection = "c";
  q.text = "nurse icu night shift";
  q.k = 2;
  auto hits = core_->search.search(q);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].distance, hits[1].distance) << "the same text, the same vector";
}

TEST_F(CoreServicesTest, LoadJsonlCreatesTheCollectionOnceAndRefusesABadLine) {
  const std::string file = test::temp_dir() + "/corpus.jsonl";
  std::ofstream(file) << R"({"id": "a", "text": "forklift", "metadata": {"role": "x"}})"
                      << "\n\n"
                      << R"({"id": "b", "text": "welder"})"
                      << "\n";
  EXPECT_EQ(core_->documents.load_jsonl("demo", file), 2u);
  EXPECT_EQ(core_->documents.load_jsonl("demo", file), 0u) << "loads only into an empty one";
  EXPECT_EQ(core_->documents.get("demo", "a")->metadata_json, R"({"role":"x"})");
  const std::string bad = test::temp_dir() + "/bad.jsonl";
  std::ofstream(bad) << R"({"id": "a"})"
                     << "\n";
  try {
    core_->documents.load_jsonl("other", bad);
    FAIL() << "a line without text was loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:1"), std::string::npos) << e.what();
  }
}

TEST_F(CoreServicesTest, SearchRanksFiltersAndChecksClientVectors) {
  load_corpus();
  SearchQuery q;
  q.collection = "c";
  q.text = "forklift pallets warehouse";
  q.k = 4;
  auto hits = core_->search.search(q);
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0].id, "fork");
  EXPECT_EQ(hits[0].text, "forklift operator moving pallets in a warehouse");
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_LE(hits[i - 1].distance, hits[i].distance);
  // A metadata filter keeps only matching documents.
  rapidjson::Document filter;
  filter.Parse(R"({"city": "Dayton"})");
  q.filter = &filter;
  EXPECT_EQ(ids(core_->search.search(q)), (std::vector<std::string>{"fork", "weld"}));
  // A client's vector: the document's own vector (any norm) finds it at distance ~0.
  SearchQuery v;
  v.collection = "c";
  v.vector = core_->search.embed_query(*registry().current()->collection("c"),
                                       "welder with mig and tig certification");
  for (auto& x : *v.vector) x *= 3;
  v.k = 1;
  hits = core_->search.search(v);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, "weld");
  EXPECT_NEAR(hits[0].distance, 0.0f, 1e-4);
  v.vector = std::vector<float>(7, 1.0f);
  EXPECT_EQ(error_of([&] { core_->search.search(v); }), "dimension_mismatch");
  v.vector = std::vector<float>(registry().current()->collection("c")->dimension(), 0.0f);
  EXPECT_EQ(error_of([&] { core_->search.search(v); }), "validation_failed");
  q.collection = "ghost";
  EXPECT_EQ(error_of([&] { core_->search.search(q); }), "collection_not_found");
  q.collection = "c";
  q.scorer = "nope";
  EXPECT_EQ(error_of([&] { core_->search.search(q); }), "unknown_plugin");
}

// The role gate: a playbook recorded under one role changes that role's ranking only.
TEST_F(CoreServicesTest, PlaybooksBoostOnlyTheirRole) {
  load_corpus();
  Playbook p;
  p.collection = "c";
  p.query = "someone for the night shift";
  p.role = "Nurse";
  p.doc_id = "nurse";
  p.score = 1;
  auto recorded = core_->feedback.record(p);
  EXPECT_FALSE(recorded.playbook_id.empty());
  SearchQuery q;
  q.collection = "c";
  q.text = "someone for the night shift";
  q.k = 4;
  q.role = "Nurse";
  auto boosted = core_->search.search(q);
  ASSERT_FALSE(boosted.empty());
  EXPECT_EQ(boosted[0].id, "nurse");
  EXPECT_TRUE(boosted[0].boosted || boosted[0].injected);
  q.role = "Welder";
  for (const auto& h : core_->search.search(q)) EXPECT_FALSE(h.boosted || h.injected) << h.id;
  q.role = "";
  for (const auto& h : core_->search.search(q)) EXPECT_FALSE(h.boosted || h.injected) << h.id;

  const std::string role = "Nurse";
  EXPECT_EQ(core_->feedback.list("c", &role).size(), 1u);
  const std::string other = "Welder";
  EXPECT_TRUE(core_->feedback.list("c", &other).empty());
  p.doc_id = "ghost";
  EXPECT_EQ(error_of([&] { core_->feedback.record(p); }), "document_not_found");
  core_->feedback.remove("c", recorded.playbook_id);
  EXPECT_EQ(error_of([&] { core_->feedback.remove("c", recorded.playbook_id); }),
            "playbook_not_found");
  q.role = "Nurse";
  for (const auto& h : core_->search.search(q)) EXPECT_FALSE(h.boosted || h.injected) << h.id;
}

TEST_F(CoreServicesTest, BlobsAreKeptApartFromTheHostsRecords) {
  EXPECT_TRUE(core_->blobs.put("a/1", "one"));
  EXPECT_FALSE(core_->blobs.put("a/1", "uno")) << "a replaced key is not new";
  EXPECT_TRUE(core_->blobs.put("a/2", "two"));
  EXPECT_TRUE(core_->blobs.put("b", "three"));
  EXPECT_EQ(core_->blobs.get("a/1"), "uno");
  auto listing = core_->blobs.list("a/", 1);
  ASSERT_EQ(listing.entries.size(), 1u);
  EXPECT_EQ(listing.entries[0].key, "a/1");
  EXPECT_EQ(listing.entries[0].size, 3u);
  EXPECT_TRUE(listing.truncated);
  EXPECT_EQ(core_->blobs.list("", 10).entries.size(), 3u);
  core_->blobs.remove("b");
  EXPECT_EQ(error_of([&] { core_->blobs.get("b"); }), "key_not_found");
  EXPECT_EQ(error_of([&] { core_->blobs.remove("b"); }), "key_not_found");
  EXPECT_EQ(error_of([&] { core_->blobs.put("", "x"); }), "validation_failed");
  EXPECT_EQ(error_of([&] { core_->blobs.put(std::string("a\0b", 3), "x"); }), "validation_failed");
  // The host's own records (playbooks/...) are not in the client's key space.
  load_corpus();
  Playbook p;
  p.collection = "c";
  p.query = "q";
  p.role = "r";
  p.doc_id = "fork";
  core_->feedback.record(p);
  EXPECT_EQ(core_->blobs.list("", 10).entries.size(), 2u);
}

TEST_F(CoreServicesTest, ChatWithoutAProviderIsRefusedBeforeAnyRetrieval) {
  ChatRequest r;
  r.messages = {{"user", "hello"}};
  EXPECT_EQ(error_of([&] { core_->chat.prepare(r); }), "no_chat_provider");
  r.model = "nope";
  EXPECT_EQ(error_of([&] { core_->chat.prepare(r); }), "model_not_found");
}
