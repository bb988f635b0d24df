#include "core/blobs.h"

#include "common/json.h"

namespace lakehost {

namespace {
constexpr std::string_view kPrefix = "blobs/";

std::string storage_key(const std::string& key) {
  if (key.empty() || key.size() > BlobStore::kMaxKeyBytes)
    throw unprocessable("the key must be 1 to " + std::to_string(BlobStore::kMaxKeyBytes) +
                        " bytes");
  if (!json::is_clean_text(key)) throw unprocessable("the key must be valid UTF-8 without NUL");
  return std::string(kPrefix) + key;
}

HostError no_key(const std::string& key) {
  return not_found("key_not_found", "no stored value under \"" + key + "\"");
}
}  // namespace

bool BlobStore::put(const std::string& key, const std::string& value) {
  const std::string k = storage_key(key);
  WriteScope write(registry_);
  auto storage = registry_.current()->storage();
  const bool existed = storage.kv_get(k).has_value();
  storage.kv_put(k, value);
  return !existed;
}

std::string BlobStore::get(const std::string& key) {
  auto value = registry_.current()->storage().kv_get(storage_key(key));
  if (!value) throw no_key(key);
  return std::move(*value);
}

void BlobStore::remove(const std::string& key) {
  const std::string k = storage_key(key);
  WriteScope write(registry_);
  if (!registry_.current()->storage().kv_delete(k)) throw no_key(key);
}

BlobStore::Listing BlobStore::list(const std::string& prefix, size_t limit) {
  auto entries = registry_.current()->storage().kv_list(std::string(kPrefix) + prefix);
  Listing out;
  for (size_t i = 0; i < entries.size() && i < limit; ++i)
    out.entries.push_back({entries[i].first.substr(kPrefix.size()), entries[i].second.size()});
  out.truncated = entries.size() > limit;
  return out;
}

}  // namespace lakehost
