// scorer-hybrid: ranks by reciprocal-rank fusion (RRF) of two rankings of one search:
//   - the vector ranking: the candidates the host passes, ascending cosine distance;
//   - a BM25 ranking of ALL documents of the collection for the query's terms, from an
//     inverted index this plugin builds from the host's documents_scan service (ABI 1.1).
// fused(d) = vector_weight / (rrf_k + vector_rank(d)) + text_weight / (rrf_k + bm25_rank(d)),
// a term counting only when d is in that ranking (ranks start at 1). The emitted distance is
// 1 - fused / fused_max, fused_max being a document ranked first by both: monotone, in [0, 1].
// Documents that only BM25 found are emitted with LH_RESULT_INJECTED.
//
// Why RRF: cosine distances and BM25 scores live on unrelated scales (BM25 grows with the
// number of query terms and with collection statistics); ranks need no calibration.
//
// The index is cached per collection with the collection's content revision and rebuilt when a
// request carries another revision. Built indexes are immutable and shared (shared_ptr), so
// searches of a cached revision never wait; a rebuild holds only that collection's build mutex,
// and only requests that need the same collection's new index wait for it.
#include <rapidjson/document.h>
#include <lakehost/plugin.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bm25_index.h"
#include "tokenizer.h"

namespace {

constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "k1": {"type": "number", "minimum": 0, "maximum": 10, "default": 1.2},
    "b": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.75},
    "rrf_k": {"type": "number", "minimum": 0, "maximum": 100000, "default": 60},
    "vector_weight": {"type": "number", "minimum": 0, "maximum": 100, "default": 1},
    "text_weight": {"type": "number", "minimum": 0, "maximum": 100, "default": 1},
    "bm25_depth": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 100},
    "overfetch": {"type": "integer", "minimum": 1, "maximum": 100, "default": 4},
    "stopwords": {"type": "boolean", "default": true}
  }
})";

using scorer_hybrid::Bm25Index;
using IndexPtr = std::shared_ptr<const Bm25Index>;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

[[noreturn]] void bad_config(const std::string& message) {
  throw lakehost::Error(LH_ERR_INVALID_ARGUMENT, "scorer-hybrid config: " + message);
}

class HybridScorer final : public lakehost::RetrievalScorer {
 public:
  HybridScorer(const lakehost::Host& host, std::string_view config_json) : host_(host) {
    rapidjson::Document d;
    d.Parse(config_json.data(), config_json.size());
    if (d.HasParseError() || !d.IsObject()) bad_config("not a JSON object");
    auto number = [&](const char* name, double& out) {
      if (d.HasMember(name)) out = d[name].GetDouble();
    };
    number("k1", params_.k1);
    number("b", params_.b);
    number("rrf_k", rrf_k_);
    number("vector_weight", vector_weight_);
    number("text_weight", text_weight_);
    if (d.HasMember("bm25_depth")) bm25_depth_ = d["bm25_depth"].GetUint();
    if (d.HasMember("overfetch")) overfetch_ = d["overfetch"].GetUint();
    if (d.HasMember("stopwords")) stopwords_ = d["stopwords"].GetBool();
    // The schema cannot say "not both zero"; with both zero every document would tie.
    if (vector_weight_ + text_weight_ <= 0)
      bad_config("/vector_weight and /text_weight are both 0: nothing would rank");
    host_.info("k1=" + num(params_.k1) + " b=" + num(params_.b) + " rrf_k=" + num(rrf_k_) +
               " vector_weight=" + num(vector_weight_) + " text_weight=" + num(text_weight_) +
               " bm25_depth=" + std::to_string(bm25_depth_) + " overfetch=" +
               std::to_string(overfetch_) + " stopwords=" + (stopwords_ ? "true" : "false"));
  }

  // Fetch more than k so a document the text ranking favours, just outside the vector top k,
  // can still move in with its vector rank counted.
  uint32_t overfetch() const override { return overfetch_; }

  std::vector<Result> score(const ScoreRequest& req) override {
    const auto terms = scorer_hybrid::tokenize(req.query, stopwords_);
    if (terms.empty()) return pass_through(req);  // search by vector (or only stopwords)

    // ABI 1.1 added revision and documents_scan; an older host gets the candidates-only index.
    const auto revision = req.services.revision();
    IndexPtr index = revision && req.services.has_scan()
                         ? collection_index(req.collection, req.services, *revision)
                         : candidates_index(req);
    const auto hits = index->search(terms, params_, bm25_depth_);

    // Ranks start at 1. A document is in the vector ranking at most once (the host's
    // candidates are distinct ids).
    struct Fused {
      double score = 0;
      bool candidate = false;
    };
    std::unordered_map<std::string_view, Fused> fused;
    fused.reserve(req.candidates.size() + hits.size());
    for (size_t i = 0; i < req.candidates.size(); ++i) {
      Fused& f = fused[req.candidates[i].id];
      f.score += vector_weight_ / (rrf_k_ + static_cast<double>(i + 1));
      f.candidate = true;
    }
    for (size_t r = 0; r < hits.size(); ++r)
      fused[index->id(hits[r].doc)].score += text_weight_ / (rrf_k_ + static_cast<double>(r + 1));

    const double best = (vector_weight_ + text_weight_) / (rrf_k_ + 1.0);
    auto distance = [&](const Fused& f) { return static_cast<float>(1.0 - f.score / best); };

    // Every candidate is emitted. An injected document is emitted only if it can reach the
    // host's top k: not when k candidates are already strictly closer, since candidates always
    // survive the host's checks (they exist and passed the filter). Lossless, and it spares the
    // host from sorting up to bm25_depth documents it would cut anyway.
    std::vector<Result> out;
    out.reserve(req.candidates.size() + std::min<size_t>(hits.size(), req.k));
    std::vector<float> candidate_distances;
    candidate_distances.reserve(req.candidates.size());
    for (const Candidate& c : req.candidates) {
      const std::string_view id = c.id;
      const float d = distance(fused[id]);
      candidate_distances.push_back(d);
      out.push_back({std::string(id), d, 0});
    }
    float cutoff = std::numeric_limits<float>::infinity();
    if (req.k > 0 && candidate_distances.size() >= req.k) {
      auto kth = candidate_distances.begin() + (req.k - 1);
      std::nth_element(candidate_distances.begin(), kth, candidate_distances.end());
      cutoff = *kth;
    }
    for (const auto& h : hits) {
      const std::string& id = index->id(h.doc);
      const Fused& f = fused[id];
      if (f.candidate) continue;
      const float d = distance(f);
      if (d <= cutoff) out.push_back({id, d, LH_RESULT_INJECTED});  // ties may win on the id
    }
    return out;
  }

 private:
  // Same ids, same cosine distances, no flags: exactly scorer-cosine.
  static std::vector<Result> pass_through(const ScoreRequest& req) {
    std::vector<Result> out;
    out.reserve(req.candidates.size());
    for (const Candidate& c : req.candidates) out.push_back({std::string(c.id), c.distance, 0});
    return out;
  }

  // One cache slot per collection name. `index` is read and replaced under mu_; `build`
  // serialises rebuilds of this collection. Searches whose revision is cached never wait.
  struct Slot {
    std::mutex build;
    IndexPtr index;
  };

  IndexPtr cached(Slot& slot, uint64_t revision) {
    std::lock_guard lock(mu_);
    return slot.index && slot.index->revision() == revision ? slot.index : nullptr;
  }

  IndexPtr collection_index(std::string_view collection, const Services& services,
                            uint64_t revision) {
    std::shared_ptr<Slot> slot;
    {
      std::lock_guard lock(mu_);
      auto& s = slots_[std::string(collection)];
      if (!s) s = std::make_shared<Slot>();
      slot = s;
      if (slot->index && slot->index->revision() == revision) return slot->index;
    }
    std::lock_guard build(slot->build);
    // Another request may have built this revision while we waited.
    if (auto idx = cached(*slot, revision)) return idx;

    const auto started = std::chrono::steady_clock::now();
    // Copy out in the callback, tokenise after: the host holds the collection's read lock (and so
    // blocks its writers) for as long as the scan runs.
    std::vector<Bm25Index::Document> docs;
    try {
      services.scan([&](std::string_view id, std::string_view text) {
        docs.push_back({std::string(id), std::string(text)});
      });
    } catch (const lakehost::Error& e) {
      throw lakehost::Error(e.status(), "documents_scan of collection \"" +
                                            std::string(collection) + "\" failed (status " +
                                            std::to_string(e.status()) + ")");
    }
    auto idx = std::make_shared<const Bm25Index>(std::move(docs), stopwords_, revision);
    const auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    host_.log(LH_LOG_DEBUG, "BM25 index of \"" + std::string(collection) +
                                "\" rebuilt: " + std::to_string(idx->size()) + " documents, " +
                                std::to_string(idx->term_count()) + " terms, revision " +
                                std::to_string(revision) + ", " + num(ms) + " ms");
    std::lock_guard lock(mu_);
    slot->index = idx;
    return idx;
  }

  // An ABI 1.0 host cannot list the collection: rank the candidates' own texts instead (IDF
  // over the candidates, nothing injected). Built per request, never cached.
  IndexPtr candidates_index(const ScoreRequest& req) {
    if (!warned_old_host_.exchange(true))
      host_.warn(
          "the host is older than ABI 1.1 (no documents_scan): BM25 ranks only the "
          "vector candidates' texts and injects nothing");
    std::vector<Bm25Index::Document> docs;
    docs.reserve(req.candidates.size());
    for (const Candidate& c : req.candidates) {
      Bm25Index::Document d{std::string(c.id), {}};
      // A document deleted since the vector search simply has no text.
      if (auto text = req.services.document_text(c.id)) d.text = std::move(*text);
      docs.push_back(std::move(d));
    }
    return std::make_shared<const Bm25Index>(std::move(docs), stopwords_, 0);
  }

  lakehost::Host host_;
  scorer_hybrid::Bm25Params params_;
  double rrf_k_ = 60;
  double vector_weight_ = 1;
  double text_weight_ = 1;
  uint32_t bm25_depth_ = 100;
  uint32_t overfetch_ = 4;
  bool stopwords_ = true;

  std::mutex mu_;  // guards slots_ and every Slot::index
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots_;
  std::atomic<bool> warned_old_host_{false};
};

}  // namespace

// Config is immutable after construction; the per-collection cache is locked (see Slot).
LAKEHOST_PLUGIN(HybridScorer, "scorer-hybrid", "1.0.0",
                "Reciprocal-rank fusion of the vector ranking and BM25 over all documents",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
