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
  void kv_put(std::string_view key, std::string_view value);
  std::optional<std::string> kv_get(std::string_view key);
  bool kv_delete(std::string_view key);
  std::vector<std::pair<std::string, std::string>> kv_list(std::string_view prefix);

 private:
  const lh_storage_backend_v1& t() const { return p_->table<lh_storage_backend_v1>(); }
  InstancePtr p_;
};

}  // namespace lakehost
