// Registry generations with the real plugins: atomic swap, reuse of unchanged instances,
// failed reloads keeping the old set, re-embedding when the embedder changes, and libraries
// staying loaded exactly as long as instances made from them live.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <thread>

#include "core/catalog.h"
#include "core/registry.h"
#include "host_process.h"
#include "plugin_fixture.h"
#include "registry_fixture.h"

using namespace lakehost;
namespace fs = std::filesystem;
using test::read_file;
using test::temp_dir;
using test::write_file;

namespace {

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<test::InProcessRegistry>();
    manifests_ = host_->manifests_dir;
    registry_ = host_->registry.get();
    ASSERT_TRUE(registry_->current());
  }
  void TearDown() override { host_.reset(); }

  void set_embed_dimension(int dim) {
    auto path = manifests_ + "/embed-hash.json";
    auto text = read_file(path);
    text = std::regex_replace(text, std::regex(R"("dimension": *[0-9]+)"),
                              "\"dimension\": " + std::to_string(dim));
    write_file(path, text);
  }

  // Creates collection `name` with `n` documents through storage and the live generation.
  void add_collection(const std::string& name, int n) {
    WriteScope write(*registry_);
    auto gen = registry_->current();
    auto storage = gen->storage();
    auto coll = CollectionCatalog::build(*gen, nullptr, name, CollectionSettings{}, nullptr);
    storage.collection_put(name, coll->settings().to_json());
    std::vector<DocumentRecord> docs;
    for (int i = 0; i < n; ++i) {
      DocumentRecord d;
      d.id = "d" + std::to_string(i);
      d.text = i % 2 ? "Forklift Operator, OSHA certified" : "CNC Operator, Haas and Fanuc";
      docs.push_back(d);
    }
    std::vector<std::string_view> texts;
    for (auto& d : docs) texts.push_back(d.text);
    auto v = embed::run(*coll->embedder(), texts);
    for (size_t i = 0; i < docs.size(); ++i)
      docs[i].vector.assign(v.begin() + i * coll->dimension(),
                            v.begin() + (i + 1) * coll->dimension());
    storage.documents_upsert(name, docs);
    coll->upsert(docs);
    CollectionCatalog::install(*gen, coll);
  }

  std::string manifests_;
  std::unique_ptr<test::InProcessRegistry> host_;
  Registry* registry_ = nullptr;
};

}  // namespace

TEST_F(RegistryTest, FirstGenerationHasEveryDefault) {
  auto gen = registry_->current();
  EXPECT_EQ(gen->number(), 1u);
  // three scorers: playbook (default), cosine and hybrid
  EXPECT_EQ(gen->plugins().size(), 6u);
  for (auto kind : {LH_KIND_EMBED_PROVIDER, LH_KIND_VECTOR_BACKEND, LH_KIND_RETRIEVAL_SCORER,
                    LH_KIND_STORAGE_BACKEND})
    EXPECT_NE(gen->default_of(kind), nullptr) << kind_name(kind);
  EXPECT_EQ(gen->default_of(LH_KIND_CHAT_PROVIDER), nullptr);
  EXPECT_EQ(gen->find("embed-hash", LH_KIND_EMBED_PROVIDER)->id(), "embed-hash");
  EXPECT_EQ(gen->find("embed-hash", LH_KIND_VECTOR_BACKEND), nullptr);  // wrong kind
}

TEST_F(RegistryTest, UnchangedInstancesAreReusedChangedOnesReplaced) {
  auto g1 = registry_->current();
  set_embed_dimension(64);
  auto r = registry_->reload("test");
  ASSERT_TRUE(r.ok) << r.error;
  auto g2 = registry_->current();
  EXPECT_EQ(g2->number(), 2u);
  EXPECT_NE(g1->default_of(LH_KIND_EMBED_PROVIDER), g2->default_of(LH_KIND_EMBED_PROVIDER));
  EXPECT_EQ(embed::dimension(*g2->default_of(LH_KIND_EMBED_PROVIDER)), 64u);
  EXPECT_EQ(g1->default_of(LH_KIND_STORAGE_BACKEND), g2->default_of(LH_KIND_STORAGE_BACKEND));
  EXPECT_EQ(g1->default_of(LH_KIND_VECTOR_BACKEND), g2->default_of(LH_KIND_VECTOR_BACKEND));
}

TEST_F(RegistryTest, FailedReloadKeepsTheOldGenerationAndSaysWhy) {
  auto before = registry_->current();
  write_file(manifests_ + "/zz-broken.json",
             R"({"id": "e2", "kind": "embed_provider", "library": "embed-hash.so",
                 "config": {"dimension": "large"}})");
  auto r = registry_->reload("test");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("zz-broken.json"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("/config/dimension"), std::string::npos) << r.error;
  EXPECT_EQ(registry_->current(), before);
  EXPECT_EQ(registry_->reloads_failed(), 1u);
  fs::remove(manifests_ + "/zz-broken.json");
  EXPECT_TRUE(registry_->reload("test").ok);
  EXPECT_EQ(registry_->current()->number(), 2u);
}

TEST_F(RegistryTest, SeveralEnabledOfOneKindNeedADefault) {
  write_file(manifests_ + "/embed-small.json",
             R"({"id": "embed-small", "kind": "embed_provider", "library": "embed-hash.so",
                 "config": {"dimension": 32}})");
  auto text = read_file(manifests_ + "/embed-hash.json");
  write_file(manifests_ + "/embed-hash.json",
             std::regex_replace(text, std::regex(R"("default": true)"), R"("default": false)"));
  auto r = registry_->reload("test");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("none is marked"), std::string::npos) << r.error;
}

TEST_F(RegistryTest, RequestsKeepTheGenerationTheyStartedWith) {
  add_collection("c", 10);
  auto old_gen = registry_->current();
  auto old_coll = old_gen->collection("c");
  set_embed_dimension(32);
  ASSERT_TRUE(registry_->reload("test").ok);
  // The old generation still works end to end after the swap.
  auto q = embed::run(*old_coll->embedder(), {"Forklift Operator"});
  EXPECT_EQ(q.size(), 384u);
  auto hits = old_coll->search(q.data(), 3, nullptr);
  ASSERT_EQ(hits.size(), 3u);
  // The new generation re-embedded the stored text with the new embedder.
  auto coll = registry_->current()->collection("c");
  ASSERT_NE(coll, nullptr);
  EXPECT_EQ(coll->dimension(), 32u);
  EXPECT_EQ(coll->size(), 10u);
  auto q2 = embed::run(*coll->embedder(), {"Forklift Operator"});
  auto hits2 = coll->search(q2.data(), 1, nullptr);
  ASSERT_EQ(hits2.size(), 1u);
  std::string text, meta;
  coll->text_and_metadata(hits2[0].id, text, meta);
  EXPECT_NE(text.find("Forklift"), std::string::npos);
  // ... and wrote the new vectors and fingerprint back to storage.
  auto stored = registry_->current()->storage().document_get("c", "d1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->vector.size(), 32u);
  auto settings =
      CollectionSettings::from_json(*registry_->current()->storage().collection_get("c"));
  EXPECT_EQ(settings.dimension, 32u);
  EXPECT_EQ(settings.embedder_fingerprint, coll->settings().embedder_fingerprint);
}

TEST_F(RegistryTest, UnchangedPluginsKeepTheBuiltIndex) {
  add_collection("c", 5);
  auto before = registry_->current()->collection("c");
  ASSERT_TRUE(registry_->reload("test").ok);
  EXPECT_EQ(registry_->current()->collection("c"), before);
}

TEST_F(RegistryTest, CollectionWhoseEmbedderDisappearsBlocksTheReload) {
  write_file(manifests_ + "/embed-small.json",
             R"({"id": "embed-small", "kind": "embed_provider", "library": "embed-hash.so",
                 "config": {"dimension": 32}})");
  ASSERT_TRUE(registry_->reload("test").ok);
  auto gen = registry_->current();
  CollectionSettings s;
  s.embedder = "embed-small";
  auto coll = CollectionCatalog::build(*gen, nullptr, "small", s, nullptr);
  gen->storage().collection_put("small", coll->settings().to_json());
  CollectionCatalog::install(*gen, coll);
  fs::remove(manifests_ + "/embed-small.json");
  auto r = registry_->reload("test");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("embed-small"), std::string::npos) << r.error;
  EXPECT_EQ(registry_->current(), gen);
}

TEST_F(RegistryTest, LibraryStaysLoadedWhileAnInstanceLives) {
  auto inst = registry_->current()->default_of(LH_KIND_EMBED_PROVIDER);
  const std::string copy =
      host_->loader->options().runtime_dir.string() + "/" + inst->library().sha256() + ".so";
  inst.reset();
  set_embed_dimension(16);  // the embed-hash instance is replaced, its library shared
  ASSERT_TRUE(registry_->reload("test").ok);
  Reaper::instance().drain();
  void* h = dlopen(copy.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(h, nullptr) << "the new instance still uses the library";
  if (h) dlclose(h);
  // Disable every embed provider: the last instance goes, and the library with it.
  auto text = read_file(manifests_ + "/embed-hash.json");
  write_file(manifests_ + "/embed-hash.json",
             std::regex_replace(text, std::regex(R"("enabled": true)"), R"("enabled": false)"));
  ASSERT_TRUE(registry_->reload("test").ok);
  Reaper::instance().drain();
  h = dlopen(copy.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_EQ(h, nullptr) << "library still mapped after its last instance was destroyed";
  if (h) dlclose(h);
}

// Searches from several threads while the main thread swaps generations (run this under
// -DLAKEHOST_SANITIZE=thread to check the swap path).
TEST_F(RegistryTest, SearchesRaceReloadsSafely) {
  add_collection("c", 50);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, searches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        try {
          auto gen = registry_->current();
          auto coll = gen->collection("c");
          auto q = embed::run(*coll->embedder(), {"Forklift Operator"});
          if (coll->search(q.data(), 5, nullptr).size() != 5) ++failures;
          ++searches;
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    set_embed_dimension(i % 2 ? 384 : 48);
    auto r = registry_->reload("test");
    ASSERT_TRUE(r.ok) << r.error;
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(searches, 0);
  EXPECT_EQ(registry_->current()->number(), 21u);
}
