// plugins/embed-openai through the host's loader, against tests/upstreams/openai_server.py (which
// follows OpenAI's API reference: embeddings, error objects, bearer authentication).
#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

constexpr const char* kPlugin = "embed-openai";
constexpr const char* kKey = "sk-test-0123456789abcdef";
constexpr const char* kKeyVar = "LAKEHOST_TEST_OPENAI_KEY";

std::string openai_config(const std::string& base_url,
                          std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::vector<std::pair<std::string, std::string>> f = {{"base_url", jstr(base_url)},
                                                        {"model", jstr("text-embedding-3-small")},
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

// The server's own vectors for `texts`, by index, asked straight over HTTP.
std::vector<std::vector<double>> raw_vectors(UpstreamServer& s,
                                             const std::vector<std::string>& texts,
                                             const std::string& extra = "") {
  std::string input = "[";
  for (size_t i = 0; i < texts.size(); ++i) input += (i ? "," : "") + jstr(texts[i]);
  input += "]";
  test::HttpClient c;
  auto r = c.post(s.base_url() + "/v1/embeddings",
                  "{\"model\": \"text-embedding-3-small\", \"input\": " + input + extra + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  const auto d = parse(r.body);
  std::vector<std::vector<double>> out(texts.size());
  for (const auto& item : d["data"].GetArray()) {
    for (const auto& x : item["embedding"].GetArray())
      out[item["index"].GetUint()].push_back(x.GetDouble());
  }
  return out;
}

const std::vector<std::string> kTexts = {"Forklift Operator",   "CNC Machinist",  "Picker",
                                         "Loader with 3 years", "Shipping clerk", "Café ✓"};

TEST(EmbedOpenAI, Descriptor) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"dimension", "16"}}));
  EXPECT_EQ(p->descriptor()->kind, static_cast<uint32_t>(LH_KIND_EMBED_PROVIDER));
  EXPECT_STREQ(p->descriptor()->name, "embed-openai");
  EXPECT_TRUE(p->descriptor()->flags & LH_FLAG_THREAD_SAFE);
}

TEST(EmbedOpenAI, UnitVectorsInInputOrderEvenWhenTheServerShufflesData) {
  UpstreamServer s("openai_server.py", {"--dimension", "24"});
  auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"batch_size", "4"}}));
  EXPECT_EQ(p->table<lh_embed_provider_v1>()->dimension(p->self()), 24u) << "probed";
  s.control(R"({"reverse_order": true})");  // each item keeps its index; the list is reversed
  auto got = embed(*p, kTexts);
  ASSERT_EQ(got.status, LH_OK) << got.message;
  for (const auto& v : got.vectors) EXPECT_NEAR(norm(v), 1.0, 1e-5);
  EXPECT_TRUE(same_vectors(got.vectors, normalised(raw_vectors(s, kTexts))));

  // Probe + two batches (4 + 2), each a documented request body.
  auto sent = recorded(s, "/v1/embeddings");
  ASSERT_EQ(sent.size(), 4u);  // probe, 2 batches, and raw_vectors' own request
  EXPECT_EQ(sent[1].body["input"].Size(), 4u);
  EXPECT_EQ(sent[2].body["input"].Size(), 2u);
  EXPECT_STREQ(sent[1].body["model"].GetString(), "text-embedding-3-small");
  EXPECT_STREQ(sent[1].body["encoding_format"].GetString(), "float");
  EXPECT_FALSE(sent[1].body.HasMember("dimensions"));
  EXPECT_EQ(sent[1].headers.count("authorization"), 0u) << "no api_key_env, no header";
  EXPECT_EQ(sent[1].headers["content-type"], "application/json");
}

TEST(EmbedOpenAI, DimensionsIsPassedThroughAndFixesTheDimension) {
  UpstreamServer s("openai_server.py", {"--dimension", "32"});
  auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"dimensions", "8"}}));
  EXPECT_EQ(p->table<lh_embed_provider_v1>()->dimension(p->self()), 8u);
  EXPECT_TRUE(recorded(s).empty()) << "dimensions given: no probe";
  auto got = embed(*p, {"Forklift Operator", "Picker"});
  ASSERT_EQ(got.status, LH_OK) << got.message;
  auto sent = recorded(s, "/v1/embeddings");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].body["dimensions"].GetInt(), 8);
  EXPECT_TRUE(same_vectors(got.vectors, normalised(raw_vectors(s, {"Forklift Operator", "Picker"},
                                                               ", \"dimensions\": 8"))));
  // dimension and dimensions must agree.
  EXPECT_NE(
      load_error(kPlugin, openai_config(s.base_url(), {{"dimensions", "8"}, {"dimension", "9"}}))
          .find("disagree"),
      std::string::npos);
}

TEST(EmbedOpenAI, BaseUrlMayEndInV1) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, openai_config(s.base_url() + "/v1/", {{"dimension", "16"}}));
  ASSERT_EQ(embed(*p, {"x"}).status, LH_OK);
  EXPECT_EQ(health(*p), "");
  auto sent = recorded(s);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].path, "/v1/embeddings");
  EXPECT_EQ(sent[1].path, "/v1/models");
}

TEST(EmbedOpenAI, ManifestDimensionMustMatchTheServers) {
  UpstreamServer s("openai_server.py", {"--dimension", "16"});
  auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"dimension", "1536"}}));
  auto got = embed(*p, {"x"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find("server returned 16-d vectors, manifest says 1536"), std::string::npos)
      << got.message;
}

TEST(EmbedOpenAI, UnknownModelIsInvalidArgumentWithTheServersMessage) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"dimension", "16"},
                                                             {"model", jstr("text-embedding-4")}}));
  auto got = embed(*p, {"x"});
  EXPECT_EQ(got.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(got.message.find(
                "HTTP 404: The model `text-embedding-4` does not exist or you do not have access"),
            std::string::npos)
      << got.message;
  // A 400 (here: an empty input, which the API refuses) is the request's fault too.
  got = embed(*p, {""});
  EXPECT_EQ(got.status, LH_ERR_INVALID_ARGUMENT);
}

TEST(EmbedOpenAI, ApiKeyIsSentAsBearerFromTheNamedVariable) {
  UpstreamServer s("openai_server.py", {"--api-key", kKey});
  {
    ScopedEnv env(kKeyVar, kKey);
    auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"api_key_env", jstr(kKeyVar)}}));
    ASSERT_EQ(embed(*p, {"Forklift Operator"}).status, LH_OK);
    EXPECT_EQ(health(*p), "");
    for (const auto& r : recorded(s))
      EXPECT_EQ(r.headers.at("authorization"), std::string("Bearer ") + kKey) << r.path;
  }
  {
    // A wrong key: 401 with OpenAI's error object; the upstream refuses us -> unavailable, and
    // retrying would not help.
    ScopedEnv env(kKeyVar, "sk-wrong");
    auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"api_key_env", jstr(kKeyVar)},
                                                               {"dimension", "16"}}));
    s.control(R"({"reset": true})");
    auto got = embed(*p, {"x"});
    EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
    EXPECT_NE(got.message.find("HTTP 401: Incorrect API key provided"), std::string::npos)
        << got.message;
    EXPECT_EQ(got.message.find("sk-wrong"), std::string::npos) << "never echo the key";
    EXPECT_EQ(recorded(s).size(), 1u);
    EXPECT_NE(health(*p), "");
  }
  // The variable is unset: the instance is refused, naming the variable, not a key.
  const std::string e =
      load_error(kPlugin, openai_config(s.base_url(), {{"api_key_env", jstr(kKeyVar)}}));
  EXPECT_NE(e.find(std::string("environment variable ") + kKeyVar + " is not set or empty"),
            std::string::npos)
      << e;
  {
    ScopedEnv empty(kKeyVar, "");
    EXPECT_NE(load_error(kPlugin, openai_config(s.base_url(), {{"api_key_env", jstr(kKeyVar)}}))
                  .find("is not set or empty"),
              std::string::npos);
  }
  // Without a key configured, the server that wants one answers 401 at the probe.
  EXPECT_NE(load_error(kPlugin, openai_config(s.base_url())).find("HTTP 401"), std::string::npos);
}

TEST(EmbedOpenAI, RetriesServerErrorsAndRateLimitsThenSucceeds) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"dimension", "16"}}));
  s.control(R"({"fail_next": 2, "status": 503})");
  ASSERT_EQ(embed(*p, {"x"}).status, LH_OK);
  EXPECT_EQ(recorded(s, "/v1/embeddings").size(), 3u);

  s.control(R"({"reset": true, "fail_next": 1, "status": 429, "retry_after": 1})");
  ASSERT_EQ(embed(*p, {"y"}).status, LH_OK);
  auto sent = recorded(s, "/v1/embeddings");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_GE(sent[1].time - sent[0].time, 1.0) << "Retry-After: 1 was not honoured";
}

TEST(EmbedOpenAI, PersistentRateLimitIsUnavailable) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin,
                       openai_config(s.base_url(), {{"dimension", "16"}, {"max_retries", "1"}}));
  s.control(R"({"fail_next": 100, "status": 429})");
  auto got = embed(*p, {"x"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find("HTTP 429: Rate limit reached for requests (2 attempts)"),
            std::string::npos)
      << got.message;
  EXPECT_EQ(recorded(s, "/v1/embeddings").size(), 2u);
}

TEST(EmbedOpenAI, UnreachableServerIsUnavailable) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, openai_config(s.base_url(), {{"dimension", "16"}}));
  s.stop();
  auto got = embed(*p, {"x"});
  EXPECT_EQ(got.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(got.message.find(s.base_url() + "/v1/embeddings"), std::string::npos) << got.message;
  const std::string e = load_error(kPlugin, openai_config(s.base_url()));
  EXPECT_NE(e.find("probing"), std::string::npos) << e;
}

}  // namespace
}  // namespace lakehost::upstream_test
