// plugins/chat-anthropic against tests/upstreams/anthropic_server.py, a local server that follows
// Anthropic's Messages API documentation: the request it sends (headers, top-level system,
// max_tokens, model and temperature), replies streamed and not, usage, retries on 529 and
// their limits, the errors it maps and what it never leaks (the API key), streams that fail or
// break, block and event types it must skip, and concurrent calls on one instance.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <stdlib.h>

#include <lakehost/plugin_api.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "host_process.h"
#include "plugin_fixture.h"
#include "upstream_server.h"

namespace {

using lakehost::test::load_plugin;
using lakehost::test::LoadedPlugin;
using lakehost::test::UpstreamServer;

constexpr const char* kKeyEnv = "LAKEHOST_TEST_ANTHROPIC_KEY";
constexpr const char* kKey = "sk-ant-test-0123456789";

struct Msg {
  std::string role, content;
};

struct Reply {
  lh_status status = LH_OK;
  std::string error;
  std::vector<std::string> deltas;
  std::string text;
  lh_chat_usage usage{sizeof(lh_chat_usage), 0, 0};
};

Reply chat(const LoadedPlugin& p, const std::vector<Msg>& messages, int32_t max_tokens = 0,
           float temperature = -1, const std::string& model = "") {
  std::vector<lh_chat_message> m;
  for (const auto& x : messages)
    m.push_back({{x.role.data(), x.role.size()}, {x.content.data(), x.content.size()}});
  lh_chat_request req{};
  req.struct_size = sizeof req;
  req.messages = m.data();
  req.n_messages = m.size();
  req.model = {model.data(), model.size()};
  req.temperature = temperature;
  req.max_tokens = max_tokens;
  Reply r;
  lh_error err{};
  auto on_delta = [](void* ctx, lh_str t) {
    auto* reply = static_cast<Reply*>(ctx);
    reply->deltas.emplace_back(t.data, t.size);
    reply->text.append(t.data, t.size);
  };
  r.status = p.table<lh_chat_provider_v1>()->chat(p.self(), &req, on_delta, &r, &r.usage, &err);
  if (r.status != LH_OK) r.error = err.message;
  return r;
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  return d;
}

std::string config(const UpstreamServer& s, const std::string& extra = "") {
  return R"({"base_url": ")" + s.base_url() + R"(", "model": "claude-test-1", "api_key_env": ")" +
         kKeyEnv + R"(", "retry_backoff_ms": 1, "retry_backoff_max_ms": 5)" + extra + "}";
}

class ChatAnthropic : public ::testing::Test {
 protected:
  void SetUp() override { setenv(kKeyEnv, kKey, 1); }
  UpstreamServer server_{"anthropic_server.py", {"--api-key", kKey}};

  // The recorded API requests (control calls are not recorded).
  rapidjson::Document requests() { return parse(server_.requests()); }
  rapidjson::SizeType request_count() { return requests()["requests"].Size(); }
};

const std::vector<Msg> kConversation = {{"system", "Be brief."},
                                        {"user", "Who drives forklifts?"},
                                        {"assistant", "Operators."},
                                        {"user", "And reach trucks?"},
                                        {"system", "Cite profiles."}};
// The server echoes the last user message, the number of messages it got and its system prompt.
const std::string kConversationReply =
    "Echo: And reach trucks? | messages: 3 | system: Be brief.\n\nCite profiles.";

}  // namespace

TEST_F(ChatAnthropic, RequestFollowsTheMessagesApi) {
  auto p = load_plugin("chat-anthropic", config(server_, R"(, "stream": false)"));
  Reply r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.error;
  EXPECT_EQ(r.text, kConversationReply);

  auto d = requests();
  ASSERT_EQ(d["requests"].Size(), 1u);
  const auto& q = d["requests"][0];
  EXPECT_STREQ(q["method"].GetString(), "POST");
  EXPECT_STREQ(q["path"].GetString(), "/v1/messages");
  EXPECT_STREQ(q["headers"]["x-api-key"].GetString(), kKey);
  EXPECT_STREQ(q["headers"]["anthropic-version"].GetString(), "2023-06-01");
  EXPECT_STREQ(q["headers"]["content-type"].GetString(), "application/json");
  EXPECT_FALSE(q["headers"].HasMember("authorization"));  // the key goes in x-api-key only
  const auto& b = q["body"];
  EXPECT_STREQ(b["model"].GetString(), "claude-test-1");
  EXPECT_EQ(b["max_tokens"].GetInt(), 1024);  // required by the API: the config's default
  // System messages leave the list for the top-level field, joined in order.
  EXPECT_STREQ(b["system"].GetString(), "Be brief.\n\nCite profiles.");
  ASSERT_EQ(b["messages"].Size(), 3u);
  EXPECT_STREQ(b["messages"][0]["role"].GetString(), "user");
  EXPECT_STREQ(b["messages"][0]["content"].GetString(), "Who drives forklifts?");
  EXPECT_STREQ(b["messages"][1]["role"].GetString(), "assistant");
  EXPECT_STREQ(b["messages"][2]["content"].GetString(), "And reach trucks?");
  EXPECT_FALSE(b["stream"].GetBool());
  EXPECT_FALSE(b.HasMember("temperature"));  // none asked for, none configured

  // Usage as the server counts it: words in (system + messages), deltas out.
  EXPECT_EQ(r.usage.prompt_tokens, 4u + 3u + 1u + 3u);
  EXPECT_EQ(r.usage.completion_tokens, 13u);
}

TEST_F(ChatAnthropic, StreamingHandsOnEveryTextDelta) {
  auto p = load_plugin("chat-anthropic", config(server_));  // stream defaults to true
  Reply r = chat(*p, kConversation);
  ASSERT_EQ(r.status, LH_OK) << r.error;
  EXPECT_EQ(r.text, kConversationReply);
  EXPECT_EQ(r.deltas.size(), 13u);  // one text_delta per word, each passed on
  EXPECT_EQ(r.deltas[0], "Echo: ");
  EXPECT_EQ(r.usage.prompt_tokens, 11u);      // message_start
  EXPECT_EQ(r.usage.completion_tokens, 13u);  // message_delta (cumulative)
  auto d = requests();
  const auto& q = d["requests"][0];
  EXPECT_TRUE(q["body"]["stream"].GetBool());
  EXPECT_STREQ(q["headers"]["accept"].GetString(), "text/event-stream");
}

TEST_F(ChatAnthropic, RequestModelMaxTokensAndTemperatureWin) {
  auto p = load_plugin("chat-anthropic", config(server_, R"(, "temperature": 0.5)"));
  Reply r = chat(*p, {{"user", "one two three four"}}, 3, 0.2f, "claude-test-2");
  ASSERT_EQ(r.status, LH_OK) << r.error;
  EXPECT_EQ(r.text, "Echo: one two ");  // cut at max_tokens = 3 (stop_reason max_tokens)
  EXPECT_EQ(r.usage.completion_tokens, 3u);
  // Without request values: the config's temperature and max_tokens, the config's model.
  r = chat(*p, {{"user", "hi"}});
  ASSERT_EQ(r.status, LH_OK) << r.error;

  auto d = requests();
  const auto& first = d["requests"][0]["body"];
  EXPECT_STREQ(first["model"].GetString(), "claude-test-2");
  EXPECT_EQ(first["max_tokens"].GetInt(), 3);
  EXPECT_DOUBLE_EQ(first["temperature"].GetDouble(), 0.2);  // 0.2, not 0.20000000298...
  const auto& second = d["requests"][1]["body"];
  EXPECT_STREQ(second["model"].GetString(), "claude-test-1");
  EXPECT_EQ(second["max_tokens"].GetInt(), 1024);
  EXPECT_DOUBLE_EQ(second["temperature"].GetDouble(), 0.5);
}

TEST_F(ChatAnthropic, OverloadedIsRetriedThenSucceeds) {
  auto p = load_plugin("chat-anthropic", config(server_, R"(, "max_retries": 2)"));
  server_.control(R"({"fail_next": 2, "status": 529})");
  Reply r = chat(*p, {{"user", "hi"}});
  ASSERT_EQ(r.status, LH_OK) << r.error;
  EXPECT_EQ(r.text, "Echo: hi | messages: 1 | system: -");
  EXPECT_EQ(request_count(), 3u);
}

TEST_F(ChatAnthropic, RetriesAreLimitedAndTheErrorNamesTheType) {
  auto p = load_plugin("chat-anthropic", config(server_, R"(, "max_retries": 1)"));
  server_.control(R"({"fail_next": 5, "status": 529})");
  Reply r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.error.find("HTTP 529 overloaded_error: Overloaded"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("2 attempts"), std::string::npos) << r.error;
  EXPECT_EQ(request_count(), 2u);

  server_.control(R"({"reset": true, "fail_next": 1, "status": 429})");
  r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.status, LH_OK) << r.error;  // rate limit: retried once, then fine
}

TEST_F(ChatAnthropic, ClientErrorsAreNotRetried) {
  auto p = load_plugin("chat-anthropic", config(server_));
  Reply r = chat(*p, {{"user", "hi"}}, 0, -1, "claude-unknown");
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("HTTP 404 not_found_error: model: claude-unknown"), std::string::npos)
      << r.error;
  // temperature outside Anthropic's 0..1 is passed on, and the API's 400 comes back.
  r = chat(*p, {{"user", "hi"}}, 0, 1.5f);
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("invalid_request_error"), std::string::npos) << r.error;
  EXPECT_EQ(request_count(), 2u);
}

TEST_F(ChatAnthropic, WrongKeyIsUnavailableAndTheKeyNeverAppears) {
  setenv(kKeyEnv, "sk-ant-wrong-key", 1);
  auto p = load_plugin("chat-anthropic", config(server_));
  Reply r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.error.find("401 authentication_error"), std::string::npos) << r.error;
  // An upstream that echoes the key back: it is masked.
  server_.control(R"({"fail_next": 1, "status": 401, "body": {"type": "error", "error": )"
                  R"({"type": "authentication_error", "message": "bad key sk-ant-wrong-key"}}})");
  r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.error.find("sk-ant-wrong-key"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("bad key ***"), std::string::npos) << r.error;
}

TEST_F(ChatAnthropic, MissingKeyVariableFailsCreateNamingIt) {
  unsetenv(kKeyEnv);
  try {
    load_plugin("chat-anthropic", config(server_));
    ADD_FAILURE() << "created without its API key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(kKeyEnv), std::string::npos) << e.what();
  }
}

TEST_F(ChatAnthropic, ErrorEventMidStreamFailsAfterTheDeltasSoFar) {
  auto p = load_plugin("chat-anthropic", config(server_));
  server_.control(R"({"stream_error_after": 2})");
  Reply r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.error.find("overloaded_error: Overloaded"), std::string::npos) << r.error;
  EXPECT_EQ(r.deltas.size(), 2u);  // what arrived was passed on
  EXPECT_EQ(request_count(), 1u);  // and then no retry could repeat it
}

TEST_F(ChatAnthropic, StreamCutBeforeMessageStopIsAnError) {
  auto p = load_plugin("chat-anthropic", config(server_));
  server_.control(R"({"drop_after": 3})");
  Reply r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_EQ(r.deltas.size(), 3u);
  EXPECT_EQ(request_count(), 1u);
}

TEST_F(ChatAnthropic, ThinkingBlocksAndUnknownEventsAreSkipped) {
  server_.control(R"({"thinking": true})");
  for (const char* stream : {"true", "false"}) {
    SCOPED_TRACE(stream);
    auto p = load_plugin("chat-anthropic", config(server_, std::string(", \"stream\": ") + stream));
    Reply r = chat(*p, {{"user", "hi"}});
    ASSERT_EQ(r.status, LH_OK) << r.error;
    EXPECT_EQ(r.text, "Echo: hi | messages: 1 | system: -");  // no "Let me think."
  }
}

TEST_F(ChatAnthropic, MessagesTheApiCannotTakeAreRefusedBeforeSending) {
  auto p = load_plugin("chat-anthropic", config(server_));
  Reply r = chat(*p, {{"system", "only a system prompt"}});
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("at least one user or assistant message"), std::string::npos) << r.error;
  r = chat(*p, {{"tool", "{}"}, {"user", "hi"}});
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("\"tool\""), std::string::npos) << r.error;
  EXPECT_EQ(request_count(), 0u);
}

TEST_F(ChatAnthropic, HealthAsksForTheModelList) {
  auto p = load_plugin("chat-anthropic", config(server_));  // load_plugin runs no health check
  lh_error err{};
  EXPECT_EQ(p->descriptor()->health(p->self(), &err), LH_OK) << err.message;
  auto d = requests();
  ASSERT_EQ(d["requests"].Size(), 1u);
  EXPECT_EQ(std::string(d["requests"][0]["path"].GetString()).rfind("/v1/models", 0), 0u);
  EXPECT_STREQ(d["requests"][0]["headers"]["x-api-key"].GetString(), kKey);
}

TEST_F(ChatAnthropic, UnreachableServerIsUnavailable) {
  auto p = load_plugin("chat-anthropic", config(server_, R"(, "max_retries": 1)"));
  server_.stop();
  Reply r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.status, LH_ERR_UNAVAILABLE);
  EXPECT_NE(r.error.find("2 attempts"), std::string::npos) << r.error;
  lh_error err{};
  EXPECT_EQ(p->descriptor()->health(p->self(), &err), LH_ERR_UNAVAILABLE);
}

TEST_F(ChatAnthropic, ConcurrentChatsOnOneInstance) {
  auto p = load_plugin("chat-anthropic", config(server_));
  ASSERT_TRUE(p->descriptor()->flags & LH_FLAG_THREAD_SAFE);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string q = "thread" + std::to_string(t) + " call" + std::to_string(i);
        Reply r = chat(*p, {{"user", q}});
        if (r.status != LH_OK || r.text != "Echo: " + q + " | messages: 1 | system: -") ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(request_count(), 40u);
}

// The example manifest's config is valid for the plugin's schema and works as given, once
// base_url points at the test server (the key variable it names is set for the test).
TEST_F(ChatAnthropic, ExampleManifestConfigWorks) {
  auto manifest = parse(lakehost::test::read_file(std::string(LAKEHOST_SOURCE_DIR) +
                                                  "/manifests/examples/chat-anthropic.json"));
  ASSERT_FALSE(manifest.HasParseError());
  auto& cfg = manifest["config"];
  ASSERT_STREQ(cfg["api_key_env"].GetString(), "ANTHROPIC_API_KEY");
  setenv("ANTHROPIC_API_KEY", kKey, 1);
  const std::string url = server_.base_url();
  cfg["base_url"].SetString(url.c_str(), static_cast<rapidjson::SizeType>(url.size()),
                            manifest.GetAllocator());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  cfg.Accept(w);
  auto p = load_plugin("chat-anthropic", buf.GetString());
  // The example names a real model; this server knows only its test models, and says so.
  Reply r = chat(*p, {{"user", "hi"}});
  EXPECT_EQ(r.status, LH_ERR_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("not_found_error"), std::string::npos) << r.error;
  r = chat(*p, {{"user", "hi"}}, 0, -1, "claude-test-1");
  ASSERT_EQ(r.status, LH_OK) << r.error;
  auto d = requests();
  EXPECT_EQ(d["requests"][0]["body"]["max_tokens"].GetInt(), cfg["max_tokens"].GetInt());
  EXPECT_STREQ(d["requests"][0]["body"]["model"].GetString(), cfg["model"].GetString());
}
