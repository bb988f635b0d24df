#include "core/playbooks.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>

#include "common/json.h"

namespace lakehost {

std::string Playbook::to_json() const {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "playbook_id");
  json::put(w, playbook_id);
  json::key(w, "collection");
  json::put(w, collection);
  json::key(w, "query");
  json::put(w, query);
  json::key(w, "role");
  json::put(w, role);
  json::key(w, "id");
  json::put(w, doc_id);
  json::key(w, "score");
  w.Double(score);
  json::key(w, "recorded_at_ms");
  w.Int64(recorded_at_ms);
  w.EndObject();
  return buf.GetString();
}

std::optional<Playbook> Playbook::from_json(std::string_view text) {
  rapidjson::Document d;
  if (json::parse(text, d) || !d.IsObject()) return std::nullopt;
  auto str = [&](const char* k) -> const char* {
    return d.HasMember(k) && d[k].IsString() ? d[k].GetString() : nullptr;
  };
  if (!str("playbook_id") || !str("collection") || !str("query") || !str("role") || !str("id") ||
      !d.HasMember("score") || !d["score"].IsNumber())
    return std::nullopt;
  Playbook p;
  p.playbook_id = str("playbook_id");
  p.collection = str("collection");
  p.query = str("query");
  p.role = str("role");
  p.doc_id = str("id");
  p.score = static_cast<float>(d["score"].GetDouble());
  if (d.HasMember("recorded_at_ms") && d["recorded_at_ms"].IsInt64())
    p.recorded_at_ms = d["recorded_at_ms"].GetInt64();
  return p;
}

namespace {
// Ids sort by time of recording and are unique across replicas: ms timestamp + random suffix.
std::string new_playbook_id(int64_t now_ms) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "%013lld-%08llx", static_cast<long long>(now_ms),
      static_cast<unsigned long long>((salt + counter++ * 0x9e3779b97f4a7c15ull) & 0xffffffffull));
  return buf;
}
}  // namespace

PlaybookStore::CollectionCache& PlaybookStore::load(Storage& storage,
                                                    const std::string& collection) {
  // Caller holds mu_ exclusively.
  if (storage_serial_ != storage.instance().serial()) {
    by_collection_.clear();
    storage_serial_ = storage.instance().serial();
  }
  auto it = by_collection_.find(collection);
  if (it != by_collection_.end()) return it->second;
  CollectionCache c;
  for (auto& [key, value] : storage.kv_list(prefix(collection))) {
    if (auto p = Playbook::from_json(value))
      c.records.push_back({std::make_shared<const Playbook>(std::move(*p)), 0, nullptr});
  }
  return by_collection_.emplace(collection, std::move(c)).first->second;
}

Playbook PlaybookStore::record(Storage& storage, Playbook p) {
  p.recorded_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  p.playbook_id = new_playbook_id(p.recorded_at_ms);
  std::unique_lock lock(mu_);
  auto& c = load(storage, p.collection);
  storage.kv_put(prefix(p.collection) + p.playbook_id, p.to_json());
  c.records.push_back({std::make_shared<const Playbook>(p), 0, nullptr});
  return p;
}

std::vector<Playbook> PlaybookStore::list(Storage& storage, const std::string& collection,
                                          const std::string* role) {
  std::unique_lock lock(mu_);
  std::vector<Playbook> out;
  for (const auto& r : load(storage, collection).records)
    if (!role || r.record->role == *role) out.push_back(*r.record);
  return out;
}

bool PlaybookStore::remove(Storage& storage, const std::string& collection,
                           const std::string& playbook_id) {
  std::unique_lock lock(mu_);
  auto& c = load(storage, collection);
  if (!storage.kv_delete(prefix(collection) + playbook_id)) return false;
  std::erase_if(c.records, [&](const Cached& r) { return r.record->playbook_id == playbook_id; });
  return true;
}

void PlaybookStore::drop_collection(Storage& storage, const std::string& collection) {
  std::unique_lock lock(mu_);
  for (auto& [key, value] : storage.kv_list(prefix(collection))) storage.kv_delete(key);
  by_collection_.erase(collection);
}

std::vector<PlaybookMatch> PlaybookStore::for_role(Storage& storage, const std::string& collection,
                                                   const std::string& role,
                                                   const PluginInstance& embedder) {
  std::vector<PlaybookMatch> out;
  if (role.empty()) return out;
  {
    // Fast path: everything cached and embedded by this embedder.
    std::shared_lock lock(mu_);
    if (storage_serial_ == storage.instance().serial()) {
      auto it = by_collection_.find(collection);
      if (it != by_collection_.end()) {
        bool complete = true;
        for (const auto& r : it->second.records) {
          if (r.record->role != role) continue;
          if (r.embedder_serial != embedder.serial()) {
            complete = false;
            break;
          }
          out.push_back({r.record, r.query_vector});
        }
        if (complete) return out;
        out.clear();
      }
    }
  }
  std::unique_lock lock(mu_);
  auto& c = load(storage, collection);
  for (auto& r : c.records) {
    if (r.record->role != role) continue;
    if (r.embedder_serial != embedder.serial()) {
      r.query_vector = std::make_shared<const std::vector<float>>(
          cache_.embed(embedder, {std::string_view(r.record->query)}));
      r.embedder_serial = embedder.serial();
    }
    out.push_back({r.record, r.query_vector});
  }
  return out;
}

void PlaybookStore::invalidate() {
  std::unique_lock lock(mu_);
  by_collection_.clear();
}

}  // namespace lakehost
