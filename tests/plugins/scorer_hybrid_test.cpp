// Contract tests for plugins/scorer-hybrid: the tokenizer and the BM25 figures against values
// worked out by hand, then the real .so through the host's loader: reciprocal-rank fusion
// figures and order, injection, bm25_depth, the per-collection index cache and its rebuild on a
// new revision, the fallback for services without documents_scan, scan errors, and many threads
// scoring while the revision changes.
#include <gtest/gtest.h>

#include <lakehost/plugin_api.h>
#include <cstddef>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_fixture.h"

// The plugin's own tokenizer and index (std-only headers): the figures below are checked on the
// same code the .so is compiled from.
#include "../../plugins/scorer-hybrid/src/bm25_index.h"
#include "../../plugins/scorer-hybrid/src/tokenizer.h"

namespace {

using lakehost::test::load_plugin;
using lakehost::test::LoadedPlugin;
using scorer_hybrid::Bm25Index;
using scorer_hybrid::Bm25Params;
using scorer_hybrid::tokenize;
using Strings = std::vector<std::string>;

// ---- the host side of a search, played by the test ----------------------------------------------

// One collection as the host would expose it at one revision.
struct Collection {
  uint64_t revision = 1;
  std::vector<std::pair<std::string, std::string>> docs;  // id, text
  std::atomic<int>* scans = nullptr;                      // counts documents_scan calls
  lh_status scan_status = LH_OK;
  // When set: scans of this collection running right now, and the most ever seen at once.
  std::atomic<int>* scanning = nullptr;
  std::atomic<int>* most_scanning = nullptr;
};

lh_status doc_vector(void*, lh_str, float*) { return LH_ERR_NOT_FOUND; }
lh_status doc_text(void* ctx, lh_str id, void (*sink)(void*, lh_str), void* sink_ctx) {
  const auto* c = static_cast<const Collection*>(ctx);
  for (const auto& [i, t] : c->docs) {
    if (i == std::string_view(id.data, id.size)) {
      sink(sink_ctx, {t.data(), t.size()});
      return LH_OK;
    }
  }
  return LH_ERR_NOT_FOUND;
}
lh_status docs_scan(void* ctx, void (*sink)(void*, lh_str, lh_str), void* sink_ctx) {
  const auto* c = static_cast<const Collection*>(ctx);
  if (c->scans) c->scans->fetch_add(1);
  if (c->scan_status != LH_OK) return c->scan_status;
  if (c->scanning) {
    const int now = c->scanning->fetch_add(1) + 1;
    int most = c->most_scanning->load();
    while (now > most && !c->most_scanning->compare_exchange_weak(most, now)) {
    }
  }
  for (const auto& [i, t] : c->docs) {
    sink(sink_ctx, {i.data(), i.size()}, {t.data(), t.size()});
    if (c->scanning) std::this_thread::yield();  // widen the window for a second scan
  }
  if (c->scanning) c->scanning->fetch_sub(1);
  return LH_OK;
}

struct Emitted {
  float distance;
  uint32_t flags;
  bool operator==(const Emitted& o) const { return distance == o.distance && flags == o.flags; }
};
using Results = std::map<std::string, Emitted>;

struct Search {
  std::string collection = "workers";
  std::string query;
  std::vector<std::pair<std::string, float>> candidates;  // ascending distance
  bool abi_1_0_services = false;  // services struct without revision/documents_scan
  uint32_t k = 10;
};

lh_status run(const LoadedPlugin& p, const Collection& coll, const Search& s, Results& out,
              lh_error& err) {
  std::vector<lh_candidate> candidates;
  for (auto& [id, d] : s.candidates) candidates.push_back({{id.data(), id.size()}, d});
  const float qv[2] = {1, 0};
  lh_score_services services{sizeof(lh_score_services),
                             const_cast<Collection*>(&coll),
                             &doc_vector,
                             &doc_text,
                             coll.revision,
                             &docs_scan,
                             nullptr};
  if (s.abi_1_0_services) {
    services.struct_size = offsetof(lh_score_services, revision);
    services.documents_scan = nullptr;  // beyond struct_size: must not be read anyway
  }
  lh_score_request req{};
  req.struct_size = sizeof req;
  req.collection = {s.collection.data(), s.collection.size()};
  req.query = {s.query.data(), s.query.size()};
  req.query_vector = qv;
  req.dimension = 2;
  req.k = s.k;
  req.candidates = candidates.data();
  req.n_candidates = candidates.size();
  req.services = &services;
  auto sink = [](void* ctx, lh_str id, float d, uint32_t f) {
    (*static_cast<Results*>(ctx))[std::string(id.data, id.size)] = {d, f};
  };
  return p.table<lh_retrieval_scorer_v1>()->score(p.self(), &req, sink, &out, &err);
}

Results score(const LoadedPlugin& p, const Collection& coll, const Search& s) {
  Results out;
  lh_error err{};
  EXPECT_EQ(run(p, coll, s, out, err), LH_OK) << err.message;
  return out;
}

// Ids by ascending distance (ties by id), as the host orders them.
Strings order(const Results& r) {
  std::vector<std::pair<float, std::string>> v;
  for (const auto& [id, e] : r) v.emplace_back(e.distance, id);
  std::sort(v.begin(), v.end());
  Strings ids;
  for (auto& [d, id] : v) ids.push_back(id);
  return ids;
}

// The distance the plugin documents: 1 - fused / fused_max.
double rrf_distance(double fused, double vector_weight = 1, double text_weight = 1,
                    double rrf_k = 60) {
  return 1.0 - fused / ((vector_weight + text_weight) / (rrf_k + 1.0));
}

}  // namespace

// ---- tokenizer ----------------------------------------------------------------------------------

TEST(ScorerHybridTokenizer, LowercasesAndSplitsOnAsciiPunctuation) {
  EXPECT_EQ(tokenize("Forklift Operator, 5 yrs; (night)", true),
            (Strings{"forklift", "operator", "5", "yrs", "night"}));
}

TEST(ScorerHybridTokenizer, CompoundsYieldTheirPartsAndTheJoinedTerm) {
  EXPECT_EQ(tokenize("OSHA-10 card", true), (Strings{"osha", "10", "osha10", "card"}));
  EXPECT_EQ(tokenize("AWS D1.1", true), (Strings{"aws", "d1", "1", "d11"}));
  // The stopword "a" is dropped as a part but stays inside the joined term.
  EXPECT_EQ(tokenize("IPC-A-610", true), (Strings{"ipc", "610", "ipca610"}));
  EXPECT_EQ(tokenize("IPC-A-610", false), (Strings{"ipc", "a", "610", "ipca610"}));
  // Trailing punctuation does not make a compound.
  EXPECT_EQ(tokenize("shops. IN", false), (Strings{"shops", "in"}));
}

TEST(ScorerHybridTokenizer, StopwordsAreOptional) {
  EXPECT_EQ(tokenize("the operator of the year", true), (Strings{"operator", "year"}));
  EXPECT_EQ(tokenize("the operator of the year", false),
            (Strings{"the", "operator", "of", "the", "year"}));
}

TEST(ScorerHybridTokenizer, MultiByteUtf8StaysInsideWords) {
  // Only ASCII letters are lowercased: "É" (0xC3 0x89) and "Ü" keep their bytes, and no byte of
  // a multi-byte character splits a word.
  EXPECT_EQ(tokenize("CAFÉ ÜBER-Straße", true), (Strings{"cafÉ", "Über", "straße", "Überstraße"}));
  // Invalid UTF-8 (a lone continuation byte) is kept, never split on.
  EXPECT_EQ(tokenize("ab\x80z", true), (Strings{"ab\x80z"}));
}

// ---- BM25 figures, worked out by hand -----------------------------------------------------------
//
// Corpus: d1 "forklift operator" (|D| = 2), d2 "forklift forklift loader" (3),
//         d3 "cnc operator night shift" (4).  N = 3, avgdl = 9 / 3 = 3.
// idf(forklift) = idf(operator) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.470003629245736
// idf(night) = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(8/3) = 0.980829253011726
// With k1 = 1.2, b = 0.75, the term factor tf (k1 + 1) / (tf + k1 (1 - b + b |D| / avgdl)):
//   d1, tf 1, |D| 2: 2.2 / (1 + 1.2 * 0.75) = 2.2 / 1.9 = 1.157894736842105
//   d2, tf 2, |D| 3: 4.4 / (2 + 1.2 * 1.00) = 4.4 / 3.2 = 1.375
//   d3, tf 1, |D| 4: 2.2 / (1 + 1.2 * 1.25) = 2.2 / 2.5 = 0.88
//   "forklift":       d1 = 0.470003629 * 1.157894737 = 0.544214728600326
//                     d2 = 0.470003629 * 1.375       = 0.646254990212887
//   "operator night": d1 = 0.544214728600326
//                     d3 = (0.470003629 + 0.980829253) * 0.88 = 1.276732936386567

namespace {
Bm25Index tiny_corpus(uint64_t revision = 7) {
  return Bm25Index({{"d1", "forklift operator"},
                    {"d2", "forklift forklift loader"},
                    {"d3", "cnc operator night shift"}},
                   true, revision);
}
}  // namespace

TEST(ScorerHybridBm25, IndexStatistics) {
  auto idx = tiny_corpus();
  EXPECT_EQ(idx.revision(), 7u);
  EXPECT_EQ(idx.size(), 3u);
  EXPECT_DOUBLE_EQ(idx.avgdl(), 3.0);
  EXPECT_EQ(idx.document_frequency("forklift"), 2u);
  EXPECT_EQ(idx.document_frequency("welder"), 0u);
  EXPECT_NEAR(idx.idf("forklift"), 0.470003629245736, 1e-12);
  EXPECT_NEAR(idx.idf("night"), 0.980829253011726, 1e-12);
}

TEST(ScorerHybridBm25, ScoresMatchHandComputedValues) {
  auto idx = tiny_corpus();
  auto hits = idx.search({"forklift"}, Bm25Params{}, 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(idx.id(hits[0].doc), "d2");  // tf 2 beats the shorter d1
  EXPECT_NEAR(hits[0].score, 0.646254990212887, 1e-12);
  EXPECT_EQ(idx.id(hits[1].doc), "d1");
  EXPECT_NEAR(hits[1].score, 0.544214728600326, 1e-12);

  hits = idx.search(tokenize("Operator, NIGHT", true), Bm25Params{}, 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(idx.id(hits[0].doc), "d3");
  EXPECT_NEAR(hits[0].score, 1.276732936386567, 1e-12);
  EXPECT_EQ(idx.id(hits[1].doc), "d1");
  EXPECT_NEAR(hits[1].score, 0.544214728600326, 1e-12);
}

TEST(ScorerHybridBm25, K1AndBChangeTheFigures) {
  auto idx = tiny_corpus();
  // b = 0: no length normalisation, d1 = idf * 2.2 / 2.2 = idf.
  auto hits = idx.search({"forklift"}, Bm25Params{1.2, 0.0}, 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_NEAR(hits[1].score, 0.470003629245736, 1e-12);
  // k1 = 0: term frequency saturates at once: both score exactly idf; the tie goes to the id.
  hits = idx.search({"forklift"}, Bm25Params{0.0, 0.75}, 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(idx.id(hits[0].doc), "d1");
  EXPECT_NEAR(hits[0].score, hits[1].score, 1e-15);
  EXPECT_NEAR(hits[0].score, 0.470003629245736, 1e-12);
}

TEST(ScorerHybridBm25, RepeatedQueryTermsCountOnceAndDepthCuts) {
  auto idx = tiny_corpus();
  auto once = idx.search({"forklift"}, Bm25Params{}, 10);
  auto twice = idx.search({"forklift", "forklift"}, Bm25Params{}, 10);
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_DOUBLE_EQ(twice[0].score, once[0].score);
  auto top = idx.search({"forklift"}, Bm25Params{}, 1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(idx.id(top[0].doc), "d2");
  EXPECT_TRUE(idx.search({"welder"}, Bm25Params{}, 10).empty());
}

// ---- the plugin through the host's loader -------------------------------------------------------

TEST(ScorerHybrid, DescriptorAndOverfetch) {
  auto p = load_plugin("scorer-hybrid", R"({"overfetch": 7})");
  EXPECT_EQ(p->descriptor()->kind, static_cast<uint32_t>(LH_KIND_RETRIEVAL_SCORER));
  EXPECT_STREQ(p->descriptor()->name, "scorer-hybrid");
  EXPECT_TRUE(p->descriptor()->flags & LH_FLAG_THREAD_SAFE);
  EXPECT_EQ(p->table<lh_retrieval_scorer_v1>()->overfetch(p->self()), 7u);
  auto defaults = load_plugin("scorer-hybrid", "{}");
  EXPECT_EQ(defaults->table<lh_retrieval_scorer_v1>()->overfetch(defaults->self()), 4u);
}

TEST(ScorerHybrid, BadConfigIsRefused) {
  EXPECT_THROW(load_plugin("scorer-hybrid", R"({"b": 1.5})"), std::runtime_error);
  EXPECT_THROW(load_plugin("scorer-hybrid", R"({"bm25_depth": 0})"), std::runtime_error);
  EXPECT_THROW(load_plugin("scorer-hybrid", R"({"rrf": 60})"), std::runtime_error);
  try {
    load_plugin("scorer-hybrid", R"({"vector_weight": 0, "text_weight": 0})");
    ADD_FAILURE() << "both weights 0 was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("vector_weight"), std::string::npos) << e.what();
  }
}

TEST(ScorerHybrid, EmptyQueryIsPlainVectorRanking) {
  auto p = load_plugin("scorer-hybrid", "{}");
  std::atomic<int> scans{0};
  Collection coll{1, {{"a", "forklift"}, {"b", "loader"}}, &scans};
  auto r = score(*p, coll, {"workers", "", {{"a", 0.1f}, {"b", 0.3f}}});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r["a"], (Emitted{0.1f, 0}));
  EXPECT_EQ(r["b"], (Emitted{0.3f, 0}));
  // A query of stopwords only has no terms either.
  r = score(*p, coll, {"workers", "the of", {{"a", 0.1f}, {"b", 0.3f}}});
  EXPECT_EQ(r["b"], (Emitted{0.3f, 0}));
  EXPECT_EQ(scans.load(), 0);  // no index was needed
}

namespace {
// Vector candidates a, b, c (ranks 1, 2, 3). BM25 for "welder": c ("welder welder") ranks 1,
// e ("welder", not a candidate) ranks 2; a, b and d do not contain the term.
Collection fusion_corpus() {
  return {1,
          {{"a", "forklift operator"},
           {"b", "forklift loader"},
           {"c", "welder welder tig"},
           {"d", "cnc operator"},
           {"e", "welder and forklift operator with many years on the night shift"}}};
}
Search fusion_search() { return {"workers", "welder", {{"a", 0.1f}, {"b", 0.2f}, {"c", 0.5f}}}; }
}  // namespace

TEST(ScorerHybrid, ReciprocalRankFusionFigures) {
  auto p = load_plugin("scorer-hybrid", "{}");
  auto r = score(*p, fusion_corpus(), fusion_search());
  ASSERT_EQ(r.size(), 4u);  // a, b, c from the vector side, e from BM25; d matches nothing
  // fused: a = 1/61, b = 1/62, c = 1/63 + 1/61, e = 1/62; fused_max = 2/61.
  EXPECT_NEAR(r["a"].distance, rrf_distance(1.0 / 61), 1e-6);
  EXPECT_NEAR(r["a"].distance, 0.5, 1e-6);
  EXPECT_NEAR(r["b"].distance, rrf_distance(1.0 / 62), 1e-6);
  EXPECT_NEAR(r["c"].distance, rrf_distance(1.0 / 63 + 1.0 / 61), 1e-6);
  EXPECT_NEAR(r["e"].distance, rrf_distance(1.0 / 62), 1e-6);
  EXPECT_EQ(r["a"].flags, 0u);
  EXPECT_EQ(r["c"].flags, 0u);
  EXPECT_EQ(r["e"].flags, LH_RESULT_INJECTED);
  EXPECT_EQ(r.count("d"), 0u);
  // c, last by vector, is first: found by both rankings.
  EXPECT_EQ(order(r), (Strings{"c", "a", "b", "e"}));
  for (const auto& [id, e] : r) {
    EXPECT_GE(e.distance, 0.0f) << id;
    EXPECT_LE(e.distance, 1.0f) << id;
  }
}

TEST(ScorerHybrid, InjectedDocumentsThatCannotReachTheTopKAreNotEmitted) {
  auto p = load_plugin("scorer-hybrid", "{}");
  Search s = fusion_search();
  // k = 2: c (0.016) and a (0.500) are candidates, which the host always keeps, so e (0.508)
  // can never be in the top 2.
  s.k = 2;
  auto r = score(*p, fusion_corpus(), s);
  EXPECT_EQ(r.count("e"), 0u);
  EXPECT_EQ(r.size(), 3u);  // every candidate is still emitted
  // k = 3: e ties with the third candidate, b, and is emitted (the host breaks the tie).
  s.k = 3;
  r = score(*p, fusion_corpus(), s);
  ASSERT_EQ(r.count("e"), 1u);
  EXPECT_EQ(r["e"].distance, r["b"].distance);
  // k = 4: more than the candidates, nothing can be cut.
  s.k = 4;
  EXPECT_EQ(score(*p, fusion_corpus(), s).count("e"), 1u);
}

TEST(ScorerHybrid, WeightsAndRrfKAreApplied) {
  // text_weight 3: e (BM25 rank 2 only) now beats a (vector rank 1 only): 3/62 > 1/61.
  auto p = load_plugin("scorer-hybrid", R"({"text_weight": 3})");
  auto r = score(*p, fusion_corpus(), fusion_search());
  EXPECT_NEAR(r["e"].distance, rrf_distance(3.0 / 62, 1, 3), 1e-6);
  EXPECT_EQ(order(r), (Strings{"c", "e", "a", "b"}));
  // rrf_k 0: rank 1 weighs 1, rank 2 a half: a = 1, c = 1/3 + 1, e = 1/2; max 2.
  auto q = load_plugin("scorer-hybrid", R"({"rrf_k": 0})");
  r = score(*q, fusion_corpus(), fusion_search());
  EXPECT_NEAR(r["c"].distance, 1.0 - (1.0 / 3 + 1.0) / 2, 1e-6);
  EXPECT_NEAR(r["e"].distance, 0.75, 1e-6);
  // vector_weight 0: only the text ranking counts; candidates BM25 misses sit at distance 1.
  auto t = load_plugin("scorer-hybrid", R"({"vector_weight": 0})");
  r = score(*t, fusion_corpus(), fusion_search());
  EXPECT_NEAR(r["c"].distance, 0.0, 1e-6);
  EXPECT_NEAR(r["a"].distance, 1.0, 1e-6);
}

TEST(ScorerHybrid, Bm25ParametersReachTheIndex) {
  // "short" has tf 1 in 1 term, "long" tf 2 in 8: with b = 0.75 length normalisation ranks the
  // short one first; with b = 0 the higher tf wins.
  Collection coll{1,
                  {{"short", "forklift"},
                   {"long", "forklift forklift alpha beta gamma delta epsilon zeta"},
                   {"other", "cnc lathe"}}};
  Search s{"workers", "forklift", {}};  // nothing from the vector side: BM25 order alone
  auto standard = load_plugin("scorer-hybrid", "{}");
  EXPECT_EQ(order(score(*standard, coll, s)), (Strings{"short", "long"}));
  auto flat = load_plugin("scorer-hybrid", R"({"b": 0})");
  EXPECT_EQ(order(score(*flat, coll, s)), (Strings{"long", "short"}));
}

TEST(ScorerHybrid, Bm25DepthLimitsWhatEntersTheFusion) {
  auto p = load_plugin("scorer-hybrid", R"({"bm25_depth": 1})");
  auto r = score(*p, fusion_corpus(), fusion_search());
  EXPECT_EQ(r.count("e"), 0u);  // BM25 rank 2 is beyond the depth
  EXPECT_NEAR(r["c"].distance, rrf_distance(1.0 / 63 + 1.0 / 61), 1e-6);
}

TEST(ScorerHybrid, JoinedCompoundMatchesExactSpellingFirst) {
  auto p = load_plugin("scorer-hybrid", "{}");
  Collection coll{1,
                  {{"hyphen", "holds an OSHA-10 card"},
                   {"spaced", "holds an OSHA 10 card"},
                   {"partial", "OSHA trained, 10 years"},
                   {"none", "forklift operator"}}};
  auto r = score(*p, coll, {"workers", "OSHA-10", {}});
  // "osha10" (only in "hyphen") is the rarest term, so the exact spelling ranks first, and the
  // spaced spelling still matches both parts.
  auto ids = order(r);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], "hyphen");
  EXPECT_EQ(r.count("none"), 0u);
}

TEST(ScorerHybrid, IndexIsCachedPerRevisionAndRebuiltWhenItChanges) {
  auto p = load_plugin("scorer-hybrid", "{}");
  std::atomic<int> scans{0};
  Collection coll{10, {{"a", "forklift operator"}, {"b", "cnc operator"}}, &scans};
  Search s{"workers", "welder", {{"a", 0.1f}, {"b", 0.2f}}};
  auto r = score(*p, coll, s);
  EXPECT_EQ(r.count("w"), 0u);
  EXPECT_EQ(scans.load(), 1);
  score(*p, coll, s);
  EXPECT_EQ(scans.load(), 1);  // same revision: the cached index

  // The same revision promises the same documents, so the cache is trusted: a document that
  // appears without a new revision is not seen (this is what proves the cache is used).
  coll.docs.push_back({"w", "certified welder"});
  EXPECT_EQ(score(*p, coll, s).count("w"), 0u);
  EXPECT_EQ(scans.load(), 1);

  // A new revision: rebuilt once, and the new document is found and injected.
  coll.revision = 11;
  r = score(*p, coll, s);
  ASSERT_EQ(r.count("w"), 1u);
  EXPECT_EQ(r["w"].flags, LH_RESULT_INJECTED);
  EXPECT_EQ(scans.load(), 2);
  score(*p, coll, s);
  EXPECT_EQ(scans.load(), 2);

  // A deleted document leaves with the next revision.
  coll.docs.pop_back();
  coll.revision = 12;
  EXPECT_EQ(score(*p, coll, s).count("w"), 0u);
  EXPECT_EQ(scans.load(), 3);
}

TEST(ScorerHybrid, EachCollectionHasItsOwnIndex) {
  auto p = load_plugin("scorer-hybrid", "{}");
  std::atomic<int> scans{0};
  Collection workers{5, {{"w1", "forklift operator"}}, &scans};
  Collection jobs{5, {{"j1", "forklift job in dallas"}}, &scans};  // same revision number
  auto r = score(*p, workers, {"workers", "forklift", {}});
  EXPECT_EQ(r.count("w1"), 1u);
  r = score(*p, jobs, {"jobs", "forklift", {}});
  EXPECT_EQ(r.count("j1"), 1u);
  EXPECT_EQ(r.count("w1"), 0u);
  EXPECT_EQ(scans.load(), 2);
  score(*p, workers, {"workers", "forklift", {}});
  EXPECT_EQ(scans.load(), 2);
}

TEST(ScorerHybrid, ServicesWithoutDocumentsScanRankTheCandidatesTexts) {
  auto p = load_plugin("scorer-hybrid", "{}");
  Collection coll = fusion_corpus();
  Search s = fusion_search();
  s.abi_1_0_services = true;
  auto r = score(*p, coll, s);
  // Only the candidates: BM25 over a, b, c alone ranks c first; e is never injected.
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.count("e"), 0u);
  EXPECT_NEAR(r["c"].distance, rrf_distance(1.0 / 63 + 1.0 / 61), 1e-6);
  EXPECT_EQ(order(r), (Strings{"c", "a", "b"}));
  for (const auto& [id, e] : r) EXPECT_EQ(e.flags, 0u) << id;
}

TEST(ScorerHybrid, ScanFailureIsReportedWithItsStatus) {
  auto p = load_plugin("scorer-hybrid", "{}");
  Collection coll = fusion_corpus();
  coll.scan_status = LH_ERR_UNAVAILABLE;
  Results out;
  lh_error err{};
  EXPECT_EQ(run(*p, coll, fusion_search(), out, err), LH_ERR_UNAVAILABLE);
  EXPECT_NE(std::string(err.message).find("documents_scan"), std::string::npos) << err.message;
  EXPECT_TRUE(out.empty());
  // Nothing broken was cached: the next request with a working scan succeeds.
  coll.scan_status = LH_OK;
  EXPECT_EQ(score(*p, coll, fusion_search()).count("e"), 1u);
}

// Several threads score while the collection's revision keeps changing (each revision adds one
// document that only it holds). Every answer must be exactly the single-threaded answer for the
// revision the request carried: no request sees another revision's index, rebuilds of the
// collection never overlap, and nothing races (run under TSan too: LAKEHOST_SANITIZE=thread).
TEST(ScorerHybrid, ConcurrentSearchesWhileTheRevisionChanges) {
  constexpr int kRevisions = 12;
  constexpr int kThreads = 4;
  constexpr int kSearchesPerThread = 300;
  std::vector<Collection> revisions;
  for (int r = 0; r < kRevisions; ++r) {
    Collection c{static_cast<uint64_t>(100 + r), {}};
    for (int i = 0; i < 40; ++i)
      c.docs.push_back({"doc" + std::to_string(i),
                        (i % 3 ? "forklift operator " : "welder ") + std::to_string(i)});
    c.docs.push_back({"rev" + std::to_string(r), "welder only in revision " + std::to_string(r)});
    revisions.push_back(std::move(c));
  }
  const Search s{"workers", "welder", {{"doc1", 0.1f}, {"doc3", 0.2f}, {"doc5", 0.3f}}};

  std::vector<Results> expected;
  {
    auto reference = load_plugin("scorer-hybrid", "{}");
    for (const auto& c : revisions) expected.push_back(score(*reference, c, s));
  }
  for (int r = 0; r < kRevisions; ++r)
    ASSERT_EQ(expected[r].count("rev" + std::to_string(r)), 1u) << r;

  std::atomic<int> scanning{0}, most_scanning{0};
  for (auto& c : revisions) {
    c.scanning = &scanning;
    c.most_scanning = &most_scanning;
  }
  auto p = load_plugin("scorer-hybrid", "{}");
  std::atomic<int> current{0};
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSearchesPerThread; ++i) {
        // Thread 0 moves the revision on; the others follow it, sometimes a step behind, as
        // requests that started before a write do.
        int r = current.load();
        if (t == 0 && i % 25 == 24) current.store((r + 1) % kRevisions);
        if (t % 2 == 1 && i % 7 == 0) r = (r + kRevisions - 1) % kRevisions;
        Results out;
        lh_error err{};
        if (run(*p, revisions[r], s, out, err) != LH_OK) {
          ++failures;
        } else if (out != expected[r]) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(most_scanning.load(), 1);  // one rebuild at a time for the collection
}
