// embed-wordvec: sentence vectors from pretrained word vectors (a memory-mapped .lhwv file),
// optionally fused with embed-hash's feature-hashing vectors.
//
// A text's word part is the weighted mean of the unit vectors of its known words, minus a fixed
// mean vector, L2-normalised. The weights decide almost everything (README.md, "Why these
// weights"): frequent words carry little meaning, so each word weighs idf^power, with idf taken
// from the word's frequency rank (Zipf) or from a corpus file read once at create(). Subtracting
// the mean removes the direction that every average shares, so cosines measure what is specific
// to a text. The fused vector concatenates sqrt(w) * word part and sqrt(1 - w) * hashing part,
// both unit vectors, so that cosine = w * cos_words + (1 - w) * cos_hashing.
//
// Everything is computed in create() and immutable afterwards; embed() uses per-call scratch
// space only, so the plugin declares LH_FLAG_THREAD_SAFE.
#include <rapidjson/document.h>
#include <lakehost/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "feature_hashing.h"  // embed-hash's scheme, shared so the hashing part is identical
#include "lhwv_format.h"

namespace {

constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["path"],
  "properties": {
    "path": {
      "description": "The .lhwv file (scripts/fetch-wordvec.sh makes it); relative to the host's data directory.",
      "type": "string", "minLength": 1
    },
    "weighting": {
      "description": "Word weights: idf from the frequency rank, idf over idf_corpus, the smaller of the two, or all equal. Default: min_idf with idf_corpus, else rank_idf.",
      "enum": ["rank_idf", "corpus_idf", "min_idf", "uniform"]
    },
    "idf_corpus": {
      "description": "JSON Lines file of {\"text\": ...} documents whose document frequencies give the idf (weightings corpus_idf and min_idf); relative to the data directory.",
      "type": "string", "minLength": 1
    },
    "idf_power": {
      "description": "Each word weighs idf^idf_power.",
      "type": "number", "minimum": 0, "maximum": 4, "default": 2
    },
    "fusion_weight": {
      "description": "Share w of the word vectors in the cosine; 1 - w goes to feature hashing. 1 = word vectors only, 0 = exactly embed-hash.",
      "type": "number", "minimum": 0, "maximum": 1, "default": 0.7
    },
    "fallbacks": {
      "description": "Look up a hyphenated compound whole before its parts, and an unknown plural as its singular.",
      "type": "boolean", "default": true
    },
    "hash": {
      "description": "The feature-hashing part: embed-hash's config, with its defaults.",
      "type": "object",
      "properties": {
        "dimension": {"type": "integer", "minimum": 8, "maximum": 4096, "default": 384},
        "ngram_weight": {"type": "number", "minimum": 0, "maximum": 4, "default": 0.5},
        "seed": {"type": "integer", "minimum": 0, "default": 0}
      },
      "additionalProperties": false
    }
  },
  "additionalProperties": false
})";

// Words of rank below this are averaged (weighted 1/(rank+1), Zipf's frequencies) into the
// mean vector that every word part is centred on. Fixed, so the mean is the same for the full
// file and for any subset that keeps these words (the test subset does).
constexpr uint32_t kMeanRanks = 2000;
// rank_idf: idf(rank) = ln((rank + 1) / 50), at least 0. Zipf makes a word's frequency about
// proportional to 1 / rank, so ln(rank) is its idf up to a constant; the constant puts the ~50
// most frequent words ("the", "of", "with", ...) at weight 0.
constexpr double kRankIdfOffset = 50.0;

enum class Weighting { rank_idf, corpus_idf, min_idf, uniform };

struct Config {
  std::string path;
  Weighting weighting = Weighting::rank_idf;
  std::string idf_corpus;
  double idf_power = 2.0;
  double fusion_weight = 0.7;
  bool fallbacks = true;
  feature_hashing::Config hash;
};

[[noreturn]] void bad_config(const std::string& message) {
  throw lakehost::Error(LH_ERR_INVALID_ARGUMENT, "embed-wordvec config: " + message);
}

feature_hashing::Config parse_hash_config(const rapidjson::Value& object) {
  if (!object.IsObject()) bad_config("\"hash\" must be an object");
  feature_hashing::Config c;
  for (const auto& m : object.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const auto& v = m.value;
    if (key == "dimension") {
      if (!v.IsUint() || v.GetUint() < 8 || v.GetUint() > 4096)
        bad_config("\"hash.dimension\" must be an integer in [8, 4096]");
      c.dimension = v.GetUint();
    } else if (key == "ngram_weight") {
      if (!v.IsNumber() || !(v.GetDouble() >= 0 && v.GetDouble() <= 4))
        bad_config("\"hash.ngram_weight\" must be a number in [0, 4]");
      c.ngram_weight = v.GetDouble();
    } else if (key == "seed") {
      if (!v.IsUint64()) bad_config("\"hash.seed\" must be a non-negative integer");
      c.seed = v.GetUint64();
    } else {
      bad_config("unknown option \"hash." + std::string(key) + "\"");
    }
  }
  return c;
}

// The host has validated the config against kConfigSchema; these checks repeat it for callers
// that skip validation, and add the rules a schema cannot say.
Config parse_config(std::string_view json) {
  Config c;
  rapidjson::Document d;
  if (json.empty()) json = "{}";
  if (d.Parse(json.data(), json.size()).HasParseError() || !d.IsObject())
    bad_config("not a JSON object");
  const rapidjson::Value& object = d;  // const: see embed-hash (C++20 operator!= ambiguity)
  bool weighting_given = false;
  for (const auto& m : object.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const auto& v = m.value;
    if (key == "path") {
      if (!v.IsString() || v.GetStringLength() == 0) bad_config("\"path\" must be a file name");
      c.path.assign(v.GetString(), v.GetStringLength());
    } else if (key == "weighting") {
      const std::string_view w = v.IsString() ? v.GetString() : "";
      if (w == "rank_idf")
        c.weighting = Weighting::rank_idf;
      else if (w == "corpus_idf")
        c.weighting = Weighting::corpus_idf;
      else if (w == "min_idf")
        c.weighting = Weighting::min_idf;
      else if (w == "uniform")
        c.weighting = Weighting::uniform;
      else
        bad_config(
            "\"weighting\" must be \"rank_idf\", \"corpus_idf\", \"min_idf\" or \"uniform\"");
      weighting_given = true;
    } else if (key == "idf_corpus") {
      if (!v.IsString() || v.GetStringLength() == 0)
        bad_config("\"idf_corpus\" must be a file name");
      c.idf_corpus.assign(v.GetString(), v.GetStringLength());
    } else if (key == "idf_power") {
      if (!v.IsNumber() || !(v.GetDouble() >= 0 && v.GetDouble() <= 4))
        bad_config("\"idf_power\" must be a number in [0, 4]");
      c.idf_power = v.GetDouble();
    } else if (key == "fusion_weight") {
      if (!v.IsNumber() || !(v.GetDouble() >= 0 && v.GetDouble() <= 1))
        bad_config("\"fusion_weight\" must be a number in [0, 1]");
      c.fusion_weight = v.GetDouble();
    } else if (key == "fallbacks") {
      if (!v.IsBool()) bad_config("\"fallbacks\" must be true or false");
      c.fallbacks = v.GetBool();
    } else if (key == "hash") {
      c.hash = parse_hash_config(v);
    } else {
      bad_config("unknown option \"" + std::string(key) + "\"");
    }
  }
  if (c.path.empty()) bad_config("\"path\" (the .lhwv word-vector file) is required");
  const bool needs_corpus =
      c.weighting == Weighting::corpus_idf || c.weighting == Weighting::min_idf;
  if (!weighting_given && !c.idf_corpus.empty()) {
    c.weighting = Weighting::min_idf;
  } else if (needs_corpus && c.idf_corpus.empty()) {
    bad_config("\"weighting\": \"" +
               std::string(c.weighting == Weighting::min_idf ? "min_idf" : "corpus_idf") +
               "\" needs \"idf_corpus\"");
  } else if (!needs_corpus && !c.idf_corpus.empty()) {
    bad_config("\"idf_corpus\" is used only with \"weighting\" corpus_idf or min_idf");
  }
  return c;
}

const char* weighting_name(Weighting w) {
  switch (w) {
    case Weighting::rank_idf:
      return "rank_idf";
    case Weighting::corpus_idf:
      return "corpus_idf";
    case Weighting::min_idf:
      return "min_idf";
    case Weighting::uniform:
      return "uniform";
  }
  return "?";
}

std::string resolve(const lakehost::Host& host, const std::string& path) {
  std::filesystem::path p(path);
  return p.is_absolute() ? path : (std::filesystem::path(host.data_dir()) / p).string();
}

// ---- tokenisation ----------------------------------------------------------------------------

// Word ids of a text, in text order. Words are runs of embed-hash's word bytes (ASCII letters and
// digits, any byte >= 0x80), ASCII-lowercased; words the vocabulary lacks are dropped. With
// fallbacks, "a-b" is looked up whole first (GloVe has "g-code", "full-time"), and an unknown
// word ending in s tries its singular ("tuggers" -> "tugger", "boxes" -> "box",
// "batteries" -> "battery").
class Tokenizer {
 public:
  Tokenizer(const lhwv::WordVectors& words, bool fallbacks)
      : words_(words), fallbacks_(fallbacks) {}

  void operator()(std::string_view text, std::vector<uint32_t>& ids, std::string& compound,
                  std::vector<std::string>& parts) const {
    ids.clear();
    size_t i = 0;
    while (i < text.size()) {
      if (!feature_hashing::is_word_byte(text[i])) {
        ++i;
        continue;
      }
      // One word, or a hyphenated compound "a-b-c" when fallbacks are on.
      parts.clear();
      compound.clear();
      for (;;) {
        std::string part;
        while (i < text.size() && feature_hashing::is_word_byte(text[i]))
          part += feature_hashing::ascii_lower(text[i++]);
        compound += part;
        parts.push_back(std::move(part));
        if (!(fallbacks_ && i + 1 < text.size() && text[i] == '-' &&
              feature_hashing::is_word_byte(text[i + 1])))
          break;
        compound += '-';
        ++i;
      }
      if (parts.size() > 1) {
        if (const uint32_t id = words_.find(compound); id != lhwv::WordVectors::kNotFound) {
          ids.push_back(id);
          continue;
        }
      }
      for (const auto& p : parts) {
        if (const uint32_t id = lookup(p); id != lhwv::WordVectors::kNotFound) ids.push_back(id);
      }
    }
  }

 private:
  uint32_t lookup(std::string_view w) const {
    uint32_t id = words_.find(w);
    if (id != lhwv::WordVectors::kNotFound || !fallbacks_ || w.size() <= 3 || w.back() != 's')
      return id;
    if (w.ends_with("ies") && w.size() > 4) {
      id = words_.find(std::string(w.substr(0, w.size() - 3)) + "y");
      if (id != lhwv::WordVectors::kNotFound) return id;
    }
    id = words_.find(w.substr(0, w.size() - 1));
    if (id != lhwv::WordVectors::kNotFound || !w.ends_with("es")) return id;
    return words_.find(w.substr(0, w.size() - 2));
  }

  const lhwv::WordVectors& words_;
  bool fallbacks_;
};

// ---- the embedder ----------------------------------------------------------------------------

class WordVecEmbedder final : public lakehost::EmbedProvider {
 public:
  WordVecEmbedder(const lakehost::Host& host, std::string_view config_json)
      : config_(parse_config(config_json)),
        words_(open(resolve(host, config_.path))),
        tokenize_(*words_, config_.fallbacks),
        hasher_(config_.hash),
        word_dim_(config_.fusion_weight > 0 ? words_->dimension() : 0),
        hash_dim_(config_.fusion_weight < 1 ? config_.hash.dimension : 0),
        word_scale_(std::sqrt(config_.fusion_weight)),
        hash_scale_(std::sqrt(1.0 - config_.fusion_weight)) {
    compute_mean();
    if (!config_.idf_corpus.empty()) read_idf_corpus(resolve(host, config_.idf_corpus));
    char line[512];
    std::snprintf(line, sizeof line,
                  "%s: %u words x %u; weighting=%s idf_power=%g fusion_weight=%g -> dimension %u",
                  words_->path().c_str(), words_->size(), words_->dimension(),
                  weighting_name(config_.weighting), config_.idf_power, config_.fusion_weight,
                  dimension());
    host.info(line);
  }

  uint32_t dimension() const override { return word_dim_ + hash_dim_; }

  void embed(std::span<const std::string_view> texts, float* out) override {
    Scratch s;
    s.sum.resize(words_->dimension());
    for (size_t i = 0; i < texts.size(); ++i) embed_one(texts[i], s, out + i * dimension());
  }

 private:
  struct Scratch {
    std::vector<uint32_t> ids;
    std::string compound;
    std::vector<std::string> parts;
    std::vector<double> sum;
    feature_hashing::Scratch hashing;
  };

  static std::unique_ptr<lhwv::WordVectors> open(const std::string& path) {
    try {
      return std::make_unique<lhwv::WordVectors>(path);
    } catch (const lhwv::FormatError& e) {
      throw lakehost::Error(
          LH_ERR_INVALID_ARGUMENT,
          std::string("embed-wordvec: ") + e.what() + " (scripts/fetch-wordvec.sh makes the file)");
    }
  }

  void compute_mean() {
    const uint32_t d = words_->dimension();
    mean_.assign(d, 0.0);
    double total = 0;
    for (uint32_t id = 0; id < words_->size(); ++id) {  // sorted order: deterministic sums
      const uint32_t rank = words_->rank(id);
      if (rank >= kMeanRanks) continue;
      const double w = 1.0 / (rank + 1.0);
      const float* u = words_->unit_vector(id);
      for (uint32_t j = 0; j < d; ++j) mean_[j] += w * u[j];
      total += w;
    }
    if (total > 0)
      for (double& x : mean_) x /= total;
  }

  // Document frequencies over a JSON Lines corpus ({"text": "..."} per line), with the same
  // tokenisation as embed(). Read once; the map is immutable afterwards.
  void read_idf_corpus(const std::string& path) {
    std::ifstream in(path);
    if (!in) bad_config("\"idf_corpus\": cannot open " + path);
    std::vector<uint32_t> ids;
    std::string compound;
    std::vector<std::string> parts;
    std::unordered_set<uint32_t> seen;
    uint64_t line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      rapidjson::Document d;
      if (d.Parse(line.data(), line.size()).HasParseError() || !d.IsObject() ||
          !d.HasMember("text") || !d["text"].IsString())
        bad_config("\"idf_corpus\": " + path + " line " + std::to_string(line_no) +
                   " is not a JSON object with a string \"text\"");
      tokenize_(std::string_view(d["text"].GetString(), d["text"].GetStringLength()), ids, compound,
                parts);
      seen.clear();
      for (uint32_t id : ids)
        if (seen.insert(id).second) ++df_[id];
      ++corpus_docs_;
    }
    if (corpus_docs_ == 0) bad_config("\"idf_corpus\": " + path + " has no documents");
  }

  double rank_idf(uint32_t id) const {
    return std::max(0.0, std::log((words_->rank(id) + 1.0) / kRankIdfOffset));
  }

  // Smoothed idf; a word the corpus never uses gets the highest value, ln(N + 1) + 1.
  double corpus_idf(uint32_t id) const {
    const auto it = df_.find(id);
    const double df = it == df_.end() ? 0.0 : it->second;
    return std::log((corpus_docs_ + 1.0) / (df + 1.0)) + 1.0;
  }

  double idf(uint32_t id) const {
    switch (config_.weighting) {
      case Weighting::rank_idf:
        return rank_idf(id);
      case Weighting::corpus_idf:
        return corpus_idf(id);
      case Weighting::min_idf:
        // Informative = rare in the language AND rare in the collection. corpus_idf alone
        // gives a word the collection never uses ("employee") the top weight; rank_idf alone
        // gives a frequent word of the collection ("shift", a city) a high one.
        return std::min(rank_idf(id), corpus_idf(id));
      case Weighting::uniform:
        break;
    }
    return 1.0;
  }

  double weight(uint32_t id) const {
    if (config_.weighting == Weighting::uniform) return 1.0;
    return std::pow(idf(id), config_.idf_power);
  }

  // The centred, normalised word part of `text` into out[0, d); false if the text has no word
  // part (no known word, all weights 0, or a mean that cancels it exactly).
  bool word_part(std::string_view text, Scratch& s, float* out) const {
    const uint32_t d = words_->dimension();
    tokenize_(text, s.ids, s.compound, s.parts);
    std::fill(s.sum.begin(), s.sum.end(), 0.0);
    double total = 0;
    for (uint32_t id : s.ids) {
      const double w = weight(id);
      if (w == 0) continue;
      const float* u = words_->unit_vector(id);
      for (uint32_t j = 0; j < d; ++j) s.sum[j] += w * u[j];
      total += w;
    }
    if (total == 0) return false;
    double sq = 0;
    for (uint32_t j = 0; j < d; ++j) {
      s.sum[j] = s.sum[j] / total - mean_[j];
      sq += s.sum[j] * s.sum[j];
    }
    if (sq == 0) return false;
    const double scale = word_scale_ / std::sqrt(sq);
    for (uint32_t j = 0; j < d; ++j) out[j] = static_cast<float>(s.sum[j] * scale);
    return true;
  }

  void embed_one(std::string_view text, Scratch& s, float* out) const {
    const bool has_words = word_dim_ > 0 && word_part(text, s, out);
    if (hash_dim_ == 0) {
      // Word vectors only. Without any known word there is no direction: like embed-hash's
      // empty text, the first basis vector (a unit vector, the same for every such text).
      if (!has_words) {
        std::fill(out, out + word_dim_, 0.0f);
        out[0] = 1.0f;
      }
      return;
    }
    float* hash_out = out + word_dim_;
    hasher_.embed(text, s.hashing, hash_out);  // unit length
    if (word_dim_ == 0) return;                // fusion_weight 0: exactly embed-hash's vector
    if (!has_words) {
      // No word part: the hashing part alone carries the text, at full length so the vector
      // stays a unit vector. Against a fused document the cosine is sqrt(1-w) * cos_hashing:
      // the ranking is hashing's.
      std::fill(out, out + word_dim_, 0.0f);
      return;
    }
    const float scale = static_cast<float>(hash_scale_);
    for (uint32_t j = 0; j < hash_dim_; ++j) hash_out[j] *= scale;
  }

  const Config config_;
  const std::unique_ptr<lhwv::WordVectors> words_;
  const Tokenizer tokenize_;
  const feature_hashing::FeatureHasher hasher_;
  const uint32_t word_dim_, hash_dim_;
  const double word_scale_, hash_scale_;
  std::vector<double> mean_;                   // set in create(), then read-only
  std::unordered_map<uint32_t, uint32_t> df_;  // corpus_idf: document frequency per word id
  uint64_t corpus_docs_ = 0;
};

}  // namespace

LAKEHOST_PLUGIN(WordVecEmbedder, "embed-wordvec", "1.0.0",
                "Pretrained word vectors (idf-weighted, centred mean), optionally fused with "
                "feature hashing",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
