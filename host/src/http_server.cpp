#include "http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "api_error.h"
#include "json_util.h"

namespace lakehost {
using namespace Pistache;

namespace {

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{x}" marks a parameter
  HttpHandler handler;
  RouteMetrics* metrics;
};

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::string> url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !isxdigit(static_cast<unsigned char>(s[i + 2])))
        return std::nullopt;
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

struct HttpServer::Impl {
  HttpOptions options;
  Metrics& metrics;
  std::vector<Route> routes;
  RouteMetrics* unmatched;
  std::shared_ptr<Http::Endpoint> endpoint;

  Impl(HttpOptions o, Metrics& m)
      : options(std::move(o)), metrics(m), unmatched(m.route("ANY", "unmatched")) {}

  void handle(const Http::Request& req, Http::ResponseWriter writer);
  HttpResponse dispatch(const std::string& method, const std::string& raw_path,
                        const std::string& body,
                        const std::function<std::optional<std::string>(const std::string&)>& q,
                        RouteMetrics** metrics_out) const;
};

namespace {

class PistacheHandler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(PistacheHandler)
  explicit PistacheHandler(HttpServer::Impl* impl) : impl_(impl) {}

  void onRequest(const Http::Request& req, Http::ResponseWriter writer) override {
    impl_->handle(req, std::move(writer));
  }

  // Pistache's own onInput (0.0.5) answers a request it cannot parse, or one larger than its
  // buffer, in plain text and keeps the connection open while the client goes on sending. This
  // is the same parse loop, but those answers carry our JSON envelope and close the connection.
  void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override {
    auto parser = getParser(peer);
    auto& request = parser->request;
    try {
      if (!parser->feed(buffer, len)) {
        parser->reset();
        reject(peer, request.version(), Http::Code::Request_Entity_Too_Large,
               HttpServer::error(413, "body_too_large",
                                 "the request is larger than " +
                                     std::to_string(impl_->options.max_body_bytes) +
                                     " bytes of body plus 64 KiB of headers"));
        return;
      }
      if (parser->parse() == Http::Private::State::Done) {
        Http::ResponseWriter response(request.version(), transport(), this, peer);
        request.copyAddress(peer->address());
        peer->setIdle(false);
        onRequest(request, std::move(response));
        parser->reset();
      }
    } catch (const Http::HttpError& e) {
      const int code = e.code();
      parser->reset();
      reject(peer, Http::Version::Http11, static_cast<Http::Code>(code),
             HttpServer::error(code, code == 413 ? "body_too_large" : "bad_request",
                               std::string("malformed HTTP request: ") + e.reason()));
    } catch (const std::exception& e) {
      // Pistache's parser throws std:: exceptions too (a Content-Length of "-1" -> stoull):
      // the request is malformed. Errors of our own handlers never get here (handle() answers).
      parser->reset();
      reject(peer, Http::Version::Http11, Http::Code::Bad_Request,
             HttpServer::error(400, "bad_request",
                               std::string("malformed HTTP request: ") + e.what()));
    }
  }

 private:
  // Answers with the envelope and closes the connection once the answer is out.
  void reject(const std::shared_ptr<Tcp::Peer>& peer, Http::Version version, Http::Code code,
              const HttpResponse& r) {
    Http::ResponseWriter writer(version, transport(), this, peer);
    writer.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
    writer.send(code, r.body, MIME(Application, Json))
        .then([peer](ssize_t) { ::shutdown(peer->fd(), SHUT_RDWR); },
              [peer](std::exception_ptr) { ::shutdown(peer->fd(), SHUT_RDWR); });
  }

  HttpServer::Impl* impl_;
};

}  // namespace

HttpResponse HttpServer::error(int status, const std::string& code, const std::string& message) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "error");
  w.StartObject();
  json::key(w, "code");
  json::put(w, code);
  json::key(w, "message");
  json::put(w, message);
  w.EndObject();
  w.EndObject();
  return {status, buf.GetString(), "application/json"};
}

HttpServer::HttpServer(HttpOptions options, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(const std::string& method, const std::string& pattern, HttpHandler handler) {
  impl_->routes.push_back(
      {method, split_path(pattern), std::move(handler), impl_->metrics.route(method, pattern)});
}

HttpResponse HttpServer::dispatch(
    const std::string& method, const std::string& raw_path, const std::string& body,
    const std::function<std::optional<std::string>(const std::string&)>& q,
    RouteMetrics** metrics_out) const {
  return impl_->dispatch(method, raw_path, body, q, metrics_out);
}

HttpResponse HttpServer::Impl::dispatch(
    const std::string& method, const std::string& raw_path, const std::string& body,
    const std::function<std::optional<std::string>(const std::string&)>& q,
    RouteMetrics** metrics_out) const {
  if (metrics_out) *metrics_out = unmatched;
  if (body.size() > options.max_body_bytes) {
    return error(413, "body_too_large",
                 "the request body is " + std::to_string(body.size()) + " bytes; the limit is " +
                     std::to_string(options.max_body_bytes));
  }
  auto segments = split_path(raw_path);
  std::vector<std::string> allowed;
  for (const auto& r : routes) {
    if (r.segments.size() != segments.size()) continue;
    std::vector<std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const auto& s = r.segments[i];
      if (!s.empty() && s.front() == '{') {
        auto decoded = url_decode(segments[i]);
        if (!decoded) return error(400, "bad_request", "malformed percent-encoding in the path");
        params.push_back(*decoded);
      } else {
        match = s == segments[i];
      }
    }
    if (!match) continue;
    if (r.method != method) {
      allowed.push_back(r.method);
      continue;
    }
    if (metrics_out) *metrics_out = r.metrics;
    HttpRequest req{method, raw_path, &body, std::move(params), q};
    try {
      return r.handler(req);
    } catch (const ApiError& e) {
      return error(e.status(), e.code(), e.what());
    } catch (const std::exception& e) {
      spdlog::error("{} {}: {}", method, raw_path, e.what());
      return error(500, "internal", e.what());
    }
  }
  if (!allowed.empty()) {
    std::string list;
    for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    auto r = error(405, "method_not_allowed",
                   method + " is not allowed on " + raw_path + "; allowed: " + list);
    r.allow = list;
    return r;
  }
  return error(404, "route_not_found", "no route " + method + " " + raw_path);
}

void HttpServer::Impl::handle(const Http::Request& req, Http::ResponseWriter writer) {
  const auto start = std::chrono::steady_clock::now();
  const std::string method = Http::methodString(req.method());
  const auto& query = req.query();
  RouteMetrics* rm = nullptr;
  HttpResponse resp = [&] {
    try {
      // Query values arrive percent-encoded (and '+' for space, as HTML forms send them).
      auto param = [&](const std::string& k) -> std::optional<std::string> {
        auto v = query.get(k);
        if (!v) return v;
        std::replace(v->begin(), v->end(), '+', ' ');
        return url_decode(*v);
      };
      return dispatch(method, req.resource(), req.body(), param, &rm);
    } catch (...) {
      return HttpServer::error(500, "internal", "unexpected error");
    }
  }();

  // Keep-alive workaround (Pistache 0.0.5 bug 1): the library answers an HTTP/1.1 request
  // without a Connection header with "Connection: Close". Restore HTTP/1.1 semantics: keep the
  // connection unless the client asked to close (or spoke HTTP/1.0 without keep-alive).
  bool client_close = false;
  if (auto c = req.headers().tryGet<Http::Header::Connection>())
    client_close = c->control() == Http::ConnectionControl::Close;
  else
    client_close = req.version() == Http::Version::Http10;
  writer.headers().remove<Http::Header::Connection>();
  writer.headers().add<Http::Header::Connection>(client_close ? Http::ConnectionControl::Close
                                                              : Http::ConnectionControl::KeepAlive);
  if (!resp.allow.empty()) {
    // Pistache 0.0.5 does not write raw headers: use its typed Allow header.
    std::vector<Http::Method> methods;
    for (const char* m : {"GET", "PUT", "POST", "DELETE"})
      if (resp.allow.find(m) != std::string::npos)
        methods.push_back(m[0] == 'G'   ? Http::Method::Get
                          : m[1] == 'U' ? Http::Method::Put
                          : m[0] == 'P' ? Http::Method::Post
                                        : Http::Method::Delete);
    writer.headers().add<Http::Header::Allow>(methods);
  }
  auto peer = writer.getPeer();
  auto mime = Http::Mime::MediaType::fromString(resp.content_type);
  auto sent = writer.send(static_cast<Http::Code>(resp.status), resp.body, mime);
  if (client_close && peer) {
    // Bug 2: after "Connection: Close" Pistache leaves the socket open. Close it ourselves once
    // the response is on the wire.
    sent.then([peer](ssize_t) { ::shutdown(peer->fd(), SHUT_RDWR); },
              [peer](std::exception_ptr) { ::shutdown(peer->fd(), SHUT_RDWR); });
  }
  if (rm)
    rm->observe(resp.status,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void HttpServer::start() {
  auto& o = impl_->options;
  Address addr(o.host, Port(o.port));
  impl_->endpoint = std::make_shared<Http::Endpoint>(addr);
  auto opts = Http::Endpoint::options()
                  .threads(o.threads)
                  .flags(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay)
                  .maxRequestSize(o.max_body_bytes + 64 * 1024)  // headers' allowance
                  .maxResponseSize(256u << 20)
                  .headerTimeout(o.header_timeout)
                  .bodyTimeout(o.body_timeout)
                  .keepaliveTimeout(o.keepalive_timeout);
  impl_->endpoint->init(opts);
  impl_->endpoint->setHandler(Http::make_handler<PistacheHandler>(impl_.get()));
  impl_->endpoint->serveThreaded();
}

void HttpServer::stop() {
  if (impl_ && impl_->endpoint) {
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

uint16_t HttpServer::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0;
}

}  // namespace lakehost
