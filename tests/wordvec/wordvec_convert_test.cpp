// tools/wordvec-convert (the real binary) and the .lhwv reader the plugin uses: round trips,
// the committed subset, --vocab/--top/--json, and refusals of malformed input.
#include <rapidjson/document.h>

#include <filesystem>
#include <set>

#include "lhwv_format.h"
#include "wordvec_support.h"

namespace lakehost::wordvec_test {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string word;
  std::vector<double> v;
  uint32_t rank;
};

std::string row_json(const Entry& e, double norm_override = -1) {
  double sq = 0;
  for (double x : e.v) sq += x * x;
  std::string s = "[";
  for (double x : e.v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g,", x);
    s += b;
  }
  char b[64];
  std::snprintf(b, sizeof b, "%.9g,%u]", norm_override >= 0 ? norm_override : std::sqrt(sq),
                e.rank);
  return s + b;
}

// A JSON string literal (quotes and backslashes escaped).
std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// The package's shape; header keys after "vectors" to show that the order does not matter.
std::string package_json(const std::vector<Entry>& entries, const std::string& extra_rows = "") {
  std::string s = "{\"words\": [";
  for (size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + quoted(entries[i].word);
  s += "], \"vectors\": {";
  for (size_t i = 0; i < entries.size(); ++i)
    s += (i ? ",\n" : "\n") + quoted(entries[i].word) + ": " + row_json(entries[i]);
  s += extra_rows +
       "}, \"unkVector\": [0,0,0,-1], \"precision\": 8, \"l2NormIndex\": 3, "
       "\"wordIndex\": 4, \"size\": " +
       std::to_string(entries.size() + (extra_rows.empty() ? 0 : 1)) + ", \"dimensions\": 3}";
  return s;
}

const std::vector<Entry> kEntries = {
    {"the", {0.5, -0.25, 1}, 0},   {"forklift", {1.5, 2, -0.125}, 7},
    {"g-code", {-3, 0.001, 4}, 9}, {"caf\xc3\xa9", {0.1, 0.2, 0.3}, 3},
    {"\"", {2, 2, 1}, 1},          {"Zebra", {0, 0, 5}, 12},
    {"truck", {-1, -1, -1}, 2},
};

TEST(WordvecConvert, RoundTripThroughTheReader) {
  const std::string dir = test::temp_dir();
  write_text(dir + "/in.json", package_json(kEntries));
  const ConvertRun r = run_converter("'" + dir + "/in.json' '" + dir + "/out.lhwv'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("7 of 7 words x 3 dimensions"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/out.lhwv.tmp"));

  lhwv::WordVectors wv(dir + "/out.lhwv");
  EXPECT_EQ(wv.size(), kEntries.size());
  EXPECT_EQ(wv.dimension(), 3u);
  for (uint32_t i = 0; i + 1 < wv.size(); ++i) EXPECT_LT(wv.word_at(i), wv.word_at(i + 1));
  for (const Entry& e : kEntries) {
    const uint32_t id = wv.find(e.word);
    ASSERT_NE(id, lhwv::WordVectors::kNotFound) << e.word;
    EXPECT_EQ(wv.word_at(id), e.word);
    EXPECT_EQ(wv.rank(id), e.rank) << e.word;
    double sq = 0;
    for (double x : e.v) sq += double(float(x)) * float(x);
    EXPECT_NEAR(wv.norm(id), std::sqrt(sq), 1e-6 * std::sqrt(sq)) << e.word;
    for (int j = 0; j < 3; ++j)
      EXPECT_NEAR(wv.unit_vector(id)[j], e.v[j] / std::sqrt(sq), 1e-7) << e.word << "[" << j << "]";
  }
  for (const char* absent : {"", "zebra", "forklifts", "g", "caf", "thee", "~"})
    EXPECT_EQ(wv.find(absent), lhwv::WordVectors::kNotFound) << absent;
}

TEST(WordvecConvert, TheCommittedSubsetKeepsTheMeanWordsAndTheCorpus) {
  // Converted at build time by the custom command in tests/CMakeLists.txt.
  lhwv::WordVectors wv(kSubset);
  rapidjson::Document d;
  const std::string json = read_text(LAKEHOST_WORDVEC_SUBSET_JSON);
  ASSERT_FALSE(d.Parse(json.c_str(), json.size()).HasParseError());
  EXPECT_EQ(wv.size(), d["size"].GetUint());
  EXPECT_EQ(wv.size(), d["vectors"].MemberCount());
  EXPECT_EQ(wv.dimension(), 100u);
  EXPECT_LT(json.size(), 4u << 20) << "the committed subset should stay a few MB";
  // All 2,000 most frequent words (the mean vector's) are in, so the mean equals the full file's.
  std::set<uint32_t> ranks;
  for (uint32_t id = 0; id < wv.size(); ++id)
    if (wv.rank(id) < 2000) ranks.insert(wv.rank(id));
  EXPECT_EQ(ranks.size(), 2000u);
  for (const char* w : {"forklift", "pallets", "employee", "powered", "truck", "welder", "cnc"})
    EXPECT_NE(wv.find(w), lhwv::WordVectors::kNotFound) << w;
  // Spot check: the reader's unit vector is the JSON's vector over its norm.
  const auto& forklift = d["vectors"]["forklift"];
  const uint32_t id = wv.find("forklift");
  EXPECT_EQ(wv.rank(id), forklift[101].GetUint());
  EXPECT_NEAR(wv.norm(id), forklift[100].GetDouble(), 1e-5);
  for (int j = 0; j < 100; ++j)
    EXPECT_NEAR(wv.unit_vector(id)[j], forklift[j].GetDouble() / forklift[100].GetDouble(), 1e-6);
}

TEST(WordvecConvert, VocabTopAndJsonOutput) {
  const std::string dir = test::temp_dir();
  const std::string input = package_json(kEntries);
  write_text(dir + "/in.json", input);
  write_text(dir + "/vocab.txt", "forklift\r\nzebra\nnot-in-input\n\nZebra\n");
  // --top 2 also keeps the words of rank 0 and 1 ("the" and "\"").
  ConvertRun r = run_converter("'" + dir + "/in.json' '" + dir + "/sub.json' --vocab '" + dir +
                               "/vocab.txt' --top 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string sub = read_text(dir + "/sub.json");
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(sub.c_str(), sub.size()).HasParseError()) << sub;
  EXPECT_EQ(d["size"].GetUint(), 4u);
  std::vector<std::string> words;
  for (const auto& w : d["words"].GetArray()) words.push_back(w.GetString());
  EXPECT_EQ(words, (std::vector<std::string>{"the", "\"", "forklift", "Zebra"})) << "by rank";
  EXPECT_EQ(d["vectors"].MemberCount(), 4u);
  EXPECT_EQ(d["unkVector"].Size(), 4u);
  // Numbers are copied as written, byte for byte.
  EXPECT_NE(sub.find("\"forklift\":" + row_json(kEntries[1])), std::string::npos) << sub;
  // The subset converts to the same vectors as the full input filtered the same way.
  r = run_converter("'" + dir + "/sub.json' '" + dir + "/a.lhwv'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_converter("'" + dir + "/in.json' '" + dir + "/b.lhwv' --vocab '" + dir +
                    "/vocab.txt' --top 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_text(dir + "/a.lhwv"), read_text(dir + "/b.lhwv"));
  lhwv::WordVectors b(dir + "/b.lhwv");
  EXPECT_EQ(b.size(), 4u);
  EXPECT_EQ(b.find("truck"), lhwv::WordVectors::kNotFound);
}

TEST(WordvecConvert, RefusesMalformedInput) {
  const Entry ok = {"ok", {1, 2, 3}, 0};
  auto with_row = [&](const std::string& row) { return package_json({ok}, row); };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"vectors\": {\"a\": [1, 2", "malformed JSON"},
      {"not json at all", "malformed JSON"},
      {with_row(",\"short\": [1, 2, 3.7416575, 5]"), "\"short\" has 4 numbers, expected 5"},
      {with_row(",\"badnorm\": [1, 2, 3, 4.5, 1]"), "stored norm of \"badnorm\""},
      {with_row(",\"zero\": [0, 0, 0, 0, 1]"), "\"zero\" is zero"},
      {with_row(",\"ok\": [1, 2, 3, 3.7416574, 1]"), "duplicate word \"ok\""},
      {with_row(",\"str\": [1, \"2\", 3, 3.7416574, 1]"), "inside the vector of \"str\""},
      {with_row(",\"rank\": [1, 2, 3, 3.7416574, 1.5]"), "rank of \"rank\""},
      {with_row(",\"nested\": [1, [2], 3, 3.7416574, 1]"), "nested array"},
      {with_row(",\"\": [1, 2, 3, 3.7416574, 1]"), "empty word"},
      {R"({"dimensions": 3, "l2NormIndex": 3, "wordIndex": 4, "vectors": {}})", "empty"},
      {R"({"vectors": {"a": [1, 2, 3, 3.7416574, 0]}})", "\"dimensions\""},
      {R"({"dimensions": 3, "l2NormIndex": 3, "wordIndex": 4, "size": 2,
           "vectors": {"a": [1, 2, 3, 3.7416574, 0]}})",
       "\"size\" is 2"},
      {R"({"dimensions": 3, "l2NormIndex": 1, "wordIndex": 4,
           "vectors": {"a": [1, 2, 3, 3.7416574, 0]}})",
       "l2NormIndex"},
  };
  for (const auto& [json, why] : cases) {
    const std::string dir = test::temp_dir();
    write_text(dir + "/in.json", json);
    const ConvertRun r = run_converter("'" + dir + "/in.json' '" + dir + "/out.lhwv'");
    EXPECT_EQ(r.exit_code, 1) << json;
    EXPECT_NE(r.output.find(why), std::string::npos) << "expected \"" << why << "\": " << r.output;
    EXPECT_FALSE(fs::exists(dir + "/out.lhwv")) << json;
  }
  const std::string dir = test::temp_dir();
  EXPECT_EQ(run_converter("'" + dir + "/missing.json' '" + dir + "/out.lhwv'").exit_code, 1);
  EXPECT_EQ(run_converter("only-one-argument").exit_code, 1);
  write_text(dir + "/in.json", package_json(kEntries));
  EXPECT_EQ(run_converter("'" + dir + "/in.json' '" + dir + "/out.lhwv' --top 3").exit_code, 1)
      << "--top without --vocab";
  write_text(dir + "/vocab.txt", "nothing-here\n");
  const ConvertRun r =
      run_converter("'" + dir + "/in.json' '" + dir + "/out.lhwv' --vocab '" + dir + "/vocab.txt'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no word of the vocabulary"), std::string::npos) << r.output;
}

// The reader checks more than the magic: offsets, order and sizes (the plugin test covers magic,
// version and truncation through create()).
TEST(WordvecConvert, ReaderRefusesInconsistentFiles) {
  const std::string dir = test::temp_dir();
  write_text(dir + "/in.json", package_json(kEntries));
  ASSERT_EQ(run_converter("'" + dir + "/in.json' '" + dir + "/ok.lhwv'").exit_code, 0);
  const std::string good = read_text(dir + "/ok.lhwv");
  lhwv::LhwvHeader h;
  std::memcpy(&h, good.data(), sizeof h);
  auto refused = [&](const std::string& bytes, const std::string& why) {
    write_text(dir + "/bad.lhwv", bytes);
    try {
      lhwv::WordVectors wv(dir + "/bad.lhwv");
      return ::testing::AssertionFailure() << "accepted (" << why << ")";
    } catch (const lhwv::FormatError& e) {
      if (std::string(e.what()).find(why) == std::string::npos)
        return ::testing::AssertionFailure() << e.what() << " lacks " << why;
      return ::testing::AssertionSuccess();
    }
  };
  auto patched = [&](auto edit) {
    lhwv::LhwvHeader copy = h;
    edit(copy);
    std::string b = good;
    std::memcpy(b.data(), &copy, sizeof copy);
    return b;
  };
  EXPECT_TRUE(refused(patched([](auto& x) { x.vectors_offset += 64; }), "offsets"));
  EXPECT_TRUE(refused(patched([](auto& x) { x.dimension = 0; }), "dimension 0"));
  EXPECT_TRUE(refused(patched([](auto& x) { x.byte_order = 0x04030201; }), "byte order"));
  EXPECT_TRUE(refused(patched([](auto& x) { x.word_count = 0; }), "word count"));
  // Swap two words of the sorted strings: same bytes, wrong order.
  std::string unsorted = good;
  const char* base = good.data() + h.strings_offset;
  std::string strings(base, h.strings_size);
  std::string reversed(strings.rbegin(), strings.rend());
  std::memcpy(unsorted.data() + h.strings_offset, reversed.data(), reversed.size());
  EXPECT_TRUE(refused(unsorted, "not sorted"));
}

}  // namespace
}  // namespace lakehost::wordvec_test
