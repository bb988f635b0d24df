// Follows writes that OTHER host replicas commit to a shared storage backend (ABI 1.1
// changes_wait, e.g. storage-postgres through LISTEN/NOTIFY) and applies them to this host's
// in-memory state: a document re-read from storage into its collection's index, a collection
// rebuilt or dropped, cached playbooks forgotten. Storage stays the source of truth; this only
// keeps each replica's derived state (indexes, caches) in step with it, typically within
// milliseconds of the other replica's commit.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "registry.h"

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

  // One batch of changes, as the storage reported them (exposed for tests).
  struct Batch {
    bool resync = false;
    std::set<std::string> collections;                       // collection-level changes
    std::map<std::string, std::set<std::string>> documents;  // collection -> ids
    std::set<std::string> keys;
    size_t count = 0;
  };
  // Applies a batch to the registry's current generation.
  void apply(const Batch& batch);

 private:
  void run();
  // Re-reads one collection from storage (or drops it); unless `force`, keeps the local index
  // when the stored settings equal ours. True if the collection was rebuilt or dropped.
  bool rebuild_collection(Generation& gen, Storage& storage, const std::string& name, bool force);

  Registry& registry_;
  std::function<void(const std::string&)> on_kv_change_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> following_{false};
  std::atomic<uint64_t> applied_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace lakehost
