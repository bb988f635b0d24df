// Matrix search with playbooks on the demo corpus (BRIEF §6): the boost formula to four
// decimals, the role gate, injection, the score range, persistence, listing and deletion, and
// switching the default scorer by manifest while searches run.
#include <atomic>
#include <cmath>
#include <regex>
#include <thread>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

const std::string kForklift = "Forklift Operator";

std::string matrix_body(const std::string& query, const std::string& role, int k,
                        const std::string& extra = "") {
  return "{\"query\": " + jstr(query) + ", \"role\": " + jstr(role) +
         ", \"k\": " + std::to_string(k) + ", \"collection\": \"workers\"" + extra + "}";
}

std::string record_body(const std::string& id, double score, const std::string& role = kForklift,
                        const std::string& query = kForklift) {
  return "{\"query\": " + jstr(query) + ", \"role\": " + jstr(role) + ", \"id\": " + jstr(id) +
         ", \"score\": " + std::to_string(score) + ", \"collection\": \"workers\"}";
}

struct Hit {
  std::string id, role;
  double distance;
  bool boosted, injected;
};

struct Matrix {
  std::vector<Hit> hits;
  uint64_t boosted = 0, injected = 0;
};

Matrix matrix(HttpClient& c, const HostProcess& h, const std::string& body) {
  rapidjson::Document d;
  auto r = c.post(h.url("/v1/matrix/search"), body);
  EXPECT_TRUE(json_ok(r, 200, &d));
  Matrix m;
  if (!d.IsObject()) return m;
  for (const auto& x : d["results"].GetArray())
    m.hits.push_back({x["id"].GetString(), x["metadata"]["role"].GetString(),
                      x["distance"].GetDouble(), x["boosted"].GetBool(), x["injected"].GetBool()});
  m.boosted = d["boosted"].GetUint64();
  m.injected = d["injected"].GetUint64();
  return m;
}

const Hit* find(const Matrix& m, const std::string& id) {
  for (const auto& h : m.hits)
    if (h.id == id) return &h;
  return nullptr;
}

std::vector<double> embed(HttpClient& c, const HostProcess& h, const std::string& text) {
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(c.post(h.url("/v1/embed"), "{\"texts\": [" + jstr(text) + "]}"), 200, &d));
  std::vector<double> v;
  for (const auto& x : d["vectors"][0].GetArray()) v.push_back(x.GetDouble());
  return v;
}

class MatrixTest : public ::testing::Test {
 protected:
  HostProcess host_{Options().demo()};
  HttpClient client_;
};

}  // namespace

TEST_F(MatrixTest, ForkliftSearchReturnsForkliftOperatorsCold) {
  auto m = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  ASSERT_EQ(m.hits.size(), 3u);
  for (const auto& h : m.hits) {
    EXPECT_EQ(h.role, kForklift);
    EXPECT_FALSE(h.boosted);
    EXPECT_FALSE(h.injected);
  }
  EXPECT_EQ(m.boosted, 0u);
  EXPECT_EQ(m.injected, 0u);
  EXPECT_LE(m.hits[0].distance, m.hits[1].distance);
  EXPECT_LE(m.hits[1].distance, m.hits[2].distance);
}

TEST_F(MatrixTest, ScoreOneHalvesTheDistanceAndTheRoleGateHolds) {
  auto cold = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  ASSERT_EQ(cold.hits.size(), 3u);
  const Hit second = cold.hits[1];
  ASSERT_TRUE(json_ok(
      client_.post(host_.url("/v1/matrix/playbooks/record"), record_body(second.id, 1.0)), 201));
  auto warm = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  const Hit* h = find(warm, second.id);
  ASSERT_NE(h, nullptr);
  EXPECT_NEAR(h->distance, second.distance * 0.5, 5e-5);  // four decimals
  EXPECT_TRUE(h->boosted);
  EXPECT_FALSE(h->injected);
  EXPECT_EQ(warm.hits[0].id, second.id);  // halved: now first
  EXPECT_EQ(warm.boosted, 1u);
  EXPECT_EQ(warm.injected, 0u);

  // The same query under another role: nothing of the Forklift record applies.
  auto cnc = matrix(client_, host_, matrix_body(kForklift, "CNC Operator", 3));
  EXPECT_EQ(cnc.boosted, 0u);
  EXPECT_EQ(cnc.injected, 0u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(cnc.hits[i].distance, cold.hits[i].distance, 1e-6);
}

TEST_F(MatrixTest, ScoreOneHalfGivesFactorThreeQuarters) {
  auto cold = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  const Hit third = cold.hits[2];
  ASSERT_TRUE(json_ok(
      client_.post(host_.url("/v1/matrix/playbooks/record"), record_body(third.id, 0.5)), 201));
  auto warm = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  const Hit* h = find(warm, third.id);
  ASSERT_NE(h, nullptr);
  EXPECT_NEAR(h->distance, third.distance * 0.75, 5e-5);
  EXPECT_TRUE(h->boosted);
}

TEST_F(MatrixTest, RecordedIdOutsideTheVectorResultsIsInjected) {
  // A CNC Operator profile is nowhere near the top of a Forklift search ...
  auto cnc = matrix(client_, host_, matrix_body("CNC Operator", "CNC Operator", 1));
  ASSERT_EQ(cnc.hits.size(), 1u);
  const std::string id = cnc.hits[0].id;
  auto wide = matrix(client_, host_, matrix_body(kForklift, kForklift, 20));
  ASSERT_EQ(find(wide, id), nullptr);
  // ... until it is recorded for this query and role.
  ASSERT_TRUE(
      json_ok(client_.post(host_.url("/v1/matrix/playbooks/record"), record_body(id, 1.0)), 201));
  auto warm = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  const Hit* h = find(warm, id);
  ASSERT_NE(h, nullptr) << "the recorded profile was not injected";
  EXPECT_TRUE(h->injected);
  EXPECT_FALSE(h->boosted);
  EXPECT_EQ(warm.injected, 1u);
  // Its distance is its own cold cosine distance, boosted by the same formula.
  rapidjson::Document doc;
  ASSERT_TRUE(
      json_ok(client_.get(host_.url("/v1/collections/workers/documents/" + id)), 200, &doc));
  auto q = embed(client_, host_, kForklift);
  auto v = embed(client_, host_, doc["text"].GetString());
  double dot = 0;
  for (size_t i = 0; i < q.size(); ++i) dot += q[i] * v[i];
  EXPECT_NEAR(h->distance, (1 - dot) * 0.5, 5e-5);
}

TEST_F(MatrixTest, BadRecordsAreRefused) {
  auto url = host_.url("/v1/matrix/playbooks/record");
  auto cold = matrix(client_, host_, matrix_body(kForklift, kForklift, 1));
  const std::string id = cold.hits[0].id;
  EXPECT_TRUE(
      is_error(client_.post(url, record_body(id, 1.5)), 422, "validation_failed", "/score"));
  EXPECT_TRUE(
      is_error(client_.post(url, record_body(id, -0.1)), 422, "validation_failed", "/score"));
  EXPECT_TRUE(is_error(client_.post(url, record_body("no-such-worker", 1.0)), 404,
                       "document_not_found", "no-such-worker"));
  EXPECT_TRUE(is_error(client_.post(url, "{\"query\": \"q\", \"role\": \"r\", \"id\": " + jstr(id) +
                                             ", \"score\": 1, \"collection\": \"nope\"}"),
                       404, "collection_not_found"));
  EXPECT_TRUE(is_error(client_.post(url, "{\"query\": \"q\", \"role\": \"r\", \"id\": " + jstr(id) +
                                             ", \"score\": \"high\"}"),
                       400, "bad_request", "/score"));
  EXPECT_TRUE(
      is_error(client_.post(url, "{\"role\": \"r\", \"id\": " + jstr(id) + ", \"score\": 1}"), 400,
               "bad_request", "/query"));
  EXPECT_TRUE(
      is_error(client_.post(host_.url("/v1/matrix/search"), matrix_body(kForklift, kForklift, 0)),
               422, "validation_failed", "/k"));
  EXPECT_TRUE(is_error(
      client_.post(host_.url("/v1/matrix/search"), "{\"query\": \"x\", \"collection\": \"nope\"}"),
      404, "collection_not_found"));
  // Nothing was recorded by the refused requests.
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(client_.get(host_.url("/v1/matrix/playbooks?collection=workers")), 200, &d));
  EXPECT_EQ(d["playbooks"].Size(), 0u);
}

TEST_F(MatrixTest, RecordsSurviveARestartAndCanBeListedAndDeleted) {
  auto cold = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  const Hit second = cold.hits[1];
  rapidjson::Document rec;
  ASSERT_TRUE(
      json_ok(client_.post(host_.url("/v1/matrix/playbooks/record"), record_body(second.id, 1.0)),
              201, &rec));
  const std::string playbook_id = rec["playbook_id"].GetString();
  ASSERT_TRUE(json_ok(client_.post(host_.url("/v1/matrix/playbooks/record"),
                                   record_body(cold.hits[2].id, 0.3, "Loader", "Loader")),
                      201));
  host_.kill9();  // acknowledged records are durable
  host_.start();
  HttpClient c2;
  auto warm = matrix(c2, host_, matrix_body(kForklift, kForklift, 3));
  ASSERT_NE(find(warm, second.id), nullptr);
  EXPECT_NEAR(find(warm, second.id)->distance, second.distance * 0.5, 5e-5);

  rapidjson::Document list;
  ASSERT_TRUE(
      json_ok(c2.get(host_.url("/v1/matrix/playbooks?collection=workers&role=Forklift%20Operator")),
              200, &list));
  ASSERT_EQ(list["playbooks"].Size(), 1u);
  const auto& p = list["playbooks"][0];
  EXPECT_EQ(std::string(p["playbook_id"].GetString()), playbook_id);
  EXPECT_EQ(std::string(p["id"].GetString()), second.id);
  EXPECT_EQ(std::string(p["role"].GetString()), kForklift);
  EXPECT_DOUBLE_EQ(p["score"].GetDouble(), 1.0);
  ASSERT_TRUE(json_ok(c2.get(host_.url("/v1/matrix/playbooks")), 200, &list));
  EXPECT_EQ(list["playbooks"].Size(), 2u);

  EXPECT_EQ(c2.del(host_.url("/v1/matrix/playbooks/" + playbook_id + "?collection=workers")).status,
            204);
  EXPECT_TRUE(is_error(c2.del(host_.url("/v1/matrix/playbooks/" + playbook_id)), 404,
                       "playbook_not_found"));
  auto after = matrix(c2, host_, matrix_body(kForklift, kForklift, 3));
  EXPECT_EQ(after.boosted, 0u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(after.hits[i].distance, cold.hits[i].distance, 1e-6);
}

TEST_F(MatrixTest, ScorerChosenPerRequestAndPerCollection) {
  auto cold = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  ASSERT_TRUE(json_ok(
      client_.post(host_.url("/v1/matrix/playbooks/record"), record_body(cold.hits[1].id, 1.0)),
      201));
  // The cosine scorer ignores playbooks.
  auto plain = matrix(client_, host_,
                      matrix_body(kForklift, kForklift, 3, ", \"scorer\": \"scorer-cosine\""));
  EXPECT_EQ(plain.boosted, 0u);
  EXPECT_NEAR(plain.hits[1].distance, cold.hits[1].distance, 1e-6);
  EXPECT_TRUE(is_error(client_.post(host_.url("/v1/matrix/search"),
                                    matrix_body(kForklift, kForklift, 3, ", \"scorer\": \"nope\"")),
                       422, "unknown_plugin", "nope"));
  // A collection created with a scorer uses it by default.
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(
      client_.put(host_.url("/v1/collections/plain"), "{\"scorer\": \"scorer-cosine\"}"), 201, &d));
  EXPECT_EQ(std::string(d["scorer"].GetString()), "scorer-cosine");
  ASSERT_TRUE(
      json_ok(client_.post(host_.url("/v1/collections/plain/documents"),
                           "{\"documents\": [{\"id\": \"a\", \"text\": \"Forklift Operator\"},"
                           " {\"id\": \"b\", \"text\": \"CNC Operator\"}]}"),
              200));
  ASSERT_TRUE(
      json_ok(client_.post(host_.url("/v1/matrix/playbooks/record"),
                           "{\"query\": \"Forklift Operator\", \"role\": \"r\", \"id\": \"b\","
                           " \"score\": 1, \"collection\": \"plain\"}"),
              201));
  rapidjson::Document m;
  ASSERT_TRUE(json_ok(client_.post(host_.url("/v1/matrix/search"),
                                   "{\"query\": \"Forklift Operator\", \"role\": \"r\", \"k\": 2,"
                                   " \"collection\": \"plain\"}"),
                      200, &m));
  EXPECT_EQ(m["boosted"].GetUint64(), 0u);
  EXPECT_EQ(std::string(m["results"][0]["id"].GetString()), "a");
}

// Switching the default scorer between scorer-playbook and scorer-cosine by manifest and reload
// while clients search: zero failed requests.
TEST_F(MatrixTest, SwitchingTheDefaultScorerUnderLoadFailsNoRequest) {
  auto cold = matrix(client_, host_, matrix_body(kForklift, kForklift, 3));
  ASSERT_TRUE(json_ok(
      client_.post(host_.url("/v1/matrix/playbooks/record"), record_body(cold.hits[1].id, 1.0)),
      201));
  const std::string playbook = manifest_path(host_, "scorer-playbook.json");
  const std::string cosine = manifest_path(host_, "scorer-cosine.json");
  // Both manifest sets are prepared before the clients start: the loop below only renames files.
  const std::string pb_on = test::read_file(playbook), cos_off = test::read_file(cosine);
  const std::string pb_off =
      std::regex_replace(pb_on, std::regex("\"default\": true"), "\"default\": false");
  const std::string cos_on =
      std::regex_replace(cos_off, std::regex("\"default\": false"), "\"default\": true");
  auto swap_default = [&](bool to_cosine) {
    test::write_file(playbook, to_cosine ? pb_off : pb_on);
    test::write_file(cosine, to_cosine ? cos_on : cos_off);
  };
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, requests{0}, boosted_seen{0}, plain_seen{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      HttpClient c;
      while (!stop) {
        auto r = c.post(host_.url("/v1/matrix/search"), matrix_body(kForklift, kForklift, 3));
        ++requests;
        auto d = parse_json(r.body);
        if (r.status != 200 || d.HasParseError() || d["results"].Size() != 3) {
          ++failures;
          continue;
        }
        (d["boosted"].GetUint64() ? boosted_seen : plain_seen)++;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    swap_default(i % 2 == 0);
    auto r = client_.post(host_.url("/v1/admin/reload"), "");
    EXPECT_EQ(r.status, 200) << r.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(requests, 100);
  EXPECT_GT(boosted_seen, 0);  // both scorers really served
  EXPECT_GT(plain_seen, 0);
}

}  // namespace lakehost::e2e

namespace lakehost::e2e {

// Repeated queries are served from the embed cache, and /metrics says so.
TEST(EmbedCacheMetrics, RepeatedQueriesAreCacheHits) {
  HostProcess host(Options().demo());
  HttpClient c;
  auto value = [&](const std::string& series) {
    return metric(c.get(host.url("/metrics")).body, series).value_or(-1);
  };
  const double hits0 = value("lakehost_embed_cache_hits_total");
  const double misses0 = value("lakehost_embed_cache_misses_total");
  ASSERT_GE(hits0, 0);
  const std::string body =
      "{\"query\": \"Order Picker with RF scanner\", \"role\": \"Order Picker\"}";
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.post(host.url("/v1/matrix/search"), body).status, 200);
  EXPECT_EQ(value("lakehost_embed_cache_misses_total") - misses0, 1);
  EXPECT_EQ(value("lakehost_embed_cache_hits_total") - hits0, 4);
  EXPECT_GE(value("lakehost_embed_cache_entries"), 1);
}

}  // namespace lakehost::e2e
