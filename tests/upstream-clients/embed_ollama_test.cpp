// plugins/embed-ollama through the host's loader, against tests/upstreams/ollama_server.py (which
// follows Ollama's API document). Also exercises <lakehost/http_client.hpp>: retries, backoff,
// Retry-After, error mapping.
#include <thread>

#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

constexpr const char* kPlugin = "embed-ollama";

// Fast retries so the failure tests stay short; the delays are still real sleeps.
std::string ollama_config(const UpstreamServer& s,
                          std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::vector<std::pair<std::string, std::string>> f = {{"base_url", jstr(s.base_url())},
                                                        {"model", jstr("nomic-embed-text")},
                                                        {"retry_backoff_ms", "10"}};
  for (auto& e : extra) {
    bool replaced = false;
    for (auto& x : f) {
      if (x.first == e.first) x.second = e.second, replaced = true;
    }
    if (!replaced) f.push_back(e);
  }
  return config(f);
}

// What the server itself answers for `texts` (one request, straight over HTTP).
std::vector<std::vector<double>> raw_vectors(UpstreamServer& s,
                                             const std::vector<std::string>& texts,
                                             const std::string& model = "nomic-embed-text") {
  std::string input = "[";
  for (size_t i = 0; i < texts.size(); ++i) input += (i ? "," : "") + jstr(texts[i]);
  input += "]";
  test::HttpClient c;
  auto r = c.post(s.base_url() + "/api/embed",
                  "{\"model\": " + jstr(model) + ", \"input\": " + input + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  const auto d = parse(r.body);
  std::vector<std::vector<double>> out;
  for (const auto& row : d["embeddings"].GetArray()) {
    std::vector<double> v;
    for (const auto& x : row.GetArray()) v.push_back(x.GetDouble());
    out.push_back(v);
  }
  return out;
}

const std::vector<std::string> kTexts = {"Forklift Operator", "CNC Machinist", "",
                                         "Warehouse Associate, 2 years", "Café ✓ 日本語"};

TEST(EmbedOllama, Descriptor) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}}));
  const lh_plugin_descriptor* d = p->descriptor();
  EXPECT_EQ(d->kind, static_cast<uint32_t>(LH_KIND_EMBED_PROVIDER));
  EXPECT_STREQ(d->name, "embed-ollama");
  EXPECT_TRUE(d->flags & LH_FLAG_THREAD_SAFE);
  ASSERT_NE(d->config_schema, nullptr);
  EXPECT_NE(std::string(d->config_schema).find("\"additionalProperties\": false"),
            std::string::npos);
}

TEST(EmbedOllama, ProbesDimensionThenReturnsTheServersVectorsNormalisedInInputOrder) {
  UpstreamServer s("ollama_server.py", {"--dimension", "12"});
  auto p = load_plugin(kPlugin, ollama_config(s));
  EXPECT_EQ(p->table<lh_embed_provider_v1>()->dimension(p->self()), 12u);
  auto probe = recorded(s, "/api/embed");
  ASSERT_EQ(probe.size(), 1u) << "create() probes the dimension with one request";
  EXPECT_STREQ(probe[0].body["model"].GetString(), "nomic-embed-text");

  auto got = embed(*p, kTexts);
  ASSERT_EQ(got.status, LH_OK) << got.message;
  const auto raw = raw_vectors(s, kTexts);
  for (size_t i = 0; i < raw.size(); ++i) {
    double n = 0;
    for (double x : raw[i]) n += x * x;
    EXPECT_GT(std::abs(std::sqrt(n) - 1.0), 0.1) << "the fake server must not send unit vectors";
  }
  for (const auto& v : got.vectors) EXPECT_NEAR(norm(v), 1.0, 1e-5);
  EXPECT_TRUE(same_vectors(got.vectors, normalised(raw)));
  // The request carried the texts in order, unchanged (UTF-8 included).
  auto sent = recorded(s, "/api/embed");
  ASSERT_GE(sent.size(), 2u);
  const auto& input = sent[1].body["input"];
  ASSERT_EQ(input.Size(), kTexts.size());
  for (size_t i = 0; i < kTexts.size(); ++i) EXPECT_EQ(input[i].GetString(), kTexts[i]);
}

TEST(EmbedOllama, BatchesTextsByBatchSize) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}, {"batch_size", "2"}}));
  EXPECT_TRUE(recorded(s, "/api/embed").empty()) << "a configured dimension needs no probe";
  auto got = embed(*p, kTexts);
  ASSERT_EQ(got.status, LH_OK) << got.message;
  auto sent = recorded(s, "/api/embed");
  ASSERT_EQ(sent.size(), 3u);  // 2 + 2 + 1
  std::vector<std::string> seen;
  for (const auto& r : sent) {
    EXPECT_LE(r.body["input"].Size(), 2u);
    for (const auto& t : r.body["input"].GetArray()) seen.push_back(t.GetString());
  }
  EXPECT_EQ(seen, kTexts);
  EXPECT_TRUE(same_vectors(got.vectors, normalised(raw_vectors(s, kTexts))));
}

TEST(EmbedOllama, NoTextsNoRequest) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}}));
  auto got = embed(*p, {});
  EXPECT_EQ(got.status, LH_OK);
  EXPECT_TRUE(recorded(s).empty());
}

TEST(EmbedOllama, ManifestDimensionMustMatchTheServers) {
  UpstreamServer s("ollama_server.py", {"--dimension", "16"});
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "32"}}));
  auto got = embed(*p, {"Forklift Operator"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find("server returned 16-d vectors, manifest says 32"), std::string::npos)
      << got.message;
}

TEST(EmbedOllama, ZeroVectorIsRefused) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}}));
  auto got = embed(*p, {"fine", "<zero-vector>"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find("zero vector for text #1"), std::string::npos) << got.message;
}

TEST(EmbedOllama, UnknownModelIsInvalidArgumentWithTheServersMessage) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}, {"model", jstr("nope")}}));
  auto got = embed(*p, {"Forklift Operator"});
  EXPECT_EQ(got.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(got.message.find("HTTP 404: model \"nope\" not found, try pulling it first"),
            std::string::npos)
      << got.message;
  EXPECT_EQ(recorded(s, "/api/embed").size(), 1u) << "a 404 is not retried";

  // Without a configured dimension the probe meets the same answer, and create() fails.
  const std::string e = load_error(kPlugin, ollama_config(s, {{"model", jstr("nope")}}));
  EXPECT_NE(e.find("not found, try pulling it first"), std::string::npos) << e;
  EXPECT_NE(e.find("probing"), std::string::npos) << e;
}

TEST(EmbedOllama, RetriesServerErrorsThenSucceeds) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}}));
  s.control(R"({"fail_next": 2, "status": 503})");
  auto got = embed(*p, {"Forklift Operator", "CNC Machinist"});
  ASSERT_EQ(got.status, LH_OK) << got.message;
  EXPECT_EQ(recorded(s, "/api/embed").size(), 3u);
  for (const auto& v : got.vectors) EXPECT_NEAR(norm(v), 1.0, 1e-5);
}

TEST(EmbedOllama, HonoursRetryAfterOn429) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}, {"retry_backoff_ms", "1"}}));
  s.control(R"({"fail_next": 1, "status": 429, "retry_after": 1})");
  auto got = embed(*p, {"Forklift Operator"});
  ASSERT_EQ(got.status, LH_OK) << got.message;
  auto sent = recorded(s, "/api/embed");
  ASSERT_EQ(sent.size(), 2u);
  // A lower bound only: the client must have waited the second the server asked for, where its
  // own backoff would have been 1 ms.
  EXPECT_GE(sent[1].time - sent[0].time, 1.0);
}

TEST(EmbedOllama, RetryAfterIsCappedByTheMaximumBackoff) {
  UpstreamServer s("ollama_server.py");
  auto p =
      load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}, {"retry_backoff_max_ms", "20"}}));
  // Uncapped, this test would wait an hour (and fail on ctest's timeout).
  s.control(R"({"fail_next": 1, "status": 429, "retry_after": 3600})");
  auto got = embed(*p, {"Forklift Operator"});
  ASSERT_EQ(got.status, LH_OK) << got.message;
  EXPECT_EQ(recorded(s, "/api/embed").size(), 2u);
}

TEST(EmbedOllama, PersistentServerErrorIsUnavailableAfterMaxRetriesPlusOneAttempts) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}, {"max_retries", "3"}}));
  s.control(R"({"fail_next": 100, "status": 500, "body": {"error": "model runner crashed"}})");
  auto got = embed(*p, {"Forklift Operator"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_EQ(recorded(s, "/api/embed").size(), 4u);
  for (const std::string& part :
       {std::string("POST "), s.base_url() + "/api/embed",
        std::string("HTTP 500: model runner crashed"), std::string("4 attempts")})
    EXPECT_NE(got.message.find(part), std::string::npos) << part << " in: " << got.message;
}

TEST(EmbedOllama, ClientErrorsAreNotRetried) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}, {"max_retries", "3"}}));
  s.control(R"({"fail_next": 5, "status": 400, "body": {"error": "input too long"}})");
  auto got = embed(*p, {"Forklift Operator"});
  EXPECT_EQ(got.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(got.message.find("input too long"), std::string::npos) << got.message;
  EXPECT_EQ(recorded(s, "/api/embed").size(), 1u);

  // 401/403: the upstream refuses us. Not the request's fault, and not retried either.
  s.control(R"({"reset": true, "fail_next": 5, "status": 401, "body": {"error": "unauthorized"}})");
  got = embed(*p, {"Forklift Operator"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find("HTTP 401: unauthorized"), std::string::npos) << got.message;
  EXPECT_EQ(recorded(s, "/api/embed").size(), 1u);
}

TEST(EmbedOllama, TimeoutsAreRetriedThenUnavailable) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(
      kPlugin,
      ollama_config(s, {{"dimension", "16"}, {"timeout_ms", "200"}, {"max_retries", "1"}}));
  s.control(R"({"delay_ms": 1500})");  // every answer comes long after the client gave up
  auto got = embed(*p, {"Forklift Operator"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find("timed out"), std::string::npos) << got.message;
  EXPECT_NE(got.message.find("2 attempts"), std::string::npos) << got.message;
  EXPECT_EQ(recorded(s, "/api/embed").size(), 2u);
}

TEST(EmbedOllama, UnreachableServerIsUnavailable) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}}));
  EXPECT_EQ(health(*p), "");
  s.stop();
  const auto start = Clock::now();
  auto got = embed(*p, {"Forklift Operator"});
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find(s.base_url() + "/api/embed"), std::string::npos) << got.message;
  EXPECT_NE(got.message.find("3 attempts"), std::string::npos) << got.message;
  std::printf("[ figure   ] unreachable port: LH_ERR_UNAVAILABLE after 3 attempts in %lld ms\n",
              static_cast<long long>(ms));
  EXPECT_NE(health(*p), "");

  // Unreachable at create(): the probe fails, and so does create().
  const std::string e = load_error(kPlugin, ollama_config(s));
  EXPECT_NE(e.find(s.base_url()), std::string::npos) << e;
  EXPECT_NE(e.find("probing"), std::string::npos) << e;
}

TEST(EmbedOllama, OptionalBearerTokenFromTheNamedVariable) {
  UpstreamServer s("ollama_server.py");
  {
    ScopedEnv env("LAKEHOST_TEST_OLLAMA_TOKEN", "tok-123");
    auto p = load_plugin(kPlugin,
                         ollama_config(s, {{"dimension", "16"},
                                           {"api_key_env", jstr("LAKEHOST_TEST_OLLAMA_TOKEN")}}));
    ASSERT_EQ(embed(*p, {"x"}).status, LH_OK);
    auto sent = recorded(s, "/api/embed");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].headers["authorization"], "Bearer tok-123");
  }
  // Without the option no Authorization header is sent.
  s.control(R"({"reset": true})");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}}));
  ASSERT_EQ(embed(*p, {"x"}).status, LH_OK);
  EXPECT_EQ(recorded(s, "/api/embed")[0].headers.count("authorization"), 0u);
  // Naming an unset variable refuses the instance and names the variable.
  const std::string e = load_error(
      kPlugin,
      ollama_config(s, {{"dimension", "16"}, {"api_key_env", jstr("LAKEHOST_TEST_UNSET")}}));
  EXPECT_NE(e.find("environment variable LAKEHOST_TEST_UNSET is not set or empty"),
            std::string::npos)
      << e;
}

TEST(EmbedOllama, RejectsInvalidConfig) {
  UpstreamServer s("ollama_server.py");
  const std::string url = jstr(s.base_url());
  for (const std::string& c :
       {config({{"model", jstr("m")}}), config({{"base_url", url}}),
        config({{"base_url", jstr("127.0.0.1:11434")}, {"model", jstr("m")}}),
        config({{"base_url", url}, {"model", jstr("m")}, {"batch_size", "0"}}),
        config({{"base_url", url}, {"model", jstr("m")}, {"dimension", "0"}}),
        config({{"base_url", url}, {"model", jstr("m")}, {"dimensions", "8"}}),
        config({{"base_url", url}, {"model", jstr("m")}, {"max_retries", "-1"}})}) {
    EXPECT_NE(load_error(kPlugin, c), "") << c;
  }
}

TEST(EmbedOllama, ConcurrentCallsGiveTheSameVectorsAsSerialOnes) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, ollama_config(s, {{"dimension", "16"}, {"batch_size", "3"}}));
  const auto expected = embed(*p, kTexts);
  ASSERT_EQ(expected.status, LH_OK) << expected.message;
  std::vector<std::thread> threads;
  std::vector<EmbedResult> results(4);
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) results[t] = embed(*p, kTexts);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.status, LH_OK) << r.message;
    EXPECT_TRUE(same_vectors(r.vectors, expected.vectors, 0));
  }
}

}  // namespace
}  // namespace lakehost::upstream_test
