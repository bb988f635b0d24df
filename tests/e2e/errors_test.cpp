// Every error status of BRIEF §5 that the implemented routes can produce, each with the JSON
// envelope {"error": {"code", "message"}} and a message naming the offending field; and the
// all-or-nothing rule for batches.
#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

std::string search_url(const HostProcess& h, const std::string& coll = "workers") {
  return h.url("/v1/collections/" + coll + "/search");
}

class Errors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { host_ = new HostProcess(Options().demo()); }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  // Each test checks the host is still healthy and the demo corpus intact afterwards: a bad
  // request never crashes the host or corrupts data.
  void TearDown() override {
    HttpClient c;
    rapidjson::Document d;
    ASSERT_TRUE(json_ok(c.get(host_->url("/v1/collections/workers")), 200, &d));
    EXPECT_EQ(d["count"].GetUint64(), 200u);
  }
  static HostProcess* host_;
  HttpClient c;
};
HostProcess* Errors::host_ = nullptr;

TEST_F(Errors, MalformedJsonIs400) {
  const auto& h = *host_;
  for (const std::string& body :
       std::vector<std::string>{"{not json", "{\"query\": \"x\",}", "", "\"\\ud800", "[1, 2"}) {
    EXPECT_TRUE(is_error(c.post(search_url(h), body), 400, "malformed_json")) << body;
  }
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), "{\"texts\": [\"a\""), 400, "malformed_json"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embeddings"), "nope"), 400, "malformed_json"));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/x"), "{"), 400, "malformed_json"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/collections/workers/documents"), "{\"documents\": [}"),
                       400, "malformed_json"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/x")), 404, "collection_not_found"))
      << "a PUT with malformed JSON must not create the collection";
}

TEST_F(Errors, WrongTypesAre400NamingTheField) {
  const auto& h = *host_;
  EXPECT_TRUE(is_error(c.post(search_url(h), "[1]"), 400, "bad_request", "object"));
  EXPECT_TRUE(
      is_error(c.post(search_url(h), R"({"query": "x", "k": "3"})"), 400, "bad_request", "/k"));
  EXPECT_TRUE(
      is_error(c.post(search_url(h), R"({"query": "x", "k": 2.5})"), 400, "bad_request", "/k"));
  EXPECT_TRUE(
      is_error(c.post(search_url(h), R"({"query": "x", "k": true})"), 400, "bad_request", "/k"));
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"query": 5})"), 400, "bad_request", "/query"));
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"k": 3})"), 400, "bad_request", "/query"));
  EXPECT_TRUE(
      is_error(c.post(search_url(h), R"({"vector": "1,2"})"), 400, "bad_request", "/vector"));
  EXPECT_TRUE(
      is_error(c.post(search_url(h), R"({"vector": [1, "2"]})"), 400, "bad_request", "/vector/1"));
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"query": "x", "filter": ["role"]})"), 400,
                       "bad_request", "/filter"));
  EXPECT_TRUE(
      is_error(c.post(h.url("/v1/embed"), R"({"texts": "abc"})"), 400, "bad_request", "/texts"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), R"({"texts": ["a", 7]})"), 400, "bad_request",
                       "/texts/1"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), R"({})"), 400, "bad_request", "/texts"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), R"({"texts": ["a"], "model": 3})"), 400,
                       "bad_request", "/model"));
  EXPECT_TRUE(
      is_error(c.post(h.url("/v1/embeddings"), R"({"input": 3})"), 400, "bad_request", "/input"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embeddings"), R"({"input": ["a", {}]})"), 400,
                       "bad_request", "/input/1"));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/typed"), R"({"embedder": 1})"), 400,
                       "bad_request", "/embedder"));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/typed"), R"({"vector_backend": []})"), 400,
                       "bad_request", "/vector_backend"));
  auto docs = h.url("/v1/collections/workers/documents");
  EXPECT_TRUE(is_error(c.post(docs, R"({"documents": {}})"), 400, "bad_request", "/documents"));
  EXPECT_TRUE(is_error(c.post(docs, R"({})"), 400, "bad_request", "/documents"));
  EXPECT_TRUE(
      is_error(c.post(docs, R"({"documents": ["x"]})"), 400, "bad_request", "/documents/0"));
  EXPECT_TRUE(is_error(c.post(docs, R"({"documents": [{"id": 1, "text": "t"}]})"), 400,
                       "bad_request", "/documents/0/id"));
  EXPECT_TRUE(is_error(c.post(docs, R"({"documents": [{"id": "a"}]})"), 400, "bad_request",
                       "/documents/0/text"));
  EXPECT_TRUE(
      is_error(c.post(docs, R"({"documents": [{"id": "a", "text": "t", "metadata": [1]}]})"), 400,
               "bad_request", "/documents/0/metadata"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/workers/documents/bad%zzid")), 400,
                       "bad_request", "percent"));
}

TEST_F(Errors, UnknownThingsAre404) {
  const auto& h = *host_;
  EXPECT_TRUE(is_error(c.get(h.url("/v1/nothing")), 404, "route_not_found"));
  EXPECT_TRUE(is_error(c.get(h.url("/")), 404, "route_not_found"));
  EXPECT_TRUE(
      is_error(c.post(h.url("/v2/collections/workers/search"), "{}"), 404, "route_not_found"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/workers/documents/w0001/extra")), 404,
                       "route_not_found"));
  // Unknown collection on every collection route, naming it.
  EXPECT_TRUE(
      is_error(c.get(h.url("/v1/collections/ghost")), 404, "collection_not_found", "ghost"));
  EXPECT_TRUE(is_error(c.del(h.url("/v1/collections/ghost")), 404, "collection_not_found"));
  EXPECT_TRUE(
      is_error(c.post(h.url("/v1/collections/ghost/documents"), documents_body({{"a", "t", ""}})),
               404, "collection_not_found"));
  EXPECT_TRUE(
      is_error(c.get(h.url("/v1/collections/ghost/documents/a")), 404, "collection_not_found"));
  EXPECT_TRUE(
      is_error(c.del(h.url("/v1/collections/ghost/documents/a")), 404, "collection_not_found"));
  EXPECT_TRUE(
      is_error(c.post(search_url(h, "ghost"), R"({"query": "x"})"), 404, "collection_not_found"));
  // Unknown document.
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/workers/documents/w9999")), 404,
                       "document_not_found", "w9999"));
  EXPECT_TRUE(
      is_error(c.del(h.url("/v1/collections/workers/documents/w9999")), 404, "document_not_found"));
  // Unknown model on the OpenAI-compatible route (an unknown plugin id elsewhere is a 422).
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embeddings"), R"({"input": "a", "model": "gpt-x"})"), 404,
                       "model_not_found", "gpt-x"));
}

TEST_F(Errors, WrongMethodIs405) {
  const auto& h = *host_;
  EXPECT_TRUE(is_error(c.post(h.url("/health"), "{}"), 405, "method_not_allowed", "GET"));
  EXPECT_TRUE(is_error(c.del(h.url("/metrics")), 405, "method_not_allowed"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/admin/reload")), 405, "method_not_allowed", "POST"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/embed")), 405, "method_not_allowed"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/collections"), "{}"), 405, "method_not_allowed"));
  EXPECT_TRUE(is_error(c.request("PATCH", h.url("/v1/collections/workers"), "{}", true), 405,
                       "method_not_allowed"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/workers/search")), 405, "method_not_allowed"));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/workers/documents/w0001"), "{}"), 405,
                       "method_not_allowed"));
}

TEST_F(Errors, ValidationFailuresAre422) {
  const auto& h = *host_;
  for (const char* k : {"0", "-1", "-1000"})
    EXPECT_TRUE(is_error(c.post(search_url(h), std::string("{\"query\": \"x\", \"k\": ") + k + "}"),
                         422, "validation_failed", "/k"))
        << k;
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"query": "x", "k": 1000000})"), 422,
                       "validation_failed", "/k"));
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"vector": [1, 0, 0]})"), 422, "dimension_mismatch",
                       "/vector"));
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"vector": []})"), 422, "dimension_mismatch"));
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"query": "x", "vector": [1]})"), 422,
                       "validation_failed"));
  std::string zeros = "[0";
  for (int i = 1; i < 384; ++i) zeros += ",0";
  zeros += "]";
  EXPECT_TRUE(is_error(c.post(search_url(h), "{\"vector\": " + zeros + "}"), 422,
                       "validation_failed", "/vector"));

  for (const std::string& name :
       std::vector<std::string>{"bad.name", "a%20b", "%C3%BC", std::string(65, 'n')})
    EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/" + name), "{}"), 422, "invalid_name"))
        << name;
  EXPECT_TRUE(json_ok(c.put(h.url("/v1/collections/" + std::string(64, 'n')), "{}"), 201));
  EXPECT_EQ(c.del(h.url("/v1/collections/" + std::string(64, 'n'))).status, 204);
  EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/x1"), R"({"embedder": "nope"})"), 422,
                       "unknown_plugin", "/embedder"));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/collections/x1"), R"({"vector_backend": "nope"})"), 422,
                       "unknown_plugin", "/vector_backend"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/x1")), 404, "collection_not_found"));
  // A plugin id in the body that names no enabled plugin of that kind.
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), R"({"texts": ["a"], "model": "gpt-x"})"), 422,
                       "unknown_plugin", "gpt-x"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embed"), R"({"texts": ["a"], "model": "vector-faiss"})"),
                       422, "unknown_plugin", "vector-faiss"));
  EXPECT_TRUE(is_error(c.post(search_url(h), R"({"query": "x", "scorer": "nope"})"), 422,
                       "unknown_plugin", "nope"));

  EXPECT_TRUE(
      is_error(c.post(h.url("/v1/embed"), R"({"texts": []})"), 422, "validation_failed", "/texts"));
  EXPECT_TRUE(is_error(c.post(h.url("/v1/embeddings"), R"({"input": []})"), 422,
                       "validation_failed", "/input"));
  auto docs = h.url("/v1/collections/workers/documents");
  EXPECT_TRUE(
      is_error(c.post(docs, R"({"documents": []})"), 422, "validation_failed", "/documents"));
  EXPECT_TRUE(is_error(c.post(docs, documents_body({{"", "empty id", ""}})), 422,
                       "validation_failed", "/documents/0/id"));
  EXPECT_TRUE(is_error(c.post(docs, documents_body({{"dup", "one", ""}, {"dup", "two", ""}})), 422,
                       "validation_failed", "/documents/1/id"));
  EXPECT_TRUE(
      is_error(c.get(h.url("/v1/collections/workers/documents/dup")), 404, "document_not_found"));
}

// Text every storage backend can keep: NUL bytes and invalid UTF-8 are refused up front (422)
// or cannot name anything (404), and never echoed into a response as broken JSON.
TEST_F(Errors, NulAndInvalidUtf8AreRefusedBeforeStorage) {
  const auto& h = *host_;
  auto docs = h.url("/v1/collections/workers/documents");
  EXPECT_TRUE(is_error(c.post(docs, R"({"documents": [{"id": "a\u0000b", "text": "t"}]})"), 422,
                       "validation_failed", "/documents/0/id"));
  EXPECT_TRUE(is_error(c.post(docs, R"({"documents": [{"id": "ok", "text": "x\u0000y"}]})"), 422,
                       "validation_failed", "/documents/0/text"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/collections/workers/documents/%FF%FE")), 404,
                       "document_not_found", "UTF-8"));
  EXPECT_TRUE(
      is_error(c.get(h.url("/v1/collections/workers/documents/a%00b")), 404, "document_not_found"));
  EXPECT_TRUE(
      is_error(c.del(h.url("/v1/collections/workers/documents/%C3")), 404, "document_not_found"));
  EXPECT_TRUE(is_error(c.get(h.url("/v1/matrix/playbooks?collection=%FF")), 404,
                       "collection_not_found", "UTF-8"));
  EXPECT_TRUE(is_error(c.del(h.url("/v1/matrix/playbooks/%FF?collection=workers")), 404,
                       "playbook_not_found"));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/storage/%FFkey"), "v"), 422, "validation_failed", "UTF-8"));
  EXPECT_TRUE(is_error(c.put(h.url("/v1/storage/a%00b"), "v"), 422, "validation_failed"));
  // Valid multi-byte UTF-8 is of course fine.
  EXPECT_EQ(c.put(h.url("/v1/storage/%C3%BC"), "v").status, 201);
  EXPECT_EQ(c.del(h.url("/v1/storage/%C3%BC")).status, 204);
}

TEST(ErrorsConflict, PutWithAnotherExistingEmbedderIs409) {
  std::string dir = test::copy_default_manifests();
  test::write_file(dir + "/embed-hash-64.json", embed_manifest("embed-hash-64", 64, false));
  HostProcess host(Options().manifests(dir));
  HttpClient c;
  ASSERT_TRUE(json_ok(c.put(host.url("/v1/collections/c"), "{}"), 201));
  EXPECT_TRUE(is_error(c.put(host.url("/v1/collections/c"), R"({"embedder": "embed-hash-64"})"),
                       409, "conflict", "embed-hash"));
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/c")), 200, &d));
  EXPECT_STREQ(d["embedder"].GetString(), "embed-hash") << "a 409 changes nothing";
  EXPECT_EQ(d["dimension"].GetUint(), 384u);
}

TEST(Errors413, BodyOverTheLimitIs413AndJustUnderPasses) {
  HostProcess host(Options().args({"--max-body-bytes", "1024"}));
  HttpClient c;
  auto body_of_size = [](size_t n) {
    std::string head = "{\"texts\": [\"", tail = "\"]}";
    return head + std::string(n - head.size() - tail.size(), 'a') + tail;
  };
  ASSERT_EQ(body_of_size(2000).size(), 2000u);
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/embed"), body_of_size(2000)), 413, "body_too_large", "1024"));
  EXPECT_TRUE(is_error(c.post(host.url("/v1/embed"), body_of_size(1025)), 413, "body_too_large"));
  rapidjson::Document d;
  EXPECT_TRUE(json_ok(c.post(host.url("/v1/embed"), body_of_size(1024)), 200, &d));
  EXPECT_TRUE(json_ok(c.post(host.url("/v1/embed"), body_of_size(1000)), 200, &d));
  EXPECT_EQ(d["dimension"].GetUint(), 384u);

  // A rejected batch stores nothing.
  ASSERT_EQ(c.put(host.url("/v1/collections/small"), "").status, 201);
  std::string big = documents_body({{"big", std::string(2000, 'x'), ""}});
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/collections/small/documents"), big), 413, "body_too_large"));
  EXPECT_TRUE(
      is_error(c.get(host.url("/v1/collections/small/documents/big")), 404, "document_not_found"));
  EXPECT_EQ(c.get(host.url("/health")).status, 200);
}

// A body larger than --max-body-bytes + 64 KiB (Pistache's buffer) never reaches the router: the
// host's input handler answers the JSON 413 itself and closes the connection.
TEST(Errors413, FarOversizedBodyGetsTheEnvelopeAndIsClosed) {
  HostProcess host(Options().args({"--max-body-bytes", "1024"}));
  RawSocket s(host.port());
  ASSERT_TRUE(s.connected());
  std::string body = "{\"texts\": [\"" + std::string(200000, 'a') + "\"]}";
  s.send(
      "POST /v1/embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  auto resp = s.read_response(std::chrono::seconds(5));
  ASSERT_TRUE(resp);
  EXPECT_EQ(status_of(*resp), 413);
  HttpResult r;
  r.status = 413;
  r.body = resp->substr(resp->find("\r\n\r\n") + 4);
  r.headers["content-type"] = "application/json";
  EXPECT_TRUE(is_error(r, 413, "body_too_large"));
  EXPECT_TRUE(s.wait_closed(std::chrono::seconds(5)));
}

TEST(Errors503, NoScorerEnabled) {
  HostProcess host(Options().manifests(manifests_without_kind("retrieval_scorer")).demo());
  HttpClient c;
  EXPECT_TRUE(is_error(c.post(search_url(host), R"({"query": "Forklift Operator", "k": 3})"), 503,
                       "no_retrieval_scorer"));
  std::string v = "[1";
  for (int i = 1; i < 384; ++i) v += ",0";
  EXPECT_TRUE(
      is_error(c.post(search_url(host), "{\"vector\": " + v + "]}"), 503, "no_retrieval_scorer"));
  // Everything that needs no scorer still works.
  EXPECT_EQ(c.get(host.url("/health")).status, 200);
  EXPECT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["a"]})"), 200));
  EXPECT_TRUE(json_ok(c.get(host.url("/v1/collections/workers/documents/w0001")), 200));
  // Validation still comes first where it can: unknown collection is 404, bad k 422.
  EXPECT_TRUE(is_error(c.post(search_url(host, "ghost"), R"({"query": "x"})"), 404,
                       "collection_not_found"));
  EXPECT_TRUE(
      is_error(c.post(search_url(host), R"({"query": "x", "k": 0})"), 422, "validation_failed"));
}

TEST(Errors503, NoStorageEnabled) {
  HostProcess host(Options().manifests(manifests_without_kind("storage_backend")));
  HttpClient c;
  EXPECT_TRUE(is_error(c.put(host.url("/v1/collections/c"), "{}"), 503, "no_storage_backend"));
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections")), 200, &d));
  EXPECT_EQ(d["collections"].Size(), 0u);
  EXPECT_EQ(c.get(host.url("/health")).status, 200);
  EXPECT_TRUE(json_ok(c.post(host.url("/v1/embed"), R"({"texts": ["a"]})"), 200));
}

TEST(Errors503, NoEmbedderEnabled) {
  HostProcess host(Options().manifests(manifests_without_kind("embed_provider")));
  HttpClient c;
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/embed"), R"({"texts": ["a"]})"), 503, "no_embed_provider"));
  EXPECT_TRUE(
      is_error(c.post(host.url("/v1/embeddings"), R"({"input": "a"})"), 503, "no_embed_provider"));
  EXPECT_TRUE(is_error(c.put(host.url("/v1/collections/c"), "{}"), 503, "no_embed_provider"));
}

TEST(Batches, OneInvalidDocumentStoresNoneOfTheBatch) {
  HostProcess host;
  HttpClient c;
  rapidjson::Document d;
  auto docs = host.url("/v1/collections/team/documents");
  ASSERT_EQ(c.put(host.url("/v1/collections/team"), "").status, 201);
  ASSERT_TRUE(
      json_ok(c.post(docs, documents_body({{"keep", "original text", R"({"v": 1})"}})), 200));

  // The second document's text is a number: 400, and neither document is stored.
  EXPECT_TRUE(is_error(c.post(docs, R"({"documents": [{"id": "first", "text": "fine"},
                                    {"id": "second", "text": 42}]})"),
                       400, "bad_request", "/documents/1/text"));
  // A batch that would also replace an existing document leaves it as it was.
  EXPECT_TRUE(is_error(c.post(docs, R"({"documents": [{"id": "keep", "text": "changed"},
                                                     {"id": "first", "text": "fine"},
                                                     {"id": "third", "text": "t", "metadata": 3}]})"),
                       400, "bad_request", "/documents/2/metadata"));
  EXPECT_TRUE(is_error(
      c.post(docs, documents_body(
                       {{"keep", "changed", ""}, {"first", "fine", ""}, {"first", "again", ""}})),
      422, "validation_failed", "appears twice"));
  EXPECT_TRUE(is_error(c.post(docs, documents_body({{"keep", "changed", ""},
                                                    {"first", "fine", ""},
                                                    {std::string(600, 'i'), "long id", ""}})),
                       422, "validation_failed", "/documents/2/id"));

  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/team")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 1u);
  EXPECT_TRUE(
      is_error(c.get(host.url("/v1/collections/team/documents/first")), 404, "document_not_found"));
  EXPECT_TRUE(is_error(c.get(host.url("/v1/collections/team/documents/second")), 404,
                       "document_not_found"));
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/team/documents/keep")), 200, &d));
  EXPECT_STREQ(d["text"].GetString(), "original text");
  ASSERT_TRUE(json_ok(
      c.post(host.url("/v1/collections/team/search"), R"({"query": "fine changed", "k": 10})"), 200,
      &d));
  EXPECT_EQ(result_ids(d), std::vector<std::string>{"keep"});

  // ... and the rejected batches stay rejected after a restart (nothing half-written).
  host.stop();
  host.start();
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/collections/team")), 200, &d));
  EXPECT_EQ(d["count"].GetUint64(), 1u);
  EXPECT_EQ(c.get(host.url("/v1/collections/team/documents/first")).status, 404);
}

}  // namespace
}  // namespace lakehost::e2e
