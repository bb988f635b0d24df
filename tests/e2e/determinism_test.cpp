// The same query over the same documents gives the same ids, in the same order, with
// bit-identical distances: whatever order and batch sizes the documents came in, whichever vector
// backend holds them, and whichever SIMD level the kernels run at. Ties are ordered by id.
#include <algorithm>
#include <random>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

// The default manifests plus two approximate backends, searched wide enough (ef above the
// collection's size) that they find every neighbour of these small collections.
std::string manifests_with_three_backends() {
  std::string dir = test::copy_default_manifests();
  test::write_file(dir + "/vector-faiss-hnsw.json",
                   vector_backend_manifest("faiss-hnsw", "vector-faiss.so", false,
                                           R"({"factory": "HNSW32", "ef_search": 512})"));
  test::write_file(
      dir + "/vector-hnswlib.json",
      vector_backend_manifest("hnswlib", "vector-hnswlib.so", false,
                              R"({"M": 16, "ef_construction": 200, "ef_search": 512})"));
  return dir;
}

// 150 profiles, among them a group of 6 with the very same text (equal vectors, equal
// distances to any query) whose ids do not sort in the order they are written.
std::vector<Doc> corpus() {
  static const char* roles[] = {"Forklift Operator", "CNC Operator",       "Order Picker", "Loader",
                                "Shipping Clerk",    "Warehouse Associate"};
  static const char* cities[] = {"Reno, NV", "Memphis, TN", "Dayton, OH", "Tulsa, OK"};
  std::vector<Doc> out;
  for (int i = 0; i < 144; ++i) {
    std::string role = roles[i % 6];
    out.push_back({"w" + std::to_string(1000 + (i * 37) % 144),
                   role + " with " + std::to_string(i % 9 + 1) + " years in " + cities[i % 4] +
                       (i % 5 == 0 ? ", OSHA 10" : "") + (i % 7 == 0 ? ", night shift" : ""),
                   "{\"role\": " + jstr(role) + "}"});
  }
  for (const char* id : {"twin-e", "twin-b", "twin-f", "twin-a", "twin-d", "twin-c"})
    out.push_back({id, "Forklift Operator, reach truck, cold storage, Memphis TN",
                   R"({"role": "Forklift Operator"})"});
  return out;
}

void create(HttpClient& c, const HostProcess& h, const std::string& name,
            const std::string& backend) {
  const std::string body = backend.empty() ? "{}" : "{\"vector_backend\": " + jstr(backend) + "}";
  ASSERT_EQ(c.put(h.url("/v1/collections/" + name), body).status, 201) << name;
}

void load(HttpClient& c, const HostProcess& h, const std::string& name, std::vector<Doc> docs,
          size_t batch) {
  for (size_t i = 0; i < docs.size(); i += batch) {
    std::vector<Doc> part(docs.begin() + i, docs.begin() + std::min(docs.size(), i + batch));
    ASSERT_TRUE(
        json_ok(c.post(h.url("/v1/collections/" + name + "/documents"), documents_body(part)), 200))
        << name;
  }
}

const std::vector<std::string> kSearches = {
    R"({"query": "Forklift Operator", "k": 10})",
    R"({"query": "Forklift Operator, reach truck, cold storage, Memphis TN", "k": 3})",
    R"({"query": "Forklift Operator, reach truck, cold storage, Memphis TN", "k": 6})",
    R"({"query": "Forklift Operator, reach truck, cold storage, Memphis TN", "k": 8})",
    R"({"query": "night shift loader in Reno", "k": 25})",
    R"({"query": "CNC machinist OSHA", "k": 1})",
    R"({"query": "warehouse", "k": 150})",
    R"({"query": "Shipping Clerk", "k": 5, "filter": {"role": "Shipping Clerk"}})",
};

// Each search's "results" array, as the exact bytes the host sent (doubles with all digits).
std::vector<std::string> answers(HttpClient& c, const HostProcess& h, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& q : kSearches) {
    rapidjson::Document d;
    EXPECT_TRUE(json_ok(c.post(h.url("/v1/collections/" + name + "/search"), q), 200, &d)) << q;
    out.push_back(d.IsObject() ? to_json(d["results"]) : "");
  }
  return out;
}

TEST(Determinism, SameAnswersWhateverOrderBatchesAndBackend) {
  HostProcess host(Options().manifests(manifests_with_three_backends()));
  HttpClient c;
  auto docs = corpus();

  create(c, host, "in_order", "");
  load(c, host, "in_order", docs, 10);

  // Reversed, one document at a time, with history: some written twice, some deleted and
  // written again, so the index's internal layout differs from in_order's.
  create(c, host, "reversed", "");
  auto reversed = docs;
  std::reverse(reversed.begin(), reversed.end());
  load(c, host, "reversed", reversed, 1);
  load(c, host, "reversed", {docs.begin(), docs.begin() + 20}, 7);
  for (int i = 30; i < 40; ++i)
    ASSERT_EQ(c.del(host.url("/v1/collections/reversed/documents/" + docs[i].id)).status, 204);
  load(c, host, "reversed", {docs.begin() + 30, docs.begin() + 40}, 3);

  std::mt19937 rng(9);
  auto shuffled = docs;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  create(c, host, "faiss_hnsw", "faiss-hnsw");
  load(c, host, "faiss_hnsw", shuffled, 64);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  create(c, host, "hnswlib", "hnswlib");
  load(c, host, "hnswlib", shuffled, 5);

  const auto want = answers(c, host, "in_order");
  for (const char* other : {"reversed", "faiss_hnsw", "hnswlib"}) {
    const auto got = answers(c, host, other);
    for (size_t i = 0; i < kSearches.size(); ++i)
      EXPECT_EQ(got[i], want[i]) << other << ": " << kSearches[i];
  }

  // Equal distances are ordered by id, also where k cuts through them.
  auto results = parse_json(want[1]);
  ASSERT_EQ(results.Size(), 3u);
  EXPECT_STREQ(results[0]["id"].GetString(), "twin-a");
  EXPECT_STREQ(results[1]["id"].GetString(), "twin-b");
  EXPECT_STREQ(results[2]["id"].GetString(), "twin-c");
  results = parse_json(want[3]);
  ASSERT_EQ(results.Size(), 8u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(results[i]["id"].GetString(), std::string("twin-") + char('a' + i));
    EXPECT_EQ(to_json(results[i]["distance"]), to_json(results[0]["distance"]));
  }
}

// What a client sees of the demo: searches, a matrix search with a playbook boost and an
// injection, all as the exact response bytes.
std::string demo_answers(HttpClient& c, const HostProcess& h) {
  std::string out;
  for (const char* q : {R"({"query": "Forklift Operator", "k": 10})",
                        R"({"query": "CNC Operator second shift", "k": 50})",
                        R"({"query": "picker packer with OSHA 10", "k": 7})"}) {
    auto r = c.post(h.url("/v1/collections/workers/search"), q);
    out += std::to_string(r.status) + " " + r.body + "\n";
  }
  for (
      const char* rec :
      {R"({"query": "Forklift Operator", "role": "Forklift Operator", "id": "w0052", "score": 1.0, "collection": "workers"})",
       R"({"query": "Forklift Operator", "role": "Forklift Operator", "id": "w0190", "score": 0.5, "collection": "workers"})"})
    EXPECT_EQ(c.post(h.url("/v1/matrix/playbooks/record"), rec).status, 201);
  auto r = c.post(
      h.url("/v1/matrix/search"),
      R"({"query": "Forklift Operator", "role": "Forklift Operator", "k": 5, "collection": "workers"})");
  out += std::to_string(r.status) + " " + r.body + "\n";
  return out;
}

TEST(Determinism, EveryKernelLevelGivesTheSameBits) {
  std::string reference, reference_level;
  for (const char* level : {"sse2", "avx2", "avx512"}) {
    HostProcess host(Options().demo().env("LAKEHOST_SIMD", level));
    HttpClient c;
    rapidjson::Document plugins;
    ASSERT_TRUE(json_ok(c.get(host.url("/v1/plugins")), 200, &plugins));
    const std::string kernel = plugins["vector_kernel"]["kernel"].GetString();
    const std::string detected = plugins["vector_kernel"]["detected"].GetString();
    // The level asked for, unless this CPU lacks it (then its best).
    const std::vector<std::string> order = {"scalar", "sse2", "avx2", "avx512"};
    auto rank = [&](const std::string& l) { return std::find(order.begin(), order.end(), l); };
    EXPECT_EQ(kernel, *std::min(rank(level), rank(detected))) << level;
    EXPECT_NE(host.log().find("vector kernel: " + kernel), std::string::npos);
    EXPECT_NE(c.get(host.url("/metrics"))
                  .body.find("lakehost_vector_kernel_info{kernel=\"" + kernel + "\""),
              std::string::npos);

    const std::string got = demo_answers(c, host);
    EXPECT_NE(got.find("\"injected\""), std::string::npos);
    if (reference.empty()) {
      reference = got;
      reference_level = kernel;
    } else {
      EXPECT_EQ(got, reference) << kernel << " vs " << reference_level;
    }
  }
}

}  // namespace
}  // namespace lakehost::e2e
