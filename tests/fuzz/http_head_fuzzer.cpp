// Fuzz target: a request as the server receives it, bytes from the socket to a handler. The
// input is what one connection sends (several pipelined requests allowed), framed as
// PistacheHandler::onInput in host/src/http/server.cpp frames it: each head (request line and
// headers, at most 64 KiB) goes through parse_request_head (host/src/http/head.cpp: framing,
// refusals, the API key presented), then head and exactly Content-Length body bytes go through
// Pistache's own Http::RequestParser (feed, parse), and a complete request is dispatched by the
// router (path splitting, percent-decoding of the placeholders and the query, key checks) with
// the credential its head presented, on an HttpServer that has API keys and a few routes.
//
// Properties beyond "no crash": every answer the server would write (refusals from the head or
// from Pistache's exceptions, router and key refusals, handler answers) is valid UTF-8 JSON
// with a 4xx/2xx status (no 500); an accepted head announces at most the body limit; a key read
// from the headers is printable ASCII within 512 bytes.
#include <pistache/http.h>
#include <spdlog/spdlog.h>

#include <fstream>

#include "common/json.h"
#include "fuzz_input.h"
#include "fuzz_scratch.h"
#include "http/api_keys.h"
#include "http/head.h"
#include "http/metrics.h"
#include "http/server.h"

using namespace lakehost;
using namespace Pistache;

namespace {

constexpr size_t kMaxHead = 64 * 1024;  // as http_server.cpp
constexpr size_t kMaxBody = 64 * 1024;

void check_json(const HttpResponse& r) {
  if (r.status == 500) std::fprintf(stderr, "500: %s\n", r.body.c_str());
  LAKEHOST_FUZZ_CHECK(r.status >= 200 && r.status < 600 && r.status != 500);
  rapidjson::Document d;
  const auto err = json::parse(r.body, d);
  if (err) std::fprintf(stderr, "not JSON (%s): %s\n", err->c_str(), r.body.c_str());
  LAKEHOST_FUZZ_CHECK(!err);
}

// Echoes what the router handed the handler, as JSON.
HttpResponse echo(const HttpRequest& req) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartArray();
  for (const auto& p : req.params)
    if (json::is_clean_text(p)) json::put(w, p);
  if (auto prefix = req.query("prefix"); prefix && json::is_clean_text(*prefix))
    json::put(w, *prefix);
  w.EndArray();
  return {200, buf.GetString()};
}

struct Fixture {
  Metrics metrics;
  std::unique_ptr<ApiKeys> keys;
  std::unique_ptr<HttpServer> server;
  Fixture() {
    spdlog::set_level(spdlog::level::off);
    const auto file = fuzz::scratch_dir() / "keys.json";
    // Keys "lh_reader" (read, collection "workers" only) and "lh_admin" (everything).
    std::ofstream(file) << R"({"keys": [{"name": "reader", "sha256": ")" +
                               to_hex(sha256_of("lh_reader")) +
                               R"(", "scopes": ["read"], "collections": ["workers"]},
                                    {"name": "admin", "sha256": ")" +
                               to_hex(sha256_of("lh_admin")) +
                               R"(", "scopes": ["read", "write", "admin"]}]})";
    keys = std::make_unique<ApiKeys>(file);
    HttpOptions o;
    o.max_body_bytes = kMaxBody;
    server = std::make_unique<HttpServer>(o, metrics);
    server->route("GET", "/health", open_route(), echo);
    server->route("GET", "/v1/collections/{name}/documents/{id}", {Scope::read, 0}, echo);
    server->route("POST", "/v1/collections/{name}/search", {Scope::read, 0}, echo);
    server->route("PUT", "/v1/storage/{key}", {Scope::write, -1, true}, echo);
    server->route("GET", "/v1/storage", {Scope::read, -1, true}, echo);
    server->route("POST", "/v1/admin/reload", {Scope::admin, -1, true}, echo);
    server->set_api_keys(keys.get());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Http::RequestParser parser(kMaxBody + kMaxHead);
  for (int request = 0; request < 8 && !in.empty(); ++request) {
    const size_t end = in.substr(0, kMaxHead).find("\r\n\r\n");
    try {
      if (end == std::string_view::npos) {
        // An incomplete head: the server feeds it to Pistache, which may refuse the line early.
        if (in.size() < kMaxHead && parser.feed(in.data(), in.size())) (void)parser.parse();
        return 0;
      }
      const std::string_view head = in.substr(0, end + 4);
      in.remove_prefix(head.size());
      RequestHead h = parse_request_head(head, kMaxBody);
      if (h.credential.kind == Credential::Kind::key) {
        LAKEHOST_FUZZ_CHECK(!h.credential.key.empty() && h.credential.key.size() <= 512);
        for (unsigned char c : h.credential.key) LAKEHOST_FUZZ_CHECK(c > 0x20 && c < 0x7f);
      }
      if (h.refusal) {
        check_json(*h.refusal);
        return 0;
      }
      LAKEHOST_FUZZ_CHECK(h.content_length <= kMaxBody);
      // The router's own pieces, on the path as the head reader saw it.
      for (const auto& segment : split_path(h.path)) (void)url_decode(segment);

      const std::string_view body = in.substr(0, h.content_length);
      in.remove_prefix(body.size());
      if (!parser.feed(head.data(), head.size()) ||
          (!body.empty() && !parser.feed(body.data(), body.size())))
        throw Http::HttpError(Http::Code::Request_Entity_Too_Large, "request exceeds the buffer");
      if (parser.parse() != Http::Private::State::Done) {
        // Pistache wants more than the head announced: the server answers 400 and closes.
        return 0;
      }
      const auto& req = parser.request;
      const auto& query = req.query();
      auto q = [&](const std::string& k) -> std::optional<std::string> {
        auto v = query.get(k);
        if (!v) return v;
        std::replace(v->begin(), v->end(), '+', ' ');
        return url_decode(*v);
      };
      HttpResponse r = f.server->dispatch(Http::methodString(req.method()), req.resource(),
                                          req.body(), q, nullptr, h.credential);
      check_json(r);
      parser.reset();
    } catch (const Http::HttpError& e) {
      check_json(malformed_request(e.code(), e.reason()));
      return 0;
    } catch (const std::exception& e) {
      check_json(malformed_request(400, e.what()));
      return 0;
    }
  }
  return 0;
}
