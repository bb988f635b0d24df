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

class Connection {
 public:
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

  // ---- the framing: the network thread's alone ------------------------------------------------
  Phase phase = Phase::head;
  std::string head;  // the current request's head so far (bounded by the server)
  size_t body_left = 0;
  Credential credential;  // the current request's key, read from its head

  // ---- shared with the watcher, workers and write completions (each call takes the lock) -----
  bool valid() const { return fd_ >= 0; }
  // The network thread reads input: false when the connection has ended (timed out), and then
  // the input is dropped. Until end_reading() the watcher leaves the connection alone.
  bool begin_reading();
  void end_reading();
  void expect(Wait w, std::chrono::milliseconds within);
  // A response handed to Pistache's write queue or to a worker; written() when it is done.
  void add_pending();
  // With none left in flight and no next request begun, the connection waits for one for at
  // most `keepalive`.
  void written(std::chrono::milliseconds keepalive);
  // Responses not yet written. A refusal is written straight to the socket only when none is,
  // so that responses never overtake each other.
  int pending();
  // Pistache dropped the connection: closes the duplicate.
  void disconnected();

 private:
  friend class ConnectionWatch;
  // Held only briefly and never while calling into Pistache: Pistache resolves a write's
  // promise (our written()) while holding its own write lock.
  std::mutex mu_;
  int pending_ = 0;
  Wait wait_ = Wait::idle;
  Clock::time_point deadline_;
  bool reading_ = false;
  bool ended_ = false;  // timed out or disconnected
  int fd_ = -1;         // the duplicate; -1 once Pistache dropped the connection
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
  // Starts watching `c`, until Pistache drops it (disconnected()).
  void add(const std::shared_ptr<Connection>& c);
  void stop();

 private:
  void run();
  // Acts on `c` if its deadline passed; false once Pistache dropped it (then it is forgotten).
  bool check(Connection& c, Connection::Clock::time_point now);

  ConnectionTimeouts timeouts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Connection>> added_;    // new since the last check
  std::vector<std::shared_ptr<Connection>> watched_;  // the watcher thread's own
  std::thread thread_;
};

}  // namespace lakehost
