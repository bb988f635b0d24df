// The retrieval scorer contract (lh_retrieval_scorer_v1): from the candidates, the feedback and
// the score services, emit finite distances for documents that exist; the same request gives the
// same answer, on any thread; a feedback record naming an unknown document is not an error.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "conformance/conformance.h"

namespace lakehost::conformance {

namespace {

constexpr uint32_t kDim = 16;
constexpr size_t kDocs = 40;

// A small collection behind the score services, and a request over it.
struct World {
  std::vector<float> vectors = unit_vectors(kDocs, kDim, 7);
  std::vector<std::string> ids, texts, metadata;
  std::vector<float> query = unit_vectors(1, kDim, 99);
  std::vector<std::string> candidate_ids;
  std::vector<lh_candidate> candidates;
  std::vector<lh_feedback> feedback;
  std::string feedback_query = "forklift night shift";
  std::string role = "Forklift Operator";
  lh_score_services services{};

  World() {
    const char* words[] = {"forklift", "nurse", "welder", "machinist", "driver"};
    for (size_t i = 0; i < kDocs; ++i) {
      ids.push_back("doc-" + std::to_string(i));
      texts.push_back(std::string(words[i % 5]) + " with " + std::to_string(i % 7 + 1) +
                      " years, shift " + std::to_string(i % 3));
      metadata.push_back(R"({"years": )" + std::to_string(i % 7 + 1) + "}");
    }
    // Candidates: the 20 nearest, ascending.
    std::vector<std::pair<float, size_t>> order;
    for (size_t i = 0; i < kDocs; ++i)
      order.push_back({1.0f - dot(query.data(), &vectors[i * kDim], kDim), i});
    std::sort(order.begin(), order.end());
    for (size_t r = 0; r < 20; ++r) candidate_ids.push_back(ids[order[r].second]);
    for (size_t r = 0; r < 20; ++r) candidates.push_back({to_lh(candidate_ids[r]), order[r].first});
    services.struct_size = sizeof(lh_score_services);
    services.ctx = this;
    services.document_vector = [](void* ctx, lh_str id, float* out) {
      auto* w = static_cast<World*>(ctx);
      const size_t i = w->find(from_lh(id));
      if (i == kDocs) return LH_ERR_NOT_FOUND;
      std::copy_n(&w->vectors[i * kDim], kDim, out);
      return LH_OK;
    };
    services.document_text = [](void* ctx, lh_str id, void (*sink)(void*, lh_str), void* sink_ctx) {
      auto* w = static_cast<World*>(ctx);
      const size_t i = w->find(from_lh(id));
      if (i == kDocs) return LH_ERR_NOT_FOUND;
      sink(sink_ctx, to_lh(w->texts[i]));
      return LH_OK;
    };
    services.revision = 1;
    services.documents_scan = [](void* ctx, void (*sink)(void*, lh_str, lh_str), void* sink_ctx) {
      auto* w = static_cast<World*>(ctx);
      for (size_t i = 0; i < kDocs; ++i) sink(sink_ctx, to_lh(w->ids[i]), to_lh(w->texts[i]));
      return LH_OK;
    };
    services.document_metadata = [](void* ctx, lh_str id, void (*sink)(void*, lh_str),
                                    void* sink_ctx) {
      auto* w = static_cast<World*>(ctx);
      const size_t i = w->find(from_lh(id));
      if (i == kDocs) return LH_ERR_NOT_FOUND;
      sink(sink_ctx, to_lh(w->metadata[i]));
      return LH_OK;
    };
  }
  size_t find(std::string_view id) const {
    for (size_t i = 0; i < kDocs; ++i)
      if (ids[i] == id) return i;
    return kDocs;
  }
  // Feedback for `doc_id` (which may not exist), its query vector the request's.
  void add_feedback(const std::string& doc_id) {
    feedback_ids.push_back(doc_id);
    feedback.clear();
    for (const auto& d : feedback_ids)
      feedback.push_back({to_lh(feedback_query), query.data(), to_lh(role), to_lh(d), 1.0f});
  }
  lh_score_request request(size_t k = 10) const {
    lh_score_request r{};
    r.struct_size = sizeof(lh_score_request);
    r.collection = to_lh("conformance");
    r.query = to_lh(feedback_query);
    r.role = to_lh(role);
    r.query_vector = query.data();
    r.dimension = kDim;
    r.k = static_cast<uint32_t>(k);
    r.candidates = candidates.data();
    r.n_candidates = candidates.size();
    r.feedback = feedback.data();
    r.n_feedback = feedback.size();
    r.services = &services;
    return r;
  }
  std::vector<std::string> feedback_ids;
};

// What one score call emitted, id -> (distance, flags), checked for what every answer must be.
std::map<std::string, std::pair<float, uint32_t>> score(const Scorer& s, const World& w,
                                                        const lh_score_request& r) {
  std::map<std::string, std::pair<float, uint32_t>> out;
  s.score(r, [&](std::string_view id, float distance, uint32_t flags) {
    const std::string key(id);
    check(w.find(key) != kDocs,
          "emitted \"" + key + "\", which is neither a candidate nor a known document");
    check(std::isfinite(distance), "emitted a non-finite distance for \"" + key + "\"");
    out[key] = {distance, flags};
  });
  return out;
}

}  // namespace

std::vector<Case> scorer_cases() {
  return {
      {"scorer.overfetch",
       "overfetch() is from 1 to 100 (the host fetches k × overfetch candidates)",
       [](const Factory& make) {
         Scorer s(make());
         const uint32_t n = s.overfetch();
         check(n >= 1 && n <= 100, "overfetch() is " + std::to_string(n));
       }},
      {"scorer.ranks_candidates",
       "without feedback, every emitted id is a known document with a finite distance, and "
       "the candidates are ranked (something is emitted)",
       [](const Factory& make) {
         Scorer s(make());
         World w;
         auto out = score(s, w, w.request());
         check(!out.empty(), "20 candidates and no feedback: nothing was emitted");
       }},
      {"scorer.no_candidates",
       "an empty candidate list is answered without an error, with known documents only (a "
       "lexical scorer may still find some through the services)",
       [](const Factory& make) {
         Scorer s(make());
         World w;
         w.candidates.clear();
         score(s, w, w.request());
       }},
      {"scorer.unknown_feedback_document",
       "feedback naming a document the services do not know is not an error and is not emitted",
       [](const Factory& make) {
         Scorer s(make());
         World w;
         w.add_feedback("no-such-document");
         w.add_feedback(w.candidate_ids[3]);
         auto out = score(s, w, w.request());
         check(!out.count("no-such-document"), "the unknown document was emitted");
       }},
      {"scorer.deterministic",
       "the same request gives the same results, distances and flags, in any instance",
       [](const Factory& make) {
         Scorer a(make()), b(make());
         World w;
         w.add_feedback(w.candidate_ids[5]);
         auto x = score(a, w, w.request());
         check(x == score(a, w, w.request()), "two calls with one request differ");
         check(x == score(b, w, w.request()), "two instances answer one request differently");
       }},
      {"scorer.concurrent_calls", "calls from several threads at once give the serial results",
       [](const Factory& make) {
         Scorer s(make());
         World w;
         w.add_feedback(w.candidate_ids[2]);
         const auto serial = score(s, w, w.request());
         concurrently(4, [&](int) {
           for (int round = 0; round < 20; ++round)
             check(score(s, w, w.request()) == serial, "a concurrent call answered differently");
         });
       }},
  };
}

}  // namespace lakehost::conformance
