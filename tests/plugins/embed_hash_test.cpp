// Contract tests for plugins/embed-hash, through the host's loader and the plugin's C table only.
#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_fixture.h"

namespace {

using lakehost::test::load_plugin;
using lakehost::test::LoadedPlugin;
using Vector = std::vector<float>;

constexpr float kSentinel = -12345.0f;

const lh_embed_provider_v1& api(const LoadedPlugin& p) { return *p.table<lh_embed_provider_v1>(); }

uint32_t dimension(const LoadedPlugin& p) { return api(p).dimension(p.self()); }

// Embeds all texts in one call. The output buffer has one extra float that must stay untouched.
std::vector<Vector> embed(const LoadedPlugin& p, const std::vector<std::string>& texts) {
  std::vector<lh_str> in;
  for (const auto& t : texts) in.push_back({t.data(), t.size()});
  const size_t dim = dimension(p);
  std::vector<float> out(texts.size() * dim + 1, kSentinel);
  lh_error err{};
  const lh_status status = api(p).embed(p.self(), in.data(), in.size(), out.data(), &err);
  EXPECT_EQ(status, LH_OK) << err.message;
  EXPECT_EQ(out.back(), kSentinel) << "embed() wrote past n * dimension() floats";
  std::vector<Vector> rows;
  for (size_t i = 0; i < texts.size(); ++i) {
    rows.emplace_back(out.begin() + i * dim, out.begin() + (i + 1) * dim);
  }
  return rows;
}

Vector embed(const LoadedPlugin& p, const std::string& text) {
  return embed(p, std::vector<std::string>{text})[0];
}

double dot(const Vector& a, const Vector& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// Both are unit vectors, so the dot product is the cosine similarity.
double cosine(const LoadedPlugin& p, const std::string& a, const std::string& b) {
  return dot(embed(p, a), embed(p, b));
}

bool bitwise_equal(const Vector& a, const Vector& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

const std::string kForkliftProfile =
    "Forklift Operator with 5 years of experience in a high-volume distribution center. "
    "OSHA certified; skilled in pallet handling, putaway and loading trailers.";
const std::string kCncProfile =
    "CNC Machinist with 8 years of experience setting up Haas mills and lathes. Reads "
    "blueprints, holds tight tolerances and performs first-article inspection.";
const std::string kMachineOperatorProfile =
    "Machine Operator with 3 years running injection molding presses; changes molds and checks "
    "part quality.";
const std::string kWarehouseProfile =
    "Warehouse Associate with 2 years picking, packing and shipping orders; comfortable around "
    "forklift traffic and pallet jacks.";

TEST(EmbedHash, Descriptor) {
  auto p = load_plugin("embed-hash", "{}");
  const lh_plugin_descriptor* d = p->descriptor();
  EXPECT_EQ(d->kind, static_cast<uint32_t>(LH_KIND_EMBED_PROVIDER));
  EXPECT_STREQ(d->name, "embed-hash");
  EXPECT_EQ(d->abi_major, LH_ABI_MAJOR);
  EXPECT_LE(d->abi_minor, LH_ABI_MINOR);
  EXPECT_GE(d->struct_size, sizeof(lh_plugin_descriptor));
  EXPECT_TRUE(d->flags & LH_FLAG_THREAD_SAFE) << "the embedder has no mutable state";
  ASSERT_NE(d->config_schema, nullptr);
  ASSERT_NE(d->table, nullptr);
  EXPECT_GE(api(*p).struct_size, sizeof(lh_embed_provider_v1));
}

TEST(EmbedHash, DefaultDimensionIs384) {
  auto p = load_plugin("embed-hash", "{}");
  EXPECT_EQ(dimension(*p), 384u);
  EXPECT_EQ(embed(*p, "forklift").size(), 384u);
}

TEST(EmbedHash, ConfiguredDimension) {
  auto p = load_plugin("embed-hash", R"({"dimension": 64})");
  EXPECT_EQ(dimension(*p), 64u);
  embed(*p, std::vector<std::string>{"Forklift Operator", "CNC Machinist"});  // checks overrun
}

TEST(EmbedHash, RejectsInvalidConfig) {
  for (const char* config :
       {R"({"dimension": 4})", R"({"dimension": 8192})", R"({"dimension": 64.5})",
        R"({"ngram_weight": -1})", R"({"ngram_weight": "high"})", R"({"seed": -1})",
        R"({"dimensions": 64})", R"([])"}) {
    EXPECT_THROW(load_plugin("embed-hash", config), std::runtime_error) << config;
  }
}

TEST(EmbedHash, UnitNorm) {
  const std::vector<std::string> texts = {
      "",
      " \t\n",
      "?!... ---",
      "a",
      "Forklift Operator",
      kForkliftProfile,
      "Café crème brûlée",
      "日本語のテキスト",
      "naïve ✓ Ünïcödé",
      "\xff\xfe\x80 not UTF-8 \xc3",
      std::string(5000, 'x'),
  };
  for (const char* config : {"{}", R"({"dimension": 8})", R"({"dimension": 64, "ngram_weight": 4})",
                             R"({"ngram_weight": 0, "seed": 7})"}) {
    auto p = load_plugin("embed-hash", config);
    const auto vectors = embed(*p, texts);
    for (size_t i = 0; i < texts.size(); ++i) {
      EXPECT_NEAR(std::sqrt(dot(vectors[i], vectors[i])), 1.0, 1e-5)
          << config << " text #" << i << " \"" << texts[i].substr(0, 40) << "\"";
    }
  }
}

TEST(EmbedHash, TextWithoutWordsIsFirstBasisVector) {
  // Documented choice (README): no features -> e0, so even an empty text has a unit vector.
  auto p = load_plugin("embed-hash", R"({"dimension": 16})");
  Vector e0(16, 0.0f);
  e0[0] = 1.0f;
  EXPECT_TRUE(bitwise_equal(embed(*p, ""), e0));
  EXPECT_TRUE(bitwise_equal(embed(*p, "  -- !? "), e0));
}

TEST(EmbedHash, Deterministic) {
  const std::string text = kForkliftProfile + " Ünïcödé";
  auto a = load_plugin("embed-hash", "{}");
  auto b = load_plugin("embed-hash", "{}");
  const Vector first = embed(*a, text);
  EXPECT_TRUE(bitwise_equal(first, embed(*a, text))) << "same instance, second call";
  EXPECT_TRUE(bitwise_equal(first, embed(*b, text))) << "separate instance";
}

TEST(EmbedHash, MatchesPinnedReference) {
  // The hashing scheme is part of the plugin's contract (README): stored vectors stay comparable
  // only if it never changes. Reference values computed independently from the README's
  // description of the scheme (dimension 16, ngram_weight 0.5, seed 0).
  auto p = load_plugin("embed-hash", R"({"dimension": 16})");
  const std::vector<std::pair<std::string, Vector>> cases = {
      {"Forklift Operator",
       {-0.471404523f, -0.235702261f, 0, 0, 0.235702261f, 0, 0.235702261f, 0, 0.471404523f,
        -0.471404523f, 0, -0.235702261f, 0, 0, -0.235702261f, -0.235702261f}},
      {"Café",  // "é" is one character of the 3-grams "afé" and "fé>"
       {0, 0, -0.632455528f, 0, 0, 0, -0.316227764f, 0.316227764f, 0, 0, 0, 0, 0, 0.632455528f, 0,
        0}},
  };
  for (const auto& [text, expected] : cases) {
    const Vector actual = embed(*p, text);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(actual[i], expected[i], 1e-6) << text << " [" << i << "]";
    }
  }
}

TEST(EmbedHash, DifferentTextsDiffer) {
  auto p = load_plugin("embed-hash", "{}");
  const std::vector<std::string> texts = {"Forklift Operator", "CNC Operator",   "forklift",
                                          "operator",          kForkliftProfile, kCncProfile};
  const auto vectors = embed(*p, texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    for (size_t j = i + 1; j < texts.size(); ++j) {
      EXPECT_LT(dot(vectors[i], vectors[j]), 0.99) << texts[i] << " vs " << texts[j];
    }
  }
}

TEST(EmbedHash, SeedChangesVectors) {
  auto a = load_plugin("embed-hash", "{}");
  auto b = load_plugin("embed-hash", R"({"seed": 1})");
  EXPECT_FALSE(bitwise_equal(embed(*a, "Forklift Operator"), embed(*b, "Forklift Operator")));
}

TEST(EmbedHash, RoleQueryPrefersMatchingProfile) {
  auto p = load_plugin("embed-hash", "{}");
  const double forklift = cosine(*p, "Forklift Operator", kForkliftProfile);
  EXPECT_GT(forklift, cosine(*p, "Forklift Operator", kCncProfile));
  // Profiles sharing one of the two role words must still rank below the real match.
  EXPECT_GT(forklift, cosine(*p, "Forklift Operator", kMachineOperatorProfile));
  EXPECT_GT(forklift, cosine(*p, "Forklift Operator", kWarehouseProfile));
  EXPECT_GT(cosine(*p, "CNC Machinist", kCncProfile),
            cosine(*p, "CNC Machinist", kForkliftProfile));
}

TEST(EmbedHash, CaseAndPunctuationInsensitive) {
  auto p = load_plugin("embed-hash", "{}");
  const Vector lower = embed(*p, "forklift");
  EXPECT_TRUE(bitwise_equal(embed(*p, "FORKLIFT"), lower));
  EXPECT_TRUE(bitwise_equal(embed(*p, "Forklift"), lower));
  EXPECT_TRUE(bitwise_equal(embed(*p, "Forklift Operator"), embed(*p, "forklift, OPERATOR!")));
}

TEST(EmbedHash, NonAsciiBytesArePartOfWords) {
  auto p = load_plugin("embed-hash", "{}");
  EXPECT_FALSE(bitwise_equal(embed(*p, "café"), embed(*p, "caf")));
  EXPECT_FALSE(bitwise_equal(embed(*p, "café"), embed(*p, "caf é")));
}

TEST(EmbedHash, NgramsRelateWordForms) {
  auto with_ngrams = load_plugin("embed-hash", "{}");
  auto words_only = load_plugin("embed-hash", R"({"ngram_weight": 0})");
  const double related = cosine(*with_ngrams, "operator", "operators");
  EXPECT_GT(related, 0.3);
  EXPECT_GT(related, cosine(*words_only, "operator", "operators") + 0.3);
}

TEST(EmbedHash, BatchEqualsSingleCalls) {
  auto p = load_plugin("embed-hash", R"({"dimension": 128})");
  const std::vector<std::string> texts = {"Forklift Operator", "", kCncProfile, "Café", "x"};
  const auto batch = embed(*p, texts);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_TRUE(bitwise_equal(batch[i], embed(*p, texts[i]))) << "text #" << i;
  }
  lh_error err{};
  EXPECT_EQ(api(*p).embed(p->self(), nullptr, 0, nullptr, &err), LH_OK) << "empty batch";
}

TEST(EmbedHash, ConcurrentCallsAgree) {
  // LH_FLAG_THREAD_SAFE: the host calls one instance from many threads without a lock.
  auto p = load_plugin("embed-hash", "{}");
  const std::vector<std::string> texts = {kForkliftProfile, kCncProfile, "Forklift Operator"};
  const auto expected = embed(*p, texts);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        if (embed(*p, texts) != expected) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
