// The REST API v1 (docs/api.md): request parsing and validation, the search pipeline
// (embed -> vector candidates -> scorer), and responses. Every handler takes the generation
// current at its start and uses only that one.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/embed_cache.h"
#include "core/playbooks.h"
#include "core/registry.h"
#include "http/metrics.h"
#include "http/server.h"

namespace lakehost {

struct ScoredResult {
  std::string id;
  float distance;
  uint32_t flags;  // LH_RESULT_*
};

struct ChatCall;  // chat_routes.cpp
class Readiness;  // readiness.h

class Api {
 public:
  Api(Registry& registry, Metrics& metrics, size_t embed_cache_entries = 10000);
  void install(HttpServer& server);

  // Loads a JSON-lines file of {"id","text","metadata"} into `collection` (created if missing)
  // when that collection is empty. Returns the number of documents loaded.
  size_t seed_collection(const std::string& collection, const std::filesystem::path& jsonl);

  // The retrieval pipeline shared by collection search and matrix search.
  // role: playbooks recorded under this role are handed to the scorer ("" = none).
  std::vector<ScoredResult> search(const Generation& gen, const CollectionIndex& coll,
                                   const std::vector<float>& query_vector,
                                   const std::string& query_text, const std::string& role, size_t k,
                                   const rapidjson::Value* filter, const std::string* scorer_id);

  EmbedCache& embed_cache() { return cache_; }
  // The background prober GET /ready reports from (without one, /ready answers 503).
  void set_readiness(const Readiness* r) { readiness_ = r; }
  // POST /v1/admin/reload re-reads this key file too.
  void set_api_keys(ApiKeys* keys) { api_keys_ = keys; }

  // Another replica changed key `key` in shared storage ("" = anything may have changed).
  void storage_key_changed(const std::string& key) {
    if (key.empty() || key.starts_with("playbooks/")) playbooks_.invalidate();
  }

 private:
  HttpResponse health(const HttpRequest&);
  HttpResponse ready(const HttpRequest&);
  HttpResponse plugins(const HttpRequest&);
  HttpResponse reload(const HttpRequest&);
  HttpResponse embed(const HttpRequest&);
  HttpResponse embeddings(const HttpRequest&);
  HttpResponse list_collections(const HttpRequest&);
  HttpResponse put_collection(const HttpRequest&);
  HttpResponse get_collection(const HttpRequest&);
  HttpResponse delete_collection(const HttpRequest&);
  HttpResponse upsert_documents(const HttpRequest&);
  HttpResponse get_document(const HttpRequest&);
  HttpResponse delete_document(const HttpRequest&);
  HttpResponse search_collection(const HttpRequest&);
  HttpResponse matrix_search(const HttpRequest&);
  HttpResponse record_playbook(const HttpRequest&);
  HttpResponse list_playbooks(const HttpRequest&);
  HttpResponse delete_playbook(const HttpRequest&);
  HttpResponse put_blob(const HttpRequest&);
  HttpResponse get_blob(const HttpRequest&);
  HttpResponse delete_blob(const HttpRequest&);
  HttpResponse list_blobs(const HttpRequest&);
  // chat_routes.cpp
  HttpResponse chat(const HttpRequest&);
  HttpResponse chat_completions(const HttpRequest&);
  HttpResponse models(const HttpRequest&);
  // Validates a chat request and retrieves its context.
  std::shared_ptr<ChatCall> prepare_chat(rapidjson::Document& body, const HttpRequest& req);
  // Embeds a query with the collection's embedder (cached) or checks a client vector.
  std::vector<float> query_vector(const CollectionIndex& coll, const std::string* query,
                                  const rapidjson::Value* vector);

  // Writes documents through storage (all or nothing) and then into the live index.
  void upsert(const std::string& collection, std::vector<DocumentRecord> docs);
  std::string plugins_json(const Generation& gen) const;

  Registry& registry_;
  Metrics& metrics_;
  EmbedCache cache_;
  PlaybookStore playbooks_;
  const Readiness* readiness_ = nullptr;
  ApiKeys* api_keys_ = nullptr;
};

}  // namespace lakehost
