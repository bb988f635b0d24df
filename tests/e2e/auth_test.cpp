// API keys end to end: every route allowed and refused for each scope (a table), 401 (no key or
// an unknown one, with WWW-Authenticate) against 403 (a known key without the scope or the
// collection), keys limited to collections, rotation by reload and SIGHUP under load with no
// failed request for keys that stay, a broken key file keeping the keys in force, per-key
// metrics, and the refusal to listen beyond loopback without keys.
#include <csignal>
#include <thread>

#include "e2e_support.h"
#include "http/api_keys.h"

namespace lakehost::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct TestKey {
  std::string name, key;
  std::vector<std::string> scopes;
  std::vector<std::string> collections;
};

std::string key_file(const std::vector<TestKey>& keys, const std::string& metrics = "") {
  std::string out = "{\"keys\": [";
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    out += std::string(i ? ", " : "") + "{\"name\": \"" + k.name + "\", \"sha256\": \"" +
           to_hex(sha256_of(k.key)) + "\", \"scopes\": [";
    for (size_t j = 0; j < k.scopes.size(); ++j)
      out += std::string(j ? ", " : "") + "\"" + k.scopes[j] + "\"";
    out += "]";
    if (!k.collections.empty()) {
      out += ", \"collections\": [";
      for (size_t j = 0; j < k.collections.size(); ++j)
        out += std::string(j ? ", " : "") + "\"" + k.collections[j] + "\"";
      out += "]";
    }
    out += "}";
  }
  out += "]";
  if (!metrics.empty()) out += ", \"metrics\": \"" + metrics + "\"";
  return out + "}";
}

const TestKey kReader{"reader", "lh_test_reader_key", {"read"}, {}};
const TestKey kWriter{"writer", "lh_test_writer_key", {"write"}, {}};
const TestKey kAdmin{"admin", "lh_test_admin_key", {"admin"}, {}};
const TestKey kAll{"all", "lh_test_all_key", {"read", "write", "admin"}, {}};
const TestKey kAlpha{"alpha-only", "lh_test_alpha_key", {"read", "write", "admin"}, {"alpha"}};

std::string write_keys(const std::string& text) {
  static int n = 0;
  const std::string path = std::filesystem::temp_directory_path().string() + "/lakehost-keys-" +
                           std::to_string(::getpid()) + "-" + std::to_string(n++) + ".json";
  test::write_file(path, text);
  return path;
}

HttpResult call(HttpClient& c, const HostProcess& h, const std::string& method,
                const std::string& path, const std::string& body, const std::string& key,
                const std::string& header = "Authorization: Bearer ") {
  c.set_headers(key.empty() ? std::vector<std::string>{} : std::vector<std::string>{header + key});
  const bool send = method == "POST" || method == "PUT";
  return c.request(method, h.url(path), body, send);
}

// ---- the route table --------------------------------------------------------------------------

enum class Bound { open, metrics, none, path, body, global };

struct RouteCase {
  std::string method, path, body;  // "{c}" stands for the collection
  Scope scope;
  Bound bound;
};

const std::vector<RouteCase>& routes() {
  static const std::vector<RouteCase> table = {
      {"GET", "/health", "", Scope::none, Bound::open},
      {"GET", "/ready", "", Scope::none, Bound::open},
      {"GET", "/metrics", "", Scope::none, Bound::metrics},
      {"GET", "/v1/plugins", "", Scope::admin, Bound::global},
      {"POST", "/v1/admin/reload", "", Scope::admin, Bound::global},
      {"POST", "/v1/embed", R"({"texts": ["forklift"]})", Scope::read, Bound::none},
      {"POST", "/v1/embeddings", R"({"input": "forklift"})", Scope::read, Bound::none},
      {"GET", "/v1/models", "", Scope::read, Bound::none},
      {"GET", "/v1/collections", "", Scope::read, Bound::none},
      {"PUT", "/v1/collections/{c}", "{}", Scope::admin, Bound::path},
      {"GET", "/v1/collections/{c}", "", Scope::read, Bound::path},
      {"POST", "/v1/collections/{c}/documents",
       R"({"documents": [{"id": "d1", "text": "forklift operator, warehouse"}]})", Scope::write,
       Bound::path},
      {"GET", "/v1/collections/{c}/documents/d1", "", Scope::read, Bound::path},
      {"DELETE", "/v1/collections/{c}/documents/missing", "", Scope::write, Bound::path},
      {"POST", "/v1/collections/{c}/search", R"({"query": "forklift", "k": 1})", Scope::read,
       Bound::path},
      {"POST", "/v1/matrix/search", R"({"query": "forklift", "k": 1, "collection": "{c}"})",
       Scope::read, Bound::body},
      {"POST", "/v1/matrix/playbooks/record",
       R"({"query": "forklift", "role": "Forklift Operator", "id": "d1", "score": 1.0,
           "collection": "{c}"})",
       Scope::write, Bound::body},
      {"GET", "/v1/matrix/playbooks?collection={c}", "", Scope::read, Bound::body},
      {"DELETE", "/v1/matrix/playbooks/missing?collection={c}", "", Scope::write, Bound::body},
      {"POST", "/v1/chat", R"({"messages": [{"role": "user", "content": "hi"}],
                               "collection": "{c}"})",
       Scope::read, Bound::body},
      {"POST", "/v1/chat/completions",
       R"({"messages": [{"role": "user", "content": "hi"}], "collection": "{c}"})", Scope::read,
       Bound::body},
      {"PUT", "/v1/storage/note", "bytes", Scope::write, Bound::global},
      {"GET", "/v1/storage/note", "", Scope::read, Bound::global},
      {"GET", "/v1/storage?prefix=n", "", Scope::read, Bound::global},
      {"DELETE", "/v1/storage/note", "", Scope::write, Bound::global},
      // Last: it deletes the collection the rows above use (re-created after each success).
      {"DELETE", "/v1/collections/{c}", "", Scope::admin, Bound::path},
  };
  return table;
}

std::string with_collection(std::string s, const std::string& c) {
  for (size_t at; (at = s.find("{c}")) != std::string::npos;) s.replace(at, 3, c);
  return s;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_path_ = write_keys(key_file({kReader, kWriter, kAdmin, kAll, kAlpha}));
    host_ = std::make_unique<HostProcess>(Options().args({"--api-keys", keys_path_}));
    for (const char* c : {"alpha", "beta"}) ensure_collection(c);
  }
  void ensure_collection(const std::string& name) {
    auto r = call(client_, *host_, "PUT", "/v1/collections/" + name, "{}", kAll.key);
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body;
  }
  std::string keys_path_;
  std::unique_ptr<HostProcess> host_;
  HttpClient client_;
};

bool refused(const HttpResult& r) { return r.status == 401 || r.status == 403; }

// The envelope's message, unescaped.
std::string message(const HttpResult& r) {
  auto d = parse_json(r.body);
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("error") || !d["error"].IsObject() ||
      !d["error"].HasMember("message") || !d["error"]["message"].IsString())
    return "";
  return d["error"]["message"].GetString();
}

TEST_F(AuthTest, EveryRouteAllowsExactlyItsScope) {
  for (const auto& row : routes()) {
    for (const TestKey* k : {&kReader, &kWriter, &kAdmin, &kAll}) {
      const std::string path = with_collection(row.path, "alpha");
      auto r = call(client_, *host_, row.method, path, with_collection(row.body, "alpha"), k->key);
      const bool allowed =
          row.scope == Scope::none ||
          std::find(k->scopes.begin(), k->scopes.end(), scope_name(row.scope)) != k->scopes.end();
      SCOPED_TRACE(row.method + " " + path + " with key " + k->name + ": " +
                   std::to_string(r.status) + " " + r.body);
      ASSERT_NE(r.status, 0) << r.error;
      if (allowed) {
        EXPECT_FALSE(refused(r));
      } else {
        EXPECT_TRUE(is_error(r, 403, "forbidden"));
        EXPECT_NE(message(r).find(std::string("\"") + scope_name(row.scope) + "\" scope"),
                  std::string::npos);
        EXPECT_EQ(r.headers.count("www-authenticate"), 0u);  // 403: a new key won't help
      }
      if (row.method == "DELETE" && row.path == "/v1/collections/{c}" && r.status / 100 == 2)
        ensure_collection("alpha");
    }
  }
}

TEST_F(AuthTest, WithoutAKeyOrWithAnUnknownOneEveryProtectedRouteIs401) {
  for (const auto& row : routes()) {
    const std::string path = with_collection(row.path, "alpha");
    const std::string body = with_collection(row.body, "alpha");
    SCOPED_TRACE(row.method + " " + path);
    auto none = call(client_, *host_, row.method, path, body, "");
    auto unknown = call(client_, *host_, row.method, path, body, "lh_not_a_key");
    auto x_unknown = call(client_, *host_, row.method, path, body, "lh_not_a_key", "X-API-Key: ");
    if (row.bound == Bound::open || row.bound == Bound::metrics) {
      EXPECT_FALSE(refused(none)) << none.status;
      continue;
    }
    EXPECT_EQ(none.status, 401) << none.body;
    EXPECT_EQ(none.headers["www-authenticate"], "Bearer realm=\"lakehost\"");
    EXPECT_TRUE(is_error(none, 401, "unauthorized"));
    for (const auto* r : {&unknown, &x_unknown}) {
      EXPECT_EQ(r->status, 401) << r->body;
      EXPECT_EQ(r->headers.at("www-authenticate"),
                "Bearer realm=\"lakehost\", error=\"invalid_token\"");
      EXPECT_NE(r->body.find("\"code\":\"invalid_api_key\""), std::string::npos) << r->body;
      EXPECT_EQ(r->body.find("lh_not_a_key"), std::string::npos);  // never echoed
    }
  }
}

TEST_F(AuthTest, BothHeadersAreAcceptedAndMalformedCredentialsAre401) {
  for (const std::string header : {"Authorization: Bearer ", "Authorization: bearer ",
                                   "Authorization: Bearer   ", "X-API-Key: "}) {
    auto r = call(client_, *host_, "GET", "/v1/collections", "", kReader.key, header);
    EXPECT_EQ(r.status, 200) << header << ": " << r.body;
  }
  client_.set_headers({"Authorization: Basic dXNlcjpwYXNz"});
  auto basic = client_.get(host_->url("/v1/collections"));
  EXPECT_TRUE(is_error(basic, 401, "unauthorized"));
  EXPECT_NE(message(basic).find("Bearer scheme"), std::string::npos);
  EXPECT_EQ(basic.headers["www-authenticate"],
            "Bearer realm=\"lakehost\", error=\"invalid_request\"");
  client_.set_headers({"Authorization: Bearer " + kReader.key, "X-API-Key: " + kWriter.key});
  auto two = client_.get(host_->url("/v1/collections"));
  EXPECT_TRUE(is_error(two, 401, "unauthorized"));
  EXPECT_NE(message(two).find("two different keys"), std::string::npos);
  client_.set_headers({"X-API-Key: " + kReader.key, "X-API-Key: " + kReader.key});
  EXPECT_TRUE(is_error(client_.get(host_->url("/v1/collections")), 401, "unauthorized"));
}

TEST_F(AuthTest, AKeyLimitedToACollectionTouchesOnlyThatOne) {
  for (const auto& row : routes()) {
    if (row.bound == Bound::open || row.bound == Bound::metrics) continue;
    for (const char* c : {"alpha", "beta"}) {
      const std::string path = with_collection(row.path, c);
      auto r = call(client_, *host_, row.method, path, with_collection(row.body, c), kAlpha.key);
      SCOPED_TRACE(row.method + " " + path + ": " + std::to_string(r.status) + " " + r.body);
      const bool allowed =
          row.bound == Bound::none ||
          ((row.bound == Bound::path || row.bound == Bound::body) && std::string(c) == "alpha");
      if (allowed) {
        EXPECT_FALSE(refused(r));
      } else {
        EXPECT_EQ(r.status, 403);
        EXPECT_NE(r.body.find("forbidden"), std::string::npos);
        EXPECT_NE(message(r).find(row.bound == Bound::global ? "limited to collections"
                                                             : "may not touch collection \"beta\""),
                  std::string::npos);
      }
      if (row.method == "DELETE" && row.path == "/v1/collections/{c}" && r.status / 100 == 2)
        ensure_collection(c);
    }
  }
  // Lists show only what the key may touch.
  auto list = call(client_, *host_, "GET", "/v1/collections", "", kAlpha.key);
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("\"alpha\""), std::string::npos);
  EXPECT_EQ(list.body.find("\"beta\""), std::string::npos);
  EXPECT_EQ(list.body.find("\"workers\""), std::string::npos);
  auto all = call(client_, *host_, "GET", "/v1/collections", "", kReader.key);
  EXPECT_NE(all.body.find("\"beta\""), std::string::npos);
}

TEST_F(AuthTest, ARequestWithoutAKeyIsRefusedBeforeItsBodyIsRead) {
  // 8 MB announced, none of it sent: the 401 comes after the headers alone.
  RawSocket s(host_->port());
  ASSERT_TRUE(s.connected());
  s.send(
      "POST /v1/collections/alpha/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n");
  auto raw = s.read_response(seconds(5));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(status_of(*raw), 401);
  EXPECT_NE(RawSocket::lower(*raw).find("www-authenticate: bearer realm=\"lakehost\""),
            std::string::npos)
      << *raw;
  // With a key the same head waits for its body (no answer yet).
  RawSocket k(host_->port());
  k.send("POST /v1/collections/alpha/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " +
         kWriter.key + "\r\nContent-Length: 8000000\r\n\r\n");
  EXPECT_FALSE(k.read_response(milliseconds(300)).has_value());
}

TEST_F(AuthTest, MetricsCountRequestsByKeyNameNeverTheKey) {
  call(client_, *host_, "GET", "/v1/collections", "", kReader.key);
  call(client_, *host_, "POST", "/v1/admin/reload", "", kReader.key);  // 403
  call(client_, *host_, "GET", "/v1/collections", "", "");             // 401 missing
  call(client_, *host_, "GET", "/v1/collections", "", "lh_wrong");     // 401 unknown
  auto m = call(client_, *host_, "GET", "/metrics", "", "");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("lakehost_api_key_requests_total{key=\"reader\",outcome=\"allowed\"} 1"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("lakehost_api_key_requests_total{key=\"reader\",outcome=\"forbidden\"} 1"),
            std::string::npos);
  EXPECT_NE(m.body.find("lakehost_auth_refusals_total{reason=\"missing\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("lakehost_auth_refusals_total{reason=\"unknown\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("lakehost_api_keys 5"), std::string::npos);
  for (const TestKey* k : {&kReader, &kWriter, &kAdmin, &kAll, &kAlpha})
    EXPECT_EQ(m.body.find(k->key), std::string::npos);
}

TEST_F(AuthTest, MetricsNeedAdminWhenTheKeyFileSaysSo) {
  test::write_file(keys_path_, key_file({kReader, kAll}, "admin"));
  ASSERT_EQ(call(client_, *host_, "POST", "/v1/admin/reload", "", kAll.key).status, 200);
  EXPECT_EQ(call(client_, *host_, "GET", "/metrics", "", "").status, 401);
  EXPECT_TRUE(
      is_error(call(client_, *host_, "GET", "/metrics", "", kReader.key), 403, "forbidden"));
  EXPECT_EQ(call(client_, *host_, "GET", "/metrics", "", kAll.key).status, 200);
  EXPECT_EQ(call(client_, *host_, "GET", "/health", "", "").status, 200);  // always open
}

TEST_F(AuthTest, KeysRotateByReloadAndSighupUnderLoadWithoutAFailedRequest) {
  const TestKey stay{"stay", "lh_test_stay_key", {"read"}, {}};
  const TestKey leaving{"leaving", "lh_test_leaving_key", {"read"}, {}};
  const TestKey fresh{"fresh", "lh_test_fresh_key", {"read"}, {}};
  const TestKey fresh2{"fresh2", "lh_test_fresh2_key", {"read"}, {}};
  test::write_file(keys_path_, key_file({kAll, stay, leaving}));
  ASSERT_EQ(call(client_, *host_, "POST", "/v1/admin/reload", "", kAll.key).status, 200);
  ASSERT_EQ(call(client_, *host_, "GET", "/v1/collections", "", leaving.key).status, 200);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::string first_failure;
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t)
    load.emplace_back([&, t] {
      HttpClient c;
      while (!stop) {
        auto r = t == 0 ? call(c, *host_, "GET", "/v1/collections", "", stay.key)
                        : call(c, *host_, "POST", "/v1/collections/alpha/search",
                               R"({"query": "forklift", "k": 3})", stay.key,
                               t == 1 ? "Authorization: Bearer " : "X-API-Key: ");
        if (r.status == 200) {
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(mu);
          if (first_failure.empty()) first_failure = std::to_string(r.status) + " " + r.body;
        }
      }
    });
  std::this_thread::sleep_for(milliseconds(300));
  // 1. By the API: `leaving` goes, `fresh` comes.
  test::write_file(keys_path_, key_file({kAll, stay, fresh}));
  auto reload = call(client_, *host_, "POST", "/v1/admin/reload", "", kAll.key);
  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(call(client_, *host_, "GET", "/v1/collections", "", leaving.key).status, 401);
  EXPECT_EQ(call(client_, *host_, "GET", "/v1/collections", "", fresh.key).status, 200);
  std::this_thread::sleep_for(milliseconds(300));
  // 2. A broken file: refused with the reason, the keys in force stay.
  test::write_file(keys_path_, "{\"keys\": [{\"name\": \"x\"}]");
  auto broken = call(client_, *host_, "POST", "/v1/admin/reload", "", kAll.key);
  EXPECT_TRUE(is_error(broken, 422, "api_keys_refused")) << broken.body;
  EXPECT_NE(message(broken).find("the 3 keys in force stay"), std::string::npos) << broken.body;
  EXPECT_EQ(call(client_, *host_, "GET", "/v1/collections", "", fresh.key).status, 200);
  // 3. By SIGHUP: `fresh` goes, `fresh2` comes.
  test::write_file(keys_path_, key_file({kAll, stay, fresh2}));
  host_->signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (call(client_, *host_, "GET", "/v1/collections", "", fresh2.key).status != 200 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(call(client_, *host_, "GET", "/v1/collections", "", fresh2.key).status, 200);
  EXPECT_EQ(call(client_, *host_, "GET", "/v1/collections", "", fresh.key).status, 401);
  std::this_thread::sleep_for(milliseconds(300));
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 30);
  EXPECT_NE(host_->log().find("the 3 previous keys stay in force"), std::string::npos);
}

TEST_F(AuthTest, KeysNewPrintsAKeyThatWorksOnceItsLineIsInTheFile) {
  const std::string cmd =
      std::string(LAKEHOST_BINARY) + " keys new --name made --scopes read --collections alpha 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << out;
  const auto at = out.find("lh_");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string key = out.substr(at, out.find('\n', at) - at);
  EXPECT_EQ(key.size(), 3u + 64u);
  const std::string entry = out.substr(out.find('{'), out.rfind('}') - out.find('{') + 1);
  EXPECT_EQ(entry.find(key), std::string::npos);  // only the digest goes to the file
  test::write_file(keys_path_, "{\"keys\": [" + entry + "]}");
  host_->signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (call(client_, *host_, "GET", "/v1/collections/alpha", "", key).status != 200 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(call(client_, *host_, "GET", "/v1/collections/alpha", "", key).status, 200);
  EXPECT_EQ(call(client_, *host_, "GET", "/v1/collections/beta", "", key).status, 403);
  EXPECT_EQ(call(client_, *host_, "PUT", "/v1/collections/alpha", "{}", key).status, 403);
}

// ---- exposure beyond loopback ------------------------------------------------------------------

TEST(AuthExposure, NoKeysMeansLoopbackOnlyUnlessInsecureNoAuthIsExplicit) {
  test::HostOptions wide = Options();
  wide.listen = "0.0.0.0:0";
  try {
    HostProcess h(wide);
    FAIL() << "the host listened on 0.0.0.0 without keys";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("refusing to listen on 0.0.0.0 without API keys"),
              std::string::npos)
        << e.what();
  }
  wide.extra_args = {"--insecure-no-auth"};
  HostProcess insecure(wide);
  EXPECT_NE(insecure.log().find("WITHOUT authentication (--insecure-no-auth)"), std::string::npos);
  HttpClient c;
  EXPECT_EQ(c.get(insecure.url("/v1/collections")).status, 200);

  // With keys, any address is fine; loopback without keys stays open (the default).
  wide.extra_args = {"--api-keys", write_keys(key_file({kReader}))};
  HostProcess keyed(wide);
  EXPECT_EQ(c.get(keyed.url("/v1/collections")).status, 401);
  HostProcess local{test::HostOptions(Options())};
  EXPECT_EQ(c.get(local.url("/v1/collections")).status, 200);
}

TEST(AuthExposure, AnUnusableKeyFileStopsTheStart) {
  test::HostOptions o = Options().args({"--api-keys", write_keys("{\"keys\": [{\"name\": \"a\", "
                                                                 "\"sha256\": \"00\", "
                                                                 "\"scopes\": [\"read\"]}]}")});
  try {
    HostProcess h(o);
    FAIL() << "started with a broken key file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/keys/0/sha256"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lakehost::e2e
