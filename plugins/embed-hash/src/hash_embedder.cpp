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
// may call embed() from many threads at once.
#include <rapidjson/document.h>
#include <lakehost/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// ---- the hash: FNV-1a 64 for speed and simplicity, fmix64 to spread its weak low bits --------

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

constexpr uint64_t fnv1a64(std::string_view bytes, uint64_t state = kFnvOffsetBasis) {
  for (char c : bytes) {
    state ^= static_cast<unsigned char>(c);
    state *= kFnvPrime;
  }
  return state;
}

// MurmurHash3's 64-bit finaliser. FNV-1a's low bits depend weakly on the input (bit 0 is just
// the parity of the bytes' bit 0), and the bucket is taken from the low bits.
constexpr uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// Published FNV-1a test vectors: if these fail, so would every stored vector.
static_assert(fnv1a64("") == 0xcbf29ce484222325ull);
static_assert(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
static_assert(fnv1a64("foobar") == 0x85944171f73967e8ull);
static_assert(fmix64(0) == 0);  // so seed 0 leaves the FNV offset basis unchanged

// Features of different kinds are hashed with a distinct leading byte, so the word "the" and the
// 3-gram "the" (from "<there>") are different features.
constexpr char kWordTag = 'w';
constexpr char kNgramTag = 'g';

// ---- tokenisation: byte-based and locale-independent (std::isalnum depends on the locale) ----

// ASCII letters and digits, and every byte of a multi-byte UTF-8 sequence, belong to words;
// everything else (ASCII spaces, punctuation, control characters) separates them.
constexpr bool is_word_byte(unsigned char c) {
  return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Only ASCII is lowercased: Unicode case folding needs tables, and bytes must stay stable.
constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// A UTF-8 continuation byte (10xxxxxx) never starts a character. Invalid UTF-8 is not rejected:
// a stray continuation byte simply belongs to the character before it.
constexpr bool starts_character(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

// ---- config ----------------------------------------------------------------------------------

struct Config {
  uint32_t dimension = 384;
  double ngram_weight = 0.5;
  uint64_t seed = 0;
};

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
      : config_(parse_config(config_json)), basis_(kFnvOffsetBasis ^ fmix64(config_.seed)) {
    char line[128];
    std::snprintf(line, sizeof line, "dimension=%u ngram_weight=%g seed=%llu",
                  static_cast<unsigned>(config_.dimension), config_.ngram_weight,
                  static_cast<unsigned long long>(config_.seed));
    host.info(line);
  }

  uint32_t dimension() const override { return config_.dimension; }

  void embed(std::span<const std::string_view> texts, float* out) override {
    // Scratch space is per call, never per instance: that is what makes the instance
    // thread-safe without a lock.
    std::vector<double> sums(config_.dimension);
    std::string token;
    std::vector<size_t> starts;
    for (size_t i = 0; i < texts.size(); ++i) {
      embed_one(texts[i], sums, token, starts, out + i * config_.dimension);
    }
  }

 private:
  void embed_one(std::string_view text, std::vector<double>& sums, std::string& token,
                 std::vector<size_t>& starts, float* out) const {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (size_t i = 0; i < text.size();) {
      if (!is_word_byte(text[i])) {
        ++i;
        continue;
      }
      token.assign(1, '<');  // the word, lowercased and padded as "<word>"
      while (i < text.size() && is_word_byte(text[i])) token += ascii_lower(text[i++]);
      token += '>';
      add_word(token, sums, starts);
    }
    normalise(sums, out);
  }

  void add_word(std::string_view padded, std::vector<double>& sums,
                std::vector<size_t>& starts) const {
    add_feature(kWordTag, padded.substr(1, padded.size() - 2), 1.0, sums);
    if (config_.ngram_weight == 0) return;
    // 3-grams of characters, not bytes ("é" is one character). The padding gives the word's
    // edges 3-grams of their own ("<op", "or>"), so shared prefixes and suffixes count.
    starts.clear();
    for (size_t j = 0; j < padded.size(); ++j) {
      if (starts_character(padded[j])) starts.push_back(j);
    }
    starts.push_back(padded.size());
    for (size_t c = 0; c + 3 < starts.size(); ++c) {
      add_feature(kNgramTag, padded.substr(starts[c], starts[c + 3] - starts[c]),
                  config_.ngram_weight, sums);
    }
  }

  // Adds ±weight to the feature's bucket. Bucket and sign come from different bits of the hash,
  // so they are independent; the random sign makes collisions cancel out on average instead of
  // piling up, which keeps inner products unbiased.
  void add_feature(char tag, std::string_view bytes, double weight,
                   std::vector<double>& sums) const {
    const uint64_t h = fmix64(fnv1a64(bytes, fnv1a64({&tag, 1}, basis_)));
    const uint32_t bucket = static_cast<uint32_t>(h) % config_.dimension;  // low 32 bits
    sums[bucket] += (h >> 63) ? -weight : weight;                          // top bit
  }

  // Writes sums / |sums| as floats. A text without features (empty, or only punctuation), or
  // whose features all cancelled, has no direction: it gets the first basis vector e0, so every
  // output is still a unit vector, as the ABI requires.
  void normalise(const std::vector<double>& sums, float* out) const {
    double sum_sq = 0;
    for (double x : sums) sum_sq += x * x;
    if (sum_sq == 0) {
      std::fill(out, out + config_.dimension, 0.0f);
      out[0] = 1.0f;
      return;
    }
    const double norm = std::sqrt(sum_sq);
    for (size_t j = 0; j < sums.size(); ++j) out[j] = static_cast<float>(sums[j] / norm);
  }

  const Config config_;
  const uint64_t basis_;  // FNV offset basis mixed with the seed
};

}  // namespace

LAKEHOST_PLUGIN(HashEmbedder, "embed-hash", "1.0.0",
                "Feature-hashing embedder: lowercased words + character 3-grams, no model files",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
