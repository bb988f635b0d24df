#include "http/server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "http/connection.h"
#include "http/errors.h"
#include "http/head.h"
#include "http/openai_errors.h"

namespace lakehost {
using namespace Pistache;

namespace {

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // "{x}" marks a parameter
  Access access;
  HttpHandler handler;
  RouteMetrics* metrics;
};

// WWW-Authenticate (RFC 9110 11.6.1): Pistache 0.0.5 writes only typed headers, and has no
// type for this one.
class WwwAuthenticate : public Http::Header::Header {
 public:
  NAME("WWW-Authenticate")
  WwwAuthenticate() = default;
  explicit WwwAuthenticate(std::string v) : value_(std::move(v)) {}
  void parse(const std::string& data) override { value_ = data; }
  void write(std::ostream& os) const override { os << value_; }

 private:
  std::string value_;
};

// Runs a handler step; a HostError becomes its envelope, any other exception a logged 500.
template <typename Fn>
HttpResponse answer(std::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const HostError& e) {
    return HttpServer::error(http_status(e), e.code(), e.what());
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
  std::unique_ptr<ConnectionWatch> watch;
  ApiKeys* keys = nullptr;  // null or disabled: every route is open

  Impl(HttpOptions o, Metrics& m)
      : options(std::move(o)), metrics(m), unmatched(m.route("ANY", "unmatched")) {}

  // `conn` (null when Pistache's own input path calls) counts the responses still in flight.
  void handle(const Http::Request& req, Http::ResponseWriter writer,
              std::shared_ptr<Connection> conn);
  void send(Http::ResponseWriter& writer, bool client_close, const HttpResponse& resp,
            const std::shared_ptr<Connection>& conn);
  void stream(Http::ResponseWriter& writer, bool client_close, const HttpResponse& resp,
              RouteMetrics* rm, std::chrono::steady_clock::time_point start,
              const std::shared_ptr<Connection>& conn);
  HttpResponse dispatch(const std::string& method, const std::string& raw_path,
                        const std::string& body,
                        const std::function<std::optional<std::string>(const std::string&)>& q,
                        RouteMetrics** metrics_out, const Credential& credential) const;

  // The route `method` `segments` would reach (its placeholders not decoded), or null.
  const Route* find_route(const std::string& method,
                          const std::vector<std::string>& segments) const;
  // The 401 or 403 for a request to `r` with `credential`, or nullopt when it may go on (with
  // `req.key` set to the key that authorised it). `params`: the route's decoded placeholders;
  // null at head time, when only the key is checked.
  std::optional<HttpResponse> authorize(const Route& r, const Credential& credential,
                                        const std::vector<std::string>* params,
                                        HttpRequest* req) const;
};

namespace {

constexpr const char* kConnectionData = "lakehost.connection";
constexpr size_t kMaxHead = 64 * 1024;  // request line + headers

// Set up by onConnection; null only if that failed (the connection is then being closed).
std::shared_ptr<Connection> connection_of(const std::shared_ptr<Tcp::Peer>& peer) {
  return std::static_pointer_cast<Connection>(peer->tryGetData(kConnectionData));
}

class PistacheHandler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(PistacheHandler)
  explicit PistacheHandler(HttpServer::Impl* impl) : impl_(impl) {}

  void onRequest(const Http::Request& req, Http::ResponseWriter writer) override {
    impl_->handle(req, std::move(writer), nullptr);
  }

  void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override {
    // What Pistache's own (private) onConnection does: the peer's parser.
    peer->putData(ParserData, std::make_shared<Http::RequestParser>(getMaxRequestSize()));
    auto conn = std::make_shared<Connection>(peer->fd());
    if (!conn->valid()) {
      // Without a duplicate no deadline could be enforced: refuse the connection (this happens
      // only when the process is out of file descriptors).
      spdlog::warn("closing a new connection: dup() failed: {}", std::strerror(errno));
      ::shutdown(peer->fd(), SHUT_RDWR);
      return;
    }
    conn->expect(Connection::Wait::idle, impl_->watch->timeouts().keepalive);
    peer->putData(kConnectionData, conn);
    impl_->watch->add(conn);
  }

  void onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) override {
    if (auto conn = connection_of(peer)) conn->disconnected();
  }

  // Replaces Pistache's onInput (0.0.5), which buffers a whole body before judging its size,
  // answers in plain text, keeps refused connections open while the client goes on sending,
  // and drops a pipelined request that arrives in the same read as the end of the previous one.
  // Here each request's head is read first; its bytes and then exactly Content-Length bytes of
  // body are handed to Pistache's parser, one request at a time.
  void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override {
    auto conn = connection_of(peer);
    if (!conn) return;
    // Timed out: drop the rest. While this reads, the watcher leaves the connection alone.
    if (!conn->begin_reading()) return;
    struct EndReading {
      Connection& c;
      ~EndReading() { c.end_reading(); }
    } end_reading{*conn};
    if (conn->phase == Connection::Phase::closed) return;  // refused: drop the rest
    auto parser = getParser(peer);
    std::string_view in(buffer, len);
    const auto& timeouts = impl_->watch->timeouts();
    try {
      while (!in.empty() && conn->phase != Connection::Phase::closed) {
        if (conn->phase == Connection::Phase::body) {
          const size_t n = std::min(in.size(), conn->body_left);
          conn->body_left -= n;
          feed(peer, conn, *parser, in.substr(0, n));
          in.remove_prefix(n);
          continue;
        }
        const size_t before = conn->head.size();
        const size_t take = std::min(in.size(), kMaxHead - before);
        if (before == 0) conn->expect(Connection::Wait::head, timeouts.head);  // its first byte
        conn->head.append(in.data(), take);
        const size_t end = conn->head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
        if (end == std::string::npos) {
          if (conn->head.size() >= kMaxHead) {
            refuse(peer, conn, *parser,
                   HttpServer::error(431, "headers_too_large",
                                     "the request line and headers exceed " +
                                         std::to_string(kMaxHead) + " bytes"));
            return;
          }
          feed(peer, conn, *parser, in.substr(0, take));  // lets Pistache refuse a bad line early
          in.remove_prefix(take);
          continue;
        }
        const size_t used = end + 4 - before;  // the bytes of `in` that complete the head
        conn->head.resize(end + 4);            // without what follows (body, next request)
        RequestHead framing = parse_request_head(conn->head, impl_->options.max_body_bytes);
        conn->head.clear();
        if (!framing.refusal && framing.content_length > 0 && impl_->keys &&
            impl_->keys->enabled()) {
          // A request without a valid key is refused before its body is read: clients without
          // a key cannot make the host buffer bodies.
          if (const Route* r = impl_->find_route(framing.method, split_path(framing.path)))
            framing.refusal = impl_->authorize(*r, framing.credential, nullptr, nullptr);
        }
        if (framing.refusal) {
          refuse(peer, conn, *parser, *framing.refusal);
          return;
        }
        conn->credential = std::move(framing.credential);
        if (framing.expect_continue && framing.content_length > 0 && conn->pending() == 0) {
          // curl sends "Expect: 100-continue" before a large body and waits a second for this.
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          ::send(peer->fd(), kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        conn->phase = Connection::Phase::body;
        conn->body_left = framing.content_length;
        conn->expect(Connection::Wait::body, timeouts.body);
        feed(peer, conn, *parser, in.substr(0, used));
        in.remove_prefix(used);
      }
    } catch (const Http::HttpError& e) {
      refuse(peer, conn, *parser, malformed_request(e.code(), e.reason()));
    } catch (const std::exception& e) {
      // Pistache's parser throws std:: exceptions too: the request is malformed. Errors of our
      // own handlers never get here (handle() answers them).
      refuse(peer, conn, *parser, malformed_request(400, e.what()));
    }
  }

 private:
  // Hands bytes of the current request to Pistache's parser and dispatches it once complete.
  void feed(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn,
            Http::RequestParser& parser, std::string_view bytes) {
    if (!bytes.empty() && !parser.feed(bytes.data(), bytes.size()))
      throw Http::HttpError(Http::Code::Request_Entity_Too_Large, "request exceeds the buffer");
    if (parser.parse() != Http::Private::State::Done) {
      // Pistache must agree with the framing read from the head; if it wants more than the
      // head announced, the request is malformed (rather than waiting for bytes never sent).
      if (conn->phase == Connection::Phase::body && conn->body_left == 0)
        throw Http::HttpError(Http::Code::Bad_Request, "the body does not match its framing");
      return;
    }
    auto& request = parser.request;
    Http::ResponseWriter response(request.version(), transport(), this, peer);
    request.copyAddress(peer->address());
    conn->phase = Connection::Phase::head;
    conn->body_left = 0;
    conn->expect(Connection::Wait::answer, {});  // no deadline until its response is written
    impl_->handle(request, std::move(response), conn);
    parser.reset();
  }

  // Answers with the envelope and closes the connection without keeping the rest of the request.
  void refuse(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn,
              Http::RequestParser& parser, const HttpResponse& r) {
    conn->phase = Connection::Phase::closed;  // whatever else arrives is dropped
    conn->head.clear();
    conn->head.shrink_to_fit();
    parser.reset();
    // Closed after the keep-alive timeout if the client neither closes nor reads.
    conn->expect(Connection::Wait::idle, impl_->watch->timeouts().keepalive);
    if (conn->pending() == 0) {
      // Written at once, not queued: Pistache writes its queue only after this read loop ends,
      // which a client that keeps sending would postpone. The FIN follows the answer.
      const std::string text = raw_closing_response(r);
      ::send(peer->fd(), text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close_after_refusal(peer->fd());
      return;
    }
    // Earlier responses of this connection are still queued: this one goes after them.
    Http::ResponseWriter writer(Http::Version::Http11, transport(), this, peer);
    writer.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
    if (!r.www_authenticate.empty()) writer.headers().add<WwwAuthenticate>(r.www_authenticate);
    std::weak_ptr<Tcp::Peer> weak = peer;
    auto close = [weak] {
      // Only while the connection lives: once Pistache dropped it, its fd may be another's.
      if (auto p = weak.lock()) close_after_refusal(p->fd());
    };
    writer.send(static_cast<Http::Code>(r.status), r.body, MIME(Application, Json))
        .then([close](ssize_t) { close(); }, [close](std::exception_ptr) { close(); });
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
  json::put(w, json::valid_utf8(message));  // messages quote client bytes; JSON is UTF-8
  w.EndObject();
  w.EndObject();
  return {status, buf.GetString(), "application/json"};
}

HttpServer::HttpServer(HttpOptions options, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(const std::string& method, const std::string& pattern, Access access,
                       HttpHandler handler) {
  impl_->routes.push_back({method, pattern, split_path(pattern), access, std::move(handler),
                           impl_->metrics.route(method, pattern)});
}

void HttpServer::set_api_keys(ApiKeys* keys) { impl_->keys = keys; }

void HttpRequest::require_collection(const std::string& collection) const {
  if (!key || key->may_touch(collection)) return;
  throw HostError(
      Errc::forbidden, "forbidden",
      "API key \"" + key->name + "\" may not touch collection " +
          (json::is_clean_text(collection) ? "\"" + collection + "\"" : "(unprintable)"));
}

HttpResponse HttpServer::dispatch(
    const std::string& method, const std::string& raw_path, const std::string& body,
    const std::function<std::optional<std::string>(const std::string&)>& q,
    RouteMetrics** metrics_out, const Credential& credential) const {
  return impl_->dispatch(method, raw_path, body, q, metrics_out, credential);
}

const Route* HttpServer::Impl::find_route(const std::string& method,
                                          const std::vector<std::string>& segments) const {
  for (const auto& r : routes) {
    if (r.method != method || r.segments.size() != segments.size()) continue;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i)
      match =
          (!r.segments[i].empty() && r.segments[i].front() == '{') || r.segments[i] == segments[i];
    if (match) return &r;
  }
  return nullptr;
}

std::optional<HttpResponse> HttpServer::Impl::authorize(const Route& r,
                                                        const Credential& credential,
                                                        const std::vector<std::string>* params,
                                                        HttpRequest* req) const {
  if (!keys || !keys->enabled()) return std::nullopt;
  auto set = keys->current();
  Scope needed = r.access.scope;
  if (r.access.metrics) needed = set->metrics_need_admin ? Scope::admin : Scope::none;
  if (needed == Scope::none) return std::nullopt;

  auto refuse = [&](Errc errc, const char* code, const std::string& message,
                    std::string challenge) {
    const HostError e(errc, code, message);
    const int status = http_status(errc);
    HttpResponse resp = r.access.openai_errors
                            ? HttpResponse{status, openai::error_json(e), "application/json"}
                            : HttpServer::error(status, code, message);
    resp.www_authenticate = std::move(challenge);
    return resp;
  };
  // RFC 6750 section 3: the challenge names the error when a credential was sent.
  constexpr const char* kRealm = "Bearer realm=\"lakehost\"";
  switch (credential.kind) {
    case Credential::Kind::none:
      keys->count_refusal(ApiKeys::Refusal::missing);
      return refuse(
          Errc::unauthorized, "unauthorized",
          r.method + " " + r.pattern +
              " needs an API key: send \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\"",
          kRealm);
    case Credential::Kind::malformed:
      keys->count_refusal(ApiKeys::Refusal::malformed);
      return refuse(Errc::unauthorized, "unauthorized", credential.reason,
                    std::string(kRealm) + ", error=\"invalid_request\"");
    case Credential::Kind::key:
      break;
  }
  const ApiKey* key = set->find(credential.key);
  if (!key) {
    keys->count_refusal(ApiKeys::Refusal::unknown);
    return refuse(Errc::unauthorized, "invalid_api_key", "the API key is not valid",
                  std::string(kRealm) + ", error=\"invalid_token\"");
  }
  if (!params) return std::nullopt;  // head time: the key is known, the rest waits for dispatch
  std::string denied;
  if (!key->has(needed)) {
    denied = "API key \"" + key->name + "\" lacks the \"" + scope_name(needed) + "\" scope that " +
             r.method + " " + r.pattern + " needs";
  } else if (r.access.global && key->limited()) {
    denied = "API key \"" + key->name + "\" is limited to collections; " + r.method + " " +
             r.pattern + " is about the whole host";
  } else if (r.access.collection_param >= 0 &&
             static_cast<size_t>(r.access.collection_param) < params->size() &&
             !key->may_touch((*params)[r.access.collection_param])) {
    const std::string& c = (*params)[r.access.collection_param];
    denied = "API key \"" + key->name + "\" may not touch collection " +
             (json::is_clean_text(c) ? "\"" + c + "\"" : "(unprintable)");
  }
  if (!denied.empty()) {
    ApiKeys::count(*key, ApiKeys::Outcome::forbidden);
    return refuse(Errc::forbidden, "forbidden", denied, "");
  }
  req->key = key;
  req->keys = std::move(set);
  return std::nullopt;
}

HttpResponse HttpServer::Impl::dispatch(
    const std::string& method, const std::string& raw_path, const std::string& body,
    const std::function<std::optional<std::string>(const std::string&)>& q,
    RouteMetrics** metrics_out, const Credential& credential) const {
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
    HttpRequest req{method, raw_path, &body, std::move(params), q, nullptr, nullptr};
    if (auto refusal = authorize(r, credential, &req.params, &req)) return *refusal;
    HttpResponse resp = answer(method + " " + raw_path, [&] { return r.handler(req); });
    if (req.key)  // a 403 here is a collection named in the body or the query
      ApiKeys::count(*req.key,
                     resp.status == 403 ? ApiKeys::Outcome::forbidden : ApiKeys::Outcome::allowed);
    return resp;
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

void HttpServer::Impl::handle(const Http::Request& req, Http::ResponseWriter writer,
                              std::shared_ptr<Connection> conn) {
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
      static const Credential kNone;
      return dispatch(method, req.resource(), req.body(), param, &rm,
                      conn ? conn->credential : kNone);
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
    if (conn) conn->add_pending();  // until the worker has handed its response over
    const auto keepalive = options.keepalive_timeout;
    auto task = [this, w, client_close, rm, start, conn, keepalive,
                 resp = std::move(resp)]() mutable {
      if (resp.stream) {
        stream(*w, client_close, resp, rm, start, conn);
      } else {
        HttpResponse r = answer("deferred response", [&] { return resp.deferred(); });
        send(*w, client_close, r, conn);
        if (rm)
          rm->observe(
              r.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      if (conn) conn->written(keepalive);
    };
    if (!workers->post(std::move(task))) {
      auto busy = error(503, "server_busy",
                        "too many requests are waiting for upstream servers; retry later");
      send(*w, client_close, busy, conn);
      if (conn) conn->written(keepalive);
      if (rm) rm->observe(503, 0);
    }
    return;
  }
  send(writer, client_close, resp, conn);
  if (rm)
    rm->observe(resp.status,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void HttpServer::Impl::send(Http::ResponseWriter& writer, bool client_close,
                            const HttpResponse& resp, const std::shared_ptr<Connection>& conn) {
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
  if (!resp.www_authenticate.empty()) writer.headers().add<WwwAuthenticate>(resp.www_authenticate);
  auto peer = writer.getPeer();
  auto mime = Http::Mime::MediaType::fromString(resp.content_type);
  if (conn) conn->add_pending();
  auto sent = writer.send(static_cast<Http::Code>(resp.status), resp.body, mime);
  // Bug 2: after "Connection: Close" Pistache leaves the socket open. Close it ourselves once
  // the response is on the wire (this runs on the network thread, right after the write, while
  // the fd is still this connection's).
  std::weak_ptr<Tcp::Peer> weak = peer;
  auto done = [weak, conn, client_close, keepalive = options.keepalive_timeout] {
    if (conn) conn->written(keepalive);
    if (auto p = weak.lock(); p && client_close) ::shutdown(p->fd(), SHUT_RDWR);
  };
  sent.then([done](ssize_t) { done(); }, [done](std::exception_ptr) { done(); });
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
                              std::chrono::steady_clock::time_point start,
                              const std::shared_ptr<Connection>& conn) {
  auto peer = writer.getPeer();  // keeps the connection's state alive until we are done
  // A duplicate of the socket: if the network thread closes the connection meanwhile (the client
  // left, a timeout), its fd number may be reused at once by another client's connection, which
  // our writes must never reach. The duplicate keeps pointing at this socket.
  const int fd = peer ? ::dup(peer->fd()) : -1;
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd >= 0) ::close(fd);
    }
  } close_fd{fd};
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
    send(writer, client_close, r, conn);
  } else {
    if (!gone) gone = !send_all(fd, "0\r\n\r\n", kStall);
    if (client_close || gone) ::shutdown(fd, SHUT_RDWR);
  }
  if (rm)
    rm->observe(started ? 200 : r.status,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

namespace {
// Each connection holds two descriptors (Pistache's and the watcher's duplicate), and the
// common soft limit of 1,024 would cap the host near 500 clients: raise it to the hard limit,
// as servers usually do.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  const rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) == 0)
    spdlog::debug("open file limit raised from {} to {}", before, lim.rlim_cur);
}
}  // namespace

void HttpServer::start() {
  auto& o = impl_->options;
  Address addr(o.host, Port(o.port));
  impl_->endpoint = std::make_shared<Http::Endpoint>(addr);
  auto opts = Http::Endpoint::options()
                  .threads(o.threads)
                  .flags(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay)
                  .maxRequestSize(o.max_body_bytes + 64 * 1024)  // headers' allowance
                  .maxResponseSize(256u << 20)
                  // Never: ConnectionWatch enforces our own deadlines (connection.h says why).
                  .headerTimeout(std::chrono::milliseconds::max())
                  .bodyTimeout(std::chrono::milliseconds::max())
                  .keepaliveTimeout(std::chrono::milliseconds::max());
  raise_fd_limit();
  impl_->watch = std::make_unique<ConnectionWatch>(
      ConnectionTimeouts{o.header_timeout, o.body_timeout, o.keepalive_timeout});
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
  if (impl_ && impl_->watch) impl_->watch->stop();
}

uint16_t HttpServer::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0;
}

}  // namespace lakehost
