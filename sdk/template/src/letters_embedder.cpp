// embed-letters: the plugin template. A toy embed provider (letter and digit frequencies) that
// shows everything a plugin needs: a class per kind, a config schema, reading the config, using
// the host's logger, reporting errors by throwing, and the one export macro.
// Replace the embedding with your own; keep the shape.
#include <lakehost/config.hpp>  // typed config reads (needs RapidJSON)
#include <lakehost/plugin.hpp>

#include <cctype>
#include <cmath>
#include <string>

namespace {

// JSON Schema of this plugin's `config`. The host validates the manifest's config against it
// and fills in every "default" before the constructor runs: defaults live here and only here.
constexpr const char* kConfigSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "case_sensitive": {"type": "boolean", "default": false}
  }
})";

class LettersEmbedder final : public lakehost::EmbedProvider {
 public:
  static constexpr uint32_t kDimension = 26 + 10;

  LettersEmbedder(lakehost::Host host, std::string_view config_json)
      : host_(host), case_sensitive_(lakehost::Config(config_json).boolean("case_sensitive")) {
    host_.info(std::string("letters embedder ready, case_sensitive=") +
               (case_sensitive_ ? "true" : "false"));
  }

  uint32_t dimension() const override { return kDimension; }

  void embed(std::span<const std::string_view> texts, float* out) override {
    for (size_t i = 0; i < texts.size(); ++i) {
      float* v = out + i * kDimension;
      std::fill(v, v + kDimension, 0.0f);
      for (unsigned char c : texts[i]) {
        if (!case_sensitive_) c = static_cast<unsigned char>(std::tolower(c));
        if (c >= 'a' && c <= 'z') v[c - 'a'] += 1;
        if (c >= '0' && c <= '9') v[26 + c - '0'] += 1;
      }
      double norm = 0;
      for (uint32_t j = 0; j < kDimension; ++j) norm += double(v[j]) * v[j];
      if (norm == 0) {
        v[0] = 1;  // the host requires unit vectors, even for texts without letters
        continue;
      }
      for (uint32_t j = 0; j < kDimension; ++j) v[j] = static_cast<float>(v[j] / std::sqrt(norm));
    }
  }

 private:
  lakehost::Host host_;
  const bool case_sensitive_;
};

}  // namespace

LAKEHOST_PLUGIN(LettersEmbedder, "embed-letters", "0.1.0",
                "Template plugin: letter and digit frequencies as a 36-d vector", kConfigSchema,
                LH_FLAG_THREAD_SAFE)
