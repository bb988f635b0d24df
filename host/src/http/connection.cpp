#include "http/connection.h"

#include <pistache/http_defs.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http/server.h"

namespace lakehost {

namespace {
// After a refusal, at most this much of the rest of the request is read (and dropped) before
// reading stops; see close_after_refusal().
constexpr size_t kDiscardBytes = 1u << 20;
constexpr auto kTick = std::chrono::milliseconds(100);
}  // namespace

Connection::Connection(int socket_fd) : fd_(::dup(socket_fd)) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool Connection::begin_reading() {
  std::lock_guard lock(mu_);
  if (ended_) return false;
  reading_ = true;
  return true;
}

void Connection::end_reading() {
  std::lock_guard lock(mu_);
  reading_ = false;
}

void Connection::expect(Wait w, std::chrono::milliseconds within) {
  std::lock_guard lock(mu_);
  wait_ = w;
  deadline_ = Clock::now() + within;
}

void Connection::add_pending() {
  std::lock_guard lock(mu_);
  ++pending_;
}

int Connection::pending() {
  std::lock_guard lock(mu_);
  return pending_;
}

void Connection::written(std::chrono::milliseconds keepalive) {
  std::lock_guard lock(mu_);
  if (pending_ > 0) --pending_;
  // `answer` until the next request's first byte: a pipelined one keeps its own deadline.
  if (pending_ == 0 && wait_ == Wait::answer) {
    wait_ = Wait::idle;
    deadline_ = Clock::now() + keepalive;
  }
}

void Connection::disconnected() {
  std::lock_guard lock(mu_);
  ended_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string raw_closing_response(const HttpResponse& r) {
  return "HTTP/1.1 " + std::to_string(r.status) + " " +
         Pistache::Http::codeString(static_cast<Pistache::Http::Code>(r.status)) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
         (r.www_authenticate.empty() ? "" : "\r\nWWW-Authenticate: " + r.www_authenticate) +
         "\r\nConnection: close\r\n\r\n" + r.body;
}

// SHUT_WR sends the FIN after the answer. What already arrived is read and dropped until the
// socket is empty: a shutdown for reading while the client faces a closed receive window would
// leave it stalled on zero-window probes (Linux sends no window update after SHUT_RD) for seconds
// to minutes. With the window open, SHUT_RD makes the kernel answer further data with a reset at
// once, and recv() report the end, which ends Pistache's read loop and the connection. The client
// reads the answer before it sees the reset.
void close_after_refusal(int fd) {
  ::shutdown(fd, SHUT_WR);
  char sink[64 * 1024];
  size_t dropped = 0;
  while (dropped < kDiscardBytes) {
    const ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n > 0) {
      dropped += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // empty (EAGAIN), end of stream or error
  }
  ::shutdown(fd, SHUT_RD);
}

ConnectionWatch::ConnectionWatch(ConnectionTimeouts timeouts)
    : timeouts_(timeouts), thread_([this] { run(); }) {}

ConnectionWatch::~ConnectionWatch() { stop(); }

void ConnectionWatch::add(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(mu_);
  added_.push_back(c);
}

void ConnectionWatch::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConnectionWatch::run() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, kTick, [&] { return stopping_; })) return;
      std::move(added_.begin(), added_.end(), std::back_inserter(watched_));
      added_.clear();
    }
    const auto now = Connection::Clock::now();
    // Held, not weak: a weak_ptr whose last release frees the block on this thread drew a TSan
    // report (libstdc++'s double-word release path); a connection is forgotten once dropped.
    std::erase_if(watched_, [&](const std::shared_ptr<Connection>& c) { return !check(*c, now); });
  }
}

bool ConnectionWatch::check(Connection& c, Connection::Clock::time_point now) {
  std::lock_guard lock(c.mu_);
  if (c.fd_ < 0) return false;  // Pistache dropped it: forget it
  // Being read: the network thread has its input (or runs its handler); judge it next time.
  if (c.reading_ || c.ended_) return true;
  if (c.wait_ == Connection::Wait::answer || now < c.deadline_) return true;
  // Bytes the network thread has not read yet: it is behind (a long handler on the same
  // thread), not the client. Judging now would time out a request that did arrive in time.
  int unread = 0;
  if (::ioctl(c.fd_, FIONREAD, &unread) == 0 && unread > 0) return true;
  if (c.wait_ == Connection::Wait::idle) {
    c.ended_ = true;
    ::shutdown(c.fd_, SHUT_RDWR);  // Pistache sees the end and drops the connection
    return true;
  }
  // A request's head or body stalled. Its answer goes after any response still queued.
  if (c.pending_ > 0) return true;
  c.ended_ = true;
  const bool in_head = c.wait_ == Connection::Wait::head;
  const auto limit = in_head ? timeouts_.head : timeouts_.body;
  const std::string text = raw_closing_response(HttpServer::error(
      408, "request_timeout",
      std::string(in_head ? "the request line and headers were not complete within "
                          : "the request body was not complete within ") +
          std::to_string(limit.count()) + " ms" +
          (in_head ? " of their first byte" : " of the end of the headers")));
  ::send(c.fd_, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  close_after_refusal(c.fd_);
  spdlog::debug("connection timed out waiting for the request {}", in_head ? "head" : "body");
  return true;
}

}  // namespace lakehost
