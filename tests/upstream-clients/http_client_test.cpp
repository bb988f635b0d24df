// The SDK's <lakehost/http_client.hpp> on its own: error mapping, upstream messages, backoff
// bounds, the server-sent-events decoder, token redaction and line streaming, against the fake
// servers of tests/upstreams/.
#include <lakehost/http_client.hpp>

#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

namespace http = lakehost::http;

http::Response response(long status, std::string body, std::string error = "") {
  http::Response r;
  r.method = "POST";
  r.url = "http://upstream.test/x";
  r.status = status;
  r.body = std::move(body);
  r.error = std::move(error);
  r.attempts = 1;
  return r;
}

TEST(HttpClient, StatusMapping) {
  EXPECT_TRUE(response(200, "{}").ok());
  EXPECT_FALSE(response(200, "", "stream broken").ok());
  for (long s : {400L, 404L, 413L, 422L})
    EXPECT_EQ(http::status_for(response(s, "")), LH_ERR_INVALID_ARGUMENT) << s;
  for (long s : {401L, 403L, 408L, 429L, 500L, 502L, 503L, 504L})
    EXPECT_EQ(http::status_for(response(s, "")), LH_ERR_UNAVAILABLE) << s;
  EXPECT_EQ(http::status_for(response(0, "", "Couldn't connect to server")), LH_ERR_UNAVAILABLE);
  try {
    http::expect_ok(response(404, R"({"error":"model \"x\" not found"})"), "p: ");
    FAIL() << "expect_ok did not throw";
  } catch (const lakehost::Error& e) {
    EXPECT_EQ(e.status(), LH_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(e.what(),
                 "p: POST http://upstream.test/x: HTTP 404: model \"x\" not found (1 attempt)");
  }
}

TEST(HttpClient, UpstreamMessageFromEachProvidersErrorShape) {
  EXPECT_EQ(http::upstream_message(R"({"error": "model is required"})"), "model is required");
  EXPECT_EQ(
      http::upstream_message(
          R"({"error": {"message": "bad key", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})"),
      "bad key");
  EXPECT_EQ(
      http::upstream_message(
          R"({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})"),
      "Overloaded");
  EXPECT_EQ(http::upstream_message(R"({"detail": "Not Found"})"), "Not Found");
  EXPECT_EQ(http::upstream_message("<html>\n  502 Bad   Gateway\n</html>\n"),
            "<html> 502 Bad Gateway </html>");
  EXPECT_EQ(http::upstream_message(std::string(1000, 'x')).size(), 303u) << "capped";
}

TEST(HttpClient, BackoffIsExponentialWithJitterAndCapped) {
  http::Client c(
      {.base_url = "http://127.0.0.1:9", .backoff_initial_ms = 100, .backoff_max_ms = 1000});
  const http::Response plain = response(503, "");
  for (int i = 0; i < 50; ++i) {
    const long d0 = c.delay_ms(0, plain), d1 = c.delay_ms(1, plain), d5 = c.delay_ms(5, plain);
    EXPECT_GE(d0, 50);
    EXPECT_LE(d0, 100);
    EXPECT_GE(d1, 100);
    EXPECT_LE(d1, 200);
    EXPECT_GE(d5, 500);
    EXPECT_LE(d5, 1000);
  }
  http::Response later = response(429, "");
  later.headers["retry-after"] = "2";
  EXPECT_EQ(c.delay_ms(0, later), 1000) << "Retry-After capped at backoff_max_ms";
  later.headers["retry-after"] = "0";
  EXPECT_EQ(c.delay_ms(3, later), 0);
  later.headers["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT";  // a date: normal backoff
  EXPECT_GE(c.delay_ms(0, later), 50);
}

TEST(HttpClient, SseDecoderAssemblesEvents) {
  std::vector<std::pair<std::string, std::string>> events;
  http::SseDecoder d([&](std::string_view e, std::string_view data) {
    events.emplace_back(std::string(e), std::string(data));
  });
  for (std::string_view line :
       {": keep-alive comment", "event: message_start", "data: {\"a\":1}", "", "data:first",
        "data: second", "id: 7", "", "", "retry: 10", "data: [DONE]"})
    d.line(line);
  d.finish();  // the last event had no blank line after it
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], std::make_pair(std::string("message_start"), std::string("{\"a\":1}")));
  EXPECT_EQ(events[1], std::make_pair(std::string(""), std::string("first\nsecond")));
  EXPECT_EQ(events[2], std::make_pair(std::string(""), std::string("[DONE]")));
}

TEST(HttpClient, BearerTokenNeverAppearsInMessages) {
  UpstreamServer s("ollama_server.py");
  http::Client c({.base_url = s.base_url(), .max_retries = 0, .bearer_token = "tok-SECRET-42"});
  // A server that echoes the credentials it was given.
  s.control(R"({"fail_next": 1, "status": 401, "body": {"error": "token tok-SECRET-42 revoked"}})");
  const auto r = c.post_json("/api/embed", "{}");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(recorded(s)[0].headers["authorization"], "Bearer tok-SECRET-42");
  const std::string m = http::describe(r);
  EXPECT_EQ(m.find("tok-SECRET-42"), std::string::npos) << m;
  EXPECT_NE(m.find("token *** revoked"), std::string::npos) << m;
}

TEST(HttpClient, StreamDeliversLinesAndAnExceptionFromTheSinkReachesTheCaller) {
  UpstreamServer s("ollama_server.py");
  http::Client c({.base_url = s.base_url()});
  const std::string body =
      R"({"model": "llama3.2", "messages": [{"role": "user", "content": "one two three"}]})";
  std::vector<std::string> lines;
  auto r =
      c.post_json_stream("/api/chat", body, {}, [&](std::string_view l) { lines.emplace_back(l); });
  ASSERT_TRUE(r.ok()) << http::describe(r);
  EXPECT_TRUE(r.streamed);
  EXPECT_TRUE(r.body.empty()) << "a 2xx stream goes to the sink, not the body";
  ASSERT_GE(lines.size(), 4u);
  for (const auto& l : lines) EXPECT_EQ(parse(l).IsObject(), true) << l;
  EXPECT_TRUE(parse(lines.back())["done"].GetBool());

  EXPECT_THROW(c.post_json_stream("/api/chat", body, {},
                                  [](std::string_view) { throw std::runtime_error("stop"); }),
               std::runtime_error);
  // A non-2xx stream is not handed to the sink: its body is the error.
  lines.clear();
  r = c.post_json_stream("/api/chat", R"({"messages": []})", {},
                         [&](std::string_view l) { lines.emplace_back(l); });
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(http::upstream_message(r.body), "model is required");
}

}  // namespace
}  // namespace lakehost::upstream_test
