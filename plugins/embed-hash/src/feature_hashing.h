// The feature-hashing core of embed-hash: text -> unit vector by signed hashing of lowercased
// words and character 3-grams, exactly as plugins/embed-hash/README.md specifies it.
//
// Header-only and SDK-free, so another plugin can reproduce embed-hash's vectors bit for bit
// (embed-wordvec fuses them with word vectors) without a second implementation that could drift.
// Compile every user with -ffp-contract=off: a fused multiply-add would round differently.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace feature_hashing {

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

// ---- the embedder ----------------------------------------------------------------------------

struct Config {
  uint32_t dimension = 384;
  double ngram_weight = 0.5;
  uint64_t seed = 0;
};

// Per-call scratch space. Keeping it outside the hasher is what lets one hasher be used from
// many threads at once without a lock.
struct Scratch {
  std::vector<double> sums;
  std::string token;
  std::vector<size_t> starts;
};

class FeatureHasher {
 public:
  explicit FeatureHasher(const Config& config)
      : config_(config), basis_(kFnvOffsetBasis ^ fmix64(config.seed)) {}

  const Config& config() const { return config_; }
  uint32_t dimension() const { return config_.dimension; }

  // Writes the unit vector of `text` (dimension() floats) to `out`.
  void embed(std::string_view text, Scratch& s, float* out) const {
    s.sums.assign(config_.dimension, 0.0);
    for (size_t i = 0; i < text.size();) {
      if (!is_word_byte(text[i])) {
        ++i;
        continue;
      }
      s.token.assign(1, '<');  // the word, lowercased and padded as "<word>"
      while (i < text.size() && is_word_byte(text[i])) s.token += ascii_lower(text[i++]);
      s.token += '>';
      add_word(s.token, s);
    }
    normalise(s.sums, out);
  }

 private:
  void add_word(std::string_view padded, Scratch& s) const {
    add_feature(kWordTag, padded.substr(1, padded.size() - 2), 1.0, s.sums);
    if (config_.ngram_weight == 0) return;
    // 3-grams of characters, not bytes ("é" is one character). The padding gives the word's
    // edges 3-grams of their own ("<op", "or>"), so shared prefixes and suffixes count.
    s.starts.clear();
    for (size_t j = 0; j < padded.size(); ++j) {
      if (starts_character(padded[j])) s.starts.push_back(j);
    }
    s.starts.push_back(padded.size());
    for (size_t c = 0; c + 3 < s.starts.size(); ++c) {
      add_feature(kNgramTag, padded.substr(s.starts[c], s.starts[c + 3] - s.starts[c]),
                  config_.ngram_weight, s.sums);
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

  Config config_;
  uint64_t basis_;  // FNV offset basis mixed with the seed
};

}  // namespace feature_hashing
