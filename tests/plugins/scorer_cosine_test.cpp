// Contract tests for plugins/scorer-cosine, through the host's loader and the plugin's C table.
#include <gtest/gtest.h>

#include <lakehost/plugin_api.h>
#include <cstddef>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugin_fixture.h"

namespace {

using lakehost::test::load_plugin;
using lakehost::test::LoadedPlugin;

const lh_retrieval_scorer_v1& api(const LoadedPlugin& p) {
  return *p.table<lh_retrieval_scorer_v1>();
}

struct Emitted {
  std::string id;
  float distance;
  uint32_t flags;
};

void collect(void* ctx, lh_str id, float distance, uint32_t flags) {
  static_cast<std::vector<Emitted>*>(ctx)->push_back(
      {std::string(id.data, id.size), distance, flags});
}

// The baseline scorer needs nothing from the host: any callback is a test failure.
lh_status no_vector(void*, lh_str, float*) {
  ADD_FAILURE() << "scorer-cosine asked for a document vector";
  return LH_ERR_NOT_FOUND;
}
lh_status no_text(void*, lh_str, void (*)(void*, lh_str), void*) {
  ADD_FAILURE() << "scorer-cosine asked for a document text";
  return LH_ERR_NOT_FOUND;
}

// Runs one score() call over `candidates` and returns what the scorer emitted.
std::vector<Emitted> score(const LoadedPlugin& p, const std::vector<lh_candidate>& candidates) {
  static const float query_vector[4] = {1, 0, 0, 0};
  // The services of an ABI 1.0 host (no revision, no scan): this scorer needs nothing more.
  const lh_score_services services = {
      offsetof(lh_score_services, revision), nullptr, &no_vector, &no_text, 0, nullptr, nullptr};
  // A feedback record for a candidate: the baseline scorer must not boost it.
  const lh_feedback feedback = {
      {"forklift operator", 17}, query_vector, {"", 0}, {"w0042", 5}, 1.0f};
  lh_score_request request{};
  request.struct_size = sizeof(lh_score_request);
  request.collection = {"workers", 7};
  request.query = {"Forklift Operator", 17};
  request.query_vector = query_vector;
  request.dimension = 4;
  request.k = static_cast<uint32_t>(candidates.size());
  request.candidates = candidates.data();
  request.n_candidates = candidates.size();
  request.feedback = &feedback;
  request.n_feedback = 1;
  request.services = &services;
  std::vector<Emitted> emitted;
  lh_error err{};
  EXPECT_EQ(api(p).score(p.self(), &request, &collect, &emitted, &err), LH_OK) << err.message;
  return emitted;
}

TEST(ScorerCosine, Descriptor) {
  auto p = load_plugin("scorer-cosine", "{}");
  const lh_plugin_descriptor* d = p->descriptor();
  EXPECT_EQ(d->kind, static_cast<uint32_t>(LH_KIND_RETRIEVAL_SCORER));
  EXPECT_STREQ(d->name, "scorer-cosine");
  EXPECT_EQ(d->abi_major, LH_ABI_MAJOR);
  EXPECT_LE(d->abi_minor, LH_ABI_MINOR);
  EXPECT_GE(d->struct_size, sizeof(lh_plugin_descriptor));
  EXPECT_TRUE(d->flags & LH_FLAG_THREAD_SAFE) << "the scorer is stateless";
  ASSERT_NE(d->config_schema, nullptr);
  ASSERT_NE(d->table, nullptr);
  EXPECT_GE(api(*p).struct_size, sizeof(lh_retrieval_scorer_v1));
}

TEST(ScorerCosine, RejectsOptions) {
  EXPECT_THROW(load_plugin("scorer-cosine", R"({"overfetch": 2})"), std::runtime_error);
}

TEST(ScorerCosine, OverfetchIsOne) {
  auto p = load_plugin("scorer-cosine", "{}");
  EXPECT_EQ(api(*p).overfetch(p->self()), 1u);
}

TEST(ScorerCosine, EmitsCandidatesUnchanged) {
  auto p = load_plugin("scorer-cosine", "{}");
  // Ids are byte ranges, not C strings: slice them out of one buffer.
  const std::string ids = "w0003w0042w0117";
  const std::vector<lh_candidate> candidates = {
      {{ids.data(), 5}, 0.125f}, {{ids.data() + 5, 5}, 0.5f}, {{ids.data() + 10, 5}, 1.75f}};
  const auto emitted = score(*p, candidates);
  ASSERT_EQ(emitted.size(), candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    EXPECT_EQ(emitted[i].id, ids.substr(i * 5, 5));
    EXPECT_EQ(emitted[i].distance, candidates[i].distance) << "distance must pass through exactly";
    EXPECT_EQ(emitted[i].flags, 0u);
  }
}

TEST(ScorerCosine, NoCandidatesEmitsNothing) {
  auto p = load_plugin("scorer-cosine", "{}");
  EXPECT_TRUE(score(*p, {}).empty());
}

}  // namespace
