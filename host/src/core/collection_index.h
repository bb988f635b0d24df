// The in-memory side of one collection: its vector index (made by the vector backend plugin),
// the mapping between document ids and the index's int64 labels, and the documents' text,
// metadata and vectors for building responses. Storage is the source of truth; all of this is
// rebuilt from it at start and when a reload changes the collection's embedder or backend.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugin/calls.h"

namespace lakehost {

// What a collection was created with (stored as its settings JSON).
struct CollectionSettings {
  std::optional<std::string> embedder;        // manifest id; empty = the default embedder
  std::optional<std::string> vector_backend;  // manifest id; empty = the default backend
  std::optional<std::string> scorer;          // manifest id; empty = the default scorer
  std::string embedder_fingerprint;           // which embedder produced the stored vectors
  uint32_t dimension = 0;

  std::string to_json() const;
  static CollectionSettings from_json(std::string_view json);  // lenient: unknown -> defaults
};

struct Hit {
  std::string id;
  float distance;
};

class CollectionIndex {
 public:
  CollectionIndex(std::string name, CollectionSettings settings, InstancePtr embedder,
                  InstancePtr vector_backend);
  ~CollectionIndex();
  CollectionIndex(const CollectionIndex&) = delete;
  CollectionIndex& operator=(const CollectionIndex&) = delete;

  const std::string& name() const { return name_; }
  const CollectionSettings& settings() const { return settings_; }
  const InstancePtr& embedder() const { return embedder_; }
  const InstancePtr& vector_backend() const { return vector_backend_; }
  uint32_t dimension() const { return dimension_; }
  size_t size() const;

  // Adds or replaces documents (their vectors already computed, dimension() floats each).
  void upsert(const std::vector<DocumentRecord>& docs);
  bool remove(const std::string& id);

  // Nearest documents to a unit query vector: up to `k` hits passing `filter` (a JSON object of
  // metadata key -> value; an array-valued metadata field matches if it contains the value).
  std::vector<Hit> search(const float* query, size_t k, const rapidjson::Value* filter) const;
  bool matches(const std::string& id, const rapidjson::Value* filter) const;

  // Copies of stored data for responses and scorers; false if the id is unknown.
  bool text_and_metadata(const std::string& id, std::string& text, std::string& metadata) const;
  bool vector(const std::string& id, float* out) const;

  // Content revision, unique across the process (a rebuilt index never reuses one): scorers
  // that derive state from the documents rebuild it when this changes.
  uint64_t revision() const { return revision_.load(std::memory_order_acquire); }
  // Calls fn(id, text) for every document under the read lock.
  template <typename Fn>
  void for_each_text(Fn&& fn) const {
    std::shared_lock lock(mu_);
    for (const auto& [label, e] : entries_) fn(e.id, e.text);
  }

 private:
  struct Entry {
    std::string id;
    std::string text;
    std::string metadata_json;
    std::vector<float> vector;
  };
  bool passes(const Entry& e, const rapidjson::Value* filter) const;

  std::string name_;
  CollectionSettings settings_;
  InstancePtr embedder_;
  InstancePtr vector_backend_;
  uint32_t dimension_;
  VectorIndex index_;             // made by vector_backend_
  mutable std::shared_mutex mu_;  // readers: search; writer: upsert/remove
  std::atomic<uint64_t> revision_;
  std::unordered_map<std::string, int64_t> labels_;
  std::unordered_map<int64_t, Entry> entries_;
  int64_t next_label_ = 1;
};

}  // namespace lakehost
