// The plugin registry. A Generation is one complete set of plugin instances, fixed for its
// life, plus the collections' indexes built on them. A reload builds the next generation beside
// the current one and publishes it with one atomic pointer swap; a request holds the generation
// it started with (shared_ptr) until it ends, so it never sees half of a reload. The collection
// set of a generation does change while it serves: collections are created, rebuilt and dropped
// in it (by the API and the change follower, inside a WriteScope), each swapped in whole.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/collection_index.h"
#include "plugin/calls.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"

namespace lakehost {

class Generation {
 public:
  uint64_t number() const { return number_; }
  const std::vector<InstancePtr>& plugins() const { return plugins_; }
  // The instance with this manifest id, of this kind; nullptr if absent.
  InstancePtr find(const std::string& id, lh_plugin_kind kind) const;
  // The default instance of a kind; nullptr if none is enabled.
  InstancePtr default_of(lh_plugin_kind kind) const;
  // Like find/default_of, but throws 404 (unknown id) or 503 (no plugin of that kind).
  InstancePtr require(lh_plugin_kind kind, const std::string* id) const;
  Storage storage() const;  // 503 when no storage backend is enabled

  std::shared_ptr<CollectionIndex> collection(const std::string& name) const;  // null if absent
  std::vector<std::shared_ptr<CollectionIndex>> collections() const;

 private:
  friend class Registry;
  friend class CollectionCatalog;  // the only code that changes the collection set
  void put_collection(std::shared_ptr<CollectionIndex> c);
  void drop_collection(const std::string& name);
  uint64_t number_ = 0;
  std::vector<InstancePtr> plugins_;
  std::map<std::string, InstancePtr> by_id_;
  std::map<lh_plugin_kind, InstancePtr> defaults_;
  mutable std::mutex collections_mu_;
  std::map<std::string, std::shared_ptr<CollectionIndex>> collections_;
};

using GenerationPtr = std::shared_ptr<Generation>;

// The writes this host makes, as the change follower needs to see them. The follower re-reads
// storage without stopping local writers; a local write of the same document (or collection)
// that overlaps such a re-read may have committed after it, so the follower must not keep its
// read: it asks which ids were written locally since it began (`since`) and re-reads those under
// the exclusive write gate. Storage's change feed never reports this host's own writes, so
// without this an acknowledged write could vanish from its own replica's index.
class LocalWrites {
 public:
  // Held by a local writer, inside the shared write gate, from before its storage call until
  // its index is updated. Ends by recording the ids (or, `whole`, the collection itself); if it
  // ends by an exception the storage call's outcome may be unknown (a lost COMMIT), so the ids
  // are also queued for the follower to re-read (`take_uncertain`).
  class Scope {
   public:
    Scope(LocalWrites& j, std::string collection, std::vector<std::string> ids, bool whole = false);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    LocalWrites& j_;
    uint64_t ticket_;
    std::string collection_;
    std::vector<std::string> ids_;
    bool whole_;
    int exceptions_;
  };

  // A window of the follower: writes that end after open() are recorded until close(mark).
  uint64_t open();
  void close(uint64_t mark);
  // Waits until every local write to `collection` ("" = any) begun before this call has ended.
  void settle(const std::string& collection);
  struct Since {
    bool whole = false;         // the collection was created or deleted locally
    std::set<std::string> ids;  // documents written locally
  };
  Since since(uint64_t mark, const std::string& collection) const;

  // Local writes whose outcome is unknown, to be re-read from storage; emptied by the call.
  struct Uncertain {
    std::set<std::string> collections;
    std::map<std::string, std::set<std::string>> documents;
    bool empty() const { return collections.empty() && documents.empty(); }
  };
  Uncertain take_uncertain();

 private:
  struct Entry {
    uint64_t whole = 0;                             // seq of the last collection-level write
    std::unordered_map<std::string, uint64_t> ids;  // id -> seq of its last write
  };
  uint64_t begin(const std::string& collection);
  void end(uint64_t ticket, const std::string& collection, const std::vector<std::string>& ids,
           bool whole, bool failed);

  mutable std::mutex mu_;
  std::condition_variable ended_;
  uint64_t seq_ = 0;                           // advances with every recorded write
  uint64_t next_ticket_ = 1;                   // writers in flight, by ticket
  std::map<uint64_t, std::string> in_flight_;  // ticket -> collection
  std::multiset<uint64_t> windows_;            // marks of open windows
  std::map<std::string, Entry> written_;       // recorded only while a window is open
  Uncertain uncertain_;
};

struct ReloadOutcome {
  bool ok = false;
  uint64_t generation = 0;
  std::string error;  // why it failed (ok == false)
};

class Registry {
 public:
  Registry(PluginLoader& loader, std::filesystem::path manifests_dir);

  // The generation to serve a request with: a shared_ptr copy under a short lock (libstdc++ 12's
  // atomic<shared_ptr> is lock-based too, and ThreadSanitizer cannot see its internal lock).
  GenerationPtr current() const {
    std::lock_guard lock(current_mu_);
    return current_;
  }

  // Loads the manifests and builds a new generation; publishes it only if everything loaded,
  // validated and initialised. Serialised: concurrent calls run one after the other.
  ReloadOutcome reload(const std::string& trigger);

  // Which documents this host wrote (for the change follower; see LocalWrites).
  LocalWrites& local_writes() { return local_writes_; }

  uint64_t reloads_ok() const { return reloads_ok_; }
  uint64_t reloads_failed() const { return reloads_failed_; }

 private:
  void attach_collections(Generation& next, const Generation* prev,
                          std::vector<std::pair<std::string, std::vector<DocumentRecord>>>& wb);

  PluginLoader& loader_;
  std::filesystem::path manifests_dir_;
  mutable std::mutex current_mu_;
  GenerationPtr current_;
  std::mutex reload_mu_;
  friend class WriteScope;
  // Writers hold this shared (WriteScope); a reload holds it exclusively only for its final
  // catch-up and swap, so a write is never lost between two generations.
  std::shared_mutex write_gate_;
  std::atomic<uint64_t> writes_{0};  // bumped by every WriteScope: a reload then catches up
  LocalWrites local_writes_;
  std::atomic<uint64_t> reloads_ok_{0}, reloads_failed_{0};
  uint64_t next_number_ = 1;
};

// Every writer's hold on the registry (documents, collections, playbooks, key/value, the change
// follower): the write gate, held for the scope's life (shared; exclusive for the change
// follower's final step), and, when the scope ends with the gate still held, the note that makes
// a reload building the next generation meanwhile catch up. The note is taken even if the writer
// wrote nothing or threw: at worst a reload redoes its build, never does it miss a write.
class WriteScope {
 public:
  enum class Mode { shared, exclusive };
  explicit WriteScope(Registry& registry, Mode mode = Mode::shared) : registry_(registry) {
    if (mode == Mode::shared)
      shared_ = std::shared_lock(registry.write_gate_);
    else
      exclusive_ = std::unique_lock(registry.write_gate_);
  }
  ~WriteScope() { registry_.writes_.fetch_add(1, std::memory_order_relaxed); }  // gate still held
  WriteScope(const WriteScope&) = delete;
  WriteScope& operator=(const WriteScope&) = delete;

 private:
  Registry& registry_;
  std::shared_lock<std::shared_mutex> shared_;
  std::unique_lock<std::shared_mutex> exclusive_;
};

}  // namespace lakehost
