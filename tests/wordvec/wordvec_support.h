// Helpers shared by the embed-wordvec suites (header-only: tests/CMakeLists.txt compiles only
// wordvec/*_test.cpp). LAKEHOST_WORDVEC_SUBSET is the committed subset converted at build time.
#pragma once

#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "plugin_fixture.h"

namespace lakehost::wordvec_test {

using test::load_plugin;
using test::LoadedPlugin;
using Vector = std::vector<float>;

inline const std::string kSubset = LAKEHOST_WORDVEC_SUBSET;
inline const std::string kDemoCorpus = LAKEHOST_SOURCE_DIR "/data/demo/workers.jsonl";

// A config for the subset; `extra` is appended inside the object (", \"fusion_weight\": 1").
inline std::string config(const std::string& extra = "", const std::string& path = kSubset) {
  return "{\"path\": \"" + path + "\"" + extra + "}";
}

// The configuration docs/benchmarks-wordvec.md picked (manifests/examples/embed-wordvec.json).
inline std::string recommended_config() {
  return config(", \"idf_corpus\": \"" + kDemoCorpus +
                "\", \"fusion_weight\": 0.7, \"hash\": {\"dimension\": 1024}");
}

inline const lh_embed_provider_v1& api(const LoadedPlugin& p) {
  return *p.table<lh_embed_provider_v1>();
}
inline uint32_t dimension(const LoadedPlugin& p) { return api(p).dimension(p.self()); }

constexpr float kSentinel = -12345.0f;

// Embeds all texts in one call; one extra float after the output must stay untouched.
inline std::vector<Vector> embed(const LoadedPlugin& p, const std::vector<std::string>& texts) {
  std::vector<lh_str> in;
  for (const auto& t : texts) in.push_back({t.data(), t.size()});
  const size_t dim = dimension(p);
  std::vector<float> out(texts.size() * dim + 1, kSentinel);
  lh_error err{};
  EXPECT_EQ(api(p).embed(p.self(), in.data(), in.size(), out.data(), &err), LH_OK) << err.message;
  EXPECT_EQ(out.back(), kSentinel) << "embed() wrote past n * dimension() floats";
  std::vector<Vector> rows;
  for (size_t i = 0; i < texts.size(); ++i)
    rows.emplace_back(out.begin() + i * dim, out.begin() + (i + 1) * dim);
  return rows;
}
inline Vector embed(const LoadedPlugin& p, const std::string& text) {
  return embed(p, std::vector<std::string>{text})[0];
}

inline double dot(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(a[i]) * b[i];
  return s;
}
inline double dot(const Vector& a, const Vector& b) {
  return dot(a.data(), b.data(), std::min(a.size(), b.size()));
}
inline double norm(const Vector& v) { return std::sqrt(dot(v, v)); }

inline bool bitwise_equal(const Vector& a, const Vector& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ConvertRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs the real converter with `args` (already shell-quoted where needed).
inline ConvertRun run_converter(const std::string& args) {
  const std::string log = test::temp_dir() + "/convert.log";
  const std::string cmd =
      std::string("'") + LAKEHOST_WORDVEC_CONVERTER + "' " + args + " >'" + log + "' 2>&1";
  const int status = std::system(cmd.c_str());
  ConvertRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = read_text(log);
  return r;
}

}  // namespace lakehost::wordvec_test
