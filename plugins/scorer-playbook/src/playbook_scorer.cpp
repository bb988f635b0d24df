// scorer-playbook: re-scores vector candidates with recorded feedback ("playbooks").
//
// The host passes, with each search, the playbook records of the collection that were recorded
// under the search's role (the role gate), each with its query embedded by the collection's
// embedder. A record APPLIES to this search when its query is similar enough to this one:
// cosine(record query, search query) >= similarity_threshold. Then, for every document id with
// applying records:
//   - if the id is among the vector candidates, its distance becomes
//       distance * (1 - boost_factor * score)          (flag LH_RESULT_BOOSTED)
//   - otherwise it is injected: its distance is computed from its stored vector and boosted by
//     the same formula                                  (flag LH_RESULT_INJECTED)
// Several applying records for one id: the HIGHEST score counts (boosts never compound, so a
// distance never drops below (1 - boost_factor) x its cold value however often it is recorded).
// The host re-sorts ascending and keeps k.
#include <lakehost/config.hpp>
#include <lakehost/plugin.hpp>
#include <lakehost/vector_kernels.hpp>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace {

constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "boost_factor": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
    "similarity_threshold": {"type": "number", "minimum": -1, "maximum": 1, "default": 0.8},
    "max_injected": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 3},
    "overfetch": {"type": "integer", "minimum": 1, "maximum": 100, "default": 4}
  }
})";

// The SDK's canonical inner product: the same bits on every CPU, and for an injected document
// exactly the distance the host would have given it as a candidate.
using lakehost::kernels::dot;

class PlaybookScorer final : public lakehost::RetrievalScorer {
 public:
  PlaybookScorer(const lakehost::Host& host, std::string_view config_json)
      : PlaybookScorer(host, lakehost::Config(config_json)) {}
  // Every member has a default in kConfigSchema, which the host fills in.
  PlaybookScorer(const lakehost::Host& host, const lakehost::Config& c)
      : boost_factor_(static_cast<float>(c.number("boost_factor"))),
        threshold_(static_cast<float>(c.number("similarity_threshold"))),
        max_injected_(static_cast<uint32_t>(c.integer("max_injected", 0, 1000))),
        overfetch_(static_cast<uint32_t>(c.integer("overfetch", 1, 100))) {
    host.info("boost_factor=" + std::to_string(boost_factor_) + " similarity_threshold=" +
              std::to_string(threshold_) + " max_injected=" + std::to_string(max_injected_) +
              " overfetch=" + std::to_string(overfetch_));
  }

  // Fetch more than k so a boosted document just outside the top k can move into it.
  uint32_t overfetch() const override { return overfetch_; }

  std::vector<Result> score(const ScoreRequest& req) override {
    const uint32_t dimension = static_cast<uint32_t>(req.query_vector.size());
    // 1. The best score per document id among the records that apply to this query.
    std::unordered_map<std::string, float> best;
    for (const Feedback& f : req.feedback) {
      if (f.role != req.role || f.query_vector.empty()) continue;  // role gate, again
      if (dot(f.query_vector.data(), req.query_vector.data(), dimension) < threshold_) continue;
      auto [it, fresh] = best.emplace(std::string(f.id), f.score);
      if (!fresh) it->second = std::max(it->second, f.score);
    }

    // 2. Candidates, boosted where a record applies.
    std::vector<Result> out;
    out.reserve(req.candidates.size() + best.size());
    std::unordered_set<std::string_view> seen;
    for (const Candidate& c : req.candidates) {
      std::string id(c.id);
      seen.insert(c.id);
      auto it = best.find(id);
      if (it == best.end()) {
        out.push_back({std::move(id), c.distance, 0});
      } else {
        out.push_back({std::move(id), boost(c.distance, it->second), LH_RESULT_BOOSTED});
      }
    }

    // 3. Injection: recorded ids the vector search did not return, highest score first.
    std::vector<std::pair<std::string, float>> absent;
    for (const auto& [id, s] : best)
      if (!seen.count(id)) absent.emplace_back(id, s);
    std::sort(absent.begin(), absent.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    size_t injected = 0;
    for (const auto& [id, s] : absent) {
      if (injected == max_injected_) break;
      const auto vec = req.services.document_vector(id);
      if (!vec) continue;  // the document was deleted since it was recorded
      const float cold =
          lakehost::kernels::cosine_distance(vec->data(), req.query_vector.data(), dimension);
      out.push_back({id, boost(cold, s), LH_RESULT_INJECTED});
      ++injected;
    }
    return out;
  }

 private:
  float boost(float distance, float score) const {
    return distance * (1.0f - boost_factor_ * score);
  }

  const float boost_factor_;
  const float threshold_;
  const uint32_t max_injected_;
  const uint32_t overfetch_;
};

}  // namespace

// Immutable after construction: any number of threads may score at once.
LAKEHOST_PLUGIN(PlaybookScorer, "scorer-playbook", "1.0.0",
                "Boosts and injects documents from recorded playbooks of the search's role",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
