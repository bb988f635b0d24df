// Host-level refusals: a real `lakehost serve` (loopback, ephemeral port) with the build's
// plugins and the deliberately broken ones. A reload that adds a broken manifest must fail with
// 422 reload_failed naming the manifest, while the previous generation keeps serving (health,
// generation number, searches); removing the manifest makes the next reload succeed. A host
// that starts with a broken manifest must exit with the message on its log. A plugin that
// throws at request time costs that request a 500, not the host.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "host_process.h"
#include "http_client.h"
#include "plugin/loader.h"
#include "plugin_fixture.h"

namespace fs = std::filesystem;
using lakehost::test::copy_default_manifests;
using lakehost::test::HostOptions;
using lakehost::test::HostProcess;
using lakehost::test::HttpClient;
using lakehost::test::HttpResult;
using lakehost::test::read_file;
using lakehost::test::temp_dir;
using lakehost::test::write_file;

namespace {

// Sorted after the default manifests, so the good plugins are loaded before it.
constexpr const char* kBrokenManifest = "zz-broken.json";

struct BrokenCase {
  std::string name;     // test name suffix
  std::string library;  // as written in the manifest
  std::string kind = "embed_provider";
  std::string config = "{}";
  std::string extra;                  // more manifest members, starting with ", "
  std::vector<std::string> expected;  // substrings of the refusal
};

std::ostream& operator<<(std::ostream& os, const BrokenCase& c) { return os << c.name; }

std::string manifest_text(const BrokenCase& c) {
  return R"({"id": "broken", "kind": ")" + c.kind + R"(", "library": ")" + c.library +
         R"(", "default": false, "config": )" + c.config + c.extra + "}";
}

const std::vector<BrokenCase>& cases() {
  static const std::vector<BrokenCase> all = {
      {"AbiMajorMismatch",
       "broken-abi-major-mismatch.so",
       "embed_provider",
       "{}",
       "",
       {"broken-abi-major-mismatch.so", "plugin ABI " + std::to_string(LH_ABI_MAJOR + 1) + ".0",
        "this host speaks " + std::to_string(LH_ABI_MAJOR) + "." + std::to_string(LH_ABI_MINOR)}},
      {"AbiMinorNewer",
       "broken-abi-minor-newer.so",
       "embed_provider",
       "{}",
       "",
       {"broken-abi-minor-newer.so",
        "plugin ABI " + std::to_string(LH_ABI_MAJOR) + "." + std::to_string(LH_ABI_MINOR + 1)}},
      {"NoEntry",
       "broken-no-entry.so",
       "embed_provider",
       "{}",
       "",
       {"broken-no-entry.so", "does not export \"lakehost_plugin\""}},
      {"EntryNotAPointer",
       "broken-entry-not-a-pointer.so",
       "embed_provider",
       "{}",
       "",
       {"broken-entry-not-a-pointer.so", "neither a function nor a pointer to one"}},
      {"EntryPointsToData",
       "broken-entry-points-to-data.so",
       "embed_provider",
       "{}",
       "",
       {"broken-entry-points-to-data.so", "does not point to a function in the library"}},
      {"DefaultBreaksSchema",
       "broken-default-breaks-schema.so",
       "embed_provider",
       "{}",
       "",
       {"/config/n violates \"minimum\": must be >= 1, got 0",
        "a default in the config schema of plugin \"broken-default-breaks-schema\""}},
      {"CreateThrows",
       "broken-create-throws.so",
       "embed_provider",
       "{}",
       "",
       {"broken-create-throws.so", "create_throws: this constructor always throws"}},
      {"CreateFails",
       "broken-create-fails.so",
       "embed_provider",
       "{}",
       "",
       {"broken-create-fails.so", "create_fails: refusing every config on purpose"}},
      {"TruncatedTable",
       "broken-truncated-table.so",
       "embed_provider",
       "{}",
       "",
       {"broken-truncated-table.so", "function table is truncated"}},
      {"ConfigSchema",
       "embed-hash.so",
       "embed_provider",
       R"({"dimension": "big"})",
       "",
       {"/config/dimension"}},
      {"KindMismatch",
       "embed-hash.so",
       "vector_backend",
       "{}",
       "",
       {"/kind is \"vector_backend\"", "embed-hash.so"}},
      {"Sha256Mismatch",
       "embed-hash.so",
       "embed_provider",
       "{}",
       R"(, "sha256": ")" + std::string(64, '0') + "\"",
       {"sha256 mismatch", std::string(64, '0')}},
      {"MissingLibrary",
       "no-such-plugin.so",
       "embed_provider",
       "{}",
       "",
       {"no-such-plugin.so", "no such file"}},
  };
  return all;
}

HostOptions options(const std::string& manifests_dir) {
  HostOptions o;
  o.manifests_dir = manifests_dir;
  o.plugin_dirs = {LAKEHOST_TEST_PLUGIN_DIR, LAKEHOST_BROKEN_PLUGIN_DIR};
  return o;
}

rapidjson::Document parse(const HttpResult& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  EXPECT_FALSE(d.HasParseError()) << "not JSON: " << r.body;
  return d;
}

// {"error": {"code", "message"}} of an error response ("" when absent).
std::pair<std::string, std::string> error_of(const HttpResult& r) {
  auto d = parse(r);
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("error") || !d["error"].IsObject())
    return {"", ""};
  const auto& e = d["error"];
  auto str = [&](const char* k) {
    return e.HasMember(k) && e[k].IsString() ? std::string(e[k].GetString()) : std::string();
  };
  return {str("code"), str("message")};
}

uint64_t health_generation(HttpClient& http, const HostProcess& host) {
  auto r = http.get(host.url("/health"));
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  auto d = parse(r);
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("generation")) return 0;
  return d["generation"].GetUint64();
}

// A host on the default manifests, with one collection of two documents. One per suite.
class HostRefusalTest : public ::testing::TestWithParam<BrokenCase> {
 protected:
  static void SetUpTestSuite() {
    manifests_ = new std::string(copy_default_manifests());
    host_ = new HostProcess(options(*manifests_));
    HttpClient http;
    auto r = http.put(host_->url("/v1/collections/fruit"), "");
    ASSERT_EQ(r.status, 201) << r.error << r.body;
    r = http.post(host_->url("/v1/collections/fruit/documents"),
                  R"({"documents": [{"id": "apple", "text": "a crisp red apple"},
                                    {"id": "ocean", "text": "the deep blue ocean"}]})");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
    delete manifests_;
    manifests_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(host_, nullptr);
    ASSERT_TRUE(host_->running());
  }

  void expect_search_works() {
    auto r =
        http_.post(host_->url("/v1/collections/fruit/search"), R"({"query": "red apple", "k": 2})");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    auto d = parse(r);
    ASSERT_TRUE(d.IsObject() && d.HasMember("results") && d["results"].IsArray()) << r.body;
    ASSERT_EQ(d["results"].Size(), 2u) << r.body;
    EXPECT_STREQ(d["results"][0]["id"].GetString(), "apple") << r.body;
  }

  static std::string* manifests_;
  static HostProcess* host_;
  HttpClient http_;
};

std::string* HostRefusalTest::manifests_ = nullptr;
HostProcess* HostRefusalTest::host_ = nullptr;

TEST_P(HostRefusalTest, FailedReloadKeepsTheOldGenerationServing) {
  const BrokenCase& c = GetParam();
  const std::string file = (fs::path(*manifests_) / kBrokenManifest).string();
  const uint64_t before = health_generation(http_, *host_);
  ASSERT_GT(before, 0u);

  write_file(file, manifest_text(c));
  struct Remove {
    std::string path;
    ~Remove() { fs::remove(path); }
  } remove_after{file};

  auto r = http_.post(host_->url("/v1/admin/reload"), "");
  EXPECT_EQ(r.status, 422) << r.body;
  auto [code, message] = error_of(r);
  EXPECT_EQ(code, "reload_failed") << r.body;
  EXPECT_NE(message.find(file), std::string::npos) << "does not name " << file << ": " << message;
  for (const auto& part : c.expected)
    EXPECT_NE(message.find(part), std::string::npos)
        << "expected \"" << part << "\" in: " << message;

  // The old generation keeps serving, unchanged.
  EXPECT_EQ(health_generation(http_, *host_), before);
  expect_search_works();
  r = http_.get(host_->url("/v1/plugins"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("\"broken\""), std::string::npos) << "the broken instance is listed";

  // Without the broken manifest the next reload succeeds with a new generation.
  fs::remove(file);
  r = http_.post(host_->url("/v1/admin/reload"), "");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(health_generation(http_, *host_), before + 1);
  expect_search_works();
}

INSTANTIATE_TEST_SUITE_P(BrokenPlugins, HostRefusalTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// ---- start-up ---------------------------------------------------------------------------------

class HostStartupTest : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(HostStartupTest, HostWithBrokenManifestDoesNotStart) {
  const BrokenCase& c = GetParam();
  const std::string manifests = copy_default_manifests();
  const std::string file = (fs::path(manifests) / kBrokenManifest).string();
  write_file(file, manifest_text(c));
  std::string message;
  try {
    HostProcess host(options(manifests));
    ADD_FAILURE() << "the host started with " << c.library;
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("lakehost exited during start-up"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot start"), std::string::npos) << message;
  EXPECT_NE(message.find(file), std::string::npos) << message;
  for (const auto& part : c.expected)
    EXPECT_NE(message.find(part), std::string::npos)
        << "expected \"" << part << "\" in: " << message;
}

INSTANTIATE_TEST_SUITE_P(BrokenPlugins, HostStartupTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// HostProcess does not expose the exit status: run the binary directly for that (bounded).
TEST(HostStartup, ExitsNonZero) {
  const std::string manifests = copy_default_manifests();
  write_file((fs::path(manifests) / kBrokenManifest).string(), manifest_text(cases().front()));
  const std::string data = temp_dir();
  const std::string log = data + "/host.log";
  const std::string cmd =
      std::string("timeout 60 ") + LAKEHOST_BINARY +
      " serve --listen 127.0.0.1:0 --no-watch --manifests " + manifests + " --data " + data +
      " --plugin-dir " LAKEHOST_TEST_PLUGIN_DIR " --plugin-dir " LAKEHOST_BROKEN_PLUGIN_DIR " >" +
      log + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1) << read_file(log);  // 124 would be the timeout
  EXPECT_NE(read_file(log).find("cannot start"), std::string::npos) << read_file(log);
}

// ---- a plugin that throws at request time ----------------------------------------------------

TEST(HostRequestFailure, EmbedThatThrowsIsA500AndTheHostKeepsServing) {
  const std::string manifests = copy_default_manifests();
  HostProcess host(options(manifests));
  HttpClient http;
  const std::string file = (fs::path(manifests) / "zz-embed-throws.json").string();
  write_file(file, R"({"id": "embed-throws", "kind": "embed_provider",
                       "library": "broken-embed-throws.so", "default": false, "config": {}})");
  auto r = http.post(host.url("/v1/admin/reload"), "");
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t generation = health_generation(http, host);

  r = http.post(host.url("/v1/embed"), R"({"texts": ["x"], "model": "embed-throws"})");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.headers["content-type"].find("application/json"), std::string::npos);
  auto [code, message] = error_of(r);
  EXPECT_FALSE(code.empty()) << r.body;
  EXPECT_NE(message.find("embed_throws: embed() always throws"), std::string::npos) << r.body;
  EXPECT_NE(message.find("embed-throws"), std::string::npos) << "names the instance: " << r.body;

  // Same for a collection built on it: the write fails, nothing else does.
  r = http.put(host.url("/v1/collections/thrown"), R"({"embedder": "embed-throws"})");
  EXPECT_EQ(r.status, 201) << r.body;
  r = http.post(host.url("/v1/collections/thrown/documents"),
                R"({"documents": [{"id": "a", "text": "x"}]})");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(error_of(r).second.find("embed_throws"), std::string::npos) << r.body;

  // The host keeps serving, on the same generation; the default embedder still works.
  EXPECT_EQ(health_generation(http, host), generation);
  r = http.post(host.url("/v1/embed"), R"({"texts": ["x"]})");
  EXPECT_EQ(r.status, 200) << r.body;
  r = http.post(host.url("/v1/embed"), R"({"texts": ["again"], "model": "embed-throws"})");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_TRUE(host.running());
}

}  // namespace
