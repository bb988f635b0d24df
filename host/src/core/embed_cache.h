// The embed cache: an LRU of text -> vector, keyed by the embedder instance's serial number, so
// a swapped (re-created) embedder never serves the previous instance's vectors. Sharded to keep
// lock contention low; hit/miss/eviction counters go to /metrics.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugin/loader.h"

namespace lakehost {

class EmbedCache {
 public:
  explicit EmbedCache(size_t capacity);  // entries; 0 disables caching

  // Embeds `texts` with `embedder`, asking the plugin only for the texts not cached.
  // Returns texts.size() * dimension floats.
  std::vector<float> embed(const PluginInstance& embedder,
                           const std::vector<std::string_view>& texts);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t evictions() const { return evictions_; }
  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  struct Shard {
    std::mutex mu;
    std::list<std::pair<std::string, std::vector<float>>> lru;  // front = most recent
    std::unordered_map<std::string_view,
                       std::list<std::pair<std::string, std::vector<float>>>::iterator>
        index;  // views into the list's keys
  };
  static std::string key(uint64_t serial, std::string_view text);
  Shard& shard_for(const std::string& key);

  size_t capacity_;
  size_t per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace lakehost
