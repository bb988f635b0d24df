// Follows writes that OTHER host replicas commit to a shared storage backend (ABI 1.1
// changes_wait, e.g. storage-postgres through LISTEN/NOTIFY) and applies them to this host's
// in-memory state: a document re-read from storage into its collection's index, a collection
// rebuilt or dropped, cached playbooks forgotten. Storage stays the source of truth; this only
// keeps each replica's derived state (indexes, caches) in step with it, typically within
// milliseconds of the other replica's commit.
//
// Read-your-writes: local writers are not stopped while storage is re-read. Whatever this host
// wrote meanwhile (Registry::local_writes) is re-read under the exclusive write gate before a
// rebuilt index is swapped in or a re-read document is kept, so a local acknowledged write is
// never replaced by an older read or left out of a rebuilt index.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/registry.h"

namespace lakehost {

class ChangeFollower {
 public:
  // on_kv_change(key) is called for every key/value change ("" after a resync: everything).
  ChangeFollower(Registry& registry, std::function<void(const std::string& key)> on_kv_change);
  ~ChangeFollower();  // stops and joins the thread
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  uint64_t applied() const { return applied_.load(); }  // changes applied so far
  bool following() const { return following_.load(); }  // the storage has a change feed
  uint64_t resyncs() const { return resyncs_.load(); }
  // Changes received from the feed and not applied yet.
  uint64_t pending() const { return pending_.load(); }
  // Seconds since the oldest pending change was written (0 when nothing is pending).
  double lag_seconds() const;
  // Seconds from the write of the oldest change of the last applied batch to its application.
  double last_delay_seconds() const { return last_delay_us_.load() / 1e6; }
  // The metrics above in Prometheus text.
  void render_metrics(std::string& out) const;

  // One batch of changes, as the storage reported them (exposed for tests).
  struct Batch {
    bool resync = false;
    std::set<std::string> collections;                       // collection-level changes
    std::map<std::string, std::set<std::string>> documents;  // collection -> ids
    std::set<std::string> keys;
    size_t count = 0;       // changes from the feed
    int64_t oldest_us = 0;  // write time of the oldest (Unix µs; 0 = none)
  };
  // Applies a batch to the registry's current generation.
  void apply(const Batch& batch);
  // Tests only: called with "read" after documents were read from storage (before they are
  // applied) and with "built" after phase 1, so a test can write locally at those moments.
  void set_test_hook(std::function<void(const char* point)> hook) { test_hook_ = std::move(hook); }

 private:
  struct Plan;
  void run();
  // Re-reads storage into the generation without stopping writers; false if the exclusive
  // phase found another generation published meanwhile (the caller starts again).
  bool apply_once(const GenerationPtr& gen, const Batch& batch, uint64_t mark);
  // Re-reads `ids` of a collection into `coll`; false if the collection is gone from storage.
  bool refresh(Storage& storage, CollectionIndex& coll, const std::set<std::string>& ids);

  Registry& registry_;
  std::function<void(const std::string&)> on_kv_change_;
  std::function<void(const char*)> test_hook_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> following_{false};
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> resyncs_{0};
  std::atomic<uint64_t> pending_{0};
  std::atomic<int64_t> pending_since_us_{0};
  std::atomic<int64_t> last_delay_us_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace lakehost
