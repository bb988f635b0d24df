// One client connection's framing state and deadlines, and the thread that enforces them.
//
// Pistache 0.0.5's own timeouts are switched off (set to "never"): its header timeout counts from
// the accept or the previous response instead of the request's first byte, and it also applies
// while a request is being answered. A network thread busy for longer than the header timeout
// therefore made it answer 408 to a request that it then read and executed, and a chat answer
// slower than the header timeout got a 408 while its worker still ran. Here:
//   - a request's head must be complete within `head` of its first byte;
//   - its body within `body` of the end of its head;
//   - a connection with nothing in flight is closed after `keepalive` without a request;
//   - nothing is timed while a request is being answered.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/api_keys.h"

namespace lakehost {

struct HttpResponse;
class RouteMetrics;

struct ConnectionTimeouts {
  std::chrono::milliseconds head{10000};
  std::chrono::milliseconds body{30000};
  std::chrono::milliseconds keepalive{60000};
};

struct Connection {
  using Clock = std::chrono::steady_clock;
  enum class Phase { head, body, closed };
  // What the connection waits for; each but `answer` has a deadline.
  enum class Wait { idle, head, body, answer };

  // Keeps a duplicate of the socket: the watcher thread acts through it, so that it can never
  // reach another client whose connection reused the fd number after Pistache closed this one.
  explicit Connection(int socket_fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Guards every member below. The network thread holds it while it reads the connection's
  // input (handlers included); recursive because a response finished on that thread may call
  // back into written() while it does.
  std::recursive_mutex mu;

  Phase phase = Phase::head;
  std::string head;  // the current request's head so far (bounded by the server)
  size_t body_left = 0;
  Credential credential;  // the current request's key, read from its head
  // Responses handed to Pistache's write queue or to a worker and not yet written. A refusal
  // is written straight to the socket only when none is, so responses never overtake others.
  int pending = 0;

  Wait wait = Wait::idle;
  Clock::time_point deadline;
  // Closed by the watcher (timed out) or by Pistache: whatever else arrives is dropped.
  bool ended = false;
  int fd = -1;  // the duplicate; -1 once Pistache dropped the connection

  void expect(Wait w, std::chrono::milliseconds within) {
    wait = w;
    deadline = Clock::now() + within;
  }
  // A response (or a worker's share of one) is done: with none left in flight and no next
  // request begun, the connection waits for one for at most `keepalive`.
  void written(std::chrono::milliseconds keepalive);
  // Pistache dropped the connection: closes the duplicate.
  void disconnected();
};

// The whole response as bytes, with "Connection: close": for answers written straight to the
// socket (refusals, timeouts), outside Pistache's write queue.
std::string raw_closing_response(const HttpResponse& r);

// Ends a connection whose answer (a refusal) has just been written, without taking in the body
// the client may still be sending. See connection.cpp.
void close_after_refusal(int fd);

// Every 100 ms, acts on the connections whose deadline passed: a 408 with the JSON envelope and
// a close for a request that stalled, a silent close for an idle connection.
class ConnectionWatch {
 public:
  explicit ConnectionWatch(ConnectionTimeouts timeouts);
  ~ConnectionWatch();
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

  const ConnectionTimeouts& timeouts() const { return timeouts_; }
  // Starts watching `c` (kept weakly: a connection Pistache dropped is forgotten).
  void add(const std::shared_ptr<Connection>& c);
  void stop();

 private:
  void run();
  void check(Connection& c, Connection::Clock::time_point now);

  ConnectionTimeouts timeouts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::weak_ptr<Connection>> added_;    // new since the last check
  std::vector<std::weak_ptr<Connection>> watched_;  // the watcher thread's own
  std::thread thread_;
};

}  // namespace lakehost
