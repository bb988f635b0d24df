// Data survives restarts: a clean stop (SIGTERM) and a kill -9 right after an acknowledged write.
#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

std::vector<Doc> sample_docs(int n, const std::string& prefix) {
  static const char* roles[] = {"Forklift Operator", "CNC Operator",       "Order Picker", "Loader",
                                "Shipping Clerk",    "Warehouse Associate"};
  std::vector<Doc> out;
  for (int i = 0; i < n; ++i) {
    std::string role = roles[i % 6];
    out.push_back({prefix + std::to_string(i),
                   role + " number " + std::to_string(i) + " with " + std::to_string(i % 7 + 1) +
                       " years in " + (i % 2 ? "Reno, NV" : "Memphis, TN") + " (profile " + prefix +
                       std::to_string(i) + ")",
                   "{\"role\": " + jstr(role) + ", \"years\": " + std::to_string(i % 7 + 1) +
                       ", \"certifications\": [\"OSHA 10\"" + (i % 3 == 0 ? ", \"Hazmat\"" : "") +
                       "]}"});
  }
  return out;
}

// Everything a client can observe about a collection: the collection object, every document,
// and the answers to a few searches.
std::string snapshot(HttpClient& c, const HostProcess& h, const std::string& coll,
                     const std::vector<std::string>& ids) {
  std::string out = c.get(h.url("/v1/collections/" + coll)).body + "\n";
  for (const auto& id : ids) {
    auto r = c.get(h.url("/v1/collections/" + coll + "/documents/" + id));
    out += std::to_string(r.status) + " " + r.body + "\n";
  }
  for (const char* q :
       {R"({"query": "Forklift Operator", "k": 5})",
        R"({"query": "Reno loader", "k": 7, "filter": {"certifications": "Hazmat"}})",
        R"({"query": "years in Memphis", "k": 100})"}) {
    auto r = c.post(h.url("/v1/collections/" + coll + "/search"), q);
    out += std::to_string(r.status) + " " + r.body + "\n";
  }
  return out;
}

TEST(Durability, DocumentsAndSearchResultsSurviveACleanRestart) {
  HostProcess host;
  HttpClient c;
  ASSERT_EQ(c.put(host.url("/v1/collections/people"), "{}").status, 201);
  auto docs = sample_docs(60, "p");
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/collections/people/documents"), documents_body(docs)), 200));
  // Some history: a replacement and a deletion.
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/collections/people/documents"),
                     documents_body({{"p3", "replaced: Welder in Reno", R"({"role": "Welder"})"}})),
              200));
  ASSERT_EQ(c.del(host.url("/v1/collections/people/documents/p4")).status, 204);
  ASSERT_EQ(c.put(host.url("/v1/collections/other"), "{}").status, 201);

  std::vector<std::string> ids;
  for (const auto& d : docs) ids.push_back(d.id);
  const std::string before = snapshot(c, host, "people", ids);
  const std::string list_before = c.get(host.url("/v1/collections")).body;
  ASSERT_NE(before.find("replaced: Welder"), std::string::npos);
  ASSERT_NE(before.find("404 "), std::string::npos) << "p4 was deleted";

  host.stop();
  host.start();
  EXPECT_EQ(snapshot(c, host, "people", ids), before);
  EXPECT_EQ(c.get(host.url("/v1/collections")).body, list_before);

  // And a second time, after more writes on the restarted host.
  ASSERT_TRUE(json_ok(
      c.post(host.url("/v1/collections/people/documents"), documents_body(sample_docs(5, "q"))),
      200));
  for (int i = 0; i < 5; ++i) ids.push_back("q" + std::to_string(i));
  const std::string before2 = snapshot(c, host, "people", ids);
  host.stop();
  host.start();
  EXPECT_EQ(snapshot(c, host, "people", ids), before2);
}

TEST(Durability, AcknowledgedWritesSurviveKill9) {
  HostProcess host;
  HttpClient c;
  ASSERT_EQ(c.put(host.url("/v1/collections/people"), "{}").status, 201);
  host.kill9();  // even the collection itself, created just before
  host.start();
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people")), 200));

  std::vector<std::string> acknowledged;
  for (int round = 0; round < 4; ++round) {
    auto batch = sample_docs(25, "r" + std::to_string(round) + "-");
    auto r = c.post(host.url("/v1/collections/people/documents"), documents_body(batch));
    ASSERT_TRUE(json_ok(r, 200));
    if (round == 2) {
      ASSERT_EQ(c.del(host.url("/v1/collections/people/documents/r0-0")).status, 204);
    }
    host.kill9();  // immediately after the acknowledgement
    for (const auto& d : batch) acknowledged.push_back(d.id);
    host.start();

    rapidjson::Document d;
    ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people")), 200, &d));
    const size_t expected = acknowledged.size() - (round >= 2 ? 1 : 0);
    EXPECT_EQ(d["count"].GetUint64(), expected) << "round " << round;
    for (const auto& doc : batch) {
      rapidjson::Document got;
      ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people/documents/" + doc.id)), 200, &got))
          << "round " << round;
      EXPECT_EQ(got["text"].GetString(), doc.text);
      EXPECT_TRUE(got["metadata"] == parse_json(doc.metadata_json));
    }
    // The restarted index answers from the recovered data.
    ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/people/search"),
                               "{\"query\": " + jstr(batch[7].text) + ", \"k\": 1}"),
                        200, &d));
    ASSERT_EQ(d["results"].Size(), 1u);
    EXPECT_STREQ(d["results"][0]["id"].GetString(), batch[7].id.c_str());
  }
  EXPECT_EQ(c.get(host.url("/v1/collections/people/documents/r0-0")).status, 404)
      << "an acknowledged delete survives kill -9 too";
}

TEST(Durability, DemoCorpusIsLoadedOnceAcrossRestarts) {
  HostProcess host(Options().demo());
  HttpClient c;
  ASSERT_EQ(c.del(host.url("/v1/collections/workers/documents/w0001")).status, 204);
  host.stop();
  host.start();
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 199u) << "the demo corpus is not re-seeded into a non-empty "
                                             "collection";
}

}  // namespace
}  // namespace lakehost::e2e
