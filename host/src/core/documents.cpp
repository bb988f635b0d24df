#include "core/documents.h"

#include <spdlog/spdlog.h>

#include <fstream>

#include "common/json.h"

namespace lakehost {

namespace {
// A path id that is not clean text cannot name a stored document (and must not be echoed).
void require_clean_id(const std::string& id) {
  if (!json::is_clean_text(id))
    throw not_found("document_not_found", "no such document (the id is not valid UTF-8 text)");
}

HostError no_document(const std::string& collection, const std::string& id) {
  return not_found("document_not_found",
                   "no document \"" + id + "\" in collection \"" + collection + "\"");
}
}  // namespace

void DocumentService::upsert(const std::string& collection, std::vector<DocumentRecord> docs) {
  // Embed outside the write gate; redo it under the gate only if a reload replaced the
  // collection's embedder meanwhile.
  InstancePtr embedded_with;
  auto embed_all = [&](const InstancePtr& embedder) {
    embed::documents(*embedder, docs);
    embedded_with = embedder;
  };
  embed_all(CollectionCatalog::require(*registry_.current(), collection)->embedder());

  WriteScope write(registry_);
  auto gen = registry_.current();
  auto coll = CollectionCatalog::require(*gen, collection);
  if (coll->embedder() != embedded_with) embed_all(coll->embedder());
  auto storage = gen->storage();
  // Until the index has the batch, the change follower must not replace these ids with an
  // older read of storage (read-your-writes).
  std::vector<std::string> ids;
  for (const auto& d : docs) ids.push_back(d.id);
  LocalWrites::Scope journal(registry_.local_writes(), collection, std::move(ids));
  storage.documents_upsert(collection, docs);  // all or nothing
  try {
    coll->upsert(docs);
  } catch (const std::exception& e) {
    // Storage has the batch; make the index agree with storage again.
    spdlog::error("index update of \"{}\" failed ({}); rebuilding it from storage", collection,
                  e.what());
    CollectionCatalog::install(
        *gen, CollectionCatalog::build(*gen, &storage, collection, coll->settings(), nullptr));
  }
}

std::optional<DocumentRecord> DocumentService::get(const std::string& collection,
                                                   const std::string& id) {
  auto gen = registry_.current();
  CollectionCatalog::require(*gen, collection);
  require_clean_id(id);
  auto doc = gen->storage().document_get(collection, id);
  if (!doc) throw no_document(collection, id);
  return doc;
}

void DocumentService::remove(const std::string& collection, const std::string& id) {
  WriteScope write(registry_);
  auto gen = registry_.current();
  auto coll = CollectionCatalog::require(*gen, collection);
  require_clean_id(id);
  LocalWrites::Scope journal(registry_.local_writes(), collection, {id});
  if (!gen->storage().document_delete(collection, id)) throw no_document(collection, id);
  coll->remove(id);
}

size_t DocumentService::load_jsonl(const std::string& collection,
                                   const std::filesystem::path& jsonl) {
  auto coll = catalog_.create(collection, {}).collection;
  if (coll->size() > 0) return 0;
  std::ifstream in(jsonl);
  if (!in) throw std::runtime_error("cannot read " + jsonl.string());
  std::vector<DocumentRecord> docs;
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rapidjson::Document d;
    if (auto err = json::parse(line, d); err || !d.IsObject() || !d.HasMember("id") ||
                                         !d["id"].IsString() || !d.HasMember("text") ||
                                         !d["text"].IsString())
      throw std::runtime_error(jsonl.string() + ":" + std::to_string(lineno) +
                               ": expected {\"id\": str, \"text\": str, \"metadata\": {...}}");
    DocumentRecord r;
    r.id = d["id"].GetString();
    r.text = d["text"].GetString();
    if (d.HasMember("metadata") && d["metadata"].IsObject())
      r.metadata_json = json::to_string(d["metadata"]);
    docs.push_back(std::move(r));
  }
  const size_t n = docs.size();
  if (n) upsert(collection, std::move(docs));
  return n;
}

}  // namespace lakehost
