// End to end: a real `lakehost serve` whose default embed provider is embed-ollama or
// embed-openai, talking to the fake servers of tests/upstreams/. The REST API returns the
// upstream's vectors, normalised; when the upstream goes away, requests fail with 503
// upstream_unavailable, GET /ready (the background prober) reports the instance failing and the
// host not ready, while GET /health (liveness) stays 200.
#include <filesystem>
#include <thread>

#include "host_process.h"
#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

using test::HostOptions;
using test::HostProcess;
using test::HttpClient;
using test::HttpResult;

// The repository's default manifests plus `manifest` (file `file`), which becomes the default
// embed provider in embed-hash's place.
std::string manifests_with(const std::string& file, const std::string& manifest) {
  const std::string dir = test::copy_default_manifests();
  const std::string hash = dir + "/embed-hash.json";
  rapidjson::Document d = parse(test::read_file(hash));
  d["default"].SetBool(false);
  test::write_file(hash, to_json(d));
  test::write_file(dir + "/" + file, manifest);
  return dir;
}

// POST /v1/embed; checks the shape and unit length; returns the vectors.
std::vector<Vector> embed_via_host(HttpClient& c, const HostProcess& h,
                                   const std::vector<std::string>& texts, const std::string& model,
                                   size_t dimension) {
  std::string body = "{\"texts\": [";
  for (size_t i = 0; i < texts.size(); ++i) body += (i ? ", " : "") + jstr(texts[i]);
  body += "]}";
  const HttpResult r = c.post(h.url("/v1/embed"), body);
  EXPECT_EQ(r.status, 200) << r.body << "\n" << h.log();
  std::vector<Vector> out;
  if (r.status != 200) return out;
  const auto d = parse(r.body);
  EXPECT_EQ(d["model"].GetString(), model);
  EXPECT_EQ(d["dimension"].GetUint(), dimension);
  for (const auto& row : d["vectors"].GetArray()) {
    Vector v;
    for (const auto& x : row.GetArray()) v.push_back(x.GetFloat());
    EXPECT_EQ(v.size(), dimension);
    EXPECT_NEAR(norm(v), 1.0, 1e-5);
    out.push_back(v);
  }
  EXPECT_EQ(out.size(), texts.size());
  return out;
}

void expect_unavailable(HttpClient& c, const HostProcess& h, const std::string& upstream_url) {
  const HttpResult r = c.post(h.url("/v1/embed"), R"({"texts": ["a text nobody embedded yet"]})");
  EXPECT_EQ(r.status, 503) << r.body;
  const auto d = parse(r.body);
  ASSERT_TRUE(d.HasMember("error")) << r.body;
  EXPECT_STREQ(d["error"]["code"].GetString(), "upstream_unavailable");
  EXPECT_NE(std::string(d["error"]["message"].GetString()).find(upstream_url), std::string::npos)
      << r.body;
  EXPECT_EQ(c.get(h.url("/health")).status, 200) << "liveness never depends on an upstream";
  // The default embedder is on the search path: the prober reports the host not ready.
  HttpResult ready;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    ready = c.get(h.url("/ready"));
    if (ready.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("\"not_ready\""), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("\"failing\""), std::string::npos) << ready.body;
}

// Background health checks every 200 ms, so /ready notices the upstream going away quickly.
const std::vector<std::string> kFastProbes = {"--probe-interval-ms", "200"};

TEST(UpstreamE2E, OllamaEmbeddingsThroughTheHost) {
  UpstreamServer ollama("ollama_server.py", {"--dimension", "24"});
  // No "dimension": the instance probes the server while the host starts.
  const std::string manifest = R"({"id": "embed-ollama", "kind": "embed_provider",
    "library": "embed-ollama.so", "enabled": true, "default": true,
    "config": {"base_url": )" + jstr(ollama.base_url()) +
                               R"(, "model": "nomic-embed-text", "max_retries": 1,
               "retry_backoff_ms": 10}})";
  HostOptions o;
  o.extra_args = kFastProbes;
  o.manifests_dir = manifests_with("embed-ollama.json", manifest);
  HostProcess host(o);
  HttpClient c;

  const std::vector<std::string> texts = {"Forklift Operator", "CNC Machinist", "Picker"};
  const auto vectors = embed_via_host(c, host, texts, "embed-ollama", 24);
  ASSERT_EQ(vectors.size(), 3u);
  EXPECT_LT(vectors[0][0] * vectors[0][0], 1.0f);
  // The texts reached the server as Ollama's documented request.
  const auto sent = recorded(ollama, "/api/embed");
  ASSERT_EQ(sent.size(), 2u) << "the probe at start-up, then the texts";
  ASSERT_EQ(sent[1].body["input"].Size(), 3u);
  EXPECT_EQ(sent[1].body["input"][2].GetString(), texts[2]);
  EXPECT_STREQ(sent[1].body["model"].GetString(), "nomic-embed-text");

  ollama.stop();
  expect_unavailable(c, host, ollama.base_url() + "/api/embed");
}

TEST(UpstreamE2E, OpenAIEmbeddingsThroughTheHostWithAnApiKey) {
  const char* key = "sk-e2e-key";
  UpstreamServer openai("openai_server.py", {"--api-key", key, "--dimension", "20"});
  // The host inherits this process's environment; the manifest names only the variable.
  ScopedEnv env("LAKEHOST_TEST_E2E_OPENAI_KEY", key);
  const std::string manifest = R"({"id": "embed-openai", "kind": "embed_provider",
    "library": "embed-openai.so", "enabled": true, "default": true,
    "config": {"base_url": )" + jstr(openai.base_url() + "/v1") +
                               R"(, "model": "text-embedding-3-small", "dimension": 20,
               "api_key_env": "LAKEHOST_TEST_E2E_OPENAI_KEY", "max_retries": 1,
               "retry_backoff_ms": 10}})";
  HostOptions o;
  o.extra_args = kFastProbes;
  o.manifests_dir = manifests_with("embed-openai.json", manifest);
  HostProcess host(o);
  HttpClient c;

  const auto vectors = embed_via_host(c, host, {"Loader", "Shipping clerk"}, "embed-openai", 20);
  ASSERT_EQ(vectors.size(), 2u);
  // The OpenAI-shaped route of the host, through the same plugin.
  const HttpResult r = c.post(host.url("/v1/embeddings"),
                              R"({"input": "Warehouse Associate", "model": "embed-openai"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto d = parse(r.body);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_EQ(d["data"][0]["embedding"].Size(), 20u);
  const auto sent = recorded(openai, "/v1/embeddings");
  ASSERT_FALSE(sent.empty());
  for (const auto& x : sent) EXPECT_EQ(x.headers.at("authorization"), std::string("Bearer ") + key);
  EXPECT_EQ(host.log().find(key), std::string::npos) << "the key never reaches the log";

  openai.stop();
  expect_unavailable(c, host, openai.base_url() + "/v1/embeddings");
}

}  // namespace
}  // namespace lakehost::upstream_test
