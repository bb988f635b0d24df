#include "core/collection_index.h"

#include <algorithm>
#include <mutex>

#include <lakehost/vector_kernels.hpp>

#include "common/json.h"

namespace lakehost {

std::string CollectionSettings::to_json() const {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "embedder");
  embedder ? json::put(w, *embedder) : (void)w.Null();
  json::key(w, "vector_backend");
  vector_backend ? json::put(w, *vector_backend) : (void)w.Null();
  json::key(w, "scorer");
  scorer ? json::put(w, *scorer) : (void)w.Null();
  json::key(w, "embedder_fingerprint");
  json::put(w, embedder_fingerprint);
  json::key(w, "dimension");
  w.Uint(dimension);
  w.EndObject();
  return buf.GetString();
}

CollectionSettings CollectionSettings::from_json(std::string_view text) {
  CollectionSettings s;
  rapidjson::Document d;
  if (json::parse(text, d) || !d.IsObject()) return s;
  auto str = [&](const char* k) -> std::optional<std::string> {
    if (d.HasMember(k) && d[k].IsString()) return std::string(d[k].GetString());
    return std::nullopt;
  };
  s.embedder = str("embedder");
  s.vector_backend = str("vector_backend");
  s.scorer = str("scorer");
  s.embedder_fingerprint = str("embedder_fingerprint").value_or("");
  if (d.HasMember("dimension") && d["dimension"].IsUint()) s.dimension = d["dimension"].GetUint();
  return s;
}

namespace {
std::atomic<uint64_t> g_next_revision{1};
uint64_t next_revision() { return g_next_revision.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

CollectionIndex::CollectionIndex(std::string name, CollectionSettings settings,
                                 InstancePtr embedder, InstancePtr vector_backend)
    : name_(std::move(name)),
      settings_(std::move(settings)),
      embedder_(std::move(embedder)),
      vector_backend_(std::move(vector_backend)),
      dimension_(embed::dimension(*embedder_)),
      index_(vector_backend_, dimension_),
      revision_(next_revision()) {}

CollectionIndex::~CollectionIndex() = default;

size_t CollectionIndex::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

void CollectionIndex::upsert(const std::vector<DocumentRecord>& docs) {
  std::unique_lock lock(mu_);
  std::vector<int64_t> replaced, labels;
  std::vector<float> vectors;
  std::vector<std::pair<int64_t, Entry>> fresh;
  // A batch may name an id twice: the last one wins, as in storage.
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < docs.size(); ++i) last[docs[i].id] = i;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto& d = docs[i];
    if (last[d.id] != i) continue;
    if (d.vector.size() != dimension_)
      throw HostError(Errc::internal, "internal",
                      "vector of document " + d.id + " has the wrong dimension");
    if (auto it = labels_.find(d.id); it != labels_.end()) replaced.push_back(it->second);
    int64_t label = next_label_++;
    labels.push_back(label);
    vectors.insert(vectors.end(), d.vector.begin(), d.vector.end());
    fresh.emplace_back(label, Entry{d.id, d.text, d.metadata_json, d.vector});
  }
  if (!replaced.empty()) {
    index_.remove(replaced);
    for (auto l : replaced) entries_.erase(l);
  }
  index_.add(labels, vectors);
  for (auto& [label, e] : fresh) {
    labels_[e.id] = label;
    entries_.emplace(label, std::move(e));
  }
  revision_.store(next_revision(), std::memory_order_release);
}

bool CollectionIndex::remove(const std::string& id) {
  std::unique_lock lock(mu_);
  auto it = labels_.find(id);
  if (it == labels_.end()) return false;
  const int64_t label = it->second;
  index_.remove({label});
  entries_.erase(label);
  labels_.erase(it);
  revision_.store(next_revision(), std::memory_order_release);
  return true;
}

bool CollectionIndex::passes(const Entry& e, const rapidjson::Value* filter) const {
  if (!filter || filter->ObjectEmpty()) return true;
  rapidjson::Document meta;
  if (json::parse(e.metadata_json, meta) || !meta.IsObject()) return false;
  for (auto it = filter->MemberBegin(); it != filter->MemberEnd(); ++it) {
    auto m = meta.FindMember(it->name);
    if (m == meta.MemberEnd()) return false;
    if (m->value == it->value) continue;
    if (m->value.IsArray() && std::any_of(m->value.Begin(), m->value.End(),
                                          [&](const auto& v) { return v == it->value; }))
      continue;
    return false;
  }
  return true;
}

bool CollectionIndex::matches(const std::string& id, const rapidjson::Value* filter) const {
  std::shared_lock lock(mu_);
  auto it = labels_.find(id);
  return it != labels_.end() && passes(entries_.at(it->second), filter);
}

std::vector<Hit> CollectionIndex::search(const float* query, size_t k,
                                         const rapidjson::Value* filter) const {
  // Every candidate is re-scored with the canonical kernel from the vector the host keeps, and
  // the hits are ordered by (distance, id). So the answer does not depend on the backend's own
  // arithmetic, on the order the index was filled in (labels differ after a restart), or on the
  // CPU: the same query over the same documents gives the same ids, order and distance bits.
  std::shared_lock lock(mu_);
  const size_t total = entries_.size();
  std::vector<Hit> hits;
  if (k == 0 || total == 0) return hits;
  const bool filtered = filter && !filter->ObjectEmpty();
  // One more than k, so that a tie at the k-th place shows (below). With a filter, more still.
  size_t fetch = std::min(total, filtered ? std::max<size_t>(k * 4, 32) : k + 1);
  std::vector<int64_t> labels;
  std::vector<float> dists;
  for (;;) {
    labels.resize(fetch);
    dists.resize(fetch);
    const size_t n = index_.search(query, fetch, labels.data(), dists.data());
    hits.clear();
    float farthest = 0;  // the largest canonical distance among what the backend returned
    for (size_t i = 0; i < n; ++i) {
      auto it = entries_.find(labels[i]);
      if (it == entries_.end()) continue;
      const Entry& e = it->second;
      const float d = kernels::cosine_distance(query, e.vector.data(), dimension_);
      farthest = std::max(farthest, d);
      if (passes(e, filter)) hits.push_back({e.id, d});
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
    });
    // Done when the backend has nothing more to give, or when k hits are in and the k-th is
    // strictly nearer than anything the backend returned last: every document it did not return
    // is at least that far, so none can tie with (or beat) the k-th. Otherwise fetch more.
    const bool exhausted = n < fetch || fetch >= total;
    if (exhausted || (hits.size() >= k && hits[k - 1].distance < farthest)) break;
    fetch = std::min(total, fetch * 4);
  }
  if (hits.size() > k) hits.resize(k);
  return hits;
}

bool CollectionIndex::text_and_metadata(const std::string& id, std::string& text,
                                        std::string& metadata) const {
  std::shared_lock lock(mu_);
  auto it = labels_.find(id);
  if (it == labels_.end()) return false;
  const auto& e = entries_.at(it->second);
  text = e.text;
  metadata = e.metadata_json;
  return true;
}

bool CollectionIndex::vector(const std::string& id, float* out) const {
  std::shared_lock lock(mu_);
  auto it = labels_.find(id);
  if (it == labels_.end()) return false;
  const auto& v = entries_.at(it->second).vector;
  std::copy(v.begin(), v.end(), out);
  return true;
}

}  // namespace lakehost
