#include "loadgen.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <latch>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace loadgen {

using Clock = std::chrono::steady_clock;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// True if the comma-separated header value contains `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

std::vector<Address> resolve(const Url& url, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* res = nullptr;
  std::string port = std::to_string(url.port);
  int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    error = "cannot resolve \"" + url.host + "\": " + ::gai_strerror(rc);
    return {};
  }
  std::vector<Address> out;
  for (addrinfo* p = res; p; p = p->ai_next) {
    Address a;
    std::memcpy(&a.addr, p->ai_addr, p->ai_addrlen);
    a.len = static_cast<socklen_t>(p->ai_addrlen);
    out.push_back(a);
  }
  ::freeaddrinfo(res);
  if (out.empty()) error = "\"" + url.host + "\" resolves to no address";
  return out;
}

// One blocking keep-alive connection and its read buffer.
class Connection {
 public:
  Connection(const std::vector<Address>& addrs, std::chrono::nanoseconds timeout)
      : addrs_(addrs), timeout_(timeout), buf_(64 * 1024) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    begin_ = end_ = 0;
  }

  bool connect(std::string& error) {
    close();
    int timeout_ms = static_cast<int>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count()));
    for (const auto& a : addrs_) {
      int fd = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) {
        error = errno_text("socket", errno);
        continue;
      }
      int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, timeout_ms);
        if (rc == 0) {
          error = "connect: timed out";
          ::close(fd);
          continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (rc < 0)
          soerr = errno;
        else
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr != 0) {
          error = errno_text("connect", soerr);
          ::close(fd);
          continue;
        }
      } else if (rc != 0) {
        error = errno_text("connect", errno);
        ::close(fd);
        continue;
      }
      // Back to blocking with per-call timeouts; no Nagle delay on our small requests.
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      timeval tv{};
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout_).count();
      tv.tv_sec = static_cast<time_t>(us / 1000000);
      tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      fd_ = fd;
      return true;
    }
    return false;
  }

  // Sends one request and reads one whole response. Returns the status, or -1 on a transport
  // error (`error` says what). `close_after` is set when the server will not keep the connection.
  int exchange(const std::string& request, Clock::time_point deadline, std::string& error,
               bool& close_after) {
    deadline_ = deadline;
    size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        error = (errno == EAGAIN || errno == EWOULDBLOCK) ? "send: timed out"
                                                          : errno_text("send", errno);
        return -1;
      }
      sent += static_cast<size_t>(n);
    }
    for (;;) {
      // Headers: up to the blank line.
      size_t head_end;
      for (;;) {
        std::string_view avail(buf_.data() + begin_, end_ - begin_);
        head_end = avail.find("\r\n\r\n");
        if (head_end != std::string_view::npos) break;
        if (avail.size() > 64 * 1024) {
          error = "response headers larger than 64 KiB";
          return -1;
        }
        if (!fill(error)) return -1;
      }
      auto head = parse_head(buf_.data() + begin_, head_end + 4, error);
      if (!head) return -1;
      begin_ += head_end + 4;
      if (head->status >= 100 && head->status < 200) continue;  // interim (100 Continue)
      close_after = head->close;
      bool ok;
      if (head->status == 204 || head->status == 304)
        ok = true;
      else if (head->chunked)
        ok = read_chunked(error);
      else if (head->content_length)
        ok = skip(*head->content_length, error);
      else {
        ok = read_to_eof(error);
        close_after = true;
      }
      return ok ? head->status : -1;
    }
  }

 private:
  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool fill(std::string& error) {
    if (begin_ == end_) begin_ = end_ = 0;
    if (end_ == buf_.size()) {
      if (begin_ > 0) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      } else {
        buf_.resize(buf_.size() * 2);
      }
    }
    for (;;) {
      if (Clock::now() > deadline_) {
        error = "request timed out";
        return false;
      }
      ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
      if (n > 0) {
        end_ += static_cast<size_t>(n);
        return true;
      }
      if (n == 0) {
        error = "connection closed by the server mid-response";
        eof_ = true;
        return false;
      }
      if (errno == EINTR) continue;
      error = (errno == EAGAIN || errno == EWOULDBLOCK) ? "request timed out"
                                                        : errno_text("recv", errno);
      return false;
    }
  }

  bool skip(uint64_t n, std::string& error) {
    while (n > 0) {
      if (begin_ == end_ && !fill(error)) return false;
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, end_ - begin_));
      begin_ += take;
      n -= take;
    }
    return true;
  }

  bool read_line(std::string& line, std::string& error) {
    for (;;) {
      std::string_view avail(buf_.data() + begin_, end_ - begin_);
      size_t eol = avail.find("\r\n");
      if (eol != std::string_view::npos) {
        line.assign(avail.substr(0, eol));
        begin_ += eol + 2;
        return true;
      }
      if (avail.size() > 16 * 1024) {
        error = "chunk header line too long";
        return false;
      }
      if (!fill(error)) return false;
    }
  }

  bool read_chunked(std::string& error) {
    std::string line;
    for (;;) {
      if (!read_line(line, error)) return false;
      size_t semi = line.find(';');
      std::string hex(trim(std::string_view(line).substr(0, semi)));
      if (hex.empty() || hex.size() > 15 ||
          hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        error = "malformed chunk size \"" + line + "\"";
        return false;
      }
      uint64_t size = std::stoull(hex, nullptr, 16);
      if (size == 0) {
        // Trailers, up to an empty line.
        for (;;) {
          if (!read_line(line, error)) return false;
          if (line.empty()) return true;
        }
      }
      if (!skip(size, error)) return false;
      if (!read_line(line, error)) return false;
      if (!line.empty()) {
        error = "chunk not followed by CRLF";
        return false;
      }
    }
  }

  bool read_to_eof(std::string& error) {
    eof_ = false;
    for (;;) {
      begin_ = end_;
      if (!fill(error)) {
        if (eof_) {
          error.clear();
          return true;
        }
        return false;
      }
    }
  }

  const std::vector<Address>& addrs_;
  std::chrono::nanoseconds timeout_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
  int fd_ = -1;
  bool eof_ = false;
  Clock::time_point deadline_{};
};

constexpr int kMaxStatus = 600;

struct Worker {
  std::vector<int64_t> latencies_ns;
  std::array<uint64_t, kMaxStatus> status{};
  uint64_t transport_errors = 0;
  uint64_t reconnects = 0;
  std::string first_error;
};

double percentile_ms(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

std::string format_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d.count() == 0) return "unlimited";
  std::ostringstream o;
  if (d % seconds(1) == nanoseconds(0))
    o << duration_cast<seconds>(d).count() << "s";
  else if (d % milliseconds(1) == nanoseconds(0))
    o << duration_cast<milliseconds>(d).count() << "ms";
  else
    o << static_cast<double>(d.count()) / 1e9 << "s";
  return o.str();
}

std::string thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string fixed(double v, int decimals) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(decimals);
  o << v;
  return o.str();
}

}  // namespace

std::optional<std::string> parse_url(const std::string& text, Url& out) {
  const std::string scheme = "http://";
  if (text.size() < scheme.size() || !iequals(text.substr(0, scheme.size()), scheme))
    return "only http:// URLs are supported, got \"" + text + "\"";
  std::string rest = text.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?#") != std::string::npos)
    return "the base URL must not have a query or fragment";
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (authority.find('@') != std::string::npos) return "user info in the URL is not supported";
  std::string host, port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return "unterminated IPv6 literal in \"" + text + "\"";
    host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "garbage after the IPv6 literal in \"" + text + "\"";
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return "no host in \"" + text + "\"";
  uint16_t port = 80;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
      return "bad port \"" + port_text + "\"";
    unsigned long p = std::stoul(port_text);
    if (p == 0 || p > 65535) return "bad port \"" + port_text + "\"";
    port = static_cast<uint16_t>(p);
  }
  out.host = host;
  out.port = port;
  out.path_prefix = path;
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out.host_header = port == 80 ? h : h + ":" + std::to_string(port);
  return std::nullopt;
}

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  std::string number = text.substr(0, i), unit = text.substr(i);
  if (number.empty() || std::count(number.begin(), number.end(), '.') > 1) return std::nullopt;
  double v = std::stod(number);
  double scale;
  if (unit.empty() || unit == "s")
    scale = 1e9;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "us")
    scale = 1e3;
  else if (unit == "m")
    scale = 60e9;
  else if (unit == "h")
    scale = 3600e9;
  else
    return std::nullopt;
  double ns = v * scale;
  if (!(ns >= 0) || ns > 1e18) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(ns)));
}

std::string json_escape(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  std::string quoted = buf.GetString();
  return quoted.substr(1, quoted.size() - 2);
}

const std::vector<std::string>& query_mix() {
  static const std::vector<std::string> mix = {
      "Forklift Operator", "CNC Operator", "Warehouse Associate",
      "Order Picker",      "Loader",       "Shipping Clerk"};
  return mix;
}

std::string request_body(const std::string& role, int k, const std::string& collection) {
  std::string r = json_escape(role);
  return "{\"query\":\"" + r + "\",\"role\":\"" + r + "\",\"k\":" + std::to_string(k) +
         ",\"collection\":\"" + json_escape(collection) + "\"}";
}

std::optional<ResponseHead> parse_head(const char* data, size_t len, std::string& error) {
  std::string_view head(data, len);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11])) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    error = "malformed status line \"" + std::string(status_line.substr(0, 80)) + "\"";
    return std::nullopt;
  }
  ResponseHead r;
  bool http10 = status_line[7] == '0';
  r.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  bool keep_alive = false, close = false;
  std::string_view rest = head.substr(eol + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error = "malformed header line \"" + std::string(line.substr(0, 80)) + "\"";
      return std::nullopt;
    }
    std::string_view name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 18 ||
          value.find_first_not_of("0123456789") != std::string_view::npos) {
        error = "malformed Content-Length \"" + std::string(value) + "\"";
        return std::nullopt;
      }
      uint64_t n = std::stoull(std::string(value));
      if (r.content_length && *r.content_length != n) {
        error = "conflicting Content-Length headers";
        return std::nullopt;
      }
      r.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      if (has_token(value, "chunked")) r.chunked = true;
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) close = true;
      if (has_token(value, "keep-alive")) keep_alive = true;
    }
  }
  r.close = close || (http10 && !keep_alive);
  return r;
}

uint64_t Summary::non_2xx() const {
  uint64_t n = 0;
  for (auto [code, count] : status)
    if (code < 200 || code >= 300) n += count;
  return n;
}

Summary run(const Options& o, std::atomic<bool>& stop) {
  Summary s;
  std::string error;
  auto addrs = resolve(o.url, error);
  if (addrs.empty()) throw std::runtime_error(error);  // a setup error, not a measurement

  const std::string target = o.url.path_prefix + o.path;
  std::string extra;
  for (const auto& h : o.headers) extra += h + "\r\n";
  std::vector<std::string> requests;
  for (const auto& role : query_mix()) {
    std::string body = request_body(role, o.k, o.collection);
    requests.push_back("POST " + target + " HTTP/1.1\r\nHost: " + o.url.host_header +
                       "\r\nUser-Agent: lakehost-loadgen/0.1\r\nAccept: application/json\r\n" +
                       extra + "Content-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  std::atomic<uint64_t> issued{0};
  std::vector<Worker> workers(static_cast<size_t>(o.concurrency));
  std::latch ready(o.concurrency + 1);
  Clock::time_point start{}, end_at{};
  const bool timed = o.duration.count() > 0;

  auto body = [&](size_t index) {
    Worker& w = workers[index];
    w.latencies_ns.reserve(1 << 16);
    Connection conn(addrs, o.timeout);
    bool ever_connected = false;
    size_t next = index % requests.size();  // spreads the mix evenly across connections
    ready.arrive_and_wait();
    std::string err;
    while (!stop.load(std::memory_order_relaxed)) {
      auto t0 = Clock::now();
      if (timed && t0 >= end_at) break;
      if (o.max_requests && issued.fetch_add(1, std::memory_order_relaxed) >= o.max_requests) break;
      const std::string& req = requests[next];
      next = (next + 1) % requests.size();
      if (!conn.connected()) {
        if (ever_connected) ++w.reconnects;
        ever_connected = true;
        if (!conn.connect(err)) {
          ++w.transport_errors;
          if (w.first_error.empty()) w.first_error = err;
          // Do not spin on a refused port: a short pause, never past the end of the run.
          auto pause = Clock::now() + std::chrono::milliseconds(10);
          if (timed) pause = std::min(pause, end_at);
          std::this_thread::sleep_until(pause);
          continue;
        }
      }
      bool close_after = false;
      int status = conn.exchange(req, t0 + o.timeout, err, close_after);
      auto t1 = Clock::now();
      if (status < 0) {
        ++w.transport_errors;
        if (w.first_error.empty()) w.first_error = err;
        conn.close();
        continue;
      }
      w.latencies_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      ++w.status[static_cast<size_t>(std::clamp(status, 0, kMaxStatus - 1))];
      if (close_after) conn.close();
    }
  };

  std::vector<std::thread> threads;
  for (size_t i = 0; i < workers.size(); ++i) threads.emplace_back(body, i);
  start = Clock::now();
  end_at = start + o.duration;
  ready.arrive_and_wait();  // releases the workers; start/end_at are visible to them (latch)
  for (auto& t : threads) t.join();
  auto elapsed = Clock::now() - start;

  std::vector<int64_t> all;
  size_t total = 0;
  for (auto& w : workers) total += w.latencies_ns.size();
  all.reserve(total);
  for (auto& w : workers) {
    all.insert(all.end(), w.latencies_ns.begin(), w.latencies_ns.end());
    for (int c = 0; c < kMaxStatus; ++c)
      if (w.status[static_cast<size_t>(c)]) s.status[c] += w.status[static_cast<size_t>(c)];
    s.transport_errors += w.transport_errors;
    s.reconnects += w.reconnects;
    if (s.first_error.empty()) s.first_error = w.first_error;
  }
  std::sort(all.begin(), all.end());
  s.requests = all.size() + s.transport_errors;
  s.duration_s = std::chrono::duration<double>(elapsed).count();
  s.rps = s.duration_s > 0 ? static_cast<double>(s.requests) / s.duration_s : 0;
  s.p50_ms = percentile_ms(all, 0.50);
  s.p95_ms = percentile_ms(all, 0.95);
  s.p99_ms = percentile_ms(all, 0.99);
  s.max_ms = all.empty() ? 0 : static_cast<double>(all.back()) / 1e6;
  double sum = 0;
  for (auto v : all) sum += static_cast<double>(v);
  s.mean_ms = all.empty() ? 0 : sum / static_cast<double>(all.size()) / 1e6;
  return s;
}

std::string human_summary(const Options& o, const Summary& s) {
  std::ostringstream out;
  out << "lakehost-loadgen: POST " << o.url_text << " path " << o.path << "\n"
      << "  concurrency " << o.concurrency << ", duration " << format_duration(o.duration)
      << ", requests cap " << (o.max_requests ? std::to_string(o.max_requests) : "none")
      << ", timeout " << format_duration(o.timeout) << ", collection " << o.collection << ", k "
      << o.k << "\n"
      << "  requests          " << s.requests << "\n"
      << "  elapsed           " << fixed(s.duration_s, 2) << " s\n"
      << "  throughput        " << fixed(s.rps, 1) << " req/s\n";
  for (auto [code, count] : s.status) out << "  status " << code << "        " << count << "\n";
  out << "  transport errors  " << s.transport_errors << "\n"
      << "  reconnects        " << s.reconnects << "\n"
      << "  latency ms        p50 " << fixed(s.p50_ms, 3) << "  p95 " << fixed(s.p95_ms, 3)
      << "  p99 " << fixed(s.p99_ms, 3) << "  max " << fixed(s.max_ms, 3) << "  mean "
      << fixed(s.mean_ms, 3) << "\n";
  if (!s.first_error.empty()) out << "  first transport error: " << s.first_error << "\n";
  out << "  " << thousands(s.requests) << " req · "
      << thousands(static_cast<uint64_t>(std::llround(s.rps))) << " RPS · p50 "
      << fixed(s.p50_ms, 2) << "ms · p99 " << fixed(s.p99_ms, 2) << "ms · max "
      << fixed(s.max_ms, 2) << "ms\n";
  return out.str();
}

std::string json_summary(const Options& o, const Summary& s) {
  // Rounded like the human summary (RapidJSON's max-decimal-places would truncate instead).
  auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.SetMaxDecimalPlaces(3);
  w.StartObject();
  w.Key("requests");
  w.Uint64(s.requests);
  w.Key("duration_s");
  w.Double(r3(s.duration_s));
  w.Key("rps");
  w.Double(r3(s.rps));
  w.Key("status");
  w.StartObject();
  for (auto [code, count] : s.status) {
    std::string key = std::to_string(code);
    w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()), true);
    w.Uint64(count);
  }
  w.EndObject();
  w.Key("transport_errors");
  w.Uint64(s.transport_errors);
  w.Key("reconnects");
  w.Uint64(s.reconnects);
  w.Key("p50_ms");
  w.Double(r3(s.p50_ms));
  w.Key("p95_ms");
  w.Double(r3(s.p95_ms));
  w.Key("p99_ms");
  w.Double(r3(s.p99_ms));
  w.Key("max_ms");
  w.Double(r3(s.max_ms));
  w.Key("mean_ms");
  w.Double(r3(s.mean_ms));
  w.Key("concurrency");
  w.Int(o.concurrency);
  w.Key("url");
  w.String(o.url_text);
  w.Key("path");
  w.String(o.path);
  if (!s.first_error.empty()) {
    w.Key("first_error");
    w.String(s.first_error);
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace loadgen
