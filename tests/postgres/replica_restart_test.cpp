// Fault injection for replicas (docs/scale-out.md, "Read-your-writes" and "Outages"): two real
// `lakehost serve` replicas on one PostgreSQL schema take writes from four writers (two per
// replica, 5-document batches) while PostgreSQL is stopped (-m fast), stays down for a while and
// comes back. Writes during the outage must fail with 503 storage_unavailable and are not counted
// as acknowledged. After quiet, every acknowledged write must be in PostgreSQL and in BOTH
// replicas' indexes (the count in GET /v1/collections/{name} is the index's), and each replica's
// index must hold exactly what PostgreSQL holds.
//
// The test starts its own throwaway cluster (pg_cluster.sh), so restarting it never disturbs the
// other PostgreSQL tests, which share the ctest fixture's cluster and may run in parallel.
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "../e2e/e2e_support.h"
#include "plugin_fixture.h"

namespace lakehost::e2e {
namespace {

constexpr int kWritersPerReplica = 2;
constexpr int kBatch = 5;
// Documents carry a group (writer and batch / kGroupBatches) in their metadata; one filtered
// search (k <= 1000) lists a group's documents in an index.
constexpr int kGroupBatches = 150;
constexpr auto kBeforeOutage = std::chrono::milliseconds(1500);
constexpr int kOutageSeconds = 2;
constexpr auto kAfterOutage = std::chrono::milliseconds(2000);
constexpr auto kQuietLimit = std::chrono::seconds(30);

// Rows of a one-column query.
std::vector<std::string> query(const std::string& conninfo, const std::string& statement) {
  std::vector<std::string> out;
  PGconn* c = PQconnectdb(conninfo.c_str());
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, statement.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
      for (int i = 0; i < PQntuples(r); ++i) out.push_back(PQgetvalue(r, i, 0));
    else
      ADD_FAILURE() << statement << ": " << PQerrorMessage(c);
    PQclear(r);
  } else {
    ADD_FAILURE() << "cannot connect: " << PQerrorMessage(c);
  }
  PQfinish(c);
  return out;
}

class ReplicaRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = LAKEHOST_PG_CLUSTER_SCRIPT;
    conninfo_file_ = test::temp_dir() + "/conninfo";
    const std::string cmd = script_ + " start " + conninfo_file_ + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "cannot start a PostgreSQL cluster";
    started_ = true;
    std::ifstream in(conninfo_file_);
    std::getline(in, conninfo_);
    ASSERT_FALSE(conninfo_.empty());
    a_ = std::make_unique<HostProcess>(Options().manifests(manifests()));
    b_ = std::make_unique<HostProcess>(Options().manifests(manifests()));
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    if (started_) {
      const std::string cmd = script_ + " stop " + conninfo_file_ + " >/dev/null";
      EXPECT_EQ(std::system(cmd.c_str()), 0);
    }
  }

  std::string manifests() {
    std::string dir = manifests_without_kind("storage_backend");
    test::write_file(dir + "/storage-postgres.json",
                     "{\"id\": \"storage-postgres\", \"kind\": \"storage_backend\", \"library\": "
                     "\"storage-postgres.so\", \"enabled\": true, \"default\": true, \"config\": "
                     "{\"conninfo\": " +
                         jstr(conninfo_) + ", \"schema\": \"lakehost\"}}\n");
    return dir;
  }

  // The count of the collection in a replica's index; nullopt if it does not answer.
  std::optional<uint64_t> index_count(HttpClient& c, HostProcess& h) {
    auto r = c.get(h.url("/v1/collections/stress"));
    auto d = parse_json(r.body);
    if (r.status != 200 || d.HasParseError() || !d.IsObject()) return std::nullopt;
    return d["count"].GetUint64();
  }

  // Adds the ids a replica's index holds for one group: a filtered search over the whole index.
  void index_ids(HttpClient& c, HostProcess& h, const std::string& group,
                 std::set<std::string>& ids) {
    auto r =
        c.post(h.url("/v1/collections/stress/search"),
               "{\"query\": \"stress\", \"k\": 1000, \"filter\": {\"g\": " + jstr(group) + "}}");
    auto d = parse_json(r.body);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200 || d.HasParseError() || !d.HasMember("results")) return;
    for (const auto& x : d["results"].GetArray()) ids.insert(x["id"].GetString());
  }

  std::string script_, conninfo_file_, conninfo_;
  bool started_ = false;
  std::unique_ptr<HostProcess> a_, b_;
};

struct WriterResult {
  std::string name;
  std::set<std::string> acknowledged;
  int batches = 0;
  int failed = 0;
  std::vector<std::string> unexpected;  // failures other than 503 storage_unavailable
};

TEST_F(ReplicaRestart, AcknowledgedWritesSurviveAPostgresRestartOnBothReplicas) {
  HttpClient c;
  ASSERT_TRUE(json_ok(c.put(a_->url("/v1/collections/stress"), "{}"), 201));
  ASSERT_TRUE(eventually([&] { return index_count(c, *b_).has_value(); }, std::chrono::seconds(5)));

  std::atomic<bool> stop{false};
  std::vector<WriterResult> results(2 * kWritersPerReplica);
  std::vector<std::thread> writers;
  for (int w = 0; w < 2 * kWritersPerReplica; ++w) {
    HostProcess* host = w < kWritersPerReplica ? a_.get() : b_.get();
    results[w].name =
        std::string(w < kWritersPerReplica ? "a" : "b") + std::to_string(w % kWritersPerReplica);
    writers.emplace_back([&, host, w] {
      WriterResult& out = results[w];
      HttpClient client;
      for (int n = 0; !stop; ++n) {
        out.batches = n + 1;
        const std::string group = out.name + "." + std::to_string(n / kGroupBatches);
        std::string body = "{\"documents\": [";
        std::vector<std::string> ids;
        for (int k = 0; k < kBatch; ++k) {
          ids.push_back(out.name + "-" + std::to_string(n) + "-" + std::to_string(k));
          body += std::string(k ? "," : "") + "{\"id\": " + jstr(ids.back()) +
                  ", \"text\": \"stress writer " + out.name + " batch " + std::to_string(n) +
                  " document " + std::to_string(k) + "\", \"metadata\": {\"g\": " + jstr(group) +
                  "}}";
        }
        body += "]}";
        auto r = client.post(host->url("/v1/collections/stress/documents"), body);
        if (r.status == 200) {
          out.acknowledged.insert(ids.begin(), ids.end());
          continue;
        }
        ++out.failed;
        if (!is_error(r, 503, "storage_unavailable"))
          out.unexpected.push_back(std::to_string(r.status) + " " + r.body + r.error);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  std::this_thread::sleep_for(kBeforeOutage);
  const std::string restart =
      script_ + " restart " + conninfo_file_ + " " + std::to_string(kOutageSeconds);
  const int restarted = std::system(restart.c_str());
  std::this_thread::sleep_for(kAfterOutage);
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_EQ(restarted, 0) << "pg_cluster.sh restart failed";

  size_t acknowledged = 0;
  int failed = 0;
  for (const auto& r : results) {
    acknowledged += r.acknowledged.size();
    failed += r.failed;
    EXPECT_TRUE(r.unexpected.empty())
        << "writer " << r.name << ": " << r.unexpected.size()
        << " failures other than 503 storage_unavailable, first: " << r.unexpected.front();
  }
  std::printf("[ restart ] %zu documents acknowledged, %d batches refused during the outage\n",
              acknowledged, failed);
  EXPECT_GT(failed, 0) << "no write fell into the outage: the test did not test it";

  // Quiet: both indexes converge on what PostgreSQL holds.
  auto stored_count = [&] {
    auto rows =
        query(conninfo_, "SELECT count(*) FROM lakehost.documents WHERE collection = 'stress'");
    return rows.empty() ? uint64_t{0} : std::stoull(rows[0]);
  };
  const auto quiet_start = Clock::now();
  uint64_t in_pg = 0;
  std::optional<uint64_t> in_a, in_b;
  while (Clock::now() - quiet_start < kQuietLimit) {
    in_pg = stored_count();
    in_a = index_count(c, *a_);
    in_b = index_count(c, *b_);
    if (in_a == in_pg && in_b == in_pg) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::printf("[ restart ] PostgreSQL %llu, index a %llu, index b %llu after %lld ms of quiet\n",
              static_cast<unsigned long long>(in_pg),
              static_cast<unsigned long long>(in_a.value_or(0)),
              static_cast<unsigned long long>(in_b.value_or(0)),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - quiet_start)
                      .count()));
  EXPECT_EQ(in_a, in_pg) << a_->log();
  EXPECT_EQ(in_b, in_pg) << b_->log();

  // Every acknowledged write is stored, and each replica's index holds exactly the stored ids.
  for (const auto& r : results) {
    auto rows = query(
        conninfo_, "SELECT id FROM lakehost.documents WHERE collection = 'stress' AND id LIKE '" +
                       r.name + "-%'");
    const std::set<std::string> stored(rows.begin(), rows.end());
    std::vector<std::string> lost;
    std::set_difference(r.acknowledged.begin(), r.acknowledged.end(), stored.begin(), stored.end(),
                        std::back_inserter(lost));
    EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged writes of " << r.name
                              << " are not in PostgreSQL, e.g. " << lost.front();
    for (auto* h : {a_.get(), b_.get()}) {
      std::set<std::string> ids;
      for (int g = 0; g <= (r.batches - 1) / kGroupBatches; ++g)
        index_ids(c, *h, r.name + "." + std::to_string(g), ids);
      std::vector<std::string> missing;
      std::set_difference(stored.begin(), stored.end(), ids.begin(), ids.end(),
                          std::back_inserter(missing));
      EXPECT_TRUE(missing.empty())
          << missing.size() << " documents of writer " << r.name << " are stored but not in the "
          << (h == a_.get() ? "a" : "b") << " index, e.g. " << missing.front();
      EXPECT_EQ(ids.size(), stored.size()) << "writer " << r.name;
    }
  }
  // Caught up: nothing pending, and the lag gauge is there.
  for (auto* h : {a_.get(), b_.get()}) {
    const std::string m = c.get(h->url("/metrics")).body;
    EXPECT_EQ(metric(m, "lakehost_replica_pending_changes"), 0.0);
    EXPECT_TRUE(metric(m, "lakehost_replica_lag_seconds").has_value());
    EXPECT_GE(metric(m, "lakehost_replica_resyncs_total").value_or(0), 1.0)
        << "the restart did not make the replica resynchronise";
  }
}

}  // namespace
}  // namespace lakehost::e2e
