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

struct HttpResponse {
  HttpResponse(int s = 200, std::string b = "", std::string type = "application/json")
      : status(s), body(std::move(b)), content_type(std::move(type)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;  // the Allow header of a 405
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
