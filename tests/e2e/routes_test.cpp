// Every route of BRIEF §5 (host/src/http/routes_*.cpp), with the response shapes clients
// rely on. Error statuses are in errors_test.cpp.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>

#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

std::string sha256sum(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "";
  char buf[256] = {0};
  std::string out = std::fgets(buf, sizeof buf, p) ? buf : "";
  ::pclose(p);
  return out.substr(0, 64);
}

double norm(const rapidjson::Value& v) {
  double s = 0;
  for (const auto& x : v.GetArray()) s += x.GetDouble() * x.GetDouble();
  return std::sqrt(s);
}

// Distances are cosine distances, ascending, in [0, 2].
void expect_well_formed_results(const rapidjson::Document& d) {
  ASSERT_TRUE(d.HasMember("results") && d["results"].IsArray());
  double prev = -1;
  for (const auto& r : d["results"].GetArray()) {
    ASSERT_TRUE(r.HasMember("id") && r["id"].IsString());
    ASSERT_TRUE(r.HasMember("distance") && r["distance"].IsNumber());
    ASSERT_TRUE(r.HasMember("text") && r["text"].IsString());
    ASSERT_TRUE(r.HasMember("metadata") && r["metadata"].IsObject());
    double dist = r["distance"].GetDouble();
    EXPECT_GE(dist, -1e-5);
    EXPECT_LE(dist, 2 + 1e-5);
    EXPECT_GE(dist, prev - 1e-6) << "results are not in ascending distance";
    prev = dist;
  }
}

TEST(Routes, HealthReportsOkAndGeneration) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  auto r = c.get(host.url("/health"));
  ASSERT_TRUE(json_ok(r, 200, &d));
  EXPECT_STREQ(d["status"].GetString(), "ok");
  ASSERT_TRUE(d["generation"].IsUint64());
  EXPECT_EQ(d["generation"].GetUint64(), 1u);
  EXPECT_NE(r.headers["content-type"].find("application/json"), std::string::npos);
}

TEST(Routes, MetricsArePrometheusText) {
  HostProcess host(Options().demo());
  HttpClient c;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.get(host.url("/health")).status, 200);
  ASSERT_EQ(c.get(host.url("/v1/collections/nope")).status, 404);
  ASSERT_EQ(c.get(host.url("/no/such/route")).status, 404);

  auto r = c.get(host.url("/metrics"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].rfind("text/plain", 0), 0u) << r.headers["content-type"];
  std::string m = r.body;
  EXPECT_NE(m.find("# TYPE lakehost_http_requests_total counter"), std::string::npos);
  EXPECT_EQ(
      metric(m, "lakehost_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}"),
      3.0);
  EXPECT_EQ(metric(m,
                   "lakehost_http_requests_total{method=\"GET\",route=\"/v1/collections/"
                   "{name}\",status=\"404\"}"),
            1.0);
  EXPECT_TRUE(metric(m,
                     "lakehost_http_requests_total{method=\"ANY\",route=\"unmatched\","
                     "status=\"404\"}"))
      << m;
  // A latency histogram per route: cumulative buckets, +Inf equal to the count.
  EXPECT_NE(m.find("# TYPE lakehost_http_request_duration_seconds histogram"), std::string::npos);
  auto inf = metric(m,
                    "lakehost_http_request_duration_seconds_bucket{method=\"GET\",route=\"/"
                    "health\",le=\"+Inf\"}");
  auto count = metric(m,
                      "lakehost_http_request_duration_seconds_count{method=\"GET\",route=\"/"
                      "health\"}");
  ASSERT_TRUE(inf && count) << m;
  EXPECT_EQ(*inf, 3.0);
  EXPECT_EQ(*count, 3.0);
  EXPECT_TRUE(metric(m,
                     "lakehost_http_request_duration_seconds_sum{method=\"GET\",route=\"/"
                     "health\"}"));
  EXPECT_EQ(metric(m, "lakehost_generation"), 1.0);
  EXPECT_EQ(metric(m, "lakehost_reloads_total{result=\"ok\"}"), 1.0);
  EXPECT_EQ(metric(m, "lakehost_reloads_total{result=\"failed\"}"), 0.0);
  EXPECT_EQ(metric(m, "lakehost_collection_documents{collection=\"workers\"}"), 200.0);

  // The gauges follow reloads and writes.
  ASSERT_EQ(c.post(host.url("/v1/admin/reload"), "").status, 200);
  ASSERT_EQ(c.del(host.url("/v1/collections/workers/documents/w0001")).status, 204);
  m = c.get(host.url("/metrics")).body;
  EXPECT_EQ(metric(m, "lakehost_generation"), 2.0);
  EXPECT_EQ(metric(m, "lakehost_reloads_total{result=\"ok\"}"), 2.0);
  EXPECT_EQ(metric(m, "lakehost_collection_documents{collection=\"workers\"}"), 199.0);
}

TEST(Routes, PluginsListsEveryEnabledPluginWithItsProvenance) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/plugins")), 200, &d));
  EXPECT_EQ(d["generation"].GetUint64(), generation(c, host));
  ASSERT_TRUE(d["plugins"].IsArray());
  std::set<std::string> kinds, ids;
  const std::regex hex("[0-9a-f]{64}"), abi("[0-9]+\\.[0-9]+");
  for (const auto& p : d["plugins"].GetArray()) {
    for (const char* f : {"id", "kind", "name", "version", "abi", "library", "sha256", "manifest"})
      ASSERT_TRUE(p.HasMember(f) && p[f].IsString()) << f << " in " << to_json(p);
    ids.insert(p["id"].GetString());
    kinds.insert(p["kind"].GetString());
    EXPECT_GT(p["name"].GetStringLength(), 0u);
    EXPECT_GT(p["version"].GetStringLength(), 0u);
    EXPECT_TRUE(std::regex_match(p["abi"].GetString(), abi)) << p["abi"].GetString();
    const std::string lib = p["library"].GetString();
    EXPECT_TRUE(std::filesystem::is_regular_file(lib)) << lib;
    EXPECT_TRUE(std::regex_match(p["sha256"].GetString(), hex));
    EXPECT_EQ(p["sha256"].GetString(), sha256sum(lib)) << lib;
    const std::string manifest = p["manifest"].GetString();
    EXPECT_EQ(std::filesystem::path(manifest).parent_path(),
              std::filesystem::path(host.options().manifests_dir));
    EXPECT_EQ(std::filesystem::path(manifest).extension(), ".json");
  }
  // Exactly the enabled manifests, with their kinds; the four embedded defaults among them.
  std::set<std::string> expected_ids, expected_kinds;
  for (const auto& m : read_manifests(host.options().manifests_dir)) {
    if (!m.enabled) continue;
    expected_ids.insert(m.id);
    expected_kinds.insert(m.kind);
  }
  EXPECT_EQ(ids, expected_ids);
  EXPECT_EQ(kinds, expected_kinds);
  for (const char* id : {"embed-hash", "scorer-cosine", "storage-sqlite", "vector-faiss"})
    EXPECT_EQ(ids.count(id), 1u) << id;
  EXPECT_EQ(kinds, (std::set<std::string>{"embed_provider", "retrieval_scorer", "storage_backend",
                                          "vector_backend"}));
}

TEST(Routes, AdminReloadReturnsTheNewGeneration) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/admin/reload"), ""), 200, &d));
  EXPECT_EQ(d["generation"].GetUint64(), 2u);
  ASSERT_TRUE(d["plugins"].IsArray());
  size_t enabled = 0;
  for (const auto& m : read_manifests(host.options().manifests_dir)) enabled += m.enabled;
  EXPECT_EQ(d["plugins"].Size(), enabled);
  EXPECT_EQ(generation(c, host), 2u);
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/admin/reload"), "{}"), 200, &d));
  EXPECT_EQ(d["generation"].GetUint64(), 3u);
}

TEST(Routes, EmbedReturnsUnitVectorsOfTheModelsDimension) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/embed"),
                     R"({"texts": ["Forklift Operator", "CNC Operator", "Forklift Operator"]})"),
              200, &d));
  EXPECT_STREQ(d["model"].GetString(), "embed-hash");
  EXPECT_EQ(d["dimension"].GetUint(), 384u);
  ASSERT_EQ(d["vectors"].Size(), 3u);
  for (const auto& v : d["vectors"].GetArray()) {
    ASSERT_EQ(v.Size(), 384u);
    EXPECT_NEAR(norm(v), 1.0, 1e-4);
  }
  EXPECT_TRUE(d["vectors"][0] == d["vectors"][2]) << "same text, same vector";
  EXPECT_FALSE(d["vectors"][0] == d["vectors"][1]);

  // Naming the model explicitly gives the same answer.
  rapidjson::Document d2;
  ASSERT_TRUE(json_ok(
      c.post(host.url("/v1/embed"), R"({"texts": ["Forklift Operator"], "model": "embed-hash"})"),
      200, &d2));
  EXPECT_TRUE(d2["vectors"][0] == d["vectors"][0]);
}

TEST(Routes, EmbedWithASecondEmbedderUsesItsDimension) {
  std::string dir = test::copy_default_manifests();
  test::write_file(dir + "/embed-hash-64.json", embed_manifest("embed-hash-64", 64, false));
  HostProcess host(Options().manifests(dir));
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["Loader"], "model": "embed-hash-64"})"),
              200, &d));
  EXPECT_STREQ(d["model"].GetString(), "embed-hash-64");
  EXPECT_EQ(d["dimension"].GetUint(), 64u);
  ASSERT_EQ(d["vectors"][0].Size(), 64u);
  EXPECT_NEAR(norm(d["vectors"][0]), 1.0, 1e-4);
  // Without a model the default (384-d) embedder answers.
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["Loader"]})"), 200, &d));
  EXPECT_STREQ(d["model"].GetString(), "embed-hash");
}

TEST(Routes, EmbeddingsSpeaksTheOpenAIShape) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d, one, native;
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/embeddings"),
                             R"({"input": ["Forklift Operator", "night shift loader", "CNC"],
                                 "model": "embed-hash"})"),
                      200, &d));
  EXPECT_STREQ(d["object"].GetString(), "list");
  EXPECT_STREQ(d["model"].GetString(), "embed-hash");
  ASSERT_EQ(d["data"].Size(), 3u);
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    const auto& e = d["data"][i];
    EXPECT_STREQ(e["object"].GetString(), "embedding");
    EXPECT_EQ(e["index"].GetUint(), i);
    ASSERT_EQ(e["embedding"].Size(), 384u);
    EXPECT_NEAR(norm(e["embedding"]), 1.0, 1e-4);
  }
  ASSERT_TRUE(d["usage"].IsObject());
  EXPECT_GT(d["usage"]["prompt_tokens"].GetUint64(), 0u);
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetUint64(), d["usage"]["total_tokens"].GetUint64());

  // A single string input; and the vectors agree with /v1/embed.
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/embeddings"), R"({"input": "Forklift Operator"})"), 200, &one));
  ASSERT_EQ(one["data"].Size(), 1u);
  EXPECT_EQ(one["data"][0]["index"].GetUint(), 0u);
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["Forklift Operator"]})"), 200, &native));
  EXPECT_TRUE(one["data"][0]["embedding"] == native["vectors"][0]);
  EXPECT_TRUE(d["data"][0]["embedding"] == native["vectors"][0]);
}

TEST(Routes, CollectionLifecycle) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  auto coll = host.url("/v1/collections/staff_2024-a");

  ASSERT_TRUE(json_ok(c.put(coll, "{}"), 201, &d));
  EXPECT_STREQ(d["name"].GetString(), "staff_2024-a");
  EXPECT_EQ(d["count"].GetUint64(), 0u);
  EXPECT_EQ(d["dimension"].GetUint(), 384u);
  EXPECT_STREQ(d["embedder"].GetString(), "embed-hash");
  EXPECT_STREQ(d["vector_backend"].GetString(), "vector-faiss");

  // Idempotent: the second PUT answers 200.
  ASSERT_TRUE(json_ok(c.put(coll, "{}"), 200, &d));
  // An empty body counts as {}.
  ASSERT_TRUE(json_ok(c.put(host.url("/v1/collections/second"), ""), 201, &d));

  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections")), 200, &d));
  ASSERT_TRUE(d["collections"].IsArray());
  std::set<std::string> names;
  for (const auto& x : d["collections"].GetArray()) {
    for (const char* f : {"name", "embedder", "vector_backend"}) ASSERT_TRUE(x[f].IsString());
    ASSERT_TRUE(x["count"].IsUint64());
    ASSERT_TRUE(x["dimension"].IsUint());
    names.insert(x["name"].GetString());
  }
  EXPECT_EQ(names, (std::set<std::string>{"staff_2024-a", "second"}));

  ASSERT_TRUE(json_ok(c.get(coll), 200, &d));
  EXPECT_STREQ(d["name"].GetString(), "staff_2024-a");

  auto deleted = c.del(coll);
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_TRUE(is_error(c.get(coll), 404, "collection_not_found", "staff_2024-a"));
  EXPECT_TRUE(is_error(c.del(coll), 404, "collection_not_found"));
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections")), 200, &d));
  EXPECT_EQ(d["collections"].Size(), 1u);
  // Re-creating after delete starts empty.
  ASSERT_TRUE(json_ok(c.put(coll, ""), 201, &d));
  EXPECT_EQ(d["count"].GetUint64(), 0u);
}

// Re-PUT of a collection created without ids, naming the plugins it actually uses, is not a
// conflict. (The first version of the collection PUT compared the requested ids with the stored
// optional settings, where "none" means the default, and answered 409 here.)
TEST(Routes, CollectionPutNamingTheDefaultsItUsesIsNotAConflict) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  auto coll = host.url("/v1/collections/defaults");
  ASSERT_TRUE(json_ok(c.put(coll, "{}"), 201, &d));
  EXPECT_TRUE(json_ok(c.put(coll, R"({"embedder": "embed-hash"})"), 200));
  EXPECT_TRUE(json_ok(c.put(coll, R"({"vector_backend": "vector-faiss"})"), 200));
  EXPECT_TRUE(json_ok(
      c.put(coll, R"({"embedder": "embed-hash", "vector_backend": "vector-faiss"})"), 200, &d));
}

TEST(Routes, CollectionPutConflictsWithAnotherEmbedder) {
  std::string dir = test::copy_default_manifests();
  test::write_file(dir + "/embed-hash-64.json", embed_manifest("embed-hash-64", 64, false));
  HostProcess host(Options().manifests(dir));
  HttpClient c;
  rapidjson::Document d;
  auto coll = host.url("/v1/collections/small");
  ASSERT_TRUE(json_ok(c.put(coll, R"({"embedder": "embed-hash-64"})"), 201, &d));
  EXPECT_EQ(d["dimension"].GetUint(), 64u);
  EXPECT_STREQ(d["embedder"].GetString(), "embed-hash-64");
  EXPECT_TRUE(is_error(c.put(coll, R"({"embedder": "embed-hash"})"), 409, "conflict", "small"));
  // The same embedder, or none named, is not a conflict.
  EXPECT_TRUE(json_ok(c.put(coll, R"({"embedder": "embed-hash-64"})"), 200));
  EXPECT_TRUE(json_ok(c.put(coll, "{}"), 200, &d));
  EXPECT_STREQ(d["embedder"].GetString(), "embed-hash-64");

  // The collection embeds with its own embedder: documents, query and vector search in 64-d.
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/small/documents"),
                             documents_body({{"a", "forklift operator night shift", ""},
                                             {"b", "cnc machinist lathe", ""}})),
                      200));
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/collections/small/search"), R"({"query": "forklift", "k": 1})"),
              200, &d));
  ASSERT_EQ(d["results"].Size(), 1u);
  EXPECT_STREQ(d["results"][0]["id"].GetString(), "a");
  std::string v64 = "[1";
  for (int i = 1; i < 64; ++i) v64 += ",0";
  v64 += "]";
  EXPECT_TRUE(json_ok(
      c.post(host.url("/v1/collections/small/search"), "{\"vector\": " + v64 + ", \"k\": 2}"),
      200));
}

TEST(Routes, DocumentsUpsertGetReplaceDelete) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  ASSERT_EQ(c.put(host.url("/v1/collections/people"), "{}").status, 201);
  auto docs = host.url("/v1/collections/people/documents");
  ASSERT_TRUE(json_ok(
      c.post(
          docs,
          documents_body(
              {{"p1", "Forklift operator, 5 years, OSHA certified",
                R"({"role": "Forklift Operator", "years": 5, "certifications": ["OSHA 10", "Hazmat"]})"},
               {"p2", "CNC machinist on 3-axis mills", R"({"role": "CNC Operator"})"},
               {"p3", "Order picker with RF scanner experience", ""},
               {"id with spaces/and ü", "unicode id ✓", R"({"nested": {"a": [1, 2]}})"}})),
      200, &d));
  EXPECT_EQ(d["upserted"].GetUint64(), 4u);

  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people/documents/p1")), 200, &d));
  EXPECT_STREQ(d["id"].GetString(), "p1");
  EXPECT_STREQ(d["text"].GetString(), "Forklift operator, 5 years, OSHA certified");
  EXPECT_STREQ(d["metadata"]["role"].GetString(), "Forklift Operator");
  EXPECT_EQ(d["metadata"]["years"].GetInt(), 5);
  EXPECT_EQ(d["metadata"]["certifications"].Size(), 2u);
  // No metadata given: {}.
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people/documents/p3")), 200, &d));
  EXPECT_TRUE(d["metadata"].IsObject() && d["metadata"].ObjectEmpty());
  // Percent-encoded ids round-trip.
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people/documents/"
                                     "id%20with%20spaces%2Fand%20%C3%BC")),
                      200, &d));
  EXPECT_STREQ(d["id"].GetString(), "id with spaces/and ü");
  EXPECT_STREQ(d["text"].GetString(), "unicode id ✓");
  EXPECT_EQ(d["metadata"]["nested"]["a"][1].GetInt(), 2);

  // Upserting an existing id replaces it; the count does not grow.
  ASSERT_TRUE(json_ok(
      c.post(docs, documents_body({{"p2", "Welder, MIG and TIG", R"({"role": "Welder"})"}})), 200));
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people/documents/p2")), 200, &d));
  EXPECT_STREQ(d["text"].GetString(), "Welder, MIG and TIG");
  EXPECT_STREQ(d["metadata"]["role"].GetString(), "Welder");
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 4u);
  ASSERT_TRUE(json_ok(
      c.post(host.url("/v1/collections/people/search"), R"({"query": "MIG TIG welder", "k": 1})"),
      200, &d));
  ASSERT_EQ(d["results"].Size(), 1u);
  EXPECT_STREQ(d["results"][0]["id"].GetString(), "p2");
  EXPECT_STREQ(d["results"][0]["text"].GetString(), "Welder, MIG and TIG");

  auto deleted = c.del(host.url("/v1/collections/people/documents/p2"));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(is_error(c.get(host.url("/v1/collections/people/documents/p2")), 404,
                       "document_not_found", "p2"));
  EXPECT_TRUE(
      is_error(c.del(host.url("/v1/collections/people/documents/p2")), 404, "document_not_found"));
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/people")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 3u);
  // A deleted document is no longer found by search.
  ASSERT_TRUE(json_ok(
      c.post(host.url("/v1/collections/people/search"), R"({"query": "MIG TIG welder", "k": 10})"),
      200, &d));
  for (const auto& id : result_ids(d)) EXPECT_NE(id, "p2");
  EXPECT_EQ(d["results"].Size(), 3u);
}

TEST(Routes, DemoSearchFindsForkliftOperators) {
  HostProcess host(Options().demo());
  HttpClient c;
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 200u);
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             R"({"query": "Forklift Operator", "k": 3})"),
                      200, &d));
  expect_well_formed_results(d);
  ASSERT_EQ(d["results"].Size(), 3u);
  for (const auto& r : d["results"].GetArray())
    EXPECT_STREQ(r["metadata"]["role"].GetString(), "Forklift Operator") << to_json(r);
  // k defaults to 10.
  ASSERT_TRUE(json_ok(
      c.post(host.url("/v1/collections/workers/search"), R"({"query": "Forklift Operator"})"), 200,
      &d));
  EXPECT_EQ(d["results"].Size(), 10u);
  expect_well_formed_results(d);
}

TEST(Routes, SearchByVectorFindsTheDocumentItself) {
  HostProcess host(Options().demo());
  HttpClient c;
  rapidjson::Document doc, emb, d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/workers/documents/w0042")), 200, &doc));
  ASSERT_TRUE(
      json_ok(c.post(host.url("/v1/embed"), "{\"texts\": [" + jstr(doc["text"].GetString()) + "]}"),
              200, &emb));
  std::string body = "{\"vector\": " + to_json(emb["vectors"][0]) + ", \"k\": 5}";
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"), body), 200, &d));
  expect_well_formed_results(d);
  ASSERT_EQ(d["results"].Size(), 5u);
  EXPECT_STREQ(d["results"][0]["id"].GetString(), "w0042");
  EXPECT_NEAR(d["results"][0]["distance"].GetDouble(), 0.0, 1e-4);
  EXPECT_STREQ(d["results"][0]["text"].GetString(), doc["text"].GetString());
  EXPECT_TRUE(d["results"][0]["metadata"] == doc["metadata"]);

  // A client vector need not be unit length: the host normalises it.
  rapidjson::Document scaled;
  scaled.CopyFrom(emb["vectors"][0], scaled.GetAllocator());
  for (auto& x : scaled.GetArray()) x.SetDouble(x.GetDouble() * 7.5);
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             "{\"vector\": " + to_json(scaled) + ", \"k\": 5}"),
                      200, &d));
  EXPECT_STREQ(d["results"][0]["id"].GetString(), "w0042");
  EXPECT_NEAR(d["results"][0]["distance"].GetDouble(), 0.0, 1e-4);
}

TEST(Routes, SearchFilterMatchesScalarAndArrayValuedMetadata) {
  HostProcess host(Options().demo());
  HttpClient c;
  rapidjson::Document d;
  // Scalar field: every result has that role, and there are k of them.
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             R"({"query": "Forklift Operator", "k": 5,
                                 "filter": {"role": "CNC Operator"}})"),
                      200, &d));
  ASSERT_EQ(d["results"].Size(), 5u);
  for (const auto& r : d["results"].GetArray())
    EXPECT_STREQ(r["metadata"]["role"].GetString(), "CNC Operator");

  // Array field: matches when the array contains the value. 13 workers hold "Hazmat".
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             R"({"query": "Forklift Operator", "k": 50,
                                 "filter": {"certifications": "Hazmat"}})"),
                      200, &d));
  expect_well_formed_results(d);
  EXPECT_EQ(d["results"].Size(), 13u);
  for (const auto& r : d["results"].GetArray()) {
    bool has = false;
    for (const auto& cert : r["metadata"]["certifications"].GetArray())
      has = has || std::string(cert.GetString()) == "Hazmat";
    EXPECT_TRUE(has) << to_json(r);
  }

  // Two keys: both must hold. Vector search honours the filter too.
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             R"({"query": "warehouse", "k": 100,
                                 "filter": {"role": "Forklift Operator",
                                            "certifications": "Hazmat"}})"),
                      200, &d));
  ASSERT_GE(d["results"].Size(), 1u);
  for (const auto& r : d["results"].GetArray())
    EXPECT_STREQ(r["metadata"]["role"].GetString(), "Forklift Operator");
  rapidjson::Document emb;
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["forklift"]})"), 200, &emb));
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             "{\"vector\": " + to_json(emb["vectors"][0]) +
                                 ", \"k\": 3, \"filter\": {\"shift\": \"weekend\"}}"),
                      200, &d));
  ASSERT_EQ(d["results"].Size(), 3u);
  for (const auto& r : d["results"].GetArray())
    EXPECT_STREQ(r["metadata"]["shift"].GetString(), "weekend");

  // A filter nothing matches: an empty list, not an error.
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/workers/search"),
                             R"({"query": "x", "filter": {"role": "Astronaut"}})"),
                      200, &d));
  EXPECT_EQ(d["results"].Size(), 0u);
}

TEST(Routes, SearchOnAnEmptyCollectionReturnsNoResults) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  ASSERT_EQ(c.put(host.url("/v1/collections/empty"), "").status, 201);
  ASSERT_TRUE(json_ok(c.post(host.url("/v1/collections/empty/search"), R"({"query": "anything"})"),
                      200, &d));
  EXPECT_EQ(d["results"].Size(), 0u);
}

}  // namespace
}  // namespace lakehost::e2e
