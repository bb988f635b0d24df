// The chat routes end to end: a real `lakehost serve` with the chat-openai plugin talking to the
// protocol-faithful local OpenAI server of tests/upstreams/openai_server.py (test::UpstreamServer).
// Retrieval puts the collection's documents into the prompt and returns them as sources;
// /v1/chat/completions answers in OpenAI's shape, plain and as server-sent events streamed while
// the upstream streams; an upstream that is gone is a 503 with the envelope, and the host keeps
// serving.
#include "e2e_support.h"
#include "upstream_server.h"

namespace lakehost::e2e {
namespace {

std::string chat_manifest(const std::string& base_url, bool stream) {
  return "{\"id\": \"chat-openai\", \"kind\": \"chat_provider\", \"library\": \"chat-openai.so\", "
         "\"enabled\": true, \"default\": true, \"config\": {\"base_url\": " +
         jstr(base_url) + ", \"model\": \"gpt-4o-mini\", \"max_retries\": 1, " +
         "\"retry_backoff_ms\": 10, \"stream\": " + (stream ? "true" : "false") + "}}\n";
}

class Chat : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = test::copy_default_manifests();
    test::write_file(dir + "/chat-openai.json", chat_manifest(upstream_.base_url(), true));
    host_ = std::make_unique<HostProcess>(Options().manifests(dir).demo());
  }
  std::string user(const std::string& text) {
    return "[{\"role\": \"user\", \"content\": " + jstr(text) + "}]";
  }
  test::UpstreamServer upstream_{"openai_server.py"};
  std::unique_ptr<HostProcess> host_;
  HttpClient c_;
};

}  // namespace

TEST_F(Chat, ModelsListsChatAndEmbedProviders) {
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c_.get(host_->url("/v1/models")), 200, &d));
  EXPECT_STREQ(d["object"].GetString(), "list");
  bool chat = false, embed = false;
  for (const auto& m : d["data"].GetArray()) {
    EXPECT_STREQ(m["object"].GetString(), "model");
    chat |= std::string(m["id"].GetString()) == "chat-openai" &&
            std::string(m["kind"].GetString()) == "chat_provider" && m["default"].GetBool();
    embed |= std::string(m["kind"].GetString()) == "embed_provider";
  }
  EXPECT_TRUE(chat && embed) << to_json(d);
}

TEST_F(Chat, RetrievalPutsDocumentsIntoThePromptAndReturnsThemAsSources) {
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(
      c_.post(host_->url("/v1/chat"), "{\"messages\": " + user("Forklift Operator on night shift") +
                                          ", \"collection\": \"workers\", \"k\": 3}"),
      200, &d));
  EXPECT_STREQ(d["model"].GetString(), "chat-openai");
  EXPECT_STREQ(d["message"]["role"].GetString(), "assistant");
  const std::string reply = d["message"]["content"].GetString();
  // The test server echoes the last user message, the number of messages (the client's one and
  // lakehost's context) and the system prompt: the retrieved documents reached the upstream.
  EXPECT_NE(reply.find("Echo: Forklift Operator on night shift"), std::string::npos) << reply;
  EXPECT_NE(reply.find("messages: 2"), std::string::npos) << reply;
  ASSERT_EQ(d["sources"].Size(), 3u);
  for (const auto& id : d["sources"].GetArray())
    EXPECT_NE(reply.find("[" + std::string(id.GetString()) + "]"), std::string::npos)
        << "document " << id.GetString() << " is not in the prompt: " << reply;
  // The sources are the collection's top hits for the question, in rank order.
  rapidjson::Document s;
  ASSERT_TRUE(json_ok(c_.post(host_->url("/v1/collections/workers/search"),
                              R"({"query": "Forklift Operator on night shift", "k": 3})"),
                      200, &s));
  for (rapidjson::SizeType i = 0; i < 3; ++i)
    EXPECT_STREQ(d["sources"][i].GetString(), s["results"][i]["id"].GetString());
  EXPECT_GT(d["usage"]["total_tokens"].GetUint64(), 0u);

  // Without a collection: no context message, no sources.
  ASSERT_TRUE(
      json_ok(c_.post(host_->url("/v1/chat"), "{\"messages\": " + user("hi") + "}"), 200, &d));
  EXPECT_NE(std::string(d["message"]["content"].GetString()).find("messages: 1 "),
            std::string::npos)
      << d["message"]["content"].GetString();
  EXPECT_EQ(d["sources"].Size(), 0u);
}

TEST_F(Chat, ChatCompletionsInOpenAiShape) {
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c_.post(host_->url("/v1/chat/completions"),
                              "{\"model\": \"chat-openai\", \"messages\": " + user("hello") +
                                  ", \"temperature\": 0.2, \"max_tokens\": 50}"),
                      200, &d));
  EXPECT_STREQ(d["object"].GetString(), "chat.completion");
  EXPECT_EQ(std::string(d["id"].GetString()).rfind("chatcmpl-", 0), 0u);
  EXPECT_STREQ(d["model"].GetString(), "chat-openai");
  ASSERT_EQ(d["choices"].Size(), 1u);
  EXPECT_STREQ(d["choices"][0]["message"]["role"].GetString(), "assistant");
  EXPECT_NE(std::string(d["choices"][0]["message"]["content"].GetString()).find("Echo: hello"),
            std::string::npos);
  EXPECT_STREQ(d["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_EQ(d["usage"]["total_tokens"].GetUint64(),
            d["usage"]["prompt_tokens"].GetUint64() + d["usage"]["completion_tokens"].GetUint64());
}

TEST_F(Chat, StreamedCompletionIsServerSentEventsOfChunks) {
  auto r = c_.post(host_->url("/v1/chat/completions"),
                   "{\"messages\": " + user("stream me please") +
                       ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.headers["content-type"].find("text/event-stream"), std::string::npos);
  // Parse the events: "data: <json>\n\n" ... "data: [DONE]\n\n".
  std::vector<std::string> events;
  for (size_t at = 0; at < r.body.size();) {
    size_t end = r.body.find("\n\n", at);
    ASSERT_NE(end, std::string::npos) << "an event without its blank line: " << r.body.substr(at);
    std::string ev = r.body.substr(at, end - at);
    ASSERT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    events.push_back(ev.substr(6));
    at = end + 2;
  }
  ASSERT_GE(events.size(), 5u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  int content_chunks = 0;
  bool role_first = false, finished = false, usage = false;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto d = parse_json(events[i]);
    ASSERT_FALSE(d.HasParseError()) << events[i];
    EXPECT_STREQ(d["object"].GetString(), "chat.completion.chunk");
    if (d["choices"].Empty()) {
      usage = d.HasMember("usage") && d["usage"]["total_tokens"].GetUint64() > 0;
      continue;
    }
    const auto& ch = d["choices"][0];
    if (i == 0) role_first = ch["delta"].HasMember("role");
    if (ch["delta"].HasMember("content") && ch["delta"]["content"].GetStringLength() > 0) {
      text += ch["delta"]["content"].GetString();
      ++content_chunks;
    }
    if (ch["finish_reason"].IsString())
      finished = std::string(ch["finish_reason"].GetString()) == "stop";
  }
  EXPECT_TRUE(role_first);
  EXPECT_TRUE(finished);
  EXPECT_TRUE(usage);
  EXPECT_GT(content_chunks, 3) << "the reply was not streamed in pieces";
  EXPECT_NE(text.find("Echo: stream me please"), std::string::npos) << text;

  // The connection is reusable after a stream: another request on the same client works.
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(c_.get(host_->url("/v1/models")), 200, &d));
}

TEST_F(Chat, BadRequestsAreRefusedBeforeAnyUpstreamCall) {
  auto url = host_->url("/v1/chat/completions");
  EXPECT_TRUE(is_error(c_.post(url, "{}"), 400, "bad_request", "/messages"));
  EXPECT_TRUE(is_error(c_.post(url, R"({"messages": []})"), 422, "validation_failed", "/messages"));
  EXPECT_TRUE(is_error(c_.post(url, R"({"messages": [{"role": "wizard", "content": "x"}]})"), 422,
                       "validation_failed", "/messages/0/role"));
  EXPECT_TRUE(is_error(c_.post(url, R"({"messages": [{"role": "user"}]})"), 400, "bad_request",
                       "/messages/0/content"));
  EXPECT_TRUE(is_error(c_.post(url, "{\"messages\": " + user("x") + ", \"model\": \"gpt-9\"}"), 404,
                       "model_not_found", "gpt-9"));
  EXPECT_TRUE(is_error(c_.post(url, "{\"messages\": " + user("x") + ", \"temperature\": 7}"), 422,
                       "validation_failed", "/temperature"));
  EXPECT_TRUE(is_error(c_.post(url, "{\"messages\": " + user("x") + ", \"n\": 2}"), 422,
                       "validation_failed", "/n"));
  EXPECT_TRUE(is_error(c_.post(url, "{\"messages\": " + user("x") + ", \"collection\": \"nope\"}"),
                       404, "collection_not_found"));
  EXPECT_TRUE(is_error(c_.post(url, "{\"messages\": " + user("x") + ", \"k\": 3}"), 422,
                       "validation_failed", "/k"));
  EXPECT_TRUE(is_error(
      c_.post(host_->url("/v1/chat"), "{\"messages\": " + user("x") + ", \"stream\": true}"), 422,
      "validation_failed", "/stream"));
}

TEST_F(Chat, UnreachableUpstreamIs503AndTheHostKeepsServing) {
  upstream_.stop();
  auto r = c_.post(host_->url("/v1/chat"), "{\"messages\": " + user("anyone there?") + "}");
  EXPECT_TRUE(is_error(r, 503, "upstream_unavailable", "chat-openai"));
  // Streaming asked for, but nothing was sent yet: the same ordinary 503.
  r = c_.post(host_->url("/v1/chat/completions"),
              "{\"messages\": " + user("anyone there?") + ", \"stream\": true}");
  EXPECT_TRUE(is_error(r, 503, "upstream_unavailable"));
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(
      c_.post(host_->url("/v1/collections/workers/search"), R"({"query": "forklift", "k": 1})"),
      200, &d));
}

TEST(ChatWithoutProvider, NoChatProviderIs503) {
  HostProcess host;
  HttpClient c;
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/chat"), R"({"messages": [{"role": "user", "content": "x"}]})"),
               503, "no_chat_provider"));
}

}  // namespace lakehost::e2e
