// plugins/chat-openai through the host's loader, against tests/upstreams/openai_server.py (which
// follows OpenAI's API reference: chat completions, chat.completion.chunk server-sent events,
// stream_options.include_usage, error objects, bearer authentication).
#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

constexpr const char* kPlugin = "chat-openai";
constexpr const char* kKey = "sk-chat-test-key";
constexpr const char* kKeyVar = "LAKEHOST_TEST_OPENAI_CHAT_KEY";

std::string chat_config(const std::string& base_url, const std::string& extra = "") {
  return "{\"base_url\": " + jstr(base_url) +
         ", \"model\": \"gpt-4o-mini\", \"retry_backoff_ms\": 10" + extra + "}";
}

const std::vector<Message> kConversation = {{"system", "Answer as a staffing coordinator."},
                                            {"user", "Who operates CNC mills?"}};
const std::string kReply =
    "Echo: Who operates CNC mills? | messages: 2 | system: Answer as a staffing coordinator.";

size_t prompt_words() { return words(kConversation[0].content) + words(kConversation[1].content); }

TEST(ChatOpenAI, Descriptor) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  EXPECT_EQ(p->descriptor()->kind, static_cast<uint32_t>(LH_KIND_CHAT_PROVIDER));
  EXPECT_STREQ(p->descriptor()->name, "chat-openai");
  EXPECT_TRUE(p->descriptor()->flags & LH_FLAG_THREAD_SAFE);
  EXPECT_EQ(health(*p), "");
  EXPECT_EQ(recorded(s).back().path, "/v1/models");
}

TEST(ChatOpenAI, StreamsChunksAsDeltasAndReadsUsageFromTheLastChunk) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  auto r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  EXPECT_EQ(r.text(), kReply);
  EXPECT_EQ(r.deltas.size(), words(kReply)) << "one on_delta per content chunk";
  EXPECT_EQ(r.prompt_tokens, prompt_words());
  EXPECT_EQ(r.completion_tokens, r.deltas.size());

  auto sent = recorded(s, "/v1/chat/completions");
  ASSERT_EQ(sent.size(), 1u);
  const auto& b = sent[0].body;
  EXPECT_STREQ(b["model"].GetString(), "gpt-4o-mini");
  EXPECT_TRUE(b["stream"].GetBool());
  EXPECT_TRUE(b["stream_options"]["include_usage"].GetBool());
  EXPECT_FALSE(b.HasMember("temperature"));
  EXPECT_FALSE(b.HasMember("max_tokens"));
  ASSERT_EQ(b["messages"].Size(), 2u);
  EXPECT_STREQ(b["messages"][0]["role"].GetString(), "system");
  EXPECT_EQ(b["messages"][1]["content"].GetString(), kConversation[1].content);
  EXPECT_EQ(sent[0].headers["accept"], "text/event-stream");
}

TEST(ChatOpenAI, ModelOverrideTemperatureAndMaxTokensReachTheServer) {
  UpstreamServer s("openai_server.py", {"--models", "gpt-4o-mini,gpt-4.1"});
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  auto r = chat(*p, kConversation, "gpt-4.1", 0.2f, 4);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  EXPECT_EQ(r.deltas.size(), 4u) << "the server honours max_tokens";
  const auto sent = recorded(s, "/v1/chat/completions");
  ASSERT_EQ(sent.size(), 1u);
  const auto& b = sent[0].body;
  EXPECT_STREQ(b["model"].GetString(), "gpt-4.1");
  EXPECT_DOUBLE_EQ(b["temperature"].GetDouble(), 0.2) << "sent as 0.2, not 0.200000003";
  EXPECT_EQ(b["max_tokens"].GetInt(), 4);
}

TEST(ChatOpenAI, NonStreamingModeGivesOneDelta) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url(), ", \"stream\": false"));
  auto r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  ASSERT_EQ(r.deltas.size(), 1u);
  EXPECT_EQ(r.deltas[0], kReply);
  EXPECT_EQ(r.prompt_tokens, prompt_words());
  EXPECT_EQ(r.completion_tokens, words(kReply));
  const auto sent = recorded(s, "/v1/chat/completions");
  ASSERT_EQ(sent.size(), 1u);
  const auto& b = sent[0].body;
  EXPECT_FALSE(b["stream"].GetBool());
  EXPECT_FALSE(b.HasMember("stream_options")) << "the API refuses stream_options without stream";
}

TEST(ChatOpenAI, StreamUsageCanBeTurnedOff) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url(), ", \"stream_usage\": false"));
  auto r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  EXPECT_EQ(r.text(), kReply);
  EXPECT_EQ(r.prompt_tokens, 0u) << "no usage chunk was asked for";
  EXPECT_FALSE(recorded(s, "/v1/chat/completions")[0].body.HasMember("stream_options"));
}

TEST(ChatOpenAI, ErrorEventInTheStreamIsUnavailableAndNotRetried) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  s.control(R"({"stream_error_after": 2})");
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.message.find("error in the stream: The server had an error while processing"),
            std::string::npos)
      << r.message;
  EXPECT_EQ(r.deltas.size(), 2u);
  EXPECT_EQ(recorded(s, "/v1/chat/completions").size(), 1u);
}

TEST(ChatOpenAI, StreamWithoutDoneIsUnavailableAndNotRetried) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url(), ", \"max_retries\": 3"));
  s.control(R"({"drop_after": 3})");
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE) << r.message;
  EXPECT_EQ(r.deltas.size(), 3u);
  EXPECT_EQ(recorded(s, "/v1/chat/completions").size(), 1u);
}

TEST(ChatOpenAI, RetriesBeforeTheStreamStarts) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  s.control(R"({"fail_next": 2, "status": 502})");
  auto r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  EXPECT_EQ(r.text(), kReply);
  EXPECT_EQ(recorded(s, "/v1/chat/completions").size(), 3u);
}

TEST(ChatOpenAI, InvalidRequestsAreInvalidArgumentWithTheServersMessage) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  auto r = chat(*p, kConversation, "gpt-9");
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("The model `gpt-9` does not exist"), std::string::npos) << r.message;
  r = chat(*p, kConversation, "", 3.5f);  // the API's range is [0, 2]
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("HTTP 400: Invalid 'temperature'"), std::string::npos) << r.message;
  EXPECT_EQ(recorded(s, "/v1/chat/completions").size(), 2u) << "4xx are not retried";
}

TEST(ChatOpenAI, ApiKeyFromTheNamedVariable) {
  UpstreamServer s("openai_server.py", {"--api-key", kKey});
  {
    ScopedEnv env(kKeyVar, kKey);
    auto p = load_plugin(kPlugin,
                         chat_config(s.base_url() + "/v1", ", \"api_key_env\": " + jstr(kKeyVar)));
    auto r = chat(*p, kConversation);
    ASSERT_EQ(r.status, LH_OK) << r.message;
    EXPECT_EQ(health(*p), "");
    auto sent = recorded(s);
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0].path, "/v1/chat/completions");
    EXPECT_EQ(sent[1].path, "/v1/models");
    for (const auto& x : sent)
      EXPECT_EQ(x.headers.at("authorization"), std::string("Bearer ") + kKey);
  }
  // No key: the server refuses with 401, which is the upstream refusing us.
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.message.find("HTTP 401: You didn't provide an API key"), std::string::npos)
      << r.message;
  const std::string e =
      load_error(kPlugin, chat_config(s.base_url(), ", \"api_key_env\": " + jstr(kKeyVar)));
  EXPECT_NE(e.find(std::string("environment variable ") + kKeyVar + " is not set or empty"),
            std::string::npos)
      << e;
}

TEST(ChatOpenAI, UnreachableServerIsUnavailable) {
  UpstreamServer s("openai_server.py");
  auto p = load_plugin(kPlugin, chat_config(s.base_url()));
  s.stop();
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.message.find(s.base_url() + "/v1/chat/completions"), std::string::npos) << r.message;
  EXPECT_NE(health(*p), "");
}

}  // namespace
}  // namespace lakehost::upstream_test
