// ChangeFollower::apply on batches as a shared storage reports them, against a real registry on
// storage-sqlite: what another replica wrote to storage reaches this host's indexes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <shared_mutex>
#include <stdexcept>
#include <thread>

#include "core/catalog.h"
#include "core/change_follower.h"
#include "registry_fixture.h"

using namespace lakehost;

namespace {

class ChangeFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<test::InProcessRegistry>();
    registry_ = host_->registry.get();
    follower_ = std::make_unique<ChangeFollower>(
        *registry_, [this](const std::string& k) { keys_.push_back(k); });
    // The collection as this host knows it.
    auto gen = registry_->current();
    auto coll = CollectionCatalog::build(*gen, nullptr, "c", CollectionSettings{}, nullptr);
    gen->storage().collection_put("c", coll->settings().to_json());
    CollectionCatalog::install(*gen, coll);
  }
  void TearDown() override {
    follower_.reset();
    host_.reset();
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

  std::unique_ptr<test::InProcessRegistry> host_;
  Registry* registry_ = nullptr;
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

namespace {

// What DocumentService::upsert does for a local write: storage, then the index, inside the shared
// write gate and a LocalWrites scope.
void write_locally(Registry& registry, const std::string& id, const std::string& text) {
  WriteScope write(registry);
  auto gen = registry.current();
  auto coll = gen->collection("c");
  DocumentRecord d;
  d.id = id;
  d.text = text;
  d.vector = embed::run(*coll->embedder(), {std::string_view(text)});
  LocalWrites::Scope journal(registry.local_writes(), "c", {id});
  gen->storage().documents_upsert("c", {d});
  coll->upsert({d});
}

std::string indexed_text(Registry& registry, const std::string& id) {
  std::string text, meta;
  registry.current()->collection("c")->text_and_metadata(id, text, meta);
  return text;
}

}  // namespace

// The reported bug: a resync builds each collection from a snapshot; a local write that lands
// between the snapshot and the swap must be in the swapped-in index (the feed never reports a
// replica's own writes, so nothing would repair it later).
TEST_F(ChangeFollowerTest, ALocalWriteDuringAResyncIsInTheRebuiltIndex) {
  write_elsewhere("d1", "forklift operator");
  bool once = false;
  follower_->set_test_hook([&](const char* point) {
    if (std::string(point) != "built" || once) return;
    once = true;
    write_locally(*registry_, "mine", "cnc machinist acknowledged");
  });
  ChangeFollower::Batch resync;
  resync.resync = true;
  resync.count = 1;
  follower_->apply(resync);
  follower_->set_test_hook(nullptr);
  ASSERT_TRUE(once);
  EXPECT_EQ(registry_->current()->collection("c")->size(), 2u);
  EXPECT_EQ(indexed_text(*registry_, "mine"), "cnc machinist acknowledged");
}

// The same for a rebuild of one collection (bulk change or collection change).
TEST_F(ChangeFollowerTest, ALocalWriteDuringACollectionRebuildIsInTheRebuiltIndex) {
  write_elsewhere("d1", "forklift operator");
  bool once = false;
  follower_->set_test_hook([&](const char* point) {
    if (std::string(point) != "built" || once) return;
    once = true;
    write_locally(*registry_, "mine", "welder");
  });
  // A collection change whose settings differ from ours makes the follower rebuild it.
  auto gen = registry_->current();
  auto settings = gen->collection("c")->settings();
  settings.scorer = "scorer-cosine";
  gen->storage().collection_put("c", settings.to_json());
  ChangeFollower::Batch b;
  b.collections = {"c"};
  b.count = 1;
  follower_->apply(b);
  follower_->set_test_hook(nullptr);
  ASSERT_TRUE(once);
  EXPECT_EQ(registry_->current()->collection("c")->size(), 2u);
  EXPECT_EQ(indexed_text(*registry_, "mine"), "welder");
}

// The follower reads document X (old version); a local write of X then commits and updates the
// index; the follower's older read must not win.
TEST_F(ChangeFollowerTest, AnOlderReadNeverOverwritesANewerLocalWrite) {
  write_elsewhere("x", "old text from another replica");
  bool once = false;
  follower_->set_test_hook([&](const char* point) {
    if (std::string(point) != "read" || once) return;
    once = true;
    write_locally(*registry_, "x", "newer local text");
  });
  ChangeFollower::Batch b;
  b.documents["c"] = {"x"};
  b.count = 1;
  follower_->apply(b);
  follower_->set_test_hook(nullptr);
  ASSERT_TRUE(once);
  EXPECT_EQ(indexed_text(*registry_, "x"), "newer local text");
}

// A local write whose storage call failed may still have committed: it is queued for the
// follower to re-read; one that succeeded is not.
TEST(LocalWrites, FailedWritesAreUncertainAndSettleWaitsForWritesInFlight) {
  LocalWrites j;
  { LocalWrites::Scope ok(j, "c", {"a"}); }
  try {
    LocalWrites::Scope failed(j, "c", {"b"});
    throw std::runtime_error("connection lost during COMMIT");
  } catch (const std::exception&) {
  }
  auto u = j.take_uncertain();
  EXPECT_EQ(u.documents["c"], (std::set<std::string>{"b"}));
  EXPECT_TRUE(j.take_uncertain().empty());

  const uint64_t mark = j.open();
  std::atomic<bool> ended{false};
  auto writer = std::make_unique<LocalWrites::Scope>(j, "c", std::vector<std::string>{"w"});
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ended = true;
    writer.reset();
  });
  j.settle("c");
  EXPECT_TRUE(ended.load()) << "settle returned while a write was in flight";
  t.join();
  EXPECT_EQ(j.since(mark, "c").ids, (std::set<std::string>{"w"}));
  EXPECT_TRUE(j.since(mark, "other").ids.empty());
  j.close(mark);
  // No window open: nothing is recorded.
  { LocalWrites::Scope late(j, "c", {"z"}); }
  const uint64_t mark2 = j.open();
  EXPECT_TRUE(j.since(mark2, "c").ids.empty());
  j.close(mark2);
}

// A local write that failed with an unknown outcome (say the connection broke after COMMIT was
// sent) may have committed: the follower re-reads it, so the index agrees with storage.
TEST_F(ChangeFollowerTest, AFailedLocalWriteThatCommittedAnywayReachesTheIndex) {
  try {
    LocalWrites::Scope journal(registry_->local_writes(), "c", {"u1"});
    write_elsewhere("u1", "committed although the client saw 503");
    throw std::runtime_error("storage_unavailable: connection lost during COMMIT");
  } catch (const std::runtime_error&) {
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (registry_->current()->collection("c")->size() == 0 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(indexed_text(*registry_, "u1"), "committed although the client saw 503");
}
