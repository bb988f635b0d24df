#include "core/embed_cache.h"

#include <cstring>
#include <functional>

#include "plugin/calls.h"

namespace lakehost {

namespace {
constexpr size_t kShards = 16;
}

EmbedCache::EmbedCache(size_t capacity)
    : capacity_(capacity), per_shard_(capacity ? std::max<size_t>(1, capacity / kShards) : 0) {
  for (size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
}

std::string EmbedCache::key(uint64_t serial, std::string_view text) {
  std::string k(sizeof serial, '\0');
  std::memcpy(k.data(), &serial, sizeof serial);
  k.append(text);
  return k;
}

EmbedCache::Shard& EmbedCache::shard_for(const std::string& k) {
  return *shards_[std::hash<std::string>{}(k) % kShards];
}

size_t EmbedCache::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->lru.size();
  }
  return n;
}

std::vector<float> EmbedCache::embed(const PluginInstance& embedder,
                                     const std::vector<std::string_view>& texts) {
  if (capacity_ == 0) return embed::run(embedder, texts);
  const uint32_t dim = embed::dimension(embedder);
  std::vector<float> out(texts.size() * dim);
  std::vector<std::string> keys;
  std::vector<size_t> missing;
  keys.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    keys.push_back(key(embedder.serial(), texts[i]));
    Shard& s = shard_for(keys.back());
    std::lock_guard lock(s.mu);
    auto it = s.index.find(keys.back());
    if (it != s.index.end() && it->second->second.size() == dim) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      std::copy(it->second->second.begin(), it->second->second.end(), out.begin() + i * dim);
      ++hits_;
    } else {
      missing.push_back(i);
      ++misses_;
    }
  }
  if (missing.empty()) return out;
  std::vector<std::string_view> ask;
  for (size_t i : missing) ask.push_back(texts[i]);
  auto fresh = embed::run(embedder, ask);
  for (size_t j = 0; j < missing.size(); ++j) {
    const size_t i = missing[j];
    std::copy(fresh.begin() + j * dim, fresh.begin() + (j + 1) * dim, out.begin() + i * dim);
    Shard& s = shard_for(keys[i]);
    std::lock_guard lock(s.mu);
    if (s.index.count(keys[i])) continue;  // another request added it meanwhile
    s.lru.emplace_front(std::move(keys[i]),
                        std::vector<float>(fresh.begin() + j * dim, fresh.begin() + (j + 1) * dim));
    s.index.emplace(s.lru.front().first, s.lru.begin());
    while (s.lru.size() > per_shard_) {
      s.index.erase(s.lru.back().first);
      s.lru.pop_back();
      ++evictions_;
    }
  }
  return out;
}

}  // namespace lakehost
