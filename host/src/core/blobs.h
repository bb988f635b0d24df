// Client key/value storage ("blobs"): opaque values under client keys, kept in the storage
// backend's key/value space under their own prefix, so that no client can read or overwrite the
// host's own records (playbooks/...).
#pragma once

#include <string>
#include <vector>

#include "core/registry.h"

namespace lakehost {

class BlobStore {
 public:
  static constexpr size_t kMaxKeyBytes = 512;

  explicit BlobStore(Registry& registry) : registry_(registry) {}

  // Stores `value` under `key`; true when the key is new. Error: validation_failed (the key
  // is empty, longer than kMaxKeyBytes, or not UTF-8 text without NUL).
  bool put(const std::string& key, const std::string& value);
  // Error: key_not_found.
  std::string get(const std::string& key);
  // Error: key_not_found.
  void remove(const std::string& key);

  struct Entry {
    std::string key;
    size_t size = 0;
  };
  struct Listing {
    std::vector<Entry> entries;  // in key order, at most `limit`
    bool truncated = false;      // more keys matched
  };
  Listing list(const std::string& prefix, size_t limit);

 private:
  Registry& registry_;
};

}  // namespace lakehost
