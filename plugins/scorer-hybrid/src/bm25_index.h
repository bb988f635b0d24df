// An immutable BM25 inverted index over one collection's documents, built in one go from a
// snapshot of (id, text) pairs. Immutable so that any number of searches can share one index
// through a shared_ptr while a newer one is being built (README.md, "Thread safety").
//
// BM25 (Robertson / Sparck Jones, in the form Lucene uses):
//   score(D, Q) = sum over distinct query terms t present in D of
//                 idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |D| / avgdl))
//   idf(t)      = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))
// with tf the count of t in D, |D| the number of terms of D, avgdl the mean |D| over the
// collection, N the number of documents and n(t) the number that contain t. This idf is never
// negative, so a term in most documents adds a little instead of pushing them down.
// k1 and b are applied at search time: the index keeps raw counts only.
// Header-only and std-only so the contract tests can check the figures directly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tokenizer.h"

namespace scorer_hybrid {

struct Bm25Params {
  double k1 = 1.2;
  double b = 0.75;
};

class Bm25Index {
 public:
  struct Document {
    std::string id;
    std::string text;
  };
  struct Hit {
    uint32_t doc;  // index into ids(); see id()
    double score;
  };

  // Documents are numbered in id order so that ties rank the same way in every build.
  Bm25Index(std::vector<Document> docs, bool stopwords, uint64_t revision) : revision_(revision) {
    std::sort(docs.begin(), docs.end(),
              [](const Document& a, const Document& b) { return a.id < b.id; });
    ids_.reserve(docs.size());
    lengths_.reserve(docs.size());
    std::vector<std::string> terms;
    std::unordered_map<std::string, uint32_t> tf;
    uint64_t total = 0;
    for (auto& d : docs) {
      const auto doc = static_cast<uint32_t>(ids_.size());
      terms.clear();
      tokenize(d.text, stopwords, terms);
      tf.clear();
      for (auto& t : terms) ++tf[std::move(t)];
      for (auto& [term, count] : tf) postings_[term].push_back({doc, count});
      ids_.push_back(std::move(d.id));
      lengths_.push_back(static_cast<uint32_t>(terms.size()));
      total += terms.size();
    }
    avgdl_ = ids_.empty() ? 0.0 : static_cast<double>(total) / static_cast<double>(ids_.size());
  }

  uint64_t revision() const { return revision_; }
  size_t size() const { return ids_.size(); }
  size_t term_count() const { return postings_.size(); }
  double avgdl() const { return avgdl_; }
  const std::string& id(uint32_t doc) const { return ids_[doc]; }
  uint32_t length(uint32_t doc) const { return lengths_[doc]; }

  // Number of documents containing `term` (0 if none).
  size_t document_frequency(const std::string& term) const {
    auto it = postings_.find(term);
    return it == postings_.end() ? 0 : it->second.size();
  }

  double idf(const std::string& term) const {
    const double n = static_cast<double>(document_frequency(term));
    const double N = static_cast<double>(ids_.size());
    return std::log(1.0 + (N - n + 0.5) / (n + 0.5));
  }

  // The `depth` best documents for the query terms (repeats count once), best first; ties by
  // id. Documents that contain none of the terms are not hits.
  std::vector<Hit> search(const std::vector<std::string>& query_terms, const Bm25Params& p,
                          size_t depth) const {
    std::vector<Hit> hits;
    if (ids_.empty() || depth == 0) return hits;
    std::vector<double> scores(ids_.size(), 0.0);
    std::vector<uint32_t> touched;
    std::unordered_set<std::string_view> seen;
    for (const auto& term : query_terms) {
      if (!seen.insert(term).second) continue;
      auto it = postings_.find(term);
      if (it == postings_.end()) continue;
      const double w = idf(term);
      for (const Posting& post : it->second) {
        const double tf = post.tf;
        const double norm = p.k1 * (1.0 - p.b + p.b * lengths_[post.doc] / avgdl_);
        if (scores[post.doc] == 0.0) touched.push_back(post.doc);
        scores[post.doc] += w * tf * (p.k1 + 1.0) / (tf + norm);
      }
    }
    hits.reserve(touched.size());
    for (uint32_t d : touched) hits.push_back({d, scores[d]});
    auto better = [](const Hit& a, const Hit& b) {
      return a.score != b.score ? a.score > b.score : a.doc < b.doc;
    };
    if (hits.size() > depth) {
      std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(depth), hits.end(),
                        better);
      hits.resize(depth);
    } else {
      std::sort(hits.begin(), hits.end(), better);
    }
    return hits;
  }

 private:
  struct Posting {
    uint32_t doc;
    uint32_t tf;
  };
  uint64_t revision_;
  std::vector<std::string> ids_;   // by document number, ascending
  std::vector<uint32_t> lengths_;  // |D| in terms, by document number
  double avgdl_ = 0.0;
  std::unordered_map<std::string, std::vector<Posting>> postings_;
};

}  // namespace scorer_hybrid
