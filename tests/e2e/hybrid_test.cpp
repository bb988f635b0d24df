// scorer-hybrid through a real host on the demo corpus: an exact certification term puts every
// profile that carries it before every other profile, where cosine alone does not; a document
// that only BM25 can find is injected; a write or a delete is seen by the next search (the host's
// revision and documents_scan services); a search by vector ranks exactly like scorer-cosine.
#include <lakehost/plugin_api.h>

#include <set>
#include <string>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

// The demo profiles whose metadata lists `certification` (read from the corpus file itself).
std::set<std::string> carriers(const std::string& certification) {
  std::ifstream in(std::string(LAKEHOST_SOURCE_DIR) + "/data/demo/workers.jsonl");
  std::set<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    auto d = parse_json(line);
    if (d.HasParseError() || !d.IsObject()) continue;
    for (const auto& c : d["metadata"]["certifications"].GetArray())
      if (certification == c.GetString()) ids.insert(d["id"].GetString());
  }
  return ids;
}

struct Ranked {
  std::vector<std::string> ids;
  std::vector<double> distances;
  std::vector<bool> injected;  // matrix search only
};

Ranked search(HttpClient& c, const HostProcess& h, const std::string& collection,
              const std::string& body, bool matrix = false) {
  rapidjson::Document d;
  auto r = c.post(h.url(matrix ? "/v1/matrix/search" : "/v1/collections/" + collection + "/search"),
                  body);
  EXPECT_TRUE(json_ok(r, 200, &d)) << body;
  Ranked out;
  if (!d.IsObject()) return out;
  for (const auto& x : d["results"].GetArray()) {
    out.ids.push_back(x["id"].GetString());
    out.distances.push_back(x["distance"].GetDouble());
    out.injected.push_back(matrix && x["injected"].GetBool());
  }
  return out;
}

std::string query_body(const std::string& query, int k, const std::string& scorer) {
  return "{\"query\": " + jstr(query) + ", \"k\": " + std::to_string(k) +
         ", \"scorer\": " + jstr(scorer) + "}";
}

// True when every id of `wanted` is in `ids` and ahead of every id that is not in `wanted`.
::testing::AssertionResult all_first(const std::vector<std::string>& ids,
                                     const std::set<std::string>& wanted) {
  std::string shown;
  for (const auto& id : ids) shown += (wanted.count(id) ? "[" + id + "] " : id + " ");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i < wanted.size() && !wanted.count(ids[i]))
      return ::testing::AssertionFailure()
             << ids[i] << " (without it) is at position " << i + 1 << ": " << shown;
  }
  if (ids.size() < wanted.size())
    return ::testing::AssertionFailure() << "fewer results than carriers: " << shown;
  return ::testing::AssertionSuccess() << shown;
}

class HybridTest : public ::testing::Test {
 protected:
  HostProcess host_{Options().demo()};
  HttpClient client_;
};

}  // namespace

TEST_F(HybridTest, ManifestLoadsItAsANonDefaultScorer) {
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(client_.get(host_.url("/v1/plugins")), 200, &d));
  bool found = false;
  for (const auto& p : d["plugins"].GetArray()) {
    if (std::string(p["id"].GetString()) != "scorer-hybrid") continue;
    found = true;
    EXPECT_EQ(std::string(p["kind"].GetString()), "retrieval_scorer");
    // Every plugin is built against the SDK's current ABI.
    EXPECT_EQ(std::string(p["abi"].GetString()),
              std::to_string(LH_ABI_MAJOR) + "." + std::to_string(LH_ABI_MINOR));
    EXPECT_FALSE(p["default"].GetBool());
  }
  EXPECT_TRUE(found) << "scorer-hybrid is not loaded: " << to_json(d);
}

// IPC-A-610 (a soldering standard) and TWIC Card are each carried by 4 of the 200 profiles.
// The hashing embedder ranks some carriers below look-alike profiles (same role words, same
// city); BM25 on the exact terms does not.
TEST_F(HybridTest, ExactCertificationRanksEveryCarrierFirstWhereCosineDoesNot) {
  for (const std::string cert : {"IPC-A-610", "TWIC Card"}) {
    SCOPED_TRACE(cert);
    const auto wanted = carriers(cert);
    ASSERT_GE(wanted.size(), 2u);
    ASSERT_LE(wanted.size(), 10u);

    auto hybrid = search(client_, host_, "workers", query_body(cert, 10, "scorer-hybrid"));
    EXPECT_TRUE(all_first(hybrid.ids, wanted));
    // Fused distances stay inside the cosine range and ascend.
    for (size_t i = 0; i < hybrid.distances.size(); ++i) {
      EXPECT_GE(hybrid.distances[i], 0.0);
      EXPECT_LE(hybrid.distances[i], 1.0);
      if (i > 0) {
        EXPECT_LE(hybrid.distances[i - 1], hybrid.distances[i]);
      }
    }

    auto cosine = search(client_, host_, "workers", query_body(cert, 10, "scorer-cosine"));
    EXPECT_FALSE(all_first(cosine.ids, wanted)) << "cosine alone already ranks them first";
  }
}

// A collection where the vector side cannot find the document: ten short "zebras" texts share
// most character 3-grams with the query "zebra kx44", while the one profile with badge "kx44"
// is a long text that dilutes its vector. BM25 over the whole collection still finds it.
TEST_F(HybridTest, DocumentOnlyBm25FindsIsInjectedAndWritesAreSeenByTheNextSearch) {
  ASSERT_EQ(client_.put(host_.url("/v1/collections/animals"), "{}").status, 201);
  std::vector<Doc> docs;
  int i = 0;
  for (const char* t :
       {"zebras", "zebras graze", "zebras run fast", "striped zebras", "zebras and foals",
        "herds of zebras", "zebras drink", "young zebras", "zebras rest", "wild zebras"})
    docs.push_back({"decoy" + std::to_string(i++), t, ""});
  docs.push_back({"badge",
                  std::string("Warehouse lead with twelve years of receiving, putaway, ") +
                      "cycle counting and shipping experience; holds badge kx44 for the " +
                      "cold storage area and trains new hires on scanners",
                  ""});
  ASSERT_TRUE(json_ok(
      client_.post(host_.url("/v1/collections/animals/documents"), documents_body(docs)), 200));

  auto matrix_body = [](const std::string& q, const std::string& scorer) {
    return "{\"query\": " + jstr(q) +
           ", \"k\": 2, \"collection\": \"animals\", \"scorer\": " + jstr(scorer) + "}";
  };
  auto find = [](const Ranked& r, const std::string& id) -> int {
    auto it = std::find(r.ids.begin(), r.ids.end(), id);
    return it == r.ids.end() ? -1 : static_cast<int>(it - r.ids.begin());
  };

  // k = 2: the host fetches 2 x 4 = 8 vector candidates, all decoys.
  auto cosine = search(client_, host_, "animals", matrix_body("zebra kx44", "scorer-cosine"), true);
  EXPECT_EQ(find(cosine, "badge"), -1);
  auto hybrid = search(client_, host_, "animals", matrix_body("zebra kx44", "scorer-hybrid"), true);
  int at = find(hybrid, "badge");
  ASSERT_GE(at, 0) << "BM25 did not bring in the only document with kx44";
  EXPECT_TRUE(hybrid.injected[at]);

  // Nothing holds "qz19" yet: this search caches the index at the current revision.
  hybrid = search(client_, host_, "animals", matrix_body("zebra qz19", "scorer-hybrid"), true);
  EXPECT_EQ(find(hybrid, "late"), -1);
  ASSERT_TRUE(json_ok(
      client_.post(host_.url("/v1/collections/animals/documents"),
                   documents_body({{"late",
                                    std::string("Forklift driver on nights with ten years in ") +
                                        "grocery distribution: reach truck, order picker and " +
                                        "pallet jack, cycle counts and loading, holds pass " +
                                        "qz19 for the mezzanine and trains new drivers on " +
                                        "safety walks and equipment checks every shift",
                                    ""}})),
      200));
  hybrid = search(client_, host_, "animals", matrix_body("zebra qz19", "scorer-hybrid"), true);
  at = find(hybrid, "late");
  ASSERT_GE(at, 0) << "the index was not rebuilt after the write";
  EXPECT_TRUE(hybrid.injected[at]);

  ASSERT_EQ(client_.del(host_.url("/v1/collections/animals/documents/late")).status, 204);
  hybrid = search(client_, host_, "animals", matrix_body("zebra qz19", "scorer-hybrid"), true);
  EXPECT_EQ(find(hybrid, "late"), -1) << "the index still holds a deleted document";
}

TEST_F(HybridTest, SearchByVectorRanksLikeCosine) {
  rapidjson::Document e;
  ASSERT_TRUE(json_ok(client_.post(host_.url("/v1/embed"), R"({"texts": ["forklift operator"]})"),
                      200, &e));
  const std::string vector = to_json(e["vectors"][0]);
  auto body = [&](const std::string& scorer) {
    return "{\"vector\": " + vector + ", \"k\": 10, \"scorer\": " + jstr(scorer) + "}";
  };
  auto hybrid = search(client_, host_, "workers", body("scorer-hybrid"));
  auto cosine = search(client_, host_, "workers", body("scorer-cosine"));
  ASSERT_EQ(hybrid.ids.size(), 10u);
  EXPECT_EQ(hybrid.ids, cosine.ids);
  EXPECT_EQ(hybrid.distances, cosine.distances);
}

}  // namespace lakehost::e2e
