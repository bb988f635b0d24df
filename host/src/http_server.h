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

#include "metrics.h"

namespace lakehost {

struct HttpRequest {
  std::string method;
  std::string path;
  const std::string* body = nullptr;
  std::vector<std::string> params;  // {placeholders} of the route, URL-decoded, in order
  std::function<std::optional<std::string>(const std::string&)> query;
};

// Sends one chunk of a streamed body at once; false when the client is gone.
using StreamWrite = std::function<bool(std::string_view chunk)>;

struct HttpResponse {
  HttpResponse(int s = 200, std::string b = "", std::string type = "application/json")
      : status(s), body(std::move(b)), content_type(std::move(type)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;  // the Allow header of a 405

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
  void route(const std::string& method, const std::string& pattern, HttpHandler handler);

  void start();  // binds and serves on background threads
  void stop();
  uint16_t port() const;

  // Exposed for tests of the router: dispatches without a socket.
  HttpResponse dispatch(const std::string& method, const std::string& raw_path,
                        const std::string& body,
                        const std::function<std::optional<std::string>(const std::string&)>& q,
                        RouteMetrics** metrics_out = nullptr) const;

  static HttpResponse error(int status, const std::string& code, const std::string& message);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakehost
