#include "core/search.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "core/catalog.h"

namespace lakehost {

namespace {
// The score services a scorer may call back into (lh_score_services), on one collection.
struct ScoreContext {
  const CollectionIndex* coll;
};
lh_status document_vector(void* ctx, lh_str id, float* out) {
  auto* c = static_cast<ScoreContext*>(ctx);
  return c->coll->vector(std::string(from_lh(id)), out) ? LH_OK : LH_ERR_NOT_FOUND;
}
lh_status document_text(void* ctx, lh_str id, void (*sink)(void*, lh_str), void* sink_ctx) {
  auto* c = static_cast<ScoreContext*>(ctx);
  std::string text, meta;
  if (!c->coll->text_and_metadata(std::string(from_lh(id)), text, meta)) return LH_ERR_NOT_FOUND;
  sink(sink_ctx, to_lh(text));
  return LH_OK;
}
lh_status document_metadata(void* ctx, lh_str id, void (*sink)(void*, lh_str), void* sink_ctx) {
  auto* c = static_cast<ScoreContext*>(ctx);
  std::string text, meta;
  if (!c->coll->text_and_metadata(std::string(from_lh(id)), text, meta)) return LH_ERR_NOT_FOUND;
  sink(sink_ctx, to_lh(meta.empty() ? std::string_view("{}") : std::string_view(meta)));
  return LH_OK;
}
lh_status documents_scan(void* ctx, void (*sink)(void*, lh_str, lh_str), void* sink_ctx) {
  auto* c = static_cast<ScoreContext*>(ctx);
  c->coll->for_each_text([&](const std::string& id, const std::string& text) {
    sink(sink_ctx, to_lh(id), to_lh(text));
  });
  return LH_OK;
}
}  // namespace

std::vector<SearchHit> SearchService::search(const SearchQuery& q) {
  auto gen = registry_.current();
  auto coll = CollectionCatalog::require(*gen, q.collection);
  const auto qv = q.text
                      ? embed_query(*coll, *q.text)
                      : client_vector(q.vector.value_or(std::vector<float>{}), coll->dimension());
  auto results = rank(*gen, *coll, qv, q.text.value_or(""), q.role, q.k, q.filter,
                      q.scorer ? &*q.scorer : nullptr);
  return with_documents(*coll, results);
}

std::vector<ScoredResult> SearchService::rank(const Generation& gen, const CollectionIndex& coll,
                                              const std::vector<float>& query_vector,
                                              const std::string& query_text,
                                              const std::string& role, size_t k,
                                              const rapidjson::Value* filter,
                                              const std::string* scorer_id) {
  // The scorer: the request's, else the collection's, else the default.
  const std::string* chosen = scorer_id                ? scorer_id
                              : coll.settings().scorer ? &*coll.settings().scorer
                                                       : nullptr;
  const Scorer scorer(gen.require(LH_KIND_RETRIEVAL_SCORER, chosen));
  auto hits = coll.search(query_vector.data(), k * scorer.overfetch(), filter);
  std::vector<lh_candidate> candidates;
  candidates.reserve(hits.size());
  for (const auto& h : hits) candidates.push_back({to_lh(h.id), h.distance});

  // Role gate: only records made under this search's role reach the scorer.
  std::vector<PlaybookMatch> matches;
  if (!role.empty()) {
    auto storage = gen.storage();
    matches = playbooks_.for_role(storage, coll.name(), role, *coll.embedder());
  }
  std::vector<lh_feedback> feedback;
  feedback.reserve(matches.size());
  for (const auto& m : matches) {
    if (m.query_vector->size() != query_vector.size()) continue;
    feedback.push_back({to_lh(m.record->query), m.query_vector->data(), to_lh(m.record->role),
                        to_lh(m.record->doc_id), m.record->score});
  }

  ScoreContext ctx{&coll};
  lh_score_services services{sizeof(lh_score_services), &ctx,
                             &document_vector,          &document_text,
                             coll.revision(),           &documents_scan,
                             &document_metadata};
  lh_score_request request{};
  request.struct_size = sizeof(lh_score_request);
  request.collection = to_lh(coll.name());
  request.query = to_lh(query_text);
  request.role = to_lh(role);
  request.query_vector = query_vector.data();
  request.dimension = static_cast<uint32_t>(query_vector.size());
  request.k = static_cast<uint32_t>(k);
  request.candidates = candidates.data();
  request.n_candidates = candidates.size();
  request.feedback = feedback.data();
  request.n_feedback = feedback.size();
  request.services = &services;

  std::unordered_map<std::string, ScoredResult> emitted;
  scorer.score(request, [&](std::string_view id, float distance, uint32_t flags) {
    std::string key(id);
    auto it = emitted.find(key);
    if (it == emitted.end() || distance < it->second.distance)
      emitted[key] = {key, distance, flags};
  });

  std::vector<ScoredResult> out;
  std::set<std::string> candidate_ids;
  for (const auto& h : hits) candidate_ids.insert(h.id);
  for (auto& [id, r] : emitted) {
    // A scorer may only add documents that exist and pass the client's filter.
    if (!candidate_ids.count(id) && !coll.matches(id, filter)) continue;
    if (!std::isfinite(r.distance)) continue;
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const ScoredResult& a, const ScoredResult& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<float> SearchService::embed_query(const CollectionIndex& coll,
                                              const std::string& text) {
  return cache_.embed(*coll.embedder(), {std::string_view(text)});
}

std::vector<float> SearchService::client_vector(std::vector<float> v, uint32_t dimension) {
  double norm = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]))
      throw unprocessable("/vector/" + std::to_string(i) + " is out of the float range");
    norm += static_cast<double>(v[i]) * v[i];
  }
  if (v.size() != dimension)
    throw HostError(Errc::invalid_argument, "dimension_mismatch",
                    "/vector has " + std::to_string(v.size()) +
                        " numbers but the collection's dimension is " + std::to_string(dimension));
  if (norm <= 0) throw unprocessable("/vector must not be all zeros");
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (auto& x : v) x *= inv;
  return v;
}

std::vector<SearchHit> SearchService::with_documents(const CollectionIndex& coll,
                                                     const std::vector<ScoredResult>& results) {
  std::vector<SearchHit> out;
  out.reserve(results.size());
  for (const auto& r : results) {
    SearchHit h;
    if (!coll.text_and_metadata(r.id, h.text, h.metadata_json)) continue;  // deleted meanwhile
    h.id = r.id;
    h.distance = r.distance;
    h.injected = r.flags & LH_RESULT_INJECTED;
    h.boosted = !h.injected && (r.flags & LH_RESULT_BOOSTED);
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace lakehost
