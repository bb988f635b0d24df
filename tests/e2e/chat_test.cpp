// The chat routes end to end: a real `lakehost serve` with the chat-openai plugin talking to the
// protocol-faithful local OpenAI server of tests/upstreams/openai_server.py (test::UpstreamServer).
// Retrieval puts the collection's documents into the prompt and returns them as sources;
// /v1/chat/completions answers in OpenAI's shape, plain and as server-sent events streamed while
// the upstream streams, with its errors in OpenAI's error object; content parts and the developer
// role are accepted; an upstream that is gone is a 503 with the envelope, and the host keeps
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

// OpenAI's content parts and the developer role, on both chat routes: the text parts are
// concatenated as they are, and "developer" reaches the provider as "system".
TEST_F(Chat, ContentPartsAndTheDeveloperRole) {
  const std::string messages =
      R"([{"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
          {"role": "user", "content": [{"type": "text", "text": "Forklift "},
                                       {"type": "text", "text": "drivers?"}]}])";
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c_.post(host_->url("/v1/chat/completions"),
                              "{\"model\": \"chat-openai\", \"messages\": " + messages + "}"),
                      200, &d));
  std::string reply = d["choices"][0]["message"]["content"].GetString();
  EXPECT_NE(reply.find("Echo: Forklift drivers? | messages: 2 | system: Be brief."),
            std::string::npos)
      << reply;
  ASSERT_TRUE(
      json_ok(c_.post(host_->url("/v1/chat"), "{\"messages\": " + messages + "}"), 200, &d));
  reply = d["message"]["content"].GetString();
  EXPECT_NE(reply.find("Echo: Forklift drivers? | messages: 2 | system: Be brief."),
            std::string::npos)
      << reply;

  // What the upstream received: plain string contents, the developer message as "system".
  auto sent = parse_json(upstream_.requests());
  ASSERT_FALSE(sent.HasParseError());
  int chats = 0;
  for (const auto& r : sent["requests"].GetArray()) {
    if (std::string(r["path"].GetString()) != "/v1/chat/completions") continue;  // health checks
    ++chats;
    const auto& msgs = r["body"]["messages"];
    ASSERT_EQ(msgs.Size(), 2u) << to_json(r);
    EXPECT_STREQ(msgs[0]["role"].GetString(), "system");
    EXPECT_STREQ(msgs[0]["content"].GetString(), "Be brief.");
    EXPECT_STREQ(msgs[1]["role"].GetString(), "user");
    EXPECT_STREQ(msgs[1]["content"].GetString(), "Forklift drivers?");
  }
  EXPECT_EQ(chats, 2);

  // With retrieval, lakehost's context goes after the developer (= system) message.
  ASSERT_TRUE(
      json_ok(c_.post(host_->url("/v1/chat"),
                      "{\"messages\": " + messages + ", \"collection\": \"workers\", \"k\": 2}"),
              200, &d));
  EXPECT_EQ(d["sources"].Size(), 2u);
  EXPECT_NE(
      std::string(d["message"]["content"].GetString()).find("messages: 3 | system: Be brief."),
      std::string::npos)
      << d["message"]["content"].GetString();
}

TEST_F(Chat, UnsupportedContentPartsAreRefusedNamingTheField) {
  for (const char* path : {"/v1/chat/completions", "/v1/chat"}) {
    SCOPED_TRACE(path);
    auto url = host_->url(path);
    auto with = [](const std::string& content) {
      return R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": )" +
             content + "}]}";
    };
    EXPECT_TRUE(is_error(
        c_.post(url, with(R"([{"type": "image_url", "image_url": {"url": "http://x/y.png"}}])")),
        400, "invalid_value", "/messages/1/content/0/type \"image_url\" is not supported"));
    EXPECT_TRUE(
        is_error(c_.post(url, with(R"([{"type": "text", "text": "a"}, {"type": "input_audio",
                                "input_audio": {"data": "AAAA", "format": "wav"}}])")),
                 400, "invalid_value", "/messages/1/content/1/type \"input_audio\""));
    EXPECT_TRUE(
        is_error(c_.post(url, with("[]")), 422, "validation_failed", "/messages/1/content"));
    EXPECT_TRUE(is_error(c_.post(url, with(R"(["text"])")), 400, "bad_request",
                         "/messages/1/content/0 must be an object"));
    EXPECT_TRUE(is_error(c_.post(url, with(R"([{"text": "a"}])")), 400, "bad_request",
                         "/messages/1/content/0/type"));
    EXPECT_TRUE(is_error(c_.post(url, with(R"([{"type": "text"}])")), 400, "bad_request",
                         "/messages/1/content/0/text"));
    EXPECT_TRUE(is_error(c_.post(url, with(R"([{"type": "text", "text": 5}])")), 400, "bad_request",
                         "/messages/1/content/0/text"));
    EXPECT_TRUE(is_error(c_.post(url, with(R"([{"type": "text", "text": "a\u0000b"}])")), 422,
                         "validation_failed", "/messages/1/content must not contain NUL"));
    EXPECT_TRUE(is_error(c_.post(url, with("42")), 400, "bad_request", "/messages/1/content"));
    EXPECT_TRUE(is_error(c_.post(url, R"({"messages": [{"role": "tool", "content": "x"}]})"), 422,
                         "validation_failed", "/messages/0/role"));
  }
  // Nothing of the above reached the upstream.
  EXPECT_EQ(upstream_.requests().find("/v1/chat/completions"), std::string::npos)
      << upstream_.requests();
}

// /v1/chat/completions answers errors in OpenAI's error object, which keeps lakehost's code and
// message and adds type and param (what OpenAI's client libraries read); /v1/chat keeps
// lakehost's envelope.
TEST_F(Chat, ChatCompletionsErrorsAreOpenAiErrorObjects) {
  auto r = c_.post(host_->url("/v1/chat/completions"),
                   R"({"messages": [{"role": "user", "content": "x"}, {"role": "user",
                       "content": [{"type": "image_url"}]}]})");
  ASSERT_TRUE(is_error(r, 400, "invalid_value"));
  auto d = parse_json(r.body);
  EXPECT_STREQ(d["error"]["type"].GetString(), "invalid_request_error") << r.body;
  EXPECT_STREQ(d["error"]["param"].GetString(), "messages[1].content[0].type") << r.body;

  r = c_.post(host_->url("/v1/chat/completions"),
              R"({"messages": [{"role": "user", "content": "x"}], "model": "gpt-9"})");
  ASSERT_TRUE(is_error(r, 404, "model_not_found", "gpt-9"));
  d = parse_json(r.body);
  EXPECT_STREQ(d["error"]["type"].GetString(), "invalid_request_error") << r.body;
  EXPECT_STREQ(d["error"]["param"].GetString(), "model") << r.body;

  r = c_.post(host_->url("/v1/chat/completions"), "not json");
  ASSERT_TRUE(is_error(r, 400, "malformed_json"));
  d = parse_json(r.body);
  EXPECT_TRUE(d["error"]["param"].IsNull()) << r.body;

  // Errors of the deferred and streamed parts (the upstream is gone) are OpenAI's too.
  upstream_.stop();
  for (const char* stream : {"false", "true"}) {
    r = c_.post(host_->url("/v1/chat/completions"),
                std::string(R"({"messages": [{"role": "user", "content": "x"}], "stream": )") +
                    stream + "}");
    ASSERT_TRUE(is_error(r, 503, "upstream_unavailable")) << stream;
    d = parse_json(r.body);
    EXPECT_STREQ(d["error"]["type"].GetString(), "server_error") << r.body;
    EXPECT_TRUE(d["error"].HasMember("param")) << r.body;
  }

  r = c_.post(host_->url("/v1/chat"), R"({"messages": []})");
  ASSERT_TRUE(is_error(r, 422, "validation_failed", "/messages"));
  EXPECT_FALSE(parse_json(r.body)["error"].HasMember("type")) << r.body;
}

// A failure after the stream started ends it with OpenAI's error object as the last event.
TEST_F(Chat, MidStreamFailureEndsWithAnOpenAiErrorEvent) {
  upstream_.control(R"({"stream_error_after": 2})");
  auto r = c_.post(host_->url("/v1/chat/completions"),
                   R"({"messages": [{"role": "user", "content": "one two three four five"}],
                       "stream": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto at = r.body.find("data: {\"error\"");
  ASSERT_NE(at, std::string::npos) << r.body;
  auto end = r.body.find("\n\n", at);
  auto d = parse_json(r.body.substr(at + 6, end - at - 6));
  ASSERT_FALSE(d.HasParseError()) << r.body;
  EXPECT_STREQ(d["error"]["type"].GetString(), "server_error") << r.body;
  EXPECT_TRUE(d["error"]["message"].IsString() && d["error"]["code"].IsString()) << r.body;
  EXPECT_TRUE(d["error"].HasMember("param")) << r.body;
  EXPECT_NE(r.body.find("data: [DONE]\n\n", end), std::string::npos) << r.body;
}

// An answer that takes longer than the header timeout is still delivered, plain and streamed,
// on a connection that then serves the next request: nothing is timed while a request is being
// answered (Pistache's own timeout answered 408 here and closed the connection mid-answer).
TEST(SlowChat, AnAnswerSlowerThanTheHeaderTimeoutIsDelivered) {
  test::UpstreamServer upstream("openai_server.py");
  std::string dir = test::copy_default_manifests();
  test::write_file(dir + "/chat-openai.json", chat_manifest(upstream.base_url(), true));
  HostProcess host(Options().manifests(dir).args({"--header-timeout-ms", "500"}));
  upstream.control(R"({"delay_ms": 1500})");
  HttpClient c;
  const std::string messages = R"([{"role": "user", "content": "take your time"}])";
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/chat/completions"),
                             "{\"model\": \"chat-openai\", \"messages\": " + messages + "}"),
                      200, &d));
  EXPECT_NE(std::string(d["choices"][0]["message"]["content"].GetString()).find("Echo: take"),
            std::string::npos);
  auto streamed =
      c.post(host.url("/v1/chat/completions"),
             "{\"model\": \"chat-openai\", \"stream\": true, \"messages\": " + messages + "}");
  EXPECT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos) << streamed.body;
  ASSERT_TRUE(json_ok(c.get(host.url("/health")), 200));
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST(ChatWithoutProvider, NoChatProviderIs503) {
  HostProcess host;
  HttpClient c;
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/chat"), R"({"messages": [{"role": "user", "content": "x"}]})"),
               503, "no_chat_provider"));
}

}  // namespace lakehost::e2e
