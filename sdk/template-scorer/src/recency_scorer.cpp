// scorer-recency: the scorer template. Re-ranks the vector candidates by one numeric field of
// each document's metadata (years of experience, a date as a number, a rating): the larger the
// field, the more its distance is lowered. It shows what a retrieval scorer needs: the request
// view (candidates, query, services), the host's per-request services (here the ABI 1.3
// document metadata), typed config reading, and the result flags.
// Replace the ranking with your own; keep the shape.
#include <rapidjson/document.h>
#include <lakehost/config.hpp>  // typed config reads (needs RapidJSON)
#include <lakehost/plugin.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace {

// JSON Schema of this plugin's `config`. The host validates the manifest's config against it
// and fills in every "default" before the constructor runs: defaults live here and only here.
constexpr const char* kConfigSchema = R"json({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "field": {"type": "string", "minLength": 1, "default": "years",
              "description": "numeric metadata member to rank by"},
    "scale": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "default": 10,
              "description": "field value that earns the full boost (larger values count as it)"},
    "weight": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.2,
               "description": "largest fraction of a distance the boost removes"},
    "overfetch": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3,
                  "description": "candidates fetched per requested result"}
  }
})json";

class RecencyScorer final : public lakehost::RetrievalScorer {
 public:
  RecencyScorer(lakehost::Host host, std::string_view config_json)
      : RecencyScorer(host, lakehost::Config(config_json)) {}
  RecencyScorer(lakehost::Host host, const lakehost::Config& c)
      : field_(c.string("field")),
        scale_(c.number("scale")),
        weight_(c.number("weight")),
        overfetch_(static_cast<uint32_t>(c.integer("overfetch", 1, 100))) {
    host.info("ranking by metadata \"" + field_ + "\"");
  }

  // More candidates than k, so a document just outside the vector top k can move into it.
  uint32_t overfetch() const override { return overfetch_; }

  std::vector<Result> score(const ScoreRequest& request) override {
    // A host older than ABI 1.3 has no metadata service: rank by the vector alone.
    const bool metadata = request.services.has_document_metadata();
    std::vector<Result> out;
    out.reserve(request.candidates.size());
    for (const Candidate& c : request.candidates) {
      Result r{std::string(c.id), c.distance, 0};
      if (metadata) {
        if (auto value = field_value(request.services.document_metadata(c.id))) {
          const double share = std::clamp(*value / scale_, 0.0, 1.0);
          if (share > 0) {
            r.distance = static_cast<float>(c.distance * (1.0 - weight_ * share));
            r.flags = LH_RESULT_BOOSTED;
          }
        }
      }
      out.push_back(std::move(r));
    }
    return out;  // the host sorts by distance and keeps the first k
  }

 private:
  // The field as a number, if the document has metadata with a numeric `field_`.
  std::optional<double> field_value(const std::optional<std::string>& json) const {
    if (!json) return std::nullopt;  // the document went away meanwhile
    rapidjson::Document d;
    d.Parse(json->data(), json->size());
    if (d.HasParseError() || !d.IsObject()) return std::nullopt;
    const auto m = d.FindMember(field_.c_str());
    if (m == d.MemberEnd() || !m->value.IsNumber()) return std::nullopt;
    return m->value.GetDouble();
  }

  const std::string field_;
  const double scale_;
  const double weight_;
  const uint32_t overfetch_;
};

}  // namespace

LAKEHOST_PLUGIN(RecencyScorer, "scorer-recency", "0.1.0",
                "Template scorer: boosts candidates by a numeric metadata field", kConfigSchema,
                LH_FLAG_THREAD_SAFE)
