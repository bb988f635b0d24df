// plugins/chat-ollama through the host's loader, against tests/upstreams/ollama_server.py (which
// follows Ollama's API document: /api/chat, NDJSON streaming, errors in the stream).
#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

constexpr const char* kPlugin = "chat-ollama";

std::string chat_config(const UpstreamServer& s, const std::string& extra = "") {
  return "{\"base_url\": " + jstr(s.base_url()) +
         ", \"model\": \"llama3.2\", \"retry_backoff_ms\": 10" + extra + "}";
}

const std::vector<Message> kConversation = {{"system", "You staff warehouses."},
                                            {"user", "Who can drive a forklift?"},
                                            {"assistant", "Several workers can."},
                                            {"user", "Name the certified forklift operators"}};

// What the fake model answers for kConversation (see ollama_server.py).
const std::string kReply =
    "Echo: Name the certified forklift operators | messages: 4 | system: You staff warehouses.";

size_t prompt_words() {
  size_t n = 0;
  for (const auto& m : kConversation) n += words(m.content);
  return n;
}

TEST(ChatOllama, Descriptor) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s));
  EXPECT_EQ(p->descriptor()->kind, static_cast<uint32_t>(LH_KIND_CHAT_PROVIDER));
  EXPECT_STREQ(p->descriptor()->name, "chat-ollama");
  EXPECT_TRUE(p->descriptor()->flags & LH_FLAG_THREAD_SAFE);
  EXPECT_EQ(health(*p), "");
  EXPECT_EQ(recorded(s).back().path, "/api/version");
}

TEST(ChatOllama, StreamsDeltasAsTheyArriveAndFillsUsage) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s));
  auto r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  EXPECT_EQ(r.text(), kReply);
  EXPECT_EQ(r.deltas.size(), words(kReply)) << "one on_delta per NDJSON line";
  EXPECT_EQ(r.prompt_tokens, prompt_words());
  EXPECT_EQ(r.completion_tokens, r.deltas.size());

  auto sent = recorded(s, "/api/chat");
  ASSERT_EQ(sent.size(), 1u);
  const auto& b = sent[0].body;
  EXPECT_STREQ(b["model"].GetString(), "llama3.2");
  EXPECT_TRUE(b["stream"].GetBool());
  EXPECT_FALSE(b.HasMember("options")) << "temperature < 0 and max_tokens <= 0: server defaults";
  ASSERT_EQ(b["messages"].Size(), kConversation.size());
  for (size_t i = 0; i < kConversation.size(); ++i) {
    EXPECT_EQ(b["messages"][i]["role"].GetString(), kConversation[i].role);
    EXPECT_EQ(b["messages"][i]["content"].GetString(), kConversation[i].content);
  }
}

TEST(ChatOllama, ModelOverrideTemperatureAndMaxTokensReachTheServer) {
  UpstreamServer s("ollama_server.py", {"--models", "llama3.2,qwen2.5:7b"});
  auto p = load_plugin(kPlugin, chat_config(s,
                                            ", \"options\": {\"num_ctx\": 4096, \"seed\": 7, "
                                            "\"temperature\": 0.9}"));
  auto r = chat(*p, kConversation, "qwen2.5:7b", 0.25f, 5);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  // The server honours num_predict: five deltas.
  EXPECT_EQ(r.deltas.size(), 5u);
  EXPECT_EQ(r.completion_tokens, 5u);
  auto sent = recorded(s, "/api/chat");
  ASSERT_EQ(sent.size(), 1u);
  const auto& b = sent[0].body;
  EXPECT_STREQ(b["model"].GetString(), "qwen2.5:7b");
  const auto& o = b["options"];
  EXPECT_DOUBLE_EQ(o["temperature"].GetDouble(), 0.25) << "the request's value wins";
  EXPECT_EQ(o["num_predict"].GetInt(), 5);
  EXPECT_EQ(o["num_ctx"].GetInt(), 4096) << "config options are passed through";
  EXPECT_EQ(o["seed"].GetInt(), 7);

  // Without a request temperature, the config's own stays.
  r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  sent = recorded(s, "/api/chat");
  EXPECT_DOUBLE_EQ(sent[1].body["options"]["temperature"].GetDouble(), 0.9);
  EXPECT_FALSE(sent[1].body["options"].HasMember("num_predict"));
}

TEST(ChatOllama, NonStreamingModeGivesOneDelta) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s, ", \"stream\": false"));
  auto r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  ASSERT_EQ(r.deltas.size(), 1u);
  EXPECT_EQ(r.deltas[0], kReply);
  EXPECT_EQ(r.prompt_tokens, prompt_words());
  EXPECT_EQ(r.completion_tokens, words(kReply));
  EXPECT_FALSE(recorded(s, "/api/chat")[0].body["stream"].GetBool());
}

TEST(ChatOllama, ErrorLineInTheStreamIsUnavailableAndNotRetried) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s));
  s.control(R"({"stream_error_after": 3})");
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.message.find("error in the stream: an error was encountered while running the model"),
            std::string::npos)
      << r.message;
  EXPECT_EQ(r.deltas.size(), 3u) << "what arrived before the error was forwarded";
  EXPECT_EQ(recorded(s, "/api/chat").size(), 1u);
}

TEST(ChatOllama, BrokenStreamIsUnavailableAndNotRetriedOnceDeltasWereForwarded) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s, ", \"max_retries\": 3"));
  s.control(R"({"drop_after": 2})");
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_EQ(r.deltas.size(), 2u);
  EXPECT_NE(r.message.find("stream broken"), std::string::npos) << r.message;
  EXPECT_EQ(recorded(s, "/api/chat").size(), 1u) << "a retry would repeat forwarded deltas";
}

TEST(ChatOllama, FailuresBeforeTheStreamStartsAreRetried) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s));
  s.control(R"({"fail_next": 2, "status": 503})");
  auto r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.message;
  EXPECT_EQ(r.text(), kReply) << "no delta twice";
  EXPECT_EQ(recorded(s, "/api/chat").size(), 3u);
}

TEST(ChatOllama, PersistentFailureIsUnavailableAfterMaxRetriesPlusOneAttempts) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s, ", \"max_retries\": 1"));
  s.control(R"({"fail_next": 100, "status": 500})");
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_TRUE(r.deltas.empty());
  EXPECT_EQ(recorded(s, "/api/chat").size(), 2u);
}

TEST(ChatOllama, UnknownModelIsInvalidArgumentWithTheServersMessage) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s));
  auto r = chat(*p, kConversation, "mystery-model");
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("model \"mystery-model\" not found, try pulling it first"),
            std::string::npos)
      << r.message;
  // A message role the server refuses: 400, the request's fault.
  r = chat(*p, {{"wizard", "hello"}});
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("invalid role"), std::string::npos) << r.message;
}

TEST(ChatOllama, UnreachableServerIsUnavailable) {
  UpstreamServer s("ollama_server.py");
  auto p = load_plugin(kPlugin, chat_config(s));
  s.stop();
  auto r = chat(*p, kConversation);
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.message.find(s.base_url() + "/api/chat"), std::string::npos) << r.message;
  EXPECT_NE(health(*p), "");
}

TEST(ChatOllama, RejectsInvalidConfig) {
  UpstreamServer s("ollama_server.py");
  for (const std::string& extra :
       {std::string(", \"stream\": \"yes\""), std::string(", \"options\": [1]"),
        std::string(", \"api_key_env\": \"LAKEHOST_TEST_UNSET_VAR\""),
        std::string(", \"temperature\": 0.5")}) {
    EXPECT_NE(load_error(kPlugin, chat_config(s, extra)), "") << extra;
  }
}

}  // namespace
}  // namespace lakehost::upstream_test
