// lakehost HTTP client helper for plugins that call a model server over HTTP (libcurl).
//
// Header-only and optional: only a plugin that includes it needs libcurl and RapidJSON, and it
// links them itself:
//
//   find_package(CURL REQUIRED)
//   target_link_libraries(my-plugin PRIVATE CURL::libcurl ${CMAKE_DL_LIBS})
//   find_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h REQUIRED)
//   target_include_directories(my-plugin SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
//
//   lakehost::http::Client client(config);                      // in create(); immutable after
//   auto r = client.post_json("/api/embed", body);               // retries as below
//   lakehost::http::expect_ok(r);                                 // throws lakehost::Error
//   client.post_json_stream("/api/chat", body, {}, [&](std::string_view line) { ... });
//
// Config parsing: read_connection_setting() reads the members every such plugin's config shares
// (base_url, model, api_key_env, timeouts, retries); the plugin parses its own members.
//
// Ownership and threading. A Client owns a small pool of CURL easy handles (each keeps its
// keep-alive connections); a call leases one handle for its duration, so any number of threads
// may call one Client at once and a plugin that keeps only a Client and immutable config can
// declare LH_FLAG_THREAD_SAFE. Everything a call returns (Response) belongs to the caller. The
// Client must outlive its calls (a plugin instance's destroy() runs after its last call).
// curl_global_init runs once per library load (std::call_once); curl_global_cleanup is never
// called, because the host process or another plugin may still be using libcurl. libcurl is
// pinned in memory (RTLD_NODELETE) so unloading a plugin never unmaps it under its resolver
// threads or OpenSSL's exit handlers.
//
// Retry policy (per call, max_retries + 1 attempts at most). Retried: failures to resolve or
// connect, timeouts, a connection that broke (send/receive errors), HTTP 429 and 5xx.
// Never retried: other 4xx, and a streamed response that has already delivered a line to the
// caller (the caller has forwarded it; a retry would repeat it). The delay before retry n
// (n = 1, 2, ...) is backoff_initial_ms * 2^(n-1), capped at backoff_max_ms, with "equal
// jitter" (uniform in [d/2, d]) so that many clients do not retry in lockstep; a `Retry-After:
// <seconds>` header replaces it, still capped at backoff_max_ms.
//
// Errors. A call returns the last Response, whatever its status (it throws only what a LineSink
// throws, or when libcurl cannot allocate a handle); expect_ok() turns a failure into
// lakehost::Error: unreachable / timeout / 429 / 5xx / 401 / 403 / anything unexpected
// -> LH_ERR_UNAVAILABLE, 400 / 404 / 413 / 422 -> LH_ERR_INVALID_ARGUMENT, with a message that
// names the method, the URL, the status and the upstream's own error message (from the JSON
// error bodies of Ollama, OpenAI and Anthropic: {"error": "..."}, {"error": {"message": ...}}).
// A bearer token given in the config is never part of any message. TLS certificates are always
// verified (libcurl's default, never switched off here).
#pragma once

#include <curl/curl.h>
#include <dlfcn.h>
#include <rapidjson/document.h>
#include <lakehost/plugin.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace lakehost::http {

// "Name: value" pairs sent with a request.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientConfig {
  // Scheme, host, port and an optional path prefix, e.g. "http://127.0.0.1:11434" or
  // "https://api.example.com/openai". A trailing '/' is ignored. Request paths are appended.
  std::string base_url{};
  long connect_timeout_ms = 5000;  // TCP (+ TLS) connection set-up, per attempt
  long timeout_ms = 60000;         // whole request, per attempt (streams included)
  int max_retries = 2;             // extra attempts after the first (see the retry policy)
  long backoff_initial_ms = 250;   // delay before the first retry (before jitter)
  long backoff_max_ms = 8000;      // cap for every delay, Retry-After included
  Headers headers{};               // sent with every request (e.g. an API version header)
  std::string bearer_token{};      // non-empty: "Authorization: Bearer <token>"; never logged
  std::string user_agent = "lakehost";
  size_t pool_size = 8;  // idle easy handles (and their connections) kept for reuse
};

struct Response {
  std::string method;  // "POST"
  std::string url;     // full URL of the request
  long status = 0;     // HTTP status of the last attempt; 0 if no response arrived
  std::string error;   // transport error (libcurl's message) of the last attempt, else empty
  std::string body;    // the body (for a stream: only when the status was not 2xx)
  std::map<std::string, std::string> headers;  // of the last attempt, names lowercased
  int attempts = 0;                            // how many requests were sent
  bool streamed = false;  // a streamed call delivered at least one line to its callback

  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

// Receives one line of a streamed 2xx body (without "\n" or "\r\n") as soon as it arrived.
// Throwing aborts the transfer; the exception reaches the caller of post_json_stream().
using LineSink = std::function<void(std::string_view line)>;

// ---- errors -----------------------------------------------------------------------------------

// The upstream's own message from a JSON error body: {"error": "msg"} (Ollama),
// {"error": {"message": "msg", ...}} (OpenAI, Anthropic), {"message": "msg"}, {"detail": "msg"}.
// Falls back to the body's start (whitespace collapsed) when it is not such a JSON object.
inline std::string upstream_message(std::string_view body, size_t max_chars = 300) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  std::string m;
  if (!d.HasParseError() && d.IsObject()) {
    const rapidjson::Value& o = d;
    auto string_member = [](const rapidjson::Value& v, const char* name) -> std::string {
      if (v.IsObject() && v.HasMember(name) && v[name].IsString())
        return std::string(v[name].GetString(), v[name].GetStringLength());
      return {};
    };
    if (o.HasMember("error") && o["error"].IsObject()) m = string_member(o["error"], "message");
    if (m.empty()) m = string_member(o, "error");
    if (m.empty()) m = string_member(o, "message");
    if (m.empty()) m = string_member(o, "detail");
  }
  if (m.empty()) {
    bool space = false;
    for (char c : body) {
      const bool ws = std::isspace(static_cast<unsigned char>(c)) != 0;
      if (ws && (space || m.empty())) continue;
      m += ws ? ' ' : c;
      space = ws;
    }
    while (!m.empty() && m.back() == ' ') m.pop_back();
  }
  if (m.size() > max_chars) m = m.substr(0, max_chars) + "...";
  return m;
}

// The status a failed Response maps to (see the header comment).
inline lh_status status_for(const Response& r) {
  if (!r.error.empty() || r.status == 0) return LH_ERR_UNAVAILABLE;
  switch (r.status) {
    case 400:
    case 404:
    case 413:
    case 422:
      return LH_ERR_INVALID_ARGUMENT;
    default:
      return LH_ERR_UNAVAILABLE;
  }
}

// "POST http://host/api/embed: HTTP 404: model \"x\" not found (1 attempt)".
inline std::string describe(const Response& r) {
  std::string s = r.method + " " + r.url + ": ";
  if (!r.error.empty()) {
    s += r.status >= 200 && r.status < 300 && r.streamed ? "stream broken: " : "";
    s += r.error;
  } else {
    s += "HTTP " + std::to_string(r.status);
    const std::string m = upstream_message(r.body);
    if (!m.empty()) s += ": " + m;
  }
  s += " (" + std::to_string(r.attempts) + (r.attempts == 1 ? " attempt)" : " attempts)");
  return s;
}

// Throws lakehost::Error(status_for(r), prefix + describe(r)) unless r.ok(); returns r.
inline const Response& expect_ok(const Response& r, std::string_view prefix = {}) {
  if (!r.ok()) throw Error(status_for(r), std::string(prefix) + describe(r));
  return r;
}

// The value of the environment variable `name` (an API key). Throws LH_ERR_INVALID_ARGUMENT
// naming the variable, never its value, when it is unset or empty. `field` names the config
// field that gave the name, for the message.
inline std::string secret_from_env(const std::string& name,
                                   std::string_view field = "api_key_env") {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  if (!v || !*v) {
    throw Error(LH_ERR_INVALID_ARGUMENT, "config \"" + std::string(field) +
                                             "\": environment variable " + name +
                                             " is not set or empty");
  }
  return v;
}

// ---- plugin config ----------------------------------------------------------------------------

// Throws Error(LH_ERR_INVALID_ARGUMENT, "<plugin> config: <message>").
[[noreturn]] inline void config_error(std::string_view plugin, const std::string& message) {
  throw Error(LH_ERR_INVALID_ARGUMENT, std::string(plugin) + " config: " + message);
}

// The config member `name` (value `v`) as an integer in [lo, hi], else config_error naming it.
inline int64_t config_integer(std::string_view plugin, std::string_view name,
                              const rapidjson::Value& v, int64_t lo, int64_t hi) {
  if (!v.IsInt64() || v.GetInt64() < lo || v.GetInt64() > hi) {
    config_error(plugin, "\"" + std::string(name) + "\" must be an integer in [" +
                             std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v.GetInt64();
}

// The config member `name` (value `v`) as a non-empty string, else config_error naming it.
inline std::string config_string(std::string_view plugin, std::string_view name,
                                 const rapidjson::Value& v) {
  if (!v.IsString() || v.GetStringLength() == 0)
    config_error(plugin, "\"" + std::string(name) + "\" must be a non-empty string");
  return std::string(v.GetString(), v.GetStringLength());
}

// The connection settings that the config of every plugin built on this client shares:
//
//   base_url              non-empty string   -> http.base_url
//   model                 non-empty string   -> model
//   api_key_env           non-empty string   -> api_key_env (only the name: the plugin reads it
//                                                with secret_from_env and sends it its own way)
//   timeout_ms            integer [1, 3600000] -> http.timeout_ms
//   connect_timeout_ms    integer [1, 600000]  -> http.connect_timeout_ms
//   max_retries           integer [0, 10]      -> http.max_retries
//   retry_backoff_ms      integer [0, 600000]  -> http.backoff_initial_ms
//   retry_backoff_max_ms  integer [0, 600000]  -> http.backoff_max_ms
//
// Given one member of a plugin's config object: stores it and returns true when `name` is one of
// these (a wrong type or range throws config_error(plugin, ...)); returns false for any other
// member, which the plugin parses itself. Defaults are the plugin's: set them before.
inline bool read_connection_setting(std::string_view plugin, std::string_view name,
                                    const rapidjson::Value& v, ClientConfig& http,
                                    std::string& model, std::string& api_key_env) {
  if (name == "base_url") {
    http.base_url = config_string(plugin, name, v);
  } else if (name == "model") {
    model = config_string(plugin, name, v);
  } else if (name == "api_key_env") {
    api_key_env = config_string(plugin, name, v);
  } else if (name == "timeout_ms") {
    http.timeout_ms = static_cast<long>(config_integer(plugin, name, v, 1, 3600000));
  } else if (name == "connect_timeout_ms") {
    http.connect_timeout_ms = static_cast<long>(config_integer(plugin, name, v, 1, 600000));
  } else if (name == "max_retries") {
    http.max_retries = static_cast<int>(config_integer(plugin, name, v, 0, 10));
  } else if (name == "retry_backoff_ms") {
    http.backoff_initial_ms = static_cast<long>(config_integer(plugin, name, v, 0, 600000));
  } else if (name == "retry_backoff_max_ms") {
    http.backoff_max_ms = static_cast<long>(config_integer(plugin, name, v, 0, 600000));
  } else {
    return false;
  }
  return true;
}

// ---- the client -------------------------------------------------------------------------------

namespace detail {

inline void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    // Pin libcurl (found through dladdr, whatever its file name) so it stays mapped after this
    // plugin is unloaded: see the header comment.
    Dl_info info;
    if (dladdr(reinterpret_cast<const void*>(&curl_easy_init), &info) && info.dli_fname) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
  });
}

inline bool retryable_transport(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

inline bool retryable_status(long status) { return status == 429 || status >= 500; }

// Retry-After in seconds; -1 if absent or an HTTP date (then the normal backoff applies).
inline long retry_after_ms(const std::map<std::string, std::string>& headers) {
  auto it = headers.find("retry-after");
  if (it == headers.end() || it->second.empty()) return -1;
  long seconds = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return -1;
    seconds = std::min<long>(seconds * 10 + (c - '0'), 86400);
  }
  return seconds * 1000;
}

// State of one attempt, reached from libcurl's C callbacks.
struct Transfer {
  CURL* curl = nullptr;
  const LineSink* sink = nullptr;  // streaming: lines of a 2xx body go here
  Response* response = nullptr;
  std::string pending;           // bytes of an unfinished line
  std::exception_ptr exception;  // thrown by the sink; rethrown after curl_easy_perform

  bool streaming_2xx() {
    if (!sink) return false;
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
  }
  void deliver(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    response->streamed = true;
    (*sink)(line);
  }
};

inline size_t on_body(char* data, size_t size, size_t n, void* p) noexcept {
  auto* t = static_cast<Transfer*>(p);
  const size_t bytes = size * n;
  try {
    if (!t->streaming_2xx()) {
      t->response->body.append(data, bytes);
      return bytes;
    }
    t->pending.append(data, bytes);
    size_t start = 0;
    for (size_t nl; (nl = t->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      t->deliver(std::string_view(t->pending).substr(start, nl - start));
    }
    t->pending.erase(0, start);
    return bytes;
  } catch (...) {
    t->exception = std::current_exception();
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
}

inline size_t on_header(char* data, size_t size, size_t n, void* p) noexcept {
  auto* t = static_cast<Transfer*>(p);
  const size_t bytes = size * n;
  try {
    std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {  // a new response (e.g. after "100 Continue")
      t->response->headers.clear();
      return bytes;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
      value.remove_prefix(1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
      value.remove_suffix(1);
    t->response->headers[name] = std::string(value);
    return bytes;
  } catch (...) {
    return 0;  // out of memory: abort
  }
}

}  // namespace detail

class Client {
 public:
  explicit Client(ClientConfig config) : config_(std::move(config)) {
    detail::global_init();
    while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
    if (config_.base_url.find("://") == std::string::npos) {
      throw Error(LH_ERR_INVALID_ARGUMENT,
                  "config \"base_url\": \"" + config_.base_url + "\" is not an http(s) URL");
    }
  }
  ~Client() {
    for (CURL* c : idle_) curl_easy_cleanup(c);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientConfig& config() const { return config_; }
  std::string url(std::string_view path) const { return config_.base_url + std::string(path); }

  // POST `body` as application/json; the whole response body is returned.
  Response post_json(std::string_view path, std::string_view body,
                     const Headers& headers = {}) const {
    return send("POST", path, body, headers, nullptr, config_.max_retries);
  }

  // POST `body` as application/json and hand every line of a 2xx response body to `on_line`
  // as it arrives (NDJSON, server-sent events). A non-2xx body is returned in Response::body.
  Response post_json_stream(std::string_view path, std::string_view body, const Headers& headers,
                            const LineSink& on_line) const {
    return send("POST", path, body, headers, &on_line, config_.max_retries);
  }

  // GET; max_retries < 0 means the configured number (health checks pass 0: they are cheap
  // probes and must answer quickly).
  Response get(std::string_view path, const Headers& headers = {}, int max_retries = -1) const {
    return send("GET", path, {}, headers, nullptr,
                max_retries < 0 ? config_.max_retries : max_retries);
  }

  // The general form. `sink` non-null: streaming (see post_json_stream).
  Response send(std::string_view method, std::string_view path, std::string_view body,
                const Headers& headers, const LineSink* sink, int max_retries) const {
    for (int attempt = 0;; ++attempt) {
      Attempt a = once(method, path, body, headers, sink);
      a.attempts = attempt + 1;
      const bool retry = !a.ok() && attempt < max_retries && !a.streamed &&
                         (a.error.empty() ? detail::retryable_status(a.status) : a.retryable_error);
      if (!retry) {
        if (!a.ok()) redact(a);
        return std::move(static_cast<Response&>(a));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(attempt, a)));
    }
  }

  // The delay before retry number attempt + 1 (see the header comment).
  long delay_ms(int attempt, const Response& r) const {
    const long after = detail::retry_after_ms(r.headers);
    if (after >= 0 && r.error.empty()) return std::min(after, config_.backoff_max_ms);
    long d = std::max<long>(config_.backoff_initial_ms, 0);
    for (int i = 0; i < attempt && d < config_.backoff_max_ms; ++i) d *= 2;
    d = std::min(d, config_.backoff_max_ms);
    if (d <= 1) return d;
    std::random_device rd;  // only on the (rare) retry path
    return std::uniform_int_distribution<long>(d / 2, d)(rd);
  }

 private:
  struct Attempt : Response {
    bool retryable_error = false;
  };

  // An upstream that echoes the request's credentials must not put them into our messages.
  void redact(Response& r) const {
    const std::string& secret = config_.bearer_token;
    if (secret.empty()) return;
    for (std::string* s : {&r.body, &r.error}) {
      for (size_t at; (at = s->find(secret)) != std::string::npos;)
        s->replace(at, secret.size(), "***");
    }
  }

  CURL* acquire() const {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        CURL* c = idle_.back();
        idle_.pop_back();
        return c;
      }
    }
    CURL* c = curl_easy_init();
    if (!c) throw Error(LH_ERR_INTERNAL, "curl_easy_init failed");
    return c;
  }
  void release(CURL* c) const {
    curl_easy_reset(c);  // keeps the handle's live connections, DNS and TLS session caches
    std::lock_guard lock(mutex_);
    if (idle_.size() < config_.pool_size) {
      idle_.push_back(c);
      return;
    }
    curl_easy_cleanup(c);
  }

  struct Lease {
    const Client* client;
    CURL* curl;
    curl_slist* list = nullptr;
    ~Lease() {
      curl_slist_free_all(list);
      client->release(curl);
    }
  };

  Attempt once(std::string_view method, std::string_view path, std::string_view body,
               const Headers& headers, const LineSink* sink) const {
    Attempt r;
    r.method = std::string(method);
    r.url = url(path);
    char error_buffer[CURL_ERROR_SIZE] = {};
    Lease lease{this, acquire()};
    CURL* c = lease.curl;

    auto add = [&](const std::string& h) {
      curl_slist* l = curl_slist_append(lease.list, h.c_str());
      if (!l) throw std::bad_alloc();
      lease.list = l;
    };
    bool has_accept = false;
    auto add_all = [&](const Headers& hs) {
      for (const auto& [k, v] : hs) {
        has_accept = has_accept || k == "Accept" || k == "accept";
        add(k + ": " + v);
      }
    };
    add_all(config_.headers);
    add_all(headers);
    if (!has_accept) add("Accept: application/json");
    if (method == "POST") add("Content-Type: application/json");
    add("Expect:");  // no "100-continue" round trip before large bodies
    if (!config_.bearer_token.empty()) add("Authorization: Bearer " + config_.bearer_token);

    detail::Transfer t;
    t.curl = c;
    t.sink = sink;
    t.response = &r;

    curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, lease.list);
    curl_easy_setopt(c, CURLOPT_USERAGENT, config_.user_agent.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, config_.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, config_.timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &detail::on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &detail::on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    if (method == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    } else if (method != "GET") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);

    const CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    if (t.exception) std::rethrow_exception(t.exception);
    if (code == CURLE_OK && !t.pending.empty() && t.streaming_2xx()) {
      t.deliver(t.pending);  // a last line without "\n"
    }
    if (code != CURLE_OK) {
      r.error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
      r.retryable_error = detail::retryable_transport(code) && !r.streamed;
      r.body.clear();
    }
    return r;
  }

  ClientConfig config_;
  mutable std::mutex mutex_;
  mutable std::vector<CURL*> idle_;
};

// ---- server-sent events -------------------------------------------------------------------------

// Assembles server-sent events (text/event-stream) from lines: feed every line of the stream;
// at each blank line the event's name ("" when the stream gave no "event:" field, which means
// "message") and its data (multiple "data:" lines joined by "\n") go to on_event. Comment lines
// (":...") and other fields (id, retry) are ignored. Call finish() at the end of the stream for
// an event that lacks its closing blank line.
class SseDecoder {
 public:
  using EventSink = std::function<void(std::string_view event, std::string_view data)>;
  explicit SseDecoder(EventSink on_event) : on_event_(std::move(on_event)) {}

  void line(std::string_view l) {
    if (l.empty()) {
      dispatch();
      return;
    }
    if (l.front() == ':') return;
    const size_t colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "event") {
      event_ = std::string(value);
    } else if (field == "data") {
      if (has_data_) data_ += '\n';
      data_ += value;
      has_data_ = true;
    }
  }
  void finish() { dispatch(); }

 private:
  void dispatch() {
    if (has_data_) on_event_(event_, data_);
    event_.clear();
    data_.clear();
    has_data_ = false;
  }
  EventSink on_event_;
  std::string event_, data_;
  bool has_data_ = false;
};

}  // namespace lakehost::http
