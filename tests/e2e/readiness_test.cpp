// Liveness and readiness end to end: GET /health is local and instant whatever the upstreams do;
// GET /ready reports each plugin instance from the background prober (--probe-interval-ms,
// --probe-timeout-ms), fails the host only when the search path is down, and a chat upstream
// that is slow, stopped or never answers neither stalls searches on other connections nor takes
// the host out. Failures reach the host's log, rate-limited, and /metrics.
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <set>

#include "e2e_support.h"
#include "upstream_server.h"

namespace lakehost::e2e {
namespace {

using std::chrono::milliseconds;

constexpr int kProbeIntervalMs = 200;
constexpr int kProbeTimeoutMs = 500;

std::vector<std::string> probe_args() {
  return {"--probe-interval-ms", std::to_string(kProbeIntervalMs), "--probe-timeout-ms",
          std::to_string(kProbeTimeoutMs)};
}

std::string chat_manifest(const std::string& base_url) {
  return "{\"id\": \"chat-openai\", \"kind\": \"chat_provider\", \"library\": \"chat-openai.so\", "
         "\"enabled\": true, \"default\": true, \"config\": {\"base_url\": " +
         jstr(base_url) +
         ", \"model\": \"gpt-4o-mini\", \"max_retries\": 0, \"stream\": false, "
         "\"timeout_ms\": 300000}}\n";
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The entry of GET /ready's "dependencies" with this id; nullptr if absent.
const rapidjson::Value* dependency(const rapidjson::Document& d, const std::string& id) {
  if (!d.IsObject() || !d.HasMember("dependencies")) return nullptr;
  for (const auto& dep : d["dependencies"].GetArray())
    if (id == dep["id"].GetString()) return &dep;
  return nullptr;
}

// Number of lines of `log` that contain `needle`.
size_t count_lines(const std::string& log, const std::string& needle) {
  std::istringstream in(log);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

// The fewest threads the process had in 10 samples 50 ms apart: the short-lived threads of
// quick health checks do not count, threads that stay do.
int thread_count(pid_t pid) {
  int fewest = -1;
  for (int i = 0; i < 10; ++i) {
    std::istringstream in(test::read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("Threads:", 0) == 0) {
        const int n = std::atoi(line.c_str() + 8);
        fewest = fewest < 0 ? n : std::min(fewest, n);
      }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return fewest;
}

struct LoadFigures {
  size_t searches = 0, search_failures = 0, health_calls = 0, health_failures = 0, ready_calls = 0;
  double search_max_ms = 0, health_max_ms = 0, ready_max_ms = 0;
  std::vector<double> health_ms;
  double health_median_ms() {
    if (health_ms.empty()) return 0;
    std::sort(health_ms.begin(), health_ms.end());
    return health_ms[health_ms.size() / 2];
  }
};

// 20 connections search 10 times each while two more hammer /health and /ready.
LoadFigures searches_under_probe_load(const HostProcess& h) {
  constexpr int kSearchers = 20, kSearchesEach = 10;
  LoadFigures f;
  std::mutex mu;
  std::atomic<bool> searching{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c;
      while (searching) {
        const auto start = Clock::now();
        auto r = c.get(h.url(t == 0 ? "/health" : "/ready"));
        const double took = ms_since(start);
        std::lock_guard lock(mu);
        if (t == 0) {
          ++f.health_calls;
          f.health_failures += r.status != 200;
          f.health_max_ms = std::max(f.health_max_ms, took);
          f.health_ms.push_back(took);
        } else {
          ++f.ready_calls;
          f.ready_max_ms = std::max(f.ready_max_ms, took);
        }
      }
    });
  }
  std::vector<std::thread> searchers;
  for (int t = 0; t < kSearchers; ++t) {
    searchers.emplace_back([&, t] {
      HttpClient c;
      static const char* queries[] = {
          "Forklift Operator", "CNC Operator", "Warehouse Associate", "Picker", "Loader",
          "Shipping clerk"};
      for (int i = 0; i < kSearchesEach; ++i) {
        const auto start = Clock::now();
        auto r = c.post(h.url("/v1/collections/workers/search"),
                        std::string("{\"query\": ") + jstr(queries[(t + i) % 6]) + ", \"k\": 5}");
        const double took = ms_since(start);
        std::lock_guard lock(mu);
        ++f.searches;
        f.search_failures += r.status != 200;
        f.search_max_ms = std::max(f.search_max_ms, took);
      }
    });
  }
  for (auto& t : searchers) t.join();
  searching = false;
  for (auto& t : threads) t.join();
  return f;
}

class Readiness : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::copy_default_manifests();
    test::write_file(dir_ + "/chat-openai.json", chat_manifest(upstream_.base_url()));
    host_ = std::make_unique<HostProcess>(Options().manifests(dir_).demo().args(probe_args()));
  }

  rapidjson::Document ready(const std::string& query = "", long* status = nullptr) {
    auto r = c_.get(host_->url("/ready" + query));
    if (status) *status = r.status;
    return parse_json(r.body);
  }

  // Polls /ready until chat-openai's status is `status` (and its message contains `message`);
  // returns that /ready document (or the last one seen).
  rapidjson::Document wait_for_chat(const std::string& status, const std::string& message = "",
                                    milliseconds timeout = milliseconds(10000)) {
    rapidjson::Document d;
    eventually(
        [&] {
          d = ready();
          auto* dep = dependency(d, "chat-openai");
          return dep && status == (*dep)["status"].GetString() &&
                 std::string((*dep)["message"].GetString()).find(message) != std::string::npos;
        },
        timeout);
    return d;
  }

  // /health answers at once with exactly {"status": "ok", "generation": n}.
  void expect_live(uint64_t generation = 1) {
    const auto start = Clock::now();
    auto r = c_.get(host_->url("/health"));
    const double took = ms_since(start);
    rapidjson::Document d;
    ASSERT_TRUE(json_ok(r, 200, &d));
    EXPECT_EQ(d.MemberCount(), 2u) << r.body;
    EXPECT_STREQ(d["status"].GetString(), "ok");
    EXPECT_EQ(d["generation"].GetUint64(), generation);
    EXPECT_LT(took, 200.0);
  }

  void expect_no_stall(const std::string& label) {
    auto f = searches_under_probe_load(*host_);
    std::printf(
        "[ %s ] %zu searches on 20 connections: max %.1f ms; /health x%zu: median %.2f ms, max "
        "%.1f ms; /ready x%zu: max %.1f ms\n",
        label.c_str(), f.searches, f.search_max_ms, f.health_calls, f.health_median_ms(),
        f.health_max_ms, f.ready_calls, f.ready_max_ms);
    EXPECT_EQ(f.searches, 200u);
    EXPECT_EQ(f.search_failures, 0u);
    EXPECT_LT(f.search_max_ms, 1000.0) << "a search stalled";
    EXPECT_GT(f.health_calls, 0u);
    EXPECT_EQ(f.health_failures, 0u);
    EXPECT_LT(f.health_max_ms, 200.0) << "/health waited on something";
    EXPECT_LT(f.ready_max_ms, 200.0) << "/ready waited on something";
  }

  // The search group is ready; chat is not, with a message; status "degraded" (200), and 503
  // "not_ready" when the caller requires chat.
  void expect_search_ready_chat_failing(const rapidjson::Document& d) {
    ASSERT_TRUE(d.IsObject()) << to_json(d);
    EXPECT_STREQ(d["status"].GetString(), "degraded") << to_json(d);
    EXPECT_TRUE(d["routes"]["search"].GetBool());
    EXPECT_FALSE(d["routes"]["chat"].GetBool());
    for (const auto& dep : d["dependencies"].GetArray()) {
      const std::string id = dep["id"].GetString();
      if (id == "chat-openai") {
        EXPECT_STREQ(dep["status"].GetString(), "failing");
        EXPECT_GT(dep["message"].GetStringLength(), 0u);
        EXPECT_GE(dep["consecutive_failures"].GetUint64(), 1u);
      } else {
        EXPECT_STRNE(dep["status"].GetString(), "failing") << to_json(dep);
      }
    }
    long status = 0;
    auto strict = ready("?require=chat", &status);
    EXPECT_EQ(status, 503) << to_json(strict);
    EXPECT_STREQ(strict["status"].GetString(), "not_ready");
    auto plain = c_.get(host_->url("/ready"));
    EXPECT_EQ(plain.status, 200) << plain.body;
  }

  std::string dir_;
  test::UpstreamServer upstream_{"openai_server.py"};
  std::unique_ptr<HostProcess> host_;
  HttpClient c_;
};

}  // namespace

TEST_F(Readiness, HealthyHostIsReadyWithEveryDependencyChecked) {
  expect_live();
  // Every instance is probed in the background: all "ok", each with its check's time.
  rapidjson::Document d;
  ASSERT_TRUE(eventually(
      [&] {
        d = ready();
        if (!d.IsObject() || !d.HasMember("dependencies")) return false;
        for (const auto& dep : d["dependencies"].GetArray())
          if (std::string(dep["status"].GetString()) != "ok") return false;
        return true;
      },
      milliseconds(10000)))
      << to_json(d);
  long status = 0;
  d = ready("", &status);
  EXPECT_EQ(status, 200);
  EXPECT_STREQ(d["status"].GetString(), "ready");
  EXPECT_EQ(d["generation"].GetUint64(), 1u);
  EXPECT_TRUE(d["routes"]["search"].GetBool());
  EXPECT_TRUE(d["routes"]["chat"].GetBool());
  EXPECT_EQ(d["probe"]["interval_ms"].GetInt64(), kProbeIntervalMs);
  EXPECT_EQ(d["probe"]["timeout_ms"].GetInt64(), kProbeTimeoutMs);
  std::set<std::string> kinds;
  for (const auto& dep : d["dependencies"].GetArray()) {
    kinds.insert(dep["kind"].GetString());
    EXPECT_STREQ(dep["message"].GetString(), "");
    EXPECT_TRUE(dep["checked_at"].IsString());
    EXPECT_EQ(std::string(dep["checked_at"].GetString()).back(), 'Z');
    EXPECT_GE(dep["age_ms"].GetInt64(), 0);
    EXPECT_LT(dep["age_ms"].GetInt64(), 5000);
    EXPECT_GE(dep["latency_ms"].GetDouble(), 0.0);
    EXPECT_EQ(dep["consecutive_failures"].GetUint64(), 0u);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"chat_provider", "embed_provider", "retrieval_scorer",
                                          "storage_backend", "vector_backend"}));
  EXPECT_STREQ(ready("?require=chat", &status)["status"].GetString(), "ready");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(
      is_error(c_.get(host_->url("/ready?require=nope")), 422, "validation_failed", "nope"));
  EXPECT_TRUE(is_error(c_.post(host_->url("/ready"), "{}"), 405, "method_not_allowed"));

  auto m = c_.get(host_->url("/metrics")).body;
  EXPECT_EQ(metric(m, "lakehost_plugin_ready{id=\"chat-openai\",kind=\"chat_provider\"}"), 1.0);
  EXPECT_EQ(metric(m, "lakehost_plugin_ready{id=\"storage-sqlite\",kind=\"storage_backend\"}"),
            1.0);
  EXPECT_EQ(metric(m, "lakehost_ready{group=\"search\"}"), 1.0);
  EXPECT_EQ(metric(m, "lakehost_ready{group=\"chat\"}"), 1.0);
  EXPECT_GE(metric(m,
                   "lakehost_plugin_health_checks_total{id=\"chat-openai\",kind=\"chat_"
                   "provider\",result=\"ok\"}")
                .value_or(0),
            1.0);
  expect_no_stall("healthy");
}

TEST_F(Readiness, SlowChatUpstreamStallsNeitherHealthNorSearches) {
  wait_for_chat("ok");
  upstream_.control(R"({"delay_ms": 15000})");
  auto d = wait_for_chat("failing", "timed out after " + std::to_string(kProbeTimeoutMs) + " ms");
  expect_search_ready_chat_failing(d);
  expect_live();
  expect_no_stall("chat upstream answers in 15 s");
  auto m = c_.get(host_->url("/metrics")).body;
  EXPECT_EQ(metric(m, "lakehost_plugin_ready{id=\"chat-openai\",kind=\"chat_provider\"}"), 0.0);
  EXPECT_EQ(metric(m, "lakehost_ready{group=\"search\"}"), 1.0);
  EXPECT_EQ(metric(m, "lakehost_ready{group=\"chat\"}"), 0.0);
  EXPECT_GE(metric(m,
                   "lakehost_plugin_health_checks_total{id=\"chat-openai\",kind=\"chat_"
                   "provider\",result=\"timeout\"}")
                .value_or(0),
            1.0);
  const std::string log = host_->log();
  EXPECT_GE(count_lines(log,
                        "plugin \"chat-openai\" (chat_provider) fails its health check: "
                        "timed out"),
            1u)
      << log;

  // The upstream recovers: so does readiness, and the log says so.
  upstream_.control(R"({"delay_ms": 0})");
  d = wait_for_chat("ok", "", milliseconds(30000));
  EXPECT_STREQ(d["status"].GetString(), "ready") << to_json(d);
  EXPECT_TRUE(eventually(
      [&] {
        return host_->log().find(
                   "plugin \"chat-openai\" (chat_provider) passes its health check "
                   "again") != std::string::npos;
      },
      milliseconds(2000)));
}

TEST_F(Readiness, StoppedChatUpstreamIsReportedAndLoggedWhileSearchStaysReady) {
  wait_for_chat("ok");
  upstream_.stop();  // connection refused from now on
  auto d = wait_for_chat("failing");
  ASSERT_NE(dependency(d, "chat-openai"), nullptr) << to_json(d);
  std::printf("[ stopped upstream ] /ready says: %s\n",
              (*dependency(d, "chat-openai"))["message"].GetString());
  expect_search_ready_chat_failing(d);
  expect_live();
  expect_no_stall("chat upstream stopped");

  // Request-path failures are logged once per 10 s per plugin, and counted.
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(is_error(
        c_.post(host_->url("/v1/chat"), R"({"messages": [{"role": "user", "content": "hi"}]})"),
        503, "upstream_unavailable"));
  const std::string log = host_->log();
  EXPECT_EQ(count_lines(log, "upstream unavailable: plugin \"chat-openai\" chat: "), 1u) << log;
  EXPECT_GE(count_lines(log, "plugin \"chat-openai\" (chat_provider) fails its health check"), 1u);
  // Probe failures are rate-limited too: with a check every 200 ms, ~1 line per 10 s.
  EXPECT_LE(count_lines(log, "plugin \"chat-openai\" (chat_provider) fails its health check"), 3u)
      << log;
  auto m = c_.get(host_->url("/metrics")).body;
  EXPECT_EQ(metric(m, "lakehost_upstream_unavailable_total{id=\"chat-openai\",op=\"chat\"}"), 5.0);
}

TEST_F(Readiness, NeverAnsweringChatUpstreamCostsOneProbeThread) {
  wait_for_chat("ok");
  upstream_.control(R"({"delay_ms": 600000})");  // accepts, reads the request, never answers
  wait_for_chat("failing", "timed out");
  const pid_t pid = host_pid(*host_);
  ASSERT_GT(pid, 0);
  // Later rounds join the hung check instead of starting new ones.
  auto d = wait_for_chat("failing", "has not returned");
  EXPECT_NE(dependency(d, "chat-openai"), nullptr) << to_json(d);
  const int before = thread_count(pid);
  std::this_thread::sleep_for(milliseconds(3000));  // ~15 probe rounds
  const int after = thread_count(pid);
  std::printf("[ never answers ] host threads: %d, 3 s (~15 probe rounds) later: %d\n", before,
              after);
  EXPECT_LE(after, before + 1) << "each probe round leaked a thread";
  expect_search_ready_chat_failing(ready());
  expect_live();
  expect_no_stall("chat upstream never answers");
}

// A socket that completes connections (the kernel's backlog) but never reads or answers.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0)
      throw std::runtime_error("black hole socket");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    url_ = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~BlackHole() { ::close(fd_); }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  const std::string& url() const { return url_; }

 private:
  int fd_ = -1;
  std::string url_;
};

// Chat is needed by the chat routes only: a chat provider whose model server never answers
// still loads (within the probe timeout), and /ready reports it.
TEST_F(Readiness, ReloadWithANeverAnsweringChatUpstreamLoadsWithinTheProbeTimeout) {
  BlackHole black_hole;
  test::write_file(dir_ + "/chat-openai.json", chat_manifest(black_hole.url()));
  const auto start = Clock::now();
  auto r = c_.post(host_->url("/v1/admin/reload"), "");
  const double took = ms_since(start);
  std::printf("[ reload, chat upstream never answers ] %ld after %.0f ms\n", r.status, took);
  EXPECT_TRUE(json_ok(r, 200));
  // Far below the upstream's 300 s timeout even when stretched for a sanitized host.
  EXPECT_LT(took, 5000.0 * test::time_scale());
  expect_live(2);
  EXPECT_NE(host_->log().find("is unhealthy, loaded anyway"), std::string::npos);
  auto d = wait_for_chat("failing", "did not answer within");
  expect_search_ready_chat_failing(d);
  rapidjson::Document s;
  EXPECT_TRUE(json_ok(
      c_.post(host_->url("/v1/collections/workers/search"), R"({"query": "forklift", "k": 1})"),
      200, &s));
}

// An embedder is on the search path: one that never answers fails the reload, within the probe
// timeout, and the old generation keeps serving.
TEST_F(Readiness, ReloadWithANeverAnsweringEmbedderFailsWithinTheProbeTimeout) {
  BlackHole black_hole;
  test::write_file(dir_ + "/embed-ollama.json",
                   "{\"id\": \"embed-ollama\", \"kind\": \"embed_provider\", \"library\": "
                   "\"embed-ollama.so\", \"enabled\": true, \"default\": false, \"config\": "
                   "{\"base_url\": " +
                       jstr(black_hole.url()) +
                       ", \"model\": \"nomic-embed-text\", \"dimension\": 16, \"max_retries\": "
                       "0}}\n");
  const auto start = Clock::now();
  auto r = c_.post(host_->url("/v1/admin/reload"), "");
  const double took = ms_since(start);
  std::printf("[ reload, embed upstream never answers ] 422 after %.0f ms\n", took);
  EXPECT_TRUE(is_error(r, 422, "reload_failed",
                       "did not answer within " + std::to_string(kProbeTimeoutMs) + " ms"));
  EXPECT_LT(took, 5000.0);
  expect_live(1);  // the old generation keeps serving
  rapidjson::Document s;
  EXPECT_TRUE(json_ok(
      c_.post(host_->url("/v1/collections/workers/search"), R"({"query": "forklift", "k": 1})"),
      200, &s));
}

TEST_F(Readiness, ProbesFollowReloads) {
  wait_for_chat("ok");
  std::filesystem::remove(dir_ + "/chat-openai.json");
  ASSERT_EQ(c_.post(host_->url("/v1/admin/reload"), "").status, 200);
  rapidjson::Document d;
  ASSERT_TRUE(eventually(
      [&] {
        d = ready();
        return d.IsObject() && d["generation"].GetUint64() == 2;
      },
      milliseconds(5000)));
  EXPECT_EQ(dependency(d, "chat-openai"), nullptr) << to_json(d);
  EXPECT_FALSE(d["routes"]["chat"].GetBool());
  // No chat provider enabled is configuration, not a failure: ready, not degraded.
  EXPECT_STREQ(d["status"].GetString(), "ready");
  // Kept instances keep what the prober knew (no "unknown" gap after a reload).
  auto* storage = dependency(d, "storage-sqlite");
  ASSERT_NE(storage, nullptr);
  EXPECT_STREQ((*storage)["status"].GetString(), "ok");
  expect_live(2);
  auto m = c_.get(host_->url("/metrics")).body;
  EXPECT_FALSE(
      metric(m, "lakehost_plugin_ready{id=\"chat-openai\",kind=\"chat_provider\"}").has_value());
}

// The search path's own dependency failing is what makes the host not ready.
TEST(ReadinessSearchPath, FailingDefaultEmbedderMakesTheHostNotReadyButStillLive) {
  test::UpstreamServer ollama("ollama_server.py", {"--dimension", "16"});
  std::string dir = test::copy_default_manifests();
  auto hash = parse_json(test::read_file(dir + "/embed-hash.json"));
  hash["default"].SetBool(false);
  test::write_file(dir + "/embed-hash.json", to_json(hash));
  test::write_file(dir + "/embed-ollama.json",
                   "{\"id\": \"embed-ollama\", \"kind\": \"embed_provider\", \"library\": "
                   "\"embed-ollama.so\", \"enabled\": true, \"default\": true, \"config\": "
                   "{\"base_url\": " +
                       jstr(ollama.base_url()) +
                       ", \"model\": \"nomic-embed-text\", \"dimension\": 16, \"max_retries\": "
                       "0}}\n");
  HostProcess host(Options().manifests(dir).args(probe_args()));
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = c.get(host.url("/ready"));
        d = parse_json(r.body);
        auto* dep = dependency(d, "embed-ollama");
        return r.status == 200 && dep && std::string((*dep)["status"].GetString()) == "ok";
      },
      milliseconds(10000)))
      << to_json(d);
  ollama.stop();
  long status = 0;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = c.get(host.url("/ready"));
        status = r.status;
        d = parse_json(r.body);
        return r.status == 503;
      },
      milliseconds(10000)))
      << to_json(d);
  EXPECT_STREQ(d["status"].GetString(), "not_ready");
  EXPECT_FALSE(d["routes"]["search"].GetBool());
  auto* dep = dependency(d, "embed-ollama");
  ASSERT_NE(dep, nullptr);
  EXPECT_STREQ((*dep)["status"].GetString(), "failing");
  EXPECT_TRUE((*dep)["default"].GetBool());
  // Liveness is unaffected: restarting this host would not bring the embedder back.
  auto h = c.get(host.url("/health"));
  EXPECT_EQ(h.status, 200) << h.body;
}

}  // namespace lakehost::e2e
