// scorer-cosine: the baseline retrieval scorer, and the smallest complete lakehost plugin.
//
// Ranking by cosine distance (1 - cosine similarity, ascending) needs no work here: the vector
// backend already returns cosine distances, so the scorer passes its candidates through
// unchanged, with no flags, and asks for no over-fetching. Smarter scorers (feedback boosts,
// hybrid keyword scoring) start from this skeleton.
//
// plugin.hpp is the only include a plugin like this needs: it brings the C ABI and the std types
// its interface uses (std::string, std::string_view, std::span, std::vector).
#include <lakehost/plugin.hpp>

namespace {

// No options: an empty object, and nothing else, is a valid config.
constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false
})";

class CosineScorer final : public lakehost::RetrievalScorer {
 public:
  // Every plugin class has this constructor; there is nothing to configure.
  CosineScorer(const lakehost::Host&, std::string_view) {}

  // The backend's order is the final order, so its first k candidates are the answer: no need to
  // fetch more than k.
  uint32_t overfetch() const override { return 1; }

  std::vector<Result> score(const ScoreRequest& request) override {
    std::vector<Result> results;
    results.reserve(request.candidates.size());
    for (const Candidate& c : request.candidates) {
      // Same id, same distance, no LH_RESULT_* flags. Result owns a copy of the id; the
      // adapter in plugin.hpp hands it to the host's sink.
      results.push_back({std::string(c.id), c.distance, 0});
    }
    return results;
  }
};

}  // namespace

// Stateless, so any number of threads may score at once.
LAKEHOST_PLUGIN(CosineScorer, "scorer-cosine", "1.0.0",
                "Baseline scorer: ranks candidates by the vector backend's cosine distance",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
