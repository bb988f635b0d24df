// ChangeFollower::apply on batches as a shared storage reports them, against a real registry on
// storage-sqlite: what another replica wrote to storage reaches this host's indexes.
#include <gtest/gtest.h>

#include "change_follower.h"
#include "host_process.h"
#include "plugin_fixture.h"

using namespace lakehost;

namespace {

class ChangeFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LoaderOptions o;
    o.plugin_dirs = {LAKEHOST_TEST_PLUGIN_DIR};
    o.data_dir = test::temp_dir();
    o.runtime_dir = test::temp_dir() + "/loaded";
    loader_ = std::make_unique<PluginLoader>(o);
    registry_ = std::make_unique<Registry>(*loader_, test::copy_default_manifests());
    auto r = registry_->reload("test");
    ASSERT_TRUE(r.ok) << r.error;
    follower_ = std::make_unique<ChangeFollower>(
        *registry_, [this](const std::string& k) { keys_.push_back(k); });
    // The collection as this host knows it.
    auto gen = registry_->current();
    auto coll = Registry::build_collection(*gen, nullptr, "c", CollectionSettings{}, nullptr);
    gen->storage().collection_put("c", coll->settings().to_json());
    gen->put_collection(coll);
  }
  void TearDown() override {
    follower_.reset();
    registry_.reset();
    Reaper::instance().drain();
  }

  // What "another replica" does: a document written to storage only, with its vector.
  void write_elsewhere(const std::string& id, const std::string& text) {
    auto gen = registry_->current();
    DocumentRecord d;
    d.id = id;
    d.text = text;
    d.vector = embed::run(*gen->collection("c")->embedder(), {std::string_view(text)});
    gen->storage().documents_upsert("c", {d});
  }

  std::unique_ptr<PluginLoader> loader_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<ChangeFollower> follower_;
  std::vector<std::string> keys_;
};

}  // namespace

TEST_F(ChangeFollowerTest, DocumentChangesReachTheIndex) {
  write_elsewhere("d1", "forklift operator");
  ChangeFollower::Batch b;
  b.documents["c"] = {"d1"};
  b.count = 1;
  follower_->apply(b);
  EXPECT_EQ(registry_->current()->collection("c")->size(), 1u);
}

// A collection change whose settings equal ours (an idempotent PUT on the other replica) keeps
// the index, and the document changes of the same batch must still be applied.
TEST_F(ChangeFollowerTest, UnchangedCollectionInTheSameBatchDoesNotHideDocuments) {
  write_elsewhere("d1", "forklift operator");
  ChangeFollower::Batch b;
  b.collections = {"c"};
  b.documents["c"] = {"d1"};
  b.count = 2;
  follower_->apply(b);
  EXPECT_EQ(registry_->current()->collection("c")->size(), 1u);
}

TEST_F(ChangeFollowerTest, KeyChangesAreHandedOnAndResyncForgetsEverything) {
  ChangeFollower::Batch keys;
  keys.keys = {"playbooks/c/1"};
  keys.count = 1;
  follower_->apply(keys);
  write_elsewhere("d2", "cnc machinist");
  ChangeFollower::Batch resync;
  resync.resync = true;
  resync.count = 1;
  follower_->apply(resync);
  EXPECT_EQ(keys_, (std::vector<std::string>{"playbooks/c/1", ""}));
  EXPECT_EQ(registry_->current()->collection("c")->size(), 1u) << "resync re-read storage";
}
