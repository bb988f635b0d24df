// Two lakehost replicas on one PostgreSQL schema (docs/scale-out.md): a collection, a document
// or a playbook written through one host is visible to searches on the other within a second,
// deletions too, and a replica whose change-feed connection was cut catches up by a resync.
// Uses the ctest fixture `postgres` (tests/postgres/pg_cluster.sh), like storage_postgres_test.
#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>

#include "../e2e/e2e_support.h"

namespace lakehost::e2e {
namespace {

// The requirement: another replica's write is visible within one second. Notifications arrive
// in milliseconds; the measured delays are printed.
constexpr auto kVisibleWithin = std::chrono::seconds(1);

// Polls `seen` until it is true or `limit` passed; returns the delay, or nullopt.
std::optional<std::chrono::milliseconds> visible_after(const std::function<bool()>& seen,
                                                       std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  while (Clock::now() - start < limit) {
    if (seen()) return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

std::string sql(const std::string& conninfo, const std::string& statement) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  std::string out;
  PGresult* r = PQexec(c, statement.c_str());
  EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
      << statement << ": " << PQerrorMessage(c);
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(c);
  return out;
}

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* file = std::getenv("LAKEHOST_TEST_PG_CONNINFO_FILE");
    if (!file || !*file) GTEST_SKIP() << "needs the ctest fixture `postgres`";
    std::ifstream in(file);
    std::getline(in, conninfo_);
    ASSERT_FALSE(conninfo_.empty());
    std::random_device rd;
    schema_ = "r_" + std::to_string(rd());
    a_ = std::make_unique<HostProcess>(Options().manifests(manifests("a")).demo());
    b_ = std::make_unique<HostProcess>(Options().manifests(manifests("b")).demo());
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    if (!conninfo_.empty()) sql(conninfo_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }

  // The default manifests with storage-sqlite replaced by storage-postgres on this schema.
  // Each replica names itself in application_name, so a test can cut its connections.
  std::string manifests(const std::string& replica) {
    std::string dir = manifests_without_kind("storage_backend");
    test::write_file(dir + "/storage-postgres.json",
                     "{\"id\": \"storage-postgres\", \"kind\": \"storage_backend\", \"library\": "
                     "\"storage-postgres.so\", \"enabled\": true, \"default\": true, \"config\": "
                     "{\"conninfo\": " +
                         jstr(conninfo_ + " application_name=" + schema_ + "_" + replica) +
                         ", \"schema\": " + jstr(schema_) + "}}\n");
    return dir;
  }

  std::vector<std::string> search_ids(HostProcess& h, const std::string& coll,
                                      const std::string& query, int k = 5) {
    auto r = c_.post(h.url("/v1/collections/" + coll + "/search"),
                     "{\"query\": " + jstr(query) + ", \"k\": " + std::to_string(k) + "}");
    std::vector<std::string> ids;
    auto d = parse_json(r.body);
    if (r.status != 200 || d.HasParseError() || !d.HasMember("results")) return ids;
    for (const auto& x : d["results"].GetArray()) ids.push_back(x["id"].GetString());
    return ids;
  }

  void expect_visible(const char* what, const std::function<bool()>& seen) {
    auto delay = visible_after(seen, kVisibleWithin);
    ASSERT_TRUE(delay.has_value()) << what << " not visible on the other replica within 1 s";
    std::printf("[ replicas ] %s visible on the other replica after %lld ms\n", what,
                static_cast<long long>(delay->count()));
  }

  std::string conninfo_, schema_;
  std::unique_ptr<HostProcess> a_, b_;
  HttpClient c_;
};

TEST_F(Replicas, BothServeTheDemoCorpusFromOneDatabase) {
  // Replica b found the demo collection already loaded by a: loaded once, 200 documents.
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c_.get(b_->url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 200u);
  EXPECT_EQ(search_ids(*a_, "workers", "forklift"), search_ids(*b_, "workers", "forklift"));
  // The follower reports itself once its first wait on the feed returned.
  EXPECT_TRUE(visible_after(
      [&] { return metric(c_.get(b_->url("/metrics")).body, "lakehost_replica_following") == 1.0; },
      std::chrono::seconds(5)));
}

TEST_F(Replicas, DocumentsWrittenOnOneAreSearchableOnTheOther) {
  const std::string doc =
      R"({"documents": [{"id": "z1", "text": "zeppelin mooring mast rigger", "metadata": {"role": "Rigger"}}]})";
  ASSERT_TRUE(json_ok(c_.post(a_->url("/v1/collections/workers/documents"), doc), 200));
  expect_visible("an upserted document", [&] {
    auto ids = search_ids(*b_, "workers", "zeppelin mooring mast rigger", 1);
    return !ids.empty() && ids[0] == "z1";
  });
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c_.get(b_->url("/v1/collections/workers/documents/z1")), 200, &d));
  EXPECT_STREQ(d["metadata"]["role"].GetString(), "Rigger");

  // Replaced text on b, seen on a.
  const std::string changed =
      R"({"documents": [{"id": "z1", "text": "hot air balloon pilot", "metadata": {}}]})";
  ASSERT_TRUE(json_ok(c_.post(b_->url("/v1/collections/workers/documents"), changed), 200));
  expect_visible("a replaced document", [&] {
    auto ids = search_ids(*a_, "workers", "hot air balloon pilot", 1);
    return !ids.empty() && ids[0] == "z1";
  });

  ASSERT_EQ(c_.del(a_->url("/v1/collections/workers/documents/z1")).status, 204);
  expect_visible("a deleted document", [&] {
    return c_.get(b_->url("/v1/collections/workers/documents/z1")).status == 404 &&
           search_ids(*b_, "workers", "hot air balloon pilot", 1) != std::vector<std::string>{"z1"};
  });
}

TEST_F(Replicas, ABulkImportOnOneIsSearchableOnTheOther) {
  // 600 documents in one batch: the other replica rescans the collection instead of reading
  // 600 documents one by one.
  std::string body = "{\"documents\": [";
  for (int i = 0; i < 600; ++i)
    body += std::string(i ? "," : "") + "{\"id\": \"bulk-" + std::to_string(i) +
            "\", \"text\": \"bulk imported profile number " + std::to_string(i) + "\"}";
  body += "]}";
  ASSERT_TRUE(json_ok(c_.post(a_->url("/v1/collections/workers/documents"), body), 200));
  expect_visible("a 600-document batch", [&] {
    rapidjson::Document d;
    auto r = c_.get(b_->url("/v1/collections/workers"));
    d.Parse(r.body.c_str());
    return r.status == 200 && d.IsObject() && d["count"].GetUint64() == 800u;
  });
  auto ids = search_ids(*b_, "workers", "bulk imported profile number 599", 1);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], "bulk-599");
}

TEST_F(Replicas, CollectionsCreatedAndDeletedOnOneAppearAndVanishOnTheOther) {
  ASSERT_TRUE(json_ok(c_.put(a_->url("/v1/collections/fleet"), "{}"), 201));
  ASSERT_TRUE(json_ok(c_.post(a_->url("/v1/collections/fleet/documents"),
                              R"({"documents": [{"id": "t1", "text": "tow truck driver"}]})"),
                      200));
  expect_visible("a new collection with a document", [&] {
    return search_ids(*b_, "fleet", "tow truck driver", 1) == std::vector<std::string>{"t1"};
  });
  ASSERT_EQ(c_.del(a_->url("/v1/collections/fleet")).status, 204);
  expect_visible("a deleted collection",
                 [&] { return c_.get(b_->url("/v1/collections/fleet")).status == 404; });
}

TEST_F(Replicas, PlaybooksRecordedOnOneBoostSearchesOnTheOther) {
  const std::string search =
      R"({"query": "Forklift Operator", "role": "Forklift Operator", "k": 3, "collection": "workers"})";
  rapidjson::Document cold;
  ASSERT_TRUE(json_ok(c_.post(b_->url("/v1/matrix/search"), search), 200, &cold));
  ASSERT_EQ(cold["boosted"].GetUint64(), 0u);  // b has read (and cached) the empty playbooks
  const std::string second = cold["results"][1]["id"].GetString();
  rapidjson::Document rec;
  ASSERT_TRUE(
      json_ok(c_.post(a_->url("/v1/matrix/playbooks/record"),
                      R"({"query": "Forklift Operator", "role": "Forklift Operator", "id": )" +
                          jstr(second) + R"(, "score": 1.0, "collection": "workers"})"),
              201, &rec));
  auto boosted_on_b = [&] {
    auto d = parse_json(c_.post(b_->url("/v1/matrix/search"), search).body);
    return !d.HasParseError() && d.HasMember("results") && d["results"].Size() > 0 &&
           d["results"][0]["id"].GetString() == second && d["results"][0]["boosted"].GetBool();
  };
  expect_visible("a recorded playbook", boosted_on_b);

  const std::string playbook_id = rec["playbook_id"].GetString();
  ASSERT_EQ(c_.del(a_->url("/v1/matrix/playbooks/" + playbook_id + "?collection=workers")).status,
            204);
  expect_visible("a deleted playbook", [&] {
    auto d = parse_json(c_.post(b_->url("/v1/matrix/search"), search).body);
    return !d.HasParseError() && d.HasMember("boosted") && d["boosted"].GetUint64() == 0;
  });
}

TEST_F(Replicas, AReplicaThatLostItsFeedCatchesUpByResync) {
  // Cut every connection of replica b (its pool and its LISTEN connection), then write on a
  // while b is not listening: b reconnects, is told to resync, and re-reads storage.
  EXPECT_NE(sql(conninfo_,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                "application_name = '" +
                    schema_ + "_b'"),
            "0");
  ASSERT_TRUE(
      json_ok(c_.post(a_->url("/v1/collections/workers/documents"),
                      R"({"documents": [{"id": "g1", "text": "glassblower furnace artisan"}]})"),
              200));
  auto delay = visible_after(
      [&] {
        auto ids = search_ids(*b_, "workers", "glassblower furnace artisan", 1);
        return !ids.empty() && ids[0] == "g1";
      },
      std::chrono::seconds(10));
  ASSERT_TRUE(delay.has_value()) << b_->log();
  EXPECT_NE(b_->log().find("resynchronised"), std::string::npos);
}

}  // namespace
}  // namespace lakehost::e2e
