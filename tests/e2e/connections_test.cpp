// Connection handling: HTTP/1.1 keep-alive by default, "Connection: close" honoured, idle and
// stalled connections closed after the configured timeouts, and the host serving afterwards.
// Raw sockets are used where libcurl would hide what the server did.
#include "e2e_support.h"
#include "upstream_server.h"

namespace lakehost::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kHealth = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

void expect_still_serving(const HostProcess& host) {
  HttpClient c;
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(c.get(host.url("/health")), 200, &d));
  EXPECT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["still here"]})"), 200));
}

TEST(Connections, Http11WithoutConnectionHeaderKeepsTheConnection) {
  HostProcess host(Options().demo());
  HttpClient c;
  for (int i = 0; i < 50; ++i) {
    HttpResult r = i % 2 ? c.get(host.url("/health"))
                         : c.post(host.url("/v1/collections/workers/search"),
                                  R"({"query": "Forklift Operator", "k": 3})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(RawSocket::lower(r.headers["connection"]), "keep-alive") << "request " << i;
  }
  EXPECT_EQ(c.connections_opened(), 1);
  // Error responses keep the connection too.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(c.get(host.url("/v1/collections/ghost")).status, 404);
  ASSERT_EQ(c.post(host.url("/v1/embed"), "{oops").status, 400);
  ASSERT_EQ(c.get(host.url("/health")).status, 200);
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST(Connections, PipelinedRequestsOnOneRawSocketAllAnswered) {
  HostProcess host;
  RawSocket s(host.port());
  ASSERT_TRUE(s.connected());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s.send(kHealth));
    auto resp = s.read_response(seconds(5));
    ASSERT_TRUE(resp) << "request " << i << " got no response";
    EXPECT_EQ(status_of(*resp), 200);
    EXPECT_NE(RawSocket::lower(*resp).find("connection: keep-alive"), std::string::npos) << *resp;
  }
}

// Several requests in one write: each is answered, in order (Pistache's own input loop dropped
// whatever followed the first complete request of a read).
TEST(Connections, PipelinedRequestsInOneWriteAreAllAnsweredInOrder) {
  HostProcess host;
  RawSocket s(host.port());
  ASSERT_TRUE(s.connected());
  const std::string body = R"({"texts": ["pipelined"]})";
  const std::string embed = "POST /v1/embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_TRUE(s.send(kHealth + embed + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" + embed + kHealth));
  for (int expected : {200, 200, 404, 200, 200}) {
    auto resp = s.read_response(seconds(5));
    ASSERT_TRUE(resp) << "a pipelined request got no response";
    EXPECT_EQ(status_of(*resp), expected) << *resp;
  }
  expect_still_serving(host);
}

// "Expect: 100-continue" (curl sends it before bodies over 1 MiB): "100 Continue" when the body
// will be read, the 413 at once when it will not.
TEST(Connections, ExpectContinueIsAnsweredFromTheHeaders) {
  HostProcess host(Options().args({"--max-body-bytes", "1024"}));
  const std::string body = R"({"texts": ["continue"]})";
  RawSocket s(host.port());
  ASSERT_TRUE(
      s.send("POST /v1/embed HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  auto interim = s.read_response(seconds(5));
  ASSERT_TRUE(interim);
  EXPECT_EQ(status_of(*interim), 100) << *interim;
  ASSERT_TRUE(s.send(body));
  auto resp = s.read_response(seconds(5));
  ASSERT_TRUE(resp);
  EXPECT_EQ(status_of(*resp), 200) << *resp;

  RawSocket big(host.port());
  ASSERT_TRUE(
      big.send("POST /v1/embed HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               "Content-Length: 5000\r\n\r\n"));
  resp = big.read_response(seconds(5));
  ASSERT_TRUE(resp);
  EXPECT_EQ(status_of(*resp), 413) << *resp;
  EXPECT_NE(resp->find("body_too_large"), std::string::npos) << *resp;
  EXPECT_TRUE(big.wait_closed(seconds(2)));
}

TEST(Connections, ConnectionCloseIsHonoured) {
  HostProcess host;
  RawSocket s(host.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  auto resp = s.read_response(seconds(5));
  ASSERT_TRUE(resp);
  EXPECT_EQ(status_of(*resp), 200);
  EXPECT_NE(RawSocket::lower(*resp).find("connection: close"), std::string::npos) << *resp;
  auto closed = s.wait_closed(seconds(1));
  EXPECT_TRUE(closed) << "the server kept the socket open after Connection: close";

  // Same for an HTTP/1.0 request without keep-alive, and for an error response.
  RawSocket s10(host.port());
  ASSERT_TRUE(s10.send("GET /health HTTP/1.0\r\n\r\n"));
  resp = s10.read_response(seconds(5));
  ASSERT_TRUE(resp);
  EXPECT_EQ(status_of(*resp), 200);
  EXPECT_TRUE(s10.wait_closed(seconds(1)));

  RawSocket se(host.port());
  ASSERT_TRUE(se.send("GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  resp = se.read_response(seconds(5));
  ASSERT_TRUE(resp);
  EXPECT_EQ(status_of(*resp), 404);
  EXPECT_TRUE(se.wait_closed(seconds(1)));
  expect_still_serving(host);
}

TEST(Connections, IdleKeepAliveConnectionIsClosedAfterTheTimeout) {
  HostProcess host(Options().args({"--keepalive-timeout-ms", "1000"}));
  RawSocket s(host.port());
  ASSERT_TRUE(s.connected());
  // Two requests on the connection: it is kept alive between them.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s.send(kHealth));
    auto resp = s.read_response(seconds(5));
    ASSERT_TRUE(resp);
    EXPECT_EQ(status_of(*resp), 200);
  }
  auto start = Clock::now();
  auto closed = s.wait_closed(seconds(5));
  ASSERT_TRUE(closed) << "an idle keep-alive connection stayed open for 5 s with "
                         "--keepalive-timeout-ms 1000";
  // Not closed right away: it was idle for (about) the keep-alive timeout.
  EXPECT_GE(closed->count(), 500) << "closed after " << closed->count() << " ms";
  EXPECT_LT(Clock::now() - start, seconds(5));
  expect_still_serving(host);
}

TEST(Connections, GarbageRequestLineIsClosedWithinTheHeaderTimeout) {
  HostProcess host(Options().args({"--header-timeout-ms", "1000"}));
  // A request line with no end of headers: the parser waits, then the header timeout closes it.
  {
    RawSocket s(host.port());
    ASSERT_TRUE(s.send("GARBAGE\r\n"));
    auto closed = s.wait_closed(seconds(4));
    EXPECT_TRUE(closed) << "open 4 s after a garbage request line (header timeout 1 s)";
    if (!s.buffer().empty()) {
      EXPECT_GE(status_of(s.buffer()), 400) << s.buffer();
    }
  }
  // Binary junk.
  {
    RawSocket s(host.port());
    ASSERT_TRUE(s.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
    EXPECT_TRUE(s.wait_closed(seconds(4)));
  }
  // Headers that never end.
  {
    RawSocket s(host.port());
    ASSERT_TRUE(s.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1"));
    auto closed = s.wait_closed(seconds(4));
    EXPECT_TRUE(closed) << "stalled headers were not timed out";
  }
  expect_still_serving(host);
}

// A complete request whose request line is garbage is answered 400 and the connection closed at
// once (with the default keep-alive timeout of 60 s, a kept connection would still be open).
TEST(Connections, CompleteGarbageRequestIsRejectedAndClosed) {
  HostProcess host(Options().args({"--header-timeout-ms", "1000"}));
  RawSocket s(host.port());
  ASSERT_TRUE(s.send("THIS IS NOT HTTP AT ALL\r\n\r\n"));
  auto resp = s.read_response(seconds(4));
  ASSERT_TRUE(resp) << "no answer to a garbage request";
  EXPECT_EQ(status_of(*resp), 400) << *resp;
  EXPECT_NE(resp->find("\"code\":\"bad_request\""), std::string::npos) << *resp;  // envelope
  expect_still_serving(host);
  EXPECT_TRUE(s.wait_closed(seconds(4))) << "open 4 s after the 400 (header timeout 1 s)";
}

TEST(Connections, StalledBodyIsClosedWithinTheBodyTimeout) {
  HostProcess host(Options().args({"--body-timeout-ms", "1000", "--header-timeout-ms", "1000"}));
  HttpClient c;
  ASSERT_EQ(c.put(host.url("/v1/collections/c"), "").status, 201);
  RawSocket s(host.port());
  std::string body = documents_body({{"half", "this document is never finished", ""}});
  ASSERT_TRUE(
      s.send("POST /v1/collections/c/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2)));
  auto start = Clock::now();
  auto closed = s.wait_closed(seconds(5));
  EXPECT_TRUE(closed) << "a half-sent body was not timed out within 5 s (body timeout 1 s)";
  EXPECT_LT(Clock::now() - start, seconds(5));
  if (!s.buffer().empty()) {
    EXPECT_EQ(status_of(s.buffer()), 408) << s.buffer();
  }
  // Nothing of the half request was applied, and the host serves on.
  EXPECT_EQ(c.get(host.url("/v1/collections/c/documents/half")).status, 404);
  expect_still_serving(host);
}

// A request that stalls mid-body gets a 408 with the envelope and is closed.
TEST(Connections, StalledRequestGetsA408AndIsClosed) {
  HostProcess host(Options().args({"--body-timeout-ms", "1000", "--header-timeout-ms", "1000"}));
  RawSocket s(host.port());
  ASSERT_TRUE(
      s.send("POST /v1/embed HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"texts\""));
  auto resp = s.read_response(seconds(5));
  ASSERT_TRUE(resp) << "no 408 within 5 s";
  EXPECT_EQ(status_of(*resp), 408) << *resp;
  EXPECT_NE(resp->find("\"code\":\"request_timeout\""), std::string::npos) << *resp;
  EXPECT_NE(resp->find("the request body was not complete within 1000 ms"), std::string::npos)
      << *resp;
  EXPECT_TRUE(s.wait_closed(seconds(4)));
  expect_still_serving(host);
}

// The head's deadline counts from its first byte, not from the connection's start: a client
// that connects, waits longer than the header timeout, then sends a whole request is answered.
TEST(Connections, HeaderTimeoutCountsFromTheFirstByteOfTheRequest) {
  HostProcess host(Options().args({"--header-timeout-ms", "1000"}));
  RawSocket s(host.port());
  ASSERT_TRUE(s.connected());
  std::this_thread::sleep_for(milliseconds(1600));
  ASSERT_TRUE(s.send(kHealth));
  auto resp = s.read_response(seconds(5));
  ASSERT_TRUE(resp) << "no answer";
  EXPECT_EQ(status_of(*resp), 200) << *resp;
}

// A network thread busy with a slow request (an embedder whose server takes 3 s) for longer than
// the header and keep-alive timeouts: a request another client sent meanwhile, on a connection
// of the same thread, was sent in time. It must be answered, not refused with a 408 after it ran
// (what Pistache's own timeouts did: the upsert below was stored and answered 408).
TEST(Connections, ABusyNetworkThreadDoesNotTimeOutRequestsThatArrivedInTime) {
  test::UpstreamServer ollama("ollama_server.py", {"--dimension", "16"});
  std::string dir = test::copy_default_manifests();
  test::write_file(dir + "/embed-ollama.json",
                   "{\"id\": \"embed-ollama\", \"kind\": \"embed_provider\", \"library\": "
                   "\"embed-ollama.so\", \"enabled\": true, \"default\": false, \"config\": "
                   "{\"base_url\": " +
                       jstr(ollama.base_url()) +
                       ", \"model\": \"nomic-embed-text\", \"dimension\": 16, "
                       "\"max_retries\": 0}}\n");
  // One network thread, so that both connections are its.
  HostProcess host(Options().manifests(dir).args(
      {"--threads", "1", "--header-timeout-ms", "1000", "--keepalive-timeout-ms", "1500"}));
  HttpClient c;
  ASSERT_EQ(c.put(host.url("/v1/collections/c"), "").status, 201);
  RawSocket b(host.port());  // connected before the thread gets busy, nothing sent yet
  ASSERT_TRUE(b.connected());
  std::this_thread::sleep_for(milliseconds(200));
  ollama.control(R"({"delay_ms": 3000})");
  HttpResult slow;
  std::thread a([&] {
    HttpClient ca;
    slow = ca.post(host.url("/v1/embed"), R"({"model": "embed-ollama", "texts": ["slow"]})");
  });
  std::this_thread::sleep_for(milliseconds(300));  // the thread now waits on the embedder
  const std::string body =
      documents_body({{"arrived-in-time", "sent while the host was busy", ""}});
  ASSERT_TRUE(
      b.send("POST /v1/collections/c/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body));
  a.join();
  EXPECT_EQ(slow.status, 200) << slow.body;
  auto resp = b.read_response(seconds(10));
  ASSERT_TRUE(resp) << "no answer to a request sent while the thread was busy";
  EXPECT_EQ(status_of(*resp), 200) << *resp;
  EXPECT_EQ(c.get(host.url("/v1/collections/c/documents/arrived-in-time")).status, 200);
  expect_still_serving(host);
}

TEST(Connections, ManyStalledClientsDoNotBlockOthers) {
  HostProcess host(Options().args({"--header-timeout-ms", "2000", "--body-timeout-ms", "2000"}));
  std::vector<std::unique_ptr<RawSocket>> stalled;
  for (int i = 0; i < 16; ++i) {
    stalled.push_back(std::make_unique<RawSocket>(host.port()));
    ASSERT_TRUE(stalled.back()->send(i % 2 ? "GET /health HTTP/1.1\r\nHost: x"
                                           : "POST /v1/embed HTTP/1.1\r\nHost: x\r\n"
                                             "Content-Length: 50\r\n\r\n{\"te"));
  }
  // While they stall, other clients are served promptly.
  HttpClient c;
  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.get(host.url("/health")).status, 200);
  EXPECT_LT(Clock::now() - start, seconds(2));
  for (auto& s : stalled) EXPECT_TRUE(s->wait_closed(seconds(6)));
  expect_still_serving(host);
}

}  // namespace
}  // namespace lakehost::e2e
