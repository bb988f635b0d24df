// "Done when" for embed-wordvec, through a real `lakehost serve --demo`: switching the demo
// collection's default embedder from embed-hash to embed-wordvec by editing the manifests and
// reloading re-embeds the live collection; searches keep answering during and after the
// switch; and the brief's paraphrase then finds a Forklift Operator first, which hashing did not.
#include <atomic>
#include <thread>

#include "../e2e/e2e_support.h"
#include "wordvec_support.h"

namespace lakehost::e2e {
namespace {

const char* kQuery = "an employee who can move pallets with a powered truck";

std::string top_role(HttpClient& c, const HostProcess& h, const std::string& query) {
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(
      c.post(h.url("/v1/collections/workers/search"), "{\"query\": " + jstr(query) + ", \"k\": 5}"),
      200, &d));
  if (!d.IsObject() || !d.HasMember("results") || d["results"].Empty()) return "";
  return d["results"][0]["metadata"]["role"].GetString();
}

// The recommended embed-wordvec manifest (manifests/examples/embed-wordvec.json) with absolute
// paths: the committed subset (converted at build time) instead of the fetched full file.
std::string wordvec_manifest() {
  return R"({"id": "embed-wordvec", "kind": "embed_provider", "library": "embed-wordvec.so",
  "enabled": true, "default": true, "config": {"path": )" +
         jstr(wordvec_test::kSubset) + R"(, "idf_corpus": )" + jstr(wordvec_test::kDemoCorpus) +
         R"(, "fusion_weight": 0.7, "hash": {"dimension": 1024}}})";
}

TEST(WordvecE2E, SwitchingTheDemoCollectionToWordVectorsReembedsItLive) {
  const std::string manifests = test::copy_default_manifests();
  HostProcess host(Options().demo().manifests(manifests));
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  ASSERT_STREQ(d["embedder"].GetString(), "embed-hash");
  ASSERT_EQ(d["dimension"].GetUint(), 384u);
  ASSERT_EQ(d["count"].GetUint64(), 200u);
  const std::string hashing_top = top_role(c, host, kQuery);
  EXPECT_NE(hashing_top, "Forklift Operator")
      << "feature hashing already ranked a Forklift Operator first for the paraphrase";

  // Searches from another client while the manifests change and the host reloads.
  struct Searcher {
    std::atomic<bool> stop{false};
    std::atomic<int> searches{0}, failures{0};
    std::string first_failure;
    std::thread thread;
    explicit Searcher(const HostProcess& host) {
      thread = std::thread([this, &host] {
        HttpClient s;
        while (!stop.load()) {
          auto r = s.post(host.url("/v1/collections/workers/search"),
                          R"({"query": "Forklift Operator", "k": 3})");
          auto body = parse_json(r.body);
          if (r.status != 200 || body.HasParseError() || !body.IsObject() ||
              !body.HasMember("results") || body["results"].Size() != 3) {
            if (failures++ == 0) first_failure = std::to_string(r.status) + " " + r.body;
          }
          ++searches;
        }
      });
    }
    ~Searcher() { join(); }  // also when an assertion returns early
    void join() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } searcher(host);
  auto& searches = searcher.searches;

  // The operator's edit: embed-wordvec becomes the default, embed-hash stays enabled.
  test::write_file(manifests + "/embed-wordvec.json", wordvec_manifest());
  const std::string hash_path = manifests + "/embed-hash.json";
  auto hash = parse_json(test::read_file(hash_path));
  ASSERT_FALSE(hash.HasParseError());
  hash["default"].SetBool(false);
  test::write_file(hash_path, to_json(hash));
  while (searches.load() < 5 && searcher.failures.load() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int before_reload = searches.load();
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/admin/reload"), ""), 200, &d)) << host.log();
  EXPECT_EQ(d["generation"].GetUint64(), 2u);
  const int at_reload = searches.load();
  while (searches.load() < at_reload + 20 && searcher.failures.load() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  searcher.join();
  std::cout << "[ wordvec ] " << searches.load() << " searches, " << at_reload - before_reload
            << " of them while the reload ran\n";
  EXPECT_EQ(searcher.failures.load(), 0) << "first failure: " << searcher.first_failure;

  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_STREQ(d["embedder"].GetString(), "embed-wordvec");
  EXPECT_EQ(d["dimension"].GetUint(), 1124u) << "100 word-vector + 1024 hashing dimensions";
  EXPECT_EQ(d["count"].GetUint64(), 200u);
  EXPECT_NE(host.log().find("re-embedding"), std::string::npos) << host.log();
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["forklift"]})"), 200, &d));
  EXPECT_STREQ(d["model"].GetString(), "embed-wordvec");
  EXPECT_EQ(d["dimension"].GetUint(), 1124u);

  EXPECT_EQ(top_role(c, host, kQuery), "Forklift Operator");
  EXPECT_EQ(top_role(c, host, "Forklift Operator"), "Forklift Operator");
  // A document written now is embedded by embed-wordvec too, and found by meaning.
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/documents"),
                             documents_body({{"new-welder",
                                              "Welder: MIG and TIG on stainless steel, reads "
                                              "blueprints, passed AWS D1.1 bend tests.",
                                              R"({"role": "Welder"})"}})),
                      200));
  EXPECT_EQ(top_role(c, host, "fuses metal pieces together with an electric arc"), "Welder");
}

}  // namespace
}  // namespace lakehost::e2e
