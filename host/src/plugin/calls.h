// Typed calls into plugin instances: each takes the instance's call guard, passes host-owned
// buffers, copies results out of the sinks, and turns a plugin's error status into a HostError
// whose message names the plugin instance.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "plugin/loader.h"

namespace lakehost {

using InstancePtr = std::shared_ptr<PluginInstance>;

// Maps a plugin status to the HTTP error clients see.
[[noreturn]] void throw_plugin_error(const PluginInstance& p, const char* op, lh_status st,
                                     const lh_error& err);

inline lh_str to_lh(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view from_lh(lh_str s) { return {s.data ? s.data : "", s.size}; }

namespace embed {
uint32_t dimension(const PluginInstance& p);
// Returns texts.size() * dimension floats.
std::vector<float> run(const PluginInstance& p, const std::vector<std::string_view>& texts);
}  // namespace embed

struct DocumentRecord {
  std::string id;
  std::string text;
  std::string metadata_json = "{}";
  std::vector<float> vector;
};

// A copy of a document a storage plugin passed to a sink.
DocumentRecord copy_document(const lh_document& d);

namespace embed {
// Sets every document's vector from its text, in batches.
void documents(const PluginInstance& p, std::vector<DocumentRecord>& docs);
}  // namespace embed

// The storage backend, through lh_storage_backend_v1.
class Storage {
 public:
  explicit Storage(InstancePtr p) : p_(std::move(p)) {}
  const PluginInstance& instance() const { return *p_; }
  bool collection_put(std::string_view name, std::string_view settings_json);
  std::optional<std::string> collection_get(std::string_view name);
  std::vector<std::pair<std::string, std::string>> collection_list();
  bool collection_delete(std::string_view name);  // false if absent
  void documents_upsert(std::string_view collection, const std::vector<DocumentRecord>& docs);
  std::optional<DocumentRecord> document_get(std::string_view collection, std::string_view id);
  bool document_delete(std::string_view collection, std::string_view id);
  void documents_scan(std::string_view collection,
                      const std::function<void(const lh_document&)>& fn);
  uint64_t document_count(std::string_view collection);
  // Reads the documents `ids` in batched calls (ABI 1.2 documents_get), those absent left out;
  // false if the collection does not exist. A storage without the call (or answering
  // LH_ERR_UNSUPPORTED) is read one document at a time.
  bool documents_get(std::string_view collection, const std::vector<std::string>& ids,
                     const std::function<void(DocumentRecord&&)>& found);
  // Whether documents_get reads in batches (the plugin has the 1.2 call; it may still answer
  // LH_ERR_UNSUPPORTED, then it reads one by one).
  bool has_documents_get() const;
  void kv_put(std::string_view key, std::string_view value);
  std::optional<std::string> kv_get(std::string_view key);
  bool kv_delete(std::string_view key);
  std::vector<std::pair<std::string, std::string>> kv_list(std::string_view prefix);

 private:
  const lh_storage_backend_v1& t() const { return p_->table<lh_storage_backend_v1>(); }
  InstancePtr p_;
};

// A storage backend's feed of writes other replicas committed (ABI 1.1 changes_wait).
class ChangeFeed {
 public:
  explicit ChangeFeed(InstancePtr storage) : p_(std::move(storage)) {}
  const PluginInstance& instance() const { return *p_; }
  // Whether the feed can be asked: the table has changes_wait, and the plugin is thread-safe (a
  // wait blocks, so it runs without the call guard, which would stall every other call).
  bool available() const;
  enum class Wait { ok, unsupported, failed };
  // Waits up to timeout_ms and passes each change reported to on_change (valid during the
  // call). `unsupported`: the store is private to this process; `failed`: *error says why.
  Wait wait(uint32_t timeout_ms, const std::function<void(const lh_change&)>& on_change,
            std::string* error) const;

 private:
  InstancePtr p_;
};

// One index of a vector backend instance (lh_vector_backend_v1): created with this object,
// destroyed with it. The caller provides the concurrency the ABI asks for: searches may run
// together, never with add or remove.
class VectorIndex {
 public:
  VectorIndex(InstancePtr backend, uint32_t dimension);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;
  const PluginInstance& backend() const { return *p_; }
  void add(const std::vector<int64_t>& labels, const std::vector<float>& vectors);
  void remove(const std::vector<int64_t>& labels);
  // Up to k nearest labels and distances (ascending) into the arrays of k entries; returns how
  // many. `reported`, if given, receives the count the plugin claimed (more than k breaks the
  // contract; the return value is clamped to k).
  size_t search(const float* query, size_t k, int64_t* labels, float* distances,
                size_t* reported = nullptr) const;
  size_t size() const;  // live vectors

 private:
  InstancePtr p_;
  void* index_ = nullptr;
};

// A retrieval scorer (lh_retrieval_scorer_v1).
class Scorer {
 public:
  explicit Scorer(InstancePtr p) : p_(std::move(p)) {}
  const PluginInstance& instance() const { return *p_; }
  uint32_t overfetch() const;  // at least 1
  // Scores one request; each result the plugin emits goes to emit(id, distance, flags), the id
  // valid during the call.
  void score(
      const lh_score_request& request,
      const std::function<void(std::string_view id, float distance, uint32_t flags)>& emit) const;

 private:
  InstancePtr p_;
};

// A chat provider (lh_chat_provider_v1).
class Chat {
 public:
  explicit Chat(InstancePtr p) : p_(std::move(p)) {}
  const PluginInstance& instance() const { return *p_; }
  // Produces the reply: each piece to on_delta as it arrives; fills usage.
  void chat(const lh_chat_request& request, const std::function<void(std::string_view)>& on_delta,
            lh_chat_usage& usage) const;

 private:
  InstancePtr p_;
};

}  // namespace lakehost
