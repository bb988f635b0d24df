// Runs one of the protocol-faithful fake model servers of tests/upstreams/ (Python 3 stdlib) on
// an ephemeral loopback port, for tests of plugins that talk HTTP:
//
//   UpstreamServer ollama("ollama_server.py", {"--dimension", "8"});
//   config: {"base_url": ollama.base_url(), ...}
//   ollama.control(R"({"fail_next": 2, "status": 503})");   // fault injection
//   ollama.requests();                                       // what the server received (JSON)
//
// The scripts document their endpoints and control commands in their headers.
#pragma once

#include <string>
#include <vector>

namespace lakehost::test {

class UpstreamServer {
 public:
  // Starts `python3 <source>/tests/upstreams/<script> --port-file <tmp> <args...>` and waits
  // until it listens. Throws std::runtime_error (with the server's output) if it does not start.
  explicit UpstreamServer(const std::string& script, std::vector<std::string> args = {});
  ~UpstreamServer();  // stop()
  UpstreamServer(const UpstreamServer&) = delete;
  UpstreamServer& operator=(const UpstreamServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>" (still the same after stop(): then nothing listens there).
  std::string base_url() const;
  // POST /_control with `json`; returns the response body, throws unless HTTP 200.
  std::string control(const std::string& json);
  // GET /_control/requests: {"requests": [{"method", "path", "headers", "body", "time"}]}.
  std::string requests();
  // Kills the server (SIGKILL, then waits): its port refuses connections from then on.
  void stop();
  bool running() const { return pid_ > 0; }
  std::string log() const;  // what the server wrote to stdout/stderr

 private:
  int pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

}  // namespace lakehost::test
