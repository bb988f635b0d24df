// embed-hash: a dependency-free embed provider based on signed feature hashing.
//
// Every text becomes a bag of features: its lowercased words and the character 3-grams of each
// word padded as "<word>". Each feature is hashed (64-bit FNV-1a, then the MurmurHash3 fmix64
// finaliser) to a bucket and a sign, its weight is added to that bucket, and the vector is
// L2-normalised. The scheme is specified exactly in README.md so that vectors are identical across
// builds and machines: the host caches embeddings and stores them next to documents, so a silent
// change here would make old and new vectors incomparable.
//
// The instance holds only its immutable config, so it declares LH_FLAG_THREAD_SAFE and the host
// may call embed() from many threads at once. The scheme itself lives in feature_hashing.h, which
// embed-wordvec shares so that its hashing half is exactly this plugin's vectors.
#include <rapidjson/document.h>
#include <lakehost/plugin.hpp>

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "feature_hashing.h"

namespace {

// The host validates the manifest's `config` against this schema before create() and shows it
// in /v1/plugins. Draft-04, as RapidJSON's validator implements it. "default" is documentation
// only: validators do not apply defaults, the constructor below does.
constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "properties": {
    "dimension": {
      "description": "Length of every vector.",
      "type": "integer", "minimum": 8, "maximum": 4096, "default": 384
    },
    "ngram_weight": {
      "description": "Weight of each character 3-gram feature (a word weighs 1.0); 0 disables them.",
      "type": "number", "minimum": 0, "maximum": 4, "default": 0.5
    },
    "seed": {
      "description": "Hash seed; instances with different seeds produce unrelated vectors.",
      "type": "integer", "minimum": 0, "default": 0
    }
  },
  "additionalProperties": false
})";

// ---- config ----------------------------------------------------------------------------------

using feature_hashing::Config;

[[noreturn]] void bad_config(const std::string& message) {
  throw lakehost::Error(LH_ERR_INVALID_ARGUMENT, "embed-hash config: " + message);
}

// The host has already validated the config against kConfigSchema; the plugin applies the
// defaults. The checks are cheap insurance for callers that skip validation.
Config parse_config(std::string_view json) {
  Config c;
  rapidjson::Document d;
  if (json.empty()) json = "{}";
  if (d.Parse(json.data(), json.size()).HasParseError() || !d.IsObject())
    bad_config("not a JSON object");
  // Iterate a const view: RapidJSON 1.1's mutable member iterator makes C++20's rewritten
  // operator!= ambiguous (clang -Wambiguous-reversed-operator).
  const rapidjson::Value& object = d;
  for (const auto& m : object.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const auto& v = m.value;
    if (key == "dimension") {
      if (!v.IsUint() || v.GetUint() < 8 || v.GetUint() > 4096)
        bad_config("\"dimension\" must be an integer in [8, 4096]");
      c.dimension = v.GetUint();
    } else if (key == "ngram_weight") {
      if (!v.IsNumber() || !(v.GetDouble() >= 0 && v.GetDouble() <= 4))
        bad_config("\"ngram_weight\" must be a number in [0, 4]");
      c.ngram_weight = v.GetDouble();
    } else if (key == "seed") {
      if (!v.IsUint64()) bad_config("\"seed\" must be a non-negative integer");
      c.seed = v.GetUint64();
    } else {
      bad_config("unknown option \"" + std::string(key) + "\"");
    }
  }
  return c;
}

// ---- the embedder ----------------------------------------------------------------------------

class HashEmbedder final : public lakehost::EmbedProvider {
 public:
  HashEmbedder(const lakehost::Host& host, std::string_view config_json)
      : hasher_(parse_config(config_json)) {
    const Config& c = hasher_.config();
    char line[128];
    std::snprintf(line, sizeof line, "dimension=%u ngram_weight=%g seed=%llu",
                  static_cast<unsigned>(c.dimension), c.ngram_weight,
                  static_cast<unsigned long long>(c.seed));
    host.info(line);
  }

  uint32_t dimension() const override { return hasher_.dimension(); }

  void embed(std::span<const std::string_view> texts, float* out) override {
    // Scratch space is per call, never per instance: that is what makes the instance
    // thread-safe without a lock.
    feature_hashing::Scratch scratch;
    for (size_t i = 0; i < texts.size(); ++i) {
      hasher_.embed(texts[i], scratch, out + i * hasher_.dimension());
    }
  }

 private:
  const feature_hashing::FeatureHasher hasher_;  // immutable: config and seeded basis
};

}  // namespace

LAKEHOST_PLUGIN(HashEmbedder, "embed-hash", "1.0.0",
                "Feature-hashing embedder: lowercased words + character 3-grams, no model files",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
