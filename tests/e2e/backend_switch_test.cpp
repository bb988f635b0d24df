// Switching the vector backend between FAISS and hnswlib by manifest and reload while clients
// search and write: each switch rebuilds the collection's index on the other library, no request
// fails, no write is lost, and both libraries return the same nearest neighbours on the demo.
#include <atomic>
#include <mutex>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

void use_backend(const HostProcess& h, bool hnswlib) {
  test::write_file(manifest_path(h, "vector-faiss.json"),
                   vector_backend_manifest("vector-faiss", "vector-faiss.so", !hnswlib,
                                           R"({"factory": "Flat"})"));
  test::write_file(
      manifest_path(h, "vector-hnswlib.json"),
      vector_backend_manifest("vector-hnswlib", "vector-hnswlib.so", hnswlib,
                              R"({"M": 16, "ef_construction": 200, "ef_search": 64})"));
}

std::vector<std::string> top_ids(HttpClient& c, const HostProcess& h, const std::string& query,
                                 int k) {
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(c.post(h.url("/v1/collections/workers/search"),
                             "{\"query\": " + jstr(query) + ", \"k\": " + std::to_string(k) + "}"),
                      200, &d));
  std::vector<std::string> ids;
  if (d.IsObject())
    for (const auto& r : d["results"].GetArray()) ids.push_back(r["id"].GetString());
  return ids;
}

std::string collection_backend(HttpClient& c, const HostProcess& h) {
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(c.get(h.url("/v1/collections/workers")), 200, &d));
  return d.IsObject() && d["vector_backend"].IsString() ? d["vector_backend"].GetString() : "";
}

}  // namespace

TEST(BackendSwitch, FaissAndHnswlibSwapLiveWithoutAFailedRequest) {
  HostProcess host(Options().demo());
  HttpClient admin;
  use_backend(host, false);
  ASSERT_TRUE(json_ok(admin.post(host.url("/v1/admin/reload"), ""), 200));
  ASSERT_EQ(collection_backend(admin, host), "vector-faiss");
  const char* queries[] = {"Forklift Operator", "CNC Operator", "night shift loader",
                           "shipping clerk with OSHA 10"};

  // Clients: searches checked for 5 results, and upserts of new documents that must all survive.
  constexpr int kSearchers = 3, kSwitches = 12;
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0}, failures{0}, written{0};
  std::mutex mu;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(mu);
    if (failures++ == 0) first_failure = what;
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < kSearchers; ++t)
    clients.emplace_back([&, t] {
      HttpClient c;
      for (int i = 0; !stop; ++i) {
        auto r = c.post(host.url("/v1/collections/workers/search"),
                        "{\"query\": " + jstr(queries[(i + t) % 4]) + ", \"k\": 5}");
        auto d = parse_json(r.body);
        if (r.status != 200 || d.HasParseError() || d["results"].Size() != 5)
          fail("search: HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200));
        ++requests;
      }
    });
  clients.emplace_back([&] {
    HttpClient c;
    for (int i = 0; !stop; ++i) {
      const std::string id = "switch-" + std::to_string(i);
      auto r = c.post(host.url("/v1/collections/workers/documents"),
                      "{\"documents\": [{\"id\": " + jstr(id) +
                          ", \"text\": \"crane rigger number " + std::to_string(i) + "\"}]}");
      if (r.status != 200)
        fail("upsert: HTTP " + std::to_string(r.status) + " " + r.body);
      else
        ++written;
      ++requests;
    }
  });

  for (int s = 0; s < kSwitches; ++s) {
    const bool hnswlib = s % 2 == 0;
    use_backend(host, hnswlib);
    rapidjson::Document d;
    ASSERT_TRUE(json_ok(admin.post(host.url("/v1/admin/reload"), ""), 200, &d));
    EXPECT_EQ(collection_backend(admin, host), hnswlib ? "vector-hnswlib" : "vector-faiss");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (auto& c : clients) c.join();
  std::printf("[ switch  ] %d requests during %d backend switches, %d documents written\n",
              requests.load(), kSwitches, written.load());
  EXPECT_EQ(failures.load(), 0) << first_failure;

  // The last switch went back to FAISS (exact search): its answers, then hnswlib's on the same
  // data.
  ASSERT_EQ(collection_backend(admin, host), "vector-faiss");
  std::vector<std::vector<std::string>> exact;
  for (const char* q : queries) exact.push_back(top_ids(admin, host, q, 5));
  use_backend(host, true);
  ASSERT_TRUE(json_ok(admin.post(host.url("/v1/admin/reload"), ""), 200));
  ASSERT_EQ(collection_backend(admin, host), "vector-hnswlib");
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(admin.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 200u + written.load()) << "a write was lost in a switch";
  for (int i = 0; i < written.load(); i += 7)
    EXPECT_EQ(
        admin.get(host.url("/v1/collections/workers/documents/switch-" + std::to_string(i))).status,
        200);
  // HNSW with ef_search 64 over ~200 documents finds the exact neighbours.
  for (size_t q = 0; q < std::size(queries); ++q)
    EXPECT_EQ(top_ids(admin, host, queries[q], 5), exact[q]) << queries[q];
}

}  // namespace lakehost::e2e
