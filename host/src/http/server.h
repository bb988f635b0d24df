// The HTTP front: Pistache's endpoint with our own small router, the JSON error envelope,
// the body-size limit, per-route metrics, and the two keep-alive workarounds Debian's Pistache
// 0.0.5 needs (see docs/architecture.md, "HTTP").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/api_keys.h"
#include "http/metrics.h"

namespace lakehost {

struct HttpRequest {
  std::string method;
  std::string path;
  const std::string* body = nullptr;
  std::vector<std::string> params;  // {placeholders} of the route, URL-decoded, in order
  std::function<std::optional<std::string>(const std::string&)> query;
  // The API key that authorised the request; null when keys are off or the route is open.
  const ApiKey* key = nullptr;
  std::shared_ptr<const ApiKeySet> keys;  // keeps `key` alive across a reload of the key file

  // Throws 403 when the request's key is limited to collections other than `collection`; routes
  // that name their collection in the body or the query call it (the path's is checked before).
  void require_collection(const std::string& collection) const;
  // False when the request's key may not touch `collection` (for filtering lists).
  bool may_touch(const std::string& collection) const { return !key || key->may_touch(collection); }
};

// Who may call a route when API keys are configured (api_keys.h).
struct Access {
  Scope scope = Scope::none;  // the scope a key needs; none: open to every client
  // The route's {placeholder} (by position) that names the collection it touches, checked
  // against a key limited to collections before the handler runs.
  int collection_param = -1;
  // About no single collection but the whole host (reload, plugins, storage): refused to keys
  // limited to collections.
  bool global = false;
  bool metrics = false;        // GET /metrics: open unless the key file says "metrics": "admin"
  bool openai_errors = false;  // refusals in OpenAI's error object (openai_errors.h)
};
inline Access open_route() { return {}; }

// Sends one chunk of a streamed body at once; false when the client is gone.
using StreamWrite = std::function<bool(std::string_view chunk)>;

struct HttpResponse {
  HttpResponse(int s = 200, std::string b = "", std::string type = "application/json")
      : status(s), body(std::move(b)), content_type(std::move(type)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;             // the Allow header of a 405
  std::string www_authenticate;  // the WWW-Authenticate header of a 401

  // Slow work (a call to an upstream server) that must not hold a network thread: when set, the
  // server runs it on its worker pool and sends what it returns. Errors thrown are answered
  // with the envelope, as for any handler.
  std::function<HttpResponse()> deferred;
  // A body produced piece by piece (server-sent events), also on the worker pool. The first
  // write() sends status 200 with `content_type` and chunked encoding, then every write() is
  // sent at once. If the producer returns (or throws) before writing anything, what it returns
  // is sent as an ordinary response: errors before the first byte keep their HTTP status.
  std::function<HttpResponse(const StreamWrite& write)> stream;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: an ephemeral port (see HttpServer::port)
  int threads = 2;
  size_t max_body_bytes = 16u << 20;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds keepalive_timeout{60000};
  // Threads for deferred and streamed responses (upstream calls), and how many such requests
  // may wait for one; beyond that the answer is 503 `server_busy`.
  int workers = 8;
  size_t worker_queue = 256;
};

class HttpServer {
 public:
  HttpServer(HttpOptions options, Metrics& metrics);
  ~HttpServer();

  // pattern: "/v1/collections/{name}/documents/{id}"; register before start().
  void route(const std::string& method, const std::string& pattern, Access access,
             HttpHandler handler);
  // Checks keys on every route that is not open; without this (or with keys off) all are open.
  void set_api_keys(ApiKeys* keys);

  void start();  // binds and serves on background threads
  void stop();
  uint16_t port() const;

  // Routes one request without a socket: what onInput does once Pistache has parsed it. The
  // http_head fuzzer calls it.
  HttpResponse dispatch(const std::string& method, const std::string& raw_path,
                        const std::string& body,
                        const std::function<std::optional<std::string>(const std::string&)>& q,
                        RouteMetrics** metrics_out = nullptr,
                        const Credential& credential = {}) const;

  static HttpResponse error(int status, const std::string& code, const std::string& message);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakehost
