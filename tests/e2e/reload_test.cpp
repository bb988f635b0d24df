// Hot reloads: under concurrent load with zero failed requests, changing the embedder's
// dimension (re-embedding), a failed reload keeping the old set, SIGHUP, and the manifest
// directory watcher.
#include <signal.h>

#include <atomic>
#include <functional>
#include <iostream>
#include <mutex>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const char* kQueries[] = {"Forklift Operator", "CNC Operator", "Warehouse Associate",
                          "Order Picker",      "Loader",       "Shipping Clerk"};

std::string plugin_config(HttpClient& c, const HostProcess& h, const std::string& id) {
  auto d = parse_json(c.get(h.url("/v1/plugins")).body);
  if (d.HasParseError() || !d.IsObject()) return "";
  for (const auto& p : d["plugins"].GetArray())
    if (id == p["id"].GetString()) return to_json(p["config"]);
  return "";
}

void expect_forklift_top3(HttpClient& c, const HostProcess& h) {
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(
      c.post(h.url("/v1/collections/workers/search"), R"({"query": "Forklift Operator", "k": 3})"),
      200, &d));
  ASSERT_EQ(d["results"].Size(), 3u);
  for (const auto& r : d["results"].GetArray())
    EXPECT_STREQ(r["metadata"]["role"].GetString(), "Forklift Operator");
}

// 8 client threads x 2,000 requests (search, embed, get document, health) while the main thread
// performs 50 reloads alternating the vector backend between FAISS Flat and HNSW32 (each swap
// rebuilds the collection's index). Every request must succeed; the generation advances by 50.
TEST(Reload, FiftyReloadsUnderLoadFailNoRequest) {
  constexpr int kThreads = 8, kRequests = 2000, kReloads = 50;
  HostProcess host(Options().demo());
  HttpClient admin;
  const uint64_t g0 = generation(admin, host);
  ASSERT_EQ(g0, 1u);

  std::atomic<int> done_requests{0}, finished_threads{0}, started_threads{0};
  std::atomic<int> failures{0}, search_results_short{0};
  std::atomic<int64_t> slowest_us{0};
  std::atomic<int> slowest_op{-1};
  std::mutex mu;
  std::vector<std::string> failure_samples;
  auto fail = [&](const std::string& what) {
    ++failures;
    std::lock_guard lock(mu);
    if (failure_samples.size() < 10) failure_samples.push_back(what);
  };

  std::vector<std::thread> workers;
  const auto t0 = Clock::now();
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      HttpClient c;
      ++started_threads;
      for (int i = 0; i < kRequests; ++i) {
        const char* q = kQueries[(i + t) % 6];
        HttpResult r;
        const auto sent = Clock::now();
        switch ((i + t) % 4) {
          case 0:
            r = c.post(host.url("/v1/collections/workers/search"),
                       std::string("{\"query\": \"") + q + "\", \"k\": 5}");
            if (r.status == 200) {
              auto d = parse_json(r.body);
              if (d.HasParseError() || d["results"].Size() != 5) ++search_results_short;
            }
            break;
          case 1:
            r = c.post(host.url("/v1/embed"), std::string("{\"texts\": [\"") + q + "\"]}");
            break;
          case 2: {
            char id[16];
            std::snprintf(id, sizeof id, "w%04d", (i * 7 + t) % 200 + 1);
            r = c.get(host.url("/v1/collections/workers/documents/") + id);
            break;
          }
          default:
            r = c.get(host.url("/health"));
        }
        const int64_t us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count();
        for (int64_t prev = slowest_us.load(); us > prev;) {
          if (slowest_us.compare_exchange_weak(prev, us)) {
            slowest_op = (i + t) % 4;
            break;
          }
        }
        if (r.status < 200 || r.status >= 300)
          fail("thread " + std::to_string(t) + " request " + std::to_string(i) + ": HTTP " +
               std::to_string(r.status) + " " + r.error + " " + r.body.substr(0, 200));
        ++done_requests;
      }
      ++finished_threads;
    });
  }

  // Spread the reloads evenly over the request stream: reload r waits until (r+1)/(N+1) of all
  // requests are done.
  const int total = kThreads * kRequests;
  int overlapped = 0, reload_failures = 0;
  int64_t slowest_reload_ms = 0;
  std::string faiss_path = manifest_path(host, "vector-faiss.json");
  for (int r = 0; r < kReloads; ++r) {
    const int threshold = (r + 1) * total / (kReloads + 1);
    while (done_requests.load() < threshold && finished_threads.load() < kThreads)
      std::this_thread::sleep_for(milliseconds(1));
    test::write_file(faiss_path, faiss_manifest(r % 2 == 0 ? "HNSW32" : "Flat"));
    if (finished_threads.load() < kThreads && started_threads.load() == kThreads) ++overlapped;
    rapidjson::Document d;
    const auto reload_start = Clock::now();
    auto res = admin.post(host.url("/v1/admin/reload"), "");
    slowest_reload_ms = std::max<int64_t>(
        slowest_reload_ms,
        std::chrono::duration_cast<milliseconds>(Clock::now() - reload_start).count());
    if (!json_ok(res, 200, &d) || d["generation"].GetUint64() != g0 + r + 1) {
      ++reload_failures;
      ADD_FAILURE() << "reload " << r << ": HTTP " << res.status << " " << res.body;
    }
  }
  const auto reloads_done = Clock::now();
  for (auto& w : workers) w.join();
  const auto t1 = Clock::now();

  auto ms = [](auto d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
  std::cout << "[ reload  ] " << total << " requests in " << ms(t1 - t0) << " ms; " << kReloads
            << " reloads done after " << ms(reloads_done - t0) << " ms, " << overlapped
            << " of them while clients were running; slowest request " << slowest_us.load() / 1000
            << " ms (op " << slowest_op.load()
            << ": 0 search, 1 embed, 2 get, 3 health), slowest reload " << slowest_reload_ms
            << " ms\n";
  EXPECT_EQ(failures.load(), 0) << [&] {
    std::string s;
    for (auto& f : failure_samples) s += f + "\n";
    return s;
  }();
  EXPECT_EQ(search_results_short.load(), 0) << "searches that returned fewer than k results";
  EXPECT_EQ(reload_failures, 0);
  EXPECT_EQ(done_requests.load(), total);
  EXPECT_GE(overlapped, kReloads * 4 / 5) << "too few reloads overlapped the traffic";
  EXPECT_EQ(generation(admin, host), g0 + kReloads);
  auto m = admin.get(host.url("/metrics")).body;
  EXPECT_EQ(metric(m, "lakehost_reloads_total{result=\"ok\"}"), double(kReloads + 1));
  EXPECT_EQ(metric(m, "lakehost_reloads_total{result=\"failed\"}"), 0.0);
  EXPECT_EQ(metric(m, "lakehost_collection_documents{collection=\"workers\"}"), 200.0);
  // The last reload (r = 49) installed Flat; the index still answers correctly.
  EXPECT_EQ(plugin_config(admin, host, "vector-faiss"), R"({"factory":"Flat"})");
  expect_forklift_top3(admin, host);
}

// Writes during reloads: documents upserted while the backend is being swapped (each swap
// rebuilds the index from storage) are never lost, neither in storage nor in the index.
TEST(Reload, WritesDuringReloadsAreNotLost) {
  constexpr int kDocs = 300;
  HostProcess host(Options().demo());
  std::atomic<bool> writer_done{false};
  std::atomic<int> failed{0};
  std::thread writer([&] {
    HttpClient c;
    for (int i = 0; i < kDocs; ++i) {
      auto r = c.post(host.url("/v1/collections/workers/documents"),
                      documents_body({{"new" + std::to_string(i),
                                       "Forklift Operator temp number " + std::to_string(i),
                                       R"({"role": "Temp"})"}}));
      if (r.status != 200) ++failed;
    }
    writer_done = true;
  });
  HttpClient admin;
  std::string faiss_path = manifest_path(host, "vector-faiss.json");
  int reloads = 0;
  for (; !writer_done.load() || reloads < 10; ++reloads) {
    test::write_file(faiss_path, faiss_manifest(reloads % 2 == 0 ? "HNSW32" : "Flat"));
    ASSERT_EQ(admin.post(host.url("/v1/admin/reload"), "").status, 200);
  }
  writer.join();
  std::cout << "[ reload  ] " << reloads << " reloads during " << kDocs
            << " single-document writes\n";
  EXPECT_EQ(failed.load(), 0);
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(admin.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 200u + kDocs);
  // Every written document is in storage and in the (rebuilt) index.
  for (int i = 0; i < kDocs; i += 37)
    EXPECT_EQ(
        admin.get(host.url("/v1/collections/workers/documents/new" + std::to_string(i))).status,
        200);
  ASSERT_TRUE(json_ok(admin.post(host.url("/v1/collections/workers/search"),
                                 "{\"query\": \"temp\", \"k\": 1000, \"filter\": {\"role\": "
                                 "\"Temp\"}}"),
                      200, &d));
  EXPECT_EQ(static_cast<int>(d["results"].Size()), kDocs);
}

// Editing the default embedder's dimension (384 -> 128) and reloading re-embeds the stored
// collection; the new vectors are written back, so a restart does not redo the work.
TEST(Reload, ChangingTheEmbedderDimensionReembedsTheCollection) {
  HostProcess host(Options().demo());
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  ASSERT_EQ(d["dimension"].GetUint(), 384u);

  test::write_file(manifest_path(host, "embed-hash.json"), embed_manifest("embed-hash", 128, true));
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/admin/reload"), ""), 200, &d));
  EXPECT_EQ(d["generation"].GetUint64(), 2u);

  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["dimension"].GetUint(), 128u);
  EXPECT_EQ(d["count"].GetUint64(), 200u);
  expect_forklift_top3(c, host);
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["x"]})"), 200, &d));
  EXPECT_EQ(d["dimension"].GetUint(), 128u);
  // Vector search now takes 128 numbers.
  std::string v128 = to_json(d["vectors"][0]);
  EXPECT_TRUE(json_ok(
      c.post(host.url("/v1/collections/workers/search"), "{\"vector\": " + v128 + ", \"k\": 2}"),
      200));
  std::string v384 = "[1";
  for (int i = 1; i < 384; ++i) v384 += ",0";
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/collections/workers/search"), "{\"vector\": " + v384 + "]}"),
               422, "dimension_mismatch", "128"));
  // A document written now is embedded at 128 too and found.
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/documents"),
                             documents_body({{"fresh", "Crane operator with rigging card",
                                              R"({"role": "Crane Operator"})"}})),
                      200));
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             R"({"query": "crane operator rigging", "k": 1})"),
                      200, &d));
  EXPECT_STREQ(d["results"][0]["id"].GetString(), "fresh");
  const std::string results_before =
      c.post(host.url("/v1/collections/workers/search"), R"({"query": "CNC Operator", "k": 8})")
          .body;

  auto count_reembeds = [&] {
    std::string log = host.log();
    size_t n = 0;
    for (size_t p = log.find("re-embedding"); p != std::string::npos;
         p = log.find("re-embedding", p + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(count_reembeds(), 1u);

  host.stop();
  host.start();
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["dimension"].GetUint(), 128u);
  EXPECT_EQ(d["count"].GetUint64(), 201u);
  expect_forklift_top3(c, host);
  EXPECT_EQ(
      c.post(host.url("/v1/collections/workers/search"), R"({"query": "CNC Operator", "k": 8})")
          .body,
      results_before);
  EXPECT_EQ(count_reembeds(), 1u) << "the restart re-embedded again: the 128-d vectors were not "
                                     "written back to storage";

  // And back to 384.
  test::write_file(manifest_path(host, "embed-hash.json"), embed_manifest("embed-hash", 384, true));
  ASSERT_EQ(c.post(host.url("/v1/admin/reload"), "").status, 200);
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["dimension"].GetUint(), 384u);
  expect_forklift_top3(c, host);
}

TEST(Reload, AFailedReloadKeepsTheOldSetServing) {
  HostProcess host(Options().demo());
  HttpClient c;
  const std::string path = manifest_path(host, "embed-hash.json");
  const std::string good = test::read_file(path);

  // Config that the plugin's schema refuses.
  test::write_file(path, R"({"id": "embed-hash", "kind": "embed_provider",
                             "library": "embed-hash.so", "default": true,
                             "config": {"dimension": "large"}})");
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/admin/reload"), ""), 422, "reload_failed", "embed-hash.json"));
  EXPECT_EQ(generation(c, host), 1u);
  expect_forklift_top3(c, host);

  // A library that does not exist.
  test::write_file(path, R"({"id": "embed-hash", "kind": "embed_provider",
                             "library": "no-such-plugin.so", "default": true})");
  EXPECT_TRUE(is_error(c.post(host.url("/v1/admin/reload"), ""), 422, "reload_failed"));
  // Malformed manifest JSON.
  test::write_file(path, "{\"id\": ");
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/admin/reload"), ""), 422, "reload_failed", "embed-hash.json"));
  EXPECT_EQ(generation(c, host), 1u);
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["x"]})"), 200, &d));
  EXPECT_EQ(d["dimension"].GetUint(), 384u);
  auto m = c.get(host.url("/metrics")).body;
  EXPECT_EQ(metric(m, "lakehost_reloads_total{result=\"failed\"}"), 3.0);
  EXPECT_EQ(metric(m, "lakehost_reloads_total{result=\"ok\"}"), 1.0);

  test::write_file(path, good);
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/admin/reload"), ""), 200, &d));
  EXPECT_EQ(d["generation"].GetUint64(), 2u);
  expect_forklift_top3(c, host);
}

TEST(Reload, SighupTriggersAReload) {
  HostProcess host(Options().demo());
  HttpClient c;
  const pid_t pid = host_pid(host);
  ASSERT_GT(pid, 0) << "cannot find the lakehost child in /proc (HostProcess has no pid())";
  ASSERT_EQ(generation(c, host), 1u);
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  EXPECT_TRUE(eventually([&] { return generation(c, host) == 2; }, seconds(5)));

  // A changed manifest is picked up by SIGHUP.
  test::write_file(manifest_path(host, "vector-faiss.json"), faiss_manifest("HNSW32"));
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  EXPECT_TRUE(eventually([&] { return generation(c, host) == 3; }, seconds(5)));
  EXPECT_EQ(plugin_config(c, host, "vector-faiss"), R"({"factory":"HNSW32"})");
  expect_forklift_top3(c, host);
  EXPECT_TRUE(host.running());
}

// Note (HOST BUG, reported): `lakehost serve` writes its port file - the readiness signal
// HostProcess waits for - before it arms the manifest watcher (host/src/main.cpp), so an edit
// made right after start-up can go unseen. The test repeats the (idempotent) edit until a reload
// happens rather than depending on that race.
TEST(Reload, ManifestDirectoryWatcherReloadsOnEdit) {
  HostProcess host(Options().demo().watch());
  HttpClient c;
  ASSERT_EQ(generation(c, host), 1u);
  auto edit_until_reload = [&](const std::function<void()>& edit) {
    const uint64_t g = generation(c, host);
    for (int attempt = 0; attempt < 5; ++attempt) {
      edit();
      if (eventually([&] { return generation(c, host) > g; }, seconds(2))) return true;
    }
    return false;
  };
  ASSERT_TRUE(edit_until_reload([&] {
    test::write_file(manifest_path(host, "vector-faiss.json"), faiss_manifest("HNSW32"));
  })) << "no reload within 10 s of editing a manifest; host log:\n"
      << host.log();
  EXPECT_TRUE(eventually(
      [&] { return plugin_config(c, host, "vector-faiss") == R"({"factory":"HNSW32"})"; },
      seconds(5)));
  expect_forklift_top3(c, host);

  // A new manifest file is picked up as well (the watcher is armed by now: one write).
  const uint64_t g = generation(c, host);
  test::write_file(manifest_path(host, "embed-hash-64.json"),
                   embed_manifest("embed-hash-64", 64, false));
  ASSERT_TRUE(eventually([&] { return generation(c, host) > g; }, seconds(5)));
  EXPECT_TRUE(eventually(
      [&] {
        return c.post(host.url("/v1/embed"), R"({"texts": ["x"], "model": "embed-hash-64"})")
                   .status == 200;
      },
      seconds(5)));
}

}  // namespace
}  // namespace lakehost::e2e
