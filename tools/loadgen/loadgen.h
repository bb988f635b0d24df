// lakehost-loadgen: a closed-loop HTTP/1.1 load generator (the seed's Go loadgen, in C++).
// One thread per connection, each with one blocking keep-alive TCP socket (TCP_NODELAY) and a
// minimal hand-written HTTP/1.1 client; per-thread latency vectors merged at the end.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loadgen {

struct Url {
  std::string host;  // without brackets for IPv6 literals
  uint16_t port = 80;
  std::string path_prefix;  // "" or "/something" (no trailing slash)
  std::string host_header;  // what goes into the Host header
};

// Parses "http://host[:port][/prefix]". Only http:// is supported. Returns an error message.
std::optional<std::string> parse_url(const std::string& text, Url& out);

// "30s", "500ms", "2m", "1h", "250us", "1.5s"; a bare number means seconds.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);

// Escapes a string for a JSON string literal (without the quotes).
std::string json_escape(const std::string& s);

// The six-query rotating mix of the seed: Forklift / CNC / Warehouse / Picker / Loader / Shipping.
const std::vector<std::string>& query_mix();
std::string request_body(const std::string& role, int k, const std::string& collection);

struct Options {
  Url url;
  std::string url_text;
  std::string path = "/v1/matrix/search";
  std::string collection = "workers";
  int k = 3;
  int concurrency = 10;
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};  // 0: no time limit
  uint64_t max_requests = 0;                                    // 0: no cap
  std::chrono::nanoseconds timeout{std::chrono::seconds(10)};
  std::vector<std::string> headers;  // extra "Name: value" lines (e.g. an API key)
};

struct ThreadStats {
  std::vector<int64_t> latencies_ns;  // one per HTTP response (any status)
  std::map<int, uint64_t> status;
  uint64_t transport_errors = 0;
  uint64_t reconnects = 0;
  std::string first_error;
};

struct Summary {
  uint64_t requests = 0;  // responses + transport errors
  double duration_s = 0;
  double rps = 0;
  std::map<int, uint64_t> status;
  uint64_t transport_errors = 0;
  uint64_t reconnects = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  std::string first_error;

  uint64_t non_2xx() const;
};

// Runs the load; `stop` may be set from a signal handler to end early. Throws
// std::runtime_error when the host does not resolve.
Summary run(const Options& options, std::atomic<bool>& stop);

std::string human_summary(const Options& options, const Summary& s);
std::string json_summary(const Options& options, const Summary& s);  // one line, no newline

// Exposed for tests: the HTTP/1.1 response parser over an in-memory buffer.
struct ResponseHead {
  int status = 0;
  bool close = false;  // the server will close (Connection: close, or HTTP/1.0 w/o keep-alive)
  bool chunked = false;
  std::optional<uint64_t> content_length;
};
// Parses the status line and headers in [data, data+len) which must end with "\r\n\r\n".
std::optional<ResponseHead> parse_head(const char* data, size_t len, std::string& error);

}  // namespace loadgen
