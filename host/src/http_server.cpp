#include "http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

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

namespace {
// Runs a handler step; an ApiError becomes its envelope, any other exception a logged 500.
template <typename Fn>
HttpResponse answer(std::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const ApiError& e) {
    return HttpServer::error(e.status(), e.code(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", what, e.what());
    return HttpServer::error(500, "internal", e.what());
  }
}
}  // namespace

// A fixed pool of threads for responses that wait on upstream servers (chat, remote
// embedders): Pistache runs handlers on its few network threads, and one slow upstream call
// there would stall every connection of that thread.
class WorkerPool {
 public:
  WorkerPool(int threads, size_t max_queue) : max_queue_(max_queue) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~WorkerPool() { stop(); }
  // False when the queue is full (the caller answers 503).
  bool post(std::function<void()> task) {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(task));
    cv_.notify_one();
    return true;
  }
  // Finishes queued and running tasks, then joins.
  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }
  size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

struct HttpServer::Impl {
  HttpOptions options;
  Metrics& metrics;
  std::vector<Route> routes;
  RouteMetrics* unmatched;
  std::shared_ptr<Http::Endpoint> endpoint;
  std::unique_ptr<WorkerPool> workers;

  Impl(HttpOptions o, Metrics& m)
      : options(std::move(o)), metrics(m), unmatched(m.route("ANY", "unmatched")) {}

  void handle(const Http::Request& req, Http::ResponseWriter writer);
  void send(Http::ResponseWriter& writer, bool client_close, const HttpResponse& resp);
  void stream(Http::ResponseWriter& writer, bool client_close, const HttpResponse& resp,
              RouteMetrics* rm, std::chrono::steady_clock::time_point start);
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
    return answer(method + " " + raw_path, [&] { return r.handler(req); });
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

  if (resp.deferred || resp.stream) {
    // The writer moves to a worker thread; its writes are queued to this network thread's
    // reactor, which stays free meanwhile.
    auto w = std::make_shared<Http::ResponseWriter>(std::move(writer));
    auto task = [this, w, client_close, rm, start, resp = std::move(resp)]() mutable {
      if (resp.stream) {
        stream(*w, client_close, resp, rm, start);
        return;
      }
      HttpResponse r = answer("deferred response", [&] { return resp.deferred(); });
      send(*w, client_close, r);
      if (rm)
        rm->observe(
            r.status,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
    if (!workers->post(std::move(task))) {
      auto busy = error(503, "server_busy",
                        "too many requests are waiting for upstream servers; retry later");
      send(*w, client_close, busy);
      if (rm) rm->observe(503, 0);
    }
    return;
  }
  send(writer, client_close, resp);
  if (rm)
    rm->observe(resp.status,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void HttpServer::Impl::send(Http::ResponseWriter& writer, bool client_close,
                            const HttpResponse& resp) {
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
}

namespace {
// Sends all of `data` on a non-blocking socket, waiting for it to drain; false when the client
// is gone or stopped reading for `stall`.
bool send_all(int fd, std::string_view data, std::chrono::milliseconds stall) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(stall.count())) <= 0 || (p.revents & (POLLERR | POLLHUP)))
        return false;
      continue;
    }
    return false;
  }
  return true;
}
}  // namespace

// A streamed response is written to the socket directly by the worker thread, framed as HTTP/1.1
// chunks. Pistache 0.0.5's ResponseStream cannot be used from another thread: several flushes
// queued for one connection trip its transport's "could not find write data" assertion, which
// terminates the process. The network thread does not touch the connection meanwhile: it waits
// for the next request, which a client sends only after the end of this one.
void HttpServer::Impl::stream(Http::ResponseWriter& writer, bool client_close,
                              const HttpResponse& resp, RouteMetrics* rm,
                              std::chrono::steady_clock::time_point start) {
  auto peer = writer.getPeer();  // keeps the connection's state alive until we are done
  const int fd = peer ? peer->fd() : -1;
  constexpr auto kStall = std::chrono::seconds(30);
  bool started = false, gone = fd < 0;
  StreamWrite write = [&](std::string_view chunk) -> bool {
    if (gone) return false;
    if (chunk.empty()) return true;  // an empty chunk would end the body
    std::string out;
    if (!started) {
      started = true;
      out = "HTTP/1.1 200 OK\r\nContent-Type: " + resp.content_type +
            "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: " +
            (client_close ? "Close" : "Keep-Alive") + "\r\n\r\n";
    }
    char size_line[24];
    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
    out.append(size_line, static_cast<size_t>(n));
    out.append(chunk);
    out.append("\r\n");
    if (!send_all(fd, out, kStall)) {
      spdlog::debug("stream: the client is gone");
      gone = true;
    }
    return !gone;
  };
  HttpResponse r = answer("streamed response", [&] { return resp.stream(write); });
  if (!started) {
    send(writer, client_close, r);
  } else {
    if (!gone) gone = !send_all(fd, "0\r\n\r\n", kStall);
    if (client_close || gone) ::shutdown(fd, SHUT_RDWR);
  }
  if (rm)
    rm->observe(started ? 200 : r.status,
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
  impl_->workers = std::make_unique<WorkerPool>(o.workers, o.worker_queue);
  impl_->endpoint->init(opts);
  impl_->endpoint->setHandler(Http::make_handler<PistacheHandler>(impl_.get()));
  impl_->endpoint->serveThreaded();
}

void HttpServer::stop() {
  // Upstream calls in flight finish first (their writers need the endpoint's transport).
  if (impl_ && impl_->workers) impl_->workers->stop();
  if (impl_ && impl_->endpoint) {
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

uint16_t HttpServer::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0;
}

}  // namespace lakehost
