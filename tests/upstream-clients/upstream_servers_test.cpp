// The fake servers of tests/upstreams/ themselves: other suites (and the host's chat routes' e2e
// tests) rely on them answering like the real APIs, so their documented validation is checked
// here, straight over HTTP.
#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

using test::HttpClient;

TEST(UpstreamServers, OllamaValidatesLikeOllama) {
  UpstreamServer s("ollama_server.py");
  HttpClient c;
  auto r = c.post(s.base_url() + "/api/embed", R"({"input": ["x"]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error": "model is required"})");
  r = c.post(s.base_url() + "/api/chat", R"({"model": "llama3.2:70b", "messages": []})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error": "model \"llama3.2:70b\" not found, try pulling it first"})");
  r = c.post(s.base_url() + "/api/embed", R"({"model": "nomic-embed-text:latest", "input": "x"})");
  EXPECT_EQ(r.status, 200) << "a name without a tag means :latest";
  EXPECT_EQ(parse(r.body)["embeddings"].Size(), 1u);
  r = c.get(s.base_url() + "/api/tags");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(parse(r.body)["models"].Size(), 2u);
  r = c.get(s.base_url() + "/api/version");
  EXPECT_TRUE(parse(r.body)["version"].IsString());
  EXPECT_EQ(c.get(s.base_url() + "/api/nothing").status, 404);
  // Everything but the control endpoint was recorded, failures included.
  EXPECT_EQ(recorded(s).size(), 6u);
}

TEST(UpstreamServers, OpenAIValidatesLikeTheApiReference) {
  UpstreamServer s("openai_server.py", {"--api-key", "sk-x"});
  HttpClient c;
  auto r = c.post(s.base_url() + "/v1/embeddings",
                  R"({"model": "text-embedding-3-small", "input": "x"})");
  EXPECT_EQ(r.status, 401);
  auto d = parse(r.body);
  EXPECT_STREQ(d["error"]["type"].GetString(), "invalid_request_error");
  EXPECT_TRUE(d["error"]["param"].IsNull());
  EXPECT_TRUE(d["error"].HasMember("code"));

  UpstreamServer open("openai_server.py");
  r = c.post(open.base_url() + "/v1/embeddings", R"({"input": "x"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_STREQ(parse(r.body)["error"]["message"].GetString(), "you must provide a model parameter");
  r = c.post(open.base_url() + "/v1/chat/completions",
             R"({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_STREQ(parse(r.body)["error"]["code"].GetString(), "model_not_found");
  r = c.post(open.base_url() + "/v1/chat/completions",
             R"({"model": "gpt-4o-mini", "stream_options": {"include_usage": true},
                 "messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_EQ(r.status, 400) << "stream_options without stream";
  r = c.post(
      open.base_url() + "/v1/embeddings",
      R"({"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64"})");
  ASSERT_EQ(r.status, 200);
  d = parse(r.body);
  EXPECT_TRUE(d["data"][1]["embedding"].IsString()) << "base64 little-endian float32";
  EXPECT_EQ(d["data"][1]["index"].GetInt(), 1);
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt(), 2);
  r = c.get(open.base_url() + "/v1/models");
  EXPECT_STREQ(parse(r.body)["object"].GetString(), "list");
}

}  // namespace
}  // namespace lakehost::upstream_test
