// Documents: the write path (embed, store all or nothing, index), reads and deletes, and the
// loading of a JSON-lines corpus (the demo).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/catalog.h"
#include "core/registry.h"

namespace lakehost {

class DocumentService {
 public:
  DocumentService(Registry& registry, CollectionCatalog& catalog)
      : registry_(registry), catalog_(catalog) {}

  // Embeds the batch with the collection's embedder (outside the write gate: an upstream
  // embedder may be slow), stores it all or nothing, then indexes it. Errors:
  // collection_not_found, the embedder's and the storage backend's.
  void upsert(const std::string& collection, std::vector<DocumentRecord> docs);
  // The stored document (text and metadata), or nullopt. Error: collection_not_found.
  std::optional<DocumentRecord> get(const std::string& collection, const std::string& id);
  // Errors: collection_not_found, document_not_found.
  void remove(const std::string& collection, const std::string& id);

  // Loads a JSON-lines file of {"id","text","metadata"} into `collection` (created with the
  // default plugins if missing) when that collection is empty. Returns the number loaded.
  size_t load_jsonl(const std::string& collection, const std::filesystem::path& jsonl);

 private:
  Registry& registry_;
  CollectionCatalog& catalog_;
};

}  // namespace lakehost
