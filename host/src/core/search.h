// Search: a query's vector (the collection's embedder, through the embed cache, or the
// client's own vector), vector candidates, the role gate over recorded playbooks, and the
// retrieval scorer's ranking. Collection search, matrix search and chat retrieval share it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/embed_cache.h"
#include "core/playbooks.h"
#include "core/registry.h"

namespace lakehost {

struct ScoredResult {
  std::string id;
  float distance;
  uint32_t flags;  // LH_RESULT_*
};

// One result with the document's stored text and metadata.
struct SearchHit {
  std::string id;
  float distance = 0;
  bool boosted = false;   // a playbook raised it (and it was a candidate anyway)
  bool injected = false;  // a playbook put it in (it was not a candidate)
  std::string text;
  std::string metadata_json;
};

struct SearchQuery {
  std::string collection;
  std::optional<std::string> text;           // embedded with the collection's embedder
  std::optional<std::vector<float>> vector;  // or the client's vector (any length, any norm)
  std::string role;                          // playbooks of this role reach the scorer ("": none)
  size_t k = 10;
  const rapidjson::Value* filter = nullptr;  // metadata filter (an object), or null
  std::optional<std::string> scorer;         // the request's scorer, else the collection's
};

class SearchService {
 public:
  SearchService(Registry& registry, EmbedCache& cache, PlaybookStore& playbooks)
      : registry_(registry), cache_(cache), playbooks_(playbooks) {}

  // On the current generation. Errors: collection_not_found, dimension_mismatch,
  // validation_failed (a zero or non-finite vector), unknown_plugin (scorer), the plugins'.
  std::vector<SearchHit> search(const SearchQuery& q);

  // The pipeline on a generation the caller holds (chat keeps it for its provider call).
  std::vector<ScoredResult> rank(const Generation& gen, const CollectionIndex& coll,
                                 const std::vector<float>& query_vector,
                                 const std::string& query_text, const std::string& role, size_t k,
                                 const rapidjson::Value* filter, const std::string* scorer_id);
  // The query text embedded with the collection's embedder (cached).
  std::vector<float> embed_query(const CollectionIndex& coll, const std::string& text);
  // A client's vector checked against the collection's dimension and unit-normalised.
  static std::vector<float> client_vector(std::vector<float> v, uint32_t dimension);
  // Reads each hit's stored text and metadata; drops hits deleted meanwhile.
  static std::vector<SearchHit> with_documents(const CollectionIndex& coll,
                                               const std::vector<ScoredResult>& results);

 private:
  Registry& registry_;
  EmbedCache& cache_;
  PlaybookStore& playbooks_;
};

}  // namespace lakehost
