// Hostile clients: bodies announced far over the limit, chunked bodies, JSON nested as deep as
// the body limit allows, invalid UTF-8, wrong content types, malformed and truncated JSON, slow
// uploads and connections dropped mid-body. Each gets its 4xx with the envelope (or is closed),
// the host never crashes, and afterwards it answers every request of a concurrent load promptly.
#include <atomic>
#include <mutex>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t kDefaultLimit = 16u << 20;  // --max-body-bytes default
constexpr unsigned kMaxDepth = 512;          // json::kMaxDepth, named in the 400

std::string head(const std::string& method, const std::string& path, size_t length,
                 const std::string& extra = "Content-Type: application/json\r\n") {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra +
         "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

std::string post(const std::string& path, const std::string& body) {
  return head("POST", path, body.size()) + body;
}

// A raw response as an HttpResult, so is_error() can judge it.
HttpResult as_result(const std::optional<std::string>& raw) {
  HttpResult r;
  if (!raw) return r;
  r.status = status_of(*raw);
  const auto end = raw->find("\r\n\r\n");
  r.body = raw->substr(end + 4);
  const std::string h = RawSocket::lower(raw->substr(0, end));
  for (const std::string name : {"content-type", "connection"}) {
    const auto at = h.find("\n" + name + ":");
    if (at == std::string::npos) continue;
    const auto from = h.find_first_not_of(' ', at + name.size() + 2);
    r.headers[name] = h.substr(from, h.find('\r', from) - from);
  }
  return r;
}

// One request on a fresh connection; status 0 when nothing came back within `timeout`.
HttpResult roundtrip(int port, const std::string& request, milliseconds timeout = seconds(10)) {
  RawSocket s(port);
  if (!s.connected()) return {};
  s.send(request);  // may fail half-way when the server refuses early; the answer is still read
  return as_result(s.read_response(timeout));
}

std::string brackets(size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

std::string objects(size_t levels) {
  std::string s;
  s.reserve(levels * 6 + 1);
  for (size_t i = 0; i < levels; ++i) s += "{\"a\":";
  return s + "1" + std::string(levels, '}');
}

// Every route that parses a JSON body, with a body of its kind.
const std::vector<std::pair<std::string, std::string>> kJsonRoutes = {
    {"POST", "/v1/embed"},
    {"POST", "/v1/embeddings"},
    {"PUT", "/v1/collections/deep"},
    {"POST", "/v1/collections/workers/documents"},
    {"POST", "/v1/collections/workers/search"},
    {"POST", "/v1/matrix/search"},
    {"POST", "/v1/matrix/playbooks/record"},
    {"POST", "/v1/chat"},
    {"POST", "/v1/chat/completions"},
};

class Hostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Short header/body timeouts, so that what the hostile clients leave behind is timed out
    // while the load runs, not after it.
    host_ = new HostProcess(
        Options().demo().args({"--header-timeout-ms", "1500", "--body-timeout-ms", "2000"}));
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void TearDown() override {
    HttpClient c;
    rapidjson::Document d;
    ASSERT_TRUE(json_ok(c.get(host_->url("/health")), 200)) << "the host died";
    ASSERT_TRUE(json_ok(c.get(host_->url("/v1/collections/workers")), 200, &d));
    EXPECT_EQ(d["count"].GetUint64(), 200u) << "a refused request changed the corpus";
  }
  static HostProcess* host_;
  HttpClient c;
};
HostProcess* Hostile::host_ = nullptr;

// ---- nesting ------------------------------------------------------------------------------------

TEST_F(Hostile, DeepNestingIsA400NamingTheLimitOnEveryRoute) {
  const auto& h = *host_;
  const std::string limit = std::to_string(kMaxDepth);
  const std::vector<std::string> bodies = {
      brackets(200000),                            // the reported crash: 400 KB
      objects(100000),                             // {"a": ×100k: the ASan report
      "{\"texts\": " + brackets(kMaxDepth) + "}",  // one level over, inside an object
      "{\"query\": \"x\", \"filter\": " + objects(5000) + "}",
      std::string(300000, '['),  // never closed
  };
  for (const auto& [method, path] : kJsonRoutes) {
    for (const auto& body : bodies) {
      auto r = c.request(method, h.url(path), body, true);
      EXPECT_TRUE(is_error(r, 400, "malformed_json", limit))
          << method << " " << path << " with " << body.substr(0, 24) << "... (" << body.size()
          << " bytes)";
    }
  }
  // As deep as the body limit allows: 8 million levels in 16 MB.
  const std::string deepest = brackets((kDefaultLimit - 64) / 2);
  ASSERT_LE(deepest.size(), kDefaultLimit);
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), deepest), 400, "malformed_json", limit));
  std::string objs;
  while (objs.size() + 7 < kDefaultLimit / 2) objs += "{\"a\":";
  EXPECT_TRUE(is_error(c.post(h.url("/v1/collections/workers/search"), objs), 400, "malformed_json",
                       limit));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/deep"), "{"), 400, "malformed_json"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/deep")), 404, "collection_not_found"));
}

TEST_F(Hostile, NestingUpToTheLimitIsParsedAndOneMoreIsNot) {
  const auto& h = *host_;
  const auto search = h.url("/v1/collections/workers/search");
  // {"query": "x", "filter": {"k": [[...]]}}: the object, the filter, then arrays.
  auto body = [](unsigned depth) {
    return "{\"query\": \"forklift\", \"filter\": {\"k\": " + brackets(depth - 2) + "}}";
  };
  auto at_limit = c.post(search, body(kMaxDepth));
  EXPECT_NE(at_limit.status, 0);
  EXPECT_LT(at_limit.status, 500) << at_limit.body;
  EXPECT_EQ(at_limit.body.find("malformed_json"), std::string::npos) << at_limit.body;
  EXPECT_TRUE(is_error(c.post(search, body(kMaxDepth + 1)), 400, "malformed_json",
                       std::to_string(kMaxDepth)));
}

// Metadata is stored, compared by filters, re-emitted and handed to plugins: as deep as a body
// allows it works everywhere; one level deeper is refused before anything is stored.
TEST_F(Hostile, DeepMetadataIsStoredFilteredAndReturnedWithinTheLimit) {
  const auto& h = *host_;
  ASSERT_EQ(c.put(h.url("/v1/collections/meta"), "{}").status, 201);
  const auto docs = h.url("/v1/collections/meta/documents");
  // {"documents": [{"id", "text", "metadata": {"k": [...]}}]}: four levels before the arrays.
  const std::string deepest = "{\"k\": " + brackets(kMaxDepth - 4) + ", \"role\": \"Loader\"}";
  ASSERT_TRUE(json_ok(c.post(docs, documents_body({{"d1", "loader on nights", deepest}})), 200));
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(h.url("/v1/collections/meta/documents/d1")), 200, &d));
  EXPECT_TRUE(d["metadata"].IsObject());
  ASSERT_TRUE(json_ok(
      c.post(h.url("/v1/collections/meta/search"), R"({"query": "loader", "filter": {"k": "x"}})"),
      200, &d));
  EXPECT_EQ(d["results"].Size(), 0u);
  ASSERT_TRUE(json_ok(
      c.post(h.url("/v1/collections/meta/search"),
             "{\"query\": \"loader\", \"filter\": {\"k\": " + brackets(kMaxDepth - 4) + "}}"),
      200, &d));
  EXPECT_EQ(result_ids(d), std::vector<std::string>{"d1"});  // compared, level by level
  const std::string too_deep = "{\"k\": " + brackets(kMaxDepth - 3) + "}";
  EXPECT_TRUE(is_error(c.post(docs, documents_body({{"d2", "too deep", too_deep}})), 400,
                       "malformed_json", std::to_string(kMaxDepth)));
  EXPECT_EQ(c.get(h.url("/v1/collections/meta/documents/d2")).status, 404);
  EXPECT_EQ(c.del(h.url("/v1/collections/meta")).status, 204);
}

// ---- bodies and framing -------------------------------------------------------------------------

TEST_F(Hostile, AnnouncedOversizedBodyIs413RightAfterTheHeaders) {
  const int port = host_->port();
  const std::string path = "/v1/collections/workers/documents";
  for (size_t length : {kDefaultLimit + 1, size_t{64} << 20, size_t{1} << 40}) {
    RawSocket s(port);
    const auto start = Clock::now();
    ASSERT_TRUE(s.send(head("POST", path, length)));  // no body byte sent
    auto r = as_result(s.read_response(seconds(5)));
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    EXPECT_TRUE(is_error(r, 413, "body_too_large", std::to_string(kDefaultLimit))) << length;
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_LT(took, seconds(2)) << length;
    EXPECT_TRUE(s.wait_closed(seconds(2))) << "a refused connection stayed open";
  }
  // Content-Length that is no length at all, or two different ones (request smuggling).
  for (const std::string bad : {"-1", "12abc", "99999999999999999999999", "0x10", ""}) {
    auto r = roundtrip(
        port, "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + bad + "\r\n\r\n{}");
    EXPECT_TRUE(is_error(r, 400, "bad_request")) << "Content-Length: " << bad;
  }
  EXPECT_TRUE(is_error(roundtrip(port, "POST " + path +
                                           " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                           "Content-Length: 3\r\n\r\n{}"),
                       400, "bad_request", "Content-Length"));
}

TEST_F(Hostile, ChunkedBodiesAre411AndOtherCodingsAre501) {
  const int port = host_->port();
  const std::string chunked =
      "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  EXPECT_TRUE(
      is_error(roundtrip(port, chunked + "d\r\n{\"texts\":[\"a\"\r\n3\r\n]}\n\r\n0\r\n\r\n"), 411,
               "length_required", "Content-Length"));
  // A chunk announcing 2 GB: refused before its size is even read.
  EXPECT_TRUE(is_error(roundtrip(port, chunked + "7fffffff\r\n[[[["), 411, "length_required"));
  EXPECT_TRUE(is_error(roundtrip(port,
                                 "POST /v1/embed HTTP/1.1\r\nHost: x\r\n"
                                 "Transfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}"),
                       501, "not_implemented"));
}

TEST_F(Hostile, OversizedHeadersAre431) {
  auto r = roundtrip(host_->port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                        std::string(70000, 'b') + "\r\n\r\n");
  EXPECT_TRUE(is_error(r, 431, "headers_too_large"));
}

TEST_F(Hostile, InvalidUtf8AndMalformedJsonAre400) {
  const auto& h = *host_;
  for (const std::string& bad : {std::string("\xff\xfe"), std::string("\xc0\xaf"),
                                 std::string("\xed\xa0\x80"), std::string("a\x80z")}) {
    EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), "{\"texts\": [\"" + bad + "\"]}"), 400,
                         "malformed_json"));
    EXPECT_TRUE(is_error(
        c.post(h.url("/v1/collections/workers/search"), "{\"query\": \"x\", \"" + bad + "\": 1}"),
        400, "malformed_json"));
  }
  for (const std::string& body :
       {std::string(""), std::string("{"), std::string("}"), std::string("{\"texts\":"),
        std::string("{\"texts\": [\"a\",]}"), std::string("nul"), std::string("{\"a\" 1}"),
        std::string("\"unterminated"), std::string("{\"texts\": [\"\\u12\"]}"),
        std::string("{\"texts\": [\"a\"]} trailing"), std::string("1e999999"),
        std::string("{\"texts\": [NaN]}"), std::string("\0{}", 3), std::string(100000, ' '),
        std::string("{\"k\": -}")}) {
    EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), body), 400, "malformed_json"))
        << "body of " << body.size() << " bytes: " << body.substr(0, 30);
  }
}

TEST_F(Hostile, WrongContentTypesNeverBreakAnything) {
  const int port = host_->port();
  const std::string body = R"({"query": "Forklift Operator", "k": 3})";
  for (const std::string type :
       {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/json; charset=latin1", "\x01\x02garbage", ""}) {
    auto r = roundtrip(port, head("POST", "/v1/collections/workers/search", body.size(),
                                  type.empty() ? "" : "Content-Type: " + type + "\r\n") +
                                 body);
    EXPECT_NE(r.status, 0) << type;
    EXPECT_LT(r.status, 500) << type << ": " << r.body;
  }
}

// ---- the battery, then load ---------------------------------------------------------------------

struct LoadCounts {
  std::atomic<int> answered{0}, unanswered{0}, server_errors{0}, client_errors{0};
  std::mutex mu;
  std::vector<std::string> samples;  // the first few failures, for the message
  void note(const std::string& what) {
    std::lock_guard lock(mu);
    if (samples.size() < 10) samples.push_back(what);
  }
};

// One keep-alive client: `n` requests, each with a 10 s bound; reconnects only when the server
// said "Connection: close" (it never should here) or after a failure.
void keepalive_client(int port, int n, const std::vector<std::string>& requests,
                      LoadCounts& counts) {
  std::unique_ptr<RawSocket> s;
  for (int i = 0; i < n; ++i) {
    if (!s) s = std::make_unique<RawSocket>(port);
    const std::string& req = requests[static_cast<size_t>(i) % requests.size()];
    std::optional<std::string> raw;
    if (s->send(req)) raw = s->read_response(seconds(10));
    if (!raw) {
      ++counts.unanswered;
      counts.note("request " + std::to_string(i) + " got no answer within 10 s");
      s.reset();
      continue;
    }
    ++counts.answered;
    const int st = status_of(*raw);
    if (st >= 500) {
      ++counts.server_errors;
      counts.note(raw->substr(0, 300));
    } else if (st != 200) {
      ++counts.client_errors;
      counts.note(raw->substr(0, 300));
    }
    if (RawSocket::lower(*raw).find("connection: close") != std::string::npos) s.reset();
  }
}

// Clients that upload a byte at a time while the load runs; the body timeout ends them.
void slow_uploader(int port, std::atomic<bool>& stop) {
  while (!stop) {
    RawSocket s(port);
    const std::string body = documents_body({{"slow", std::string(200, 's'), ""}});
    if (!s.send(head("POST", "/v1/collections/workers/documents", body.size()))) return;
    for (size_t i = 0; i < body.size() - 1 && !stop; ++i) {
      if (!s.send(body.substr(i, 1))) break;
      std::this_thread::sleep_for(milliseconds(40));
    }
  }
}

// Everything hostile at once, on fresh connections, in a few seconds.
void hostile_battery(const HostProcess& h) {
  const int port = h.port();
  HttpClient c;
  const std::string docs = "/v1/collections/workers/documents";
  // Announced far over the limit; some clients send part of the body anyway, then close.
  for (int i = 0; i < 10; ++i) {
    RawSocket s(port);
    s.send(head("POST", docs, size_t{64} << 20) + std::string(size_t{256} << 10, 'x'));
    if (i % 2) s.read_response(seconds(2));
  }
  // Over the limit by one byte, body sent in full.
  roundtrip(port,
            head("POST", "/v1/embed", kDefaultLimit + 1) + std::string(kDefaultLimit + 1, 'a'));
  // Deep nesting on every route.
  for (const auto& [method, path] : kJsonRoutes) {
    c.request(method, h.url(path), brackets(200000), true);
    c.request(method, h.url(path), objects(100000), true);
  }
  // Invalid UTF-8, malformed and truncated JSON, wrong content types.
  for (const std::string& body :
       {std::string("{\"texts\": [\"\xff\"]}"), std::string("{\"texts\": [\"a\""),
        std::string("{\"query\":"), std::string("[1, 2"), std::string("\"\\ud800"),
        std::string("{}}"), std::string("\x00\x01\x02", 3)}) {
    c.post(h.url("/v1/embed"), body);
    c.post(h.url("/v1/collections/workers/search"), body);
    roundtrip(port, head("POST", "/v1/embed", body.size(), "Content-Type: text/plain\r\n") + body);
  }
  // Chunked, unknown codings, huge and garbage heads.
  roundtrip(port,
            "POST /v1/embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "ffffffff\r\nabc");
  roundtrip(port, "GET /health HTTP/1.1\r\nX: " + std::string(100000, 'h') + "\r\n\r\n");
  roundtrip(port, "NOT HTTP AT ALL\r\n\r\n");
  roundtrip(port, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15));
  // Connections closed mid-body and mid-head.
  for (int i = 0; i < 20; ++i) {
    RawSocket s(port);
    const std::string body = documents_body({{"half" + std::to_string(i), "never finished", ""}});
    s.send(i % 2 ? head("POST", docs, body.size()) + body.substr(0, body.size() / 2)
                 : "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Le");
  }
  // A pipelined pair: a search, then an oversized announcement; answered in order.
  {
    RawSocket s(port);
    const std::string q = R"({"query": "Forklift Operator", "k": 3})";
    s.send(post("/v1/collections/workers/search", q) + head("POST", docs, size_t{1} << 30));
    auto first = s.read_response(seconds(5));
    auto second = s.read_response(seconds(5));
    EXPECT_TRUE(first && status_of(*first) == 200) << (first ? *first : "no answer");
    EXPECT_TRUE(second && status_of(*second) == 413) << (second ? *second : "no answer");
  }
}

TEST_F(Hostile, AfterTheBatteryEveryRequestOfAConcurrentLoadIsAnswered) {
  const auto& h = *host_;
  hostile_battery(h);

  // Leftovers that keep going during the load: stalled heads and bodies, slow uploads.
  std::vector<std::unique_ptr<RawSocket>> stalled;
  for (int i = 0; i < 8; ++i) {
    stalled.push_back(std::make_unique<RawSocket>(h.port()));
    stalled.back()->send(i % 2 ? "GET /health HTTP/1.1\r\nHost: x"
                               : head("POST", "/v1/embed", 100) + "{\"te");
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  for (int i = 0; i < 3; ++i) slow.emplace_back(slow_uploader, h.port(), std::ref(stop));

  std::vector<std::string> requests;
  for (const char* q : {"Forklift Operator", "CNC Operator", "Warehouse Associate", "Picker",
                        "Loader", "Shipping Clerk"})
    requests.push_back(post("/v1/collections/workers/search",
                            std::string("{\"query\": \"") + q + "\", \"k\": 5}"));
  constexpr int kClients = 8, kPerClient = 1250, kReloads = 50;
  LoadCounts counts;
  std::atomic<bool> load_done{false};
  std::atomic<int> reloads_ok{0}, reloads_failed{0};
  std::thread reloader([&] {
    RawSocket* s = nullptr;
    std::unique_ptr<RawSocket> holder;
    for (int i = 0; i < kReloads; ++i) {
      if (!s) {
        holder = std::make_unique<RawSocket>(h.port());
        s = holder.get();
      }
      std::optional<std::string> raw;
      if (s->send(post("/v1/admin/reload", ""))) raw = s->read_response(seconds(10));
      if (raw && status_of(*raw) == 200) {
        ++reloads_ok;
      } else {
        ++reloads_failed;
        counts.note("reload " + std::to_string(i) + ": " + (raw ? raw->substr(0, 200) : "none"));
        s = nullptr;
      }
      // Spread the reloads over the load (which takes a few seconds).
      if (!load_done) std::this_thread::sleep_for(milliseconds(60));
    }
  });
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back(keepalive_client, h.port(), kPerClient, std::cref(requests),
                         std::ref(counts));
  for (auto& t : clients) t.join();
  load_done = true;
  reloader.join();
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  stop = true;
  for (auto& t : slow) t.join();

  std::string failures;
  for (const auto& s : counts.samples) failures += "\n  " + s;
  EXPECT_EQ(counts.unanswered, 0) << failures;
  EXPECT_EQ(counts.server_errors, 0) << failures;
  EXPECT_EQ(counts.client_errors, 0) << failures;
  EXPECT_EQ(counts.answered, kClients * kPerClient);
  EXPECT_EQ(reloads_ok, kReloads) << failures;
  std::cout << "[ load     ] " << counts.answered << " searches from " << kClients
            << " keep-alive clients and " << reloads_ok << " reloads in " << took.count()
            << " ms after the hostile battery\n";
  // The stalled leftovers were timed out meanwhile (header 1.5 s, body 2 s).
  for (auto& s : stalled) EXPECT_TRUE(s->wait_closed(seconds(5)));
}

// A 64 MiB upload to a 16 MiB limit: the 413 comes right after the headers while the client is
// still sending, the upload is cut off after at most what the kernel had buffered, and another
// connection is served meanwhile.
TEST(HostileUpload, SixtyFourMebibyteUploadIs413AtOnceAndOthersAreServed) {
  HostProcess host(Options().demo());
  const size_t announced = size_t{64} << 20;
  RawSocket up(host.port());
  ASSERT_TRUE(up.connected());
  std::atomic<bool> uploading{true};
  std::atomic<size_t> sent{0};
  std::atomic<long> refused_after_ms{-1};
  const auto start = Clock::now();
  std::thread uploader([&] {
    const std::string chunk(size_t{1} << 20, 'x');
    if (!up.send(head("POST", "/v1/collections/workers/documents", announced))) return;
    while (sent < announced && up.send(chunk)) sent += chunk.size();
    refused_after_ms =
        static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
    uploading = false;
  });
  // Meanwhile, /health on another connection.
  HttpClient c;
  long worst_health_ms = 0;
  int health_checks = 0;
  while (uploading && Clock::now() - start < seconds(10)) {
    const auto t = Clock::now();
    ASSERT_EQ(c.get(host.url("/health")).status, 200);
    worst_health_ms = std::max<long>(
        worst_health_ms,
        static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t).count()));
    ++health_checks;
  }
  uploader.join();
  EXPECT_LT(sent.load(), announced) << "the whole 64 MiB was accepted";
  ASSERT_GE(refused_after_ms.load(), 0);
  EXPECT_LT(refused_after_ms.load(), 2000) << "the upload went on for too long";
  // The answer was waiting in the socket (sent before the connection was cut).
  auto r = as_result(up.read_response(seconds(2)));
  EXPECT_TRUE(is_error(r, 413, "body_too_large", "16777216"));
  EXPECT_LT(worst_health_ms, 1000);
  std::cout << "[ upload   ] cut off after " << sent / 1024 << " KiB sent, " << refused_after_ms
            << " ms; /health answered " << health_checks << " times meanwhile, worst "
            << worst_health_ms << " ms\n";

  // The 413 latency itself: headers only, then wait for the answer.
  std::vector<long> latencies_us;
  for (int i = 0; i < 20; ++i) {
    RawSocket s(host.port());
    const auto t = Clock::now();
    ASSERT_TRUE(s.send(head("POST", "/v1/collections/workers/documents", announced)));
    auto resp = s.read_response(seconds(2));
    const long us = static_cast<long>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
    ASSERT_TRUE(resp);
    EXPECT_EQ(status_of(*resp), 413);
    latencies_us.push_back(us);
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  EXPECT_LT(latencies_us.back(), 2'000'000);
  std::cout << "[ 413      ] from the headers to the 413, 20 times: median " << latencies_us[10]
            << " us, worst " << latencies_us.back() << " us\n";
  EXPECT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["still here"]})"), 200));
}

}  // namespace
}  // namespace lakehost::e2e
