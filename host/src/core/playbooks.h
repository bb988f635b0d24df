// Playbooks: recorded feedback "(query, role) -> document id was good, with score s".
// Persisted through the storage backend as key/value records under
// "playbooks/<collection>/<playbook id>", cached in memory per collection, and handed to the
// retrieval scorer with each search (only records of the search's role: the role gate).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/embed_cache.h"
#include "plugin/calls.h"

namespace lakehost {

struct Playbook {
  std::string playbook_id;
  std::string collection;
  std::string query;
  std::string role;
  std::string doc_id;
  float score = 0;
  int64_t recorded_at_ms = 0;

  std::string to_json() const;
  static std::optional<Playbook> from_json(std::string_view json);
};

// One applicable record with its query embedded by the collection's current embedder.
struct PlaybookMatch {
  std::shared_ptr<const Playbook> record;
  std::shared_ptr<const std::vector<float>> query_vector;
};

class PlaybookStore {
 public:
  explicit PlaybookStore(EmbedCache& cache) : cache_(cache) {}

  // Persists a record (durable when this returns) and adds it to the cache.
  Playbook record(Storage& storage, Playbook p);
  std::vector<Playbook> list(Storage& storage, const std::string& collection,
                             const std::string* role);
  bool remove(Storage& storage, const std::string& collection, const std::string& playbook_id);
  void drop_collection(Storage& storage, const std::string& collection);

  // The records of `collection` recorded under `role`, their queries embedded with `embedder`.
  std::vector<PlaybookMatch> for_role(Storage& storage, const std::string& collection,
                                      const std::string& role, const PluginInstance& embedder);

  // Forget cached records (another replica changed them, or storage was swapped).
  void invalidate();

 private:
  struct Cached {
    std::shared_ptr<const Playbook> record;
    uint64_t embedder_serial = 0;
    std::shared_ptr<const std::vector<float>> query_vector;
  };
  struct CollectionCache {
    std::vector<Cached> records;
  };
  // Loads the collection's records from storage if not cached for this storage instance.
  CollectionCache& load(Storage& storage, const std::string& collection);
  static std::string prefix(const std::string& collection) {
    return "playbooks/" + collection + "/";
  }

  EmbedCache& cache_;
  std::shared_mutex mu_;
  uint64_t storage_serial_ = 0;
  std::map<std::string, CollectionCache> by_collection_;
};

}  // namespace lakehost
