// Contract tests for plugins/scorer-playbook: the boost formula, the role gate, the similarity
// threshold, injection through the host's document_vector service, and the several-records rule.
#include <gtest/gtest.h>

#include <lakehost/plugin_api.h>
#include <cstddef>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "plugin_fixture.h"

namespace {

using lakehost::test::load_plugin;
using lakehost::test::LoadedPlugin;

struct Emitted {
  float distance;
  uint32_t flags;
};
using Results = std::map<std::string, Emitted>;

lh_str s(const std::string& x) { return {x.data(), x.size()}; }

// Document vectors the host would hold (dimension 2 keeps the arithmetic visible).
const std::map<std::string, std::vector<float>> kDocs = {
    {"near", {1, 0}}, {"mid", {0.6f, 0.8f}}, {"far", {0, 1}}, {"outside", {0.8f, 0.6f}}};

lh_status doc_vector(void*, lh_str id, float* out) {
  auto it = kDocs.find(std::string(id.data, id.size));
  if (it == kDocs.end()) return LH_ERR_NOT_FOUND;
  out[0] = it->second[0];
  out[1] = it->second[1];
  return LH_OK;
}
lh_status doc_text(void*, lh_str, void (*)(void*, lh_str), void*) { return LH_ERR_NOT_FOUND; }

struct Record {
  std::string query, role, id;
  std::vector<float> qv;
  float score;
};

Results score(const LoadedPlugin& p, const std::string& role, const std::vector<Record>& records,
              const std::vector<float>& query = {1, 0}) {
  // Candidates as the vector backend would return them for query (1, 0).
  std::vector<std::pair<std::string, float>> cands = {{"near", 0.0f}, {"mid", 0.4f}, {"far", 1.0f}};
  std::vector<lh_candidate> candidates;
  for (auto& [id, d] : cands) candidates.push_back({s(id), d});
  std::vector<lh_feedback> feedback;
  for (auto& r : records)
    feedback.push_back({s(r.query), r.qv.data(), s(r.role), s(r.id), r.score});
  // The services of an ABI 1.0 host (no revision, no scan): this scorer needs nothing more.
  const lh_score_services services = {
      offsetof(lh_score_services, revision), nullptr, &doc_vector, &doc_text, 0, nullptr, nullptr};
  lh_score_request req{};
  req.struct_size = sizeof req;
  req.collection = {"workers", 7};
  req.query = {"q", 1};
  req.role = s(role);
  req.query_vector = query.data();
  req.dimension = 2;
  req.k = 3;
  req.candidates = candidates.data();
  req.n_candidates = candidates.size();
  req.feedback = feedback.data();
  req.n_feedback = feedback.size();
  req.services = &services;
  Results out;
  lh_error err{};
  auto sink = [](void* ctx, lh_str id, float d, uint32_t f) {
    (*static_cast<Results*>(ctx))[std::string(id.data, id.size)] = {d, f};
  };
  EXPECT_EQ(p.table<lh_retrieval_scorer_v1>()->score(p.self(), &req, sink, &out, &err), LH_OK)
      << err.message;
  return out;
}

const std::string kRole = "Forklift Operator";

}  // namespace

TEST(ScorerPlaybook, DescriptorAndOverfetch) {
  auto p = load_plugin("scorer-playbook", R"({"overfetch": 6})");
  EXPECT_EQ(p->descriptor()->kind, static_cast<uint32_t>(LH_KIND_RETRIEVAL_SCORER));
  EXPECT_STREQ(p->descriptor()->name, "scorer-playbook");
  EXPECT_EQ(p->table<lh_retrieval_scorer_v1>()->overfetch(p->self()), 6u);
  auto defaults = load_plugin("scorer-playbook", "{}");
  EXPECT_EQ(defaults->table<lh_retrieval_scorer_v1>()->overfetch(defaults->self()), 4u);
}

TEST(ScorerPlaybook, ConfigOutOfRangeIsRefused) {
  EXPECT_THROW(load_plugin("scorer-playbook", R"({"boost_factor": 1.5})"), std::runtime_error);
  EXPECT_THROW(load_plugin("scorer-playbook", R"({"max_injected": -1})"), std::runtime_error);
  EXPECT_THROW(load_plugin("scorer-playbook", R"({"boost": 0.5})"), std::runtime_error);
}

TEST(ScorerPlaybook, WithoutRecordsItIsCosine) {
  auto p = load_plugin("scorer-playbook", "{}");
  auto r = score(*p, kRole, {});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_FLOAT_EQ(r["mid"].distance, 0.4f);
  EXPECT_EQ(r["mid"].flags, 0u);
}

TEST(ScorerPlaybook, BoostIsDistanceTimesOneMinusFactorTimesScore) {
  auto p = load_plugin("scorer-playbook", R"({"boost_factor": 0.5})");
  auto r = score(*p, kRole, {{"q", kRole, "mid", {1, 0}, 1.0f}});
  EXPECT_FLOAT_EQ(r["mid"].distance, 0.4f * 0.5f);
  EXPECT_EQ(r["mid"].flags, LH_RESULT_BOOSTED);
  r = score(*p, kRole, {{"q", kRole, "mid", {1, 0}, 0.5f}});
  EXPECT_FLOAT_EQ(r["mid"].distance, 0.4f * 0.75f);  // score 0.5 -> factor 0.75
  EXPECT_EQ(r["near"].flags, 0u);
}

TEST(ScorerPlaybook, RoleGate) {
  auto p = load_plugin("scorer-playbook", "{}");
  auto r = score(*p, "CNC Operator", {{"q", kRole, "mid", {1, 0}, 1.0f}});
  EXPECT_FLOAT_EQ(r["mid"].distance, 0.4f);
  EXPECT_EQ(r["mid"].flags, 0u);
  EXPECT_EQ(r.count("outside"), 0u);
}

TEST(ScorerPlaybook, DissimilarQueriesDoNotApply) {
  auto p = load_plugin("scorer-playbook", R"({"similarity_threshold": 0.9})");
  // Recorded for a query orthogonal to this one: cosine 0 < 0.9.
  auto r = score(*p, kRole, {{"other", kRole, "mid", {0, 1}, 1.0f}});
  EXPECT_EQ(r["mid"].flags, 0u);
  // Cosine 0.6 applies with threshold 0.5.
  auto q = load_plugin("scorer-playbook", R"({"similarity_threshold": 0.5})");
  r = score(*q, kRole, {{"other", kRole, "mid", {0.6f, 0.8f}, 1.0f}});
  EXPECT_EQ(r["mid"].flags, LH_RESULT_BOOSTED);
}

TEST(ScorerPlaybook, RecordedIdOutsideTheCandidatesIsInjected) {
  auto p = load_plugin("scorer-playbook", "{}");
  auto r = score(*p, kRole, {{"q", kRole, "outside", {1, 0}, 1.0f}});
  ASSERT_EQ(r.count("outside"), 1u);
  // Cold distance from the stored vector: 1 - 0.8 = 0.2; boosted x0.5.
  EXPECT_NEAR(r["outside"].distance, 0.1f, 1e-6);
  EXPECT_EQ(r["outside"].flags, LH_RESULT_INJECTED);
}

TEST(ScorerPlaybook, InjectionIsCappedAndSkipsDeletedDocuments) {
  auto p = load_plugin("scorer-playbook", R"({"max_injected": 1})");
  auto r =
      score(*p, kRole, {{"q", kRole, "gone", {1, 0}, 1.0f}, {"q", kRole, "outside", {1, 0}, 0.9f}});
  EXPECT_EQ(r.count("gone"), 0u);
  EXPECT_EQ(r.count("outside"), 1u);
  auto none = load_plugin("scorer-playbook", R"({"max_injected": 0})");
  EXPECT_EQ(score(*none, kRole, {{"q", kRole, "outside", {1, 0}, 1.0f}}).count("outside"), 0u);
}

TEST(ScorerPlaybook, SeveralRecordsForOneIdTheHighestScoreCounts) {
  auto p = load_plugin("scorer-playbook", "{}");
  auto r = score(*p, kRole,
                 {{"q", kRole, "mid", {1, 0}, 0.2f},
                  {"q", kRole, "mid", {1, 0}, 1.0f},
                  {"q", kRole, "mid", {1, 0}, 0.6f}});
  EXPECT_FLOAT_EQ(r["mid"].distance, 0.4f * 0.5f);  // not compounded
}
