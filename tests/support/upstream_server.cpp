#include "upstream_server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "host_process.h"
#include "http_client.h"
#include "plugin_fixture.h"

namespace lakehost::test {

UpstreamServer::UpstreamServer(const std::string& script, std::vector<std::string> args) {
  const std::string dir = temp_dir();
  const std::string port_file = dir + "/port";
  log_path_ = dir + "/server.log";
  std::vector<std::string> argv_s = {"python3", LAKEHOST_SOURCE_DIR "/tests/upstreams/" + script,
                                     "--port-file", port_file};
  argv_s.insert(argv_s.end(), args.begin(), args.end());

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    die_with_parent(parent);
    if (FILE* f = std::fopen(log_path_.c_str(), "a")) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  // The script writes the port file atomically (rename) once it listens.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error(script + " exited during start-up:\n" + log());
    }
    const std::string p = read_file(port_file);
    if (!p.empty() && p.back() == '\n') {
      port_ = std::stoi(p);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  throw std::runtime_error(script + " did not start listening within 30 s:\n" + log());
}

UpstreamServer::~UpstreamServer() { stop(); }

std::string UpstreamServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string UpstreamServer::control(const std::string& json) {
  HttpClient c;
  HttpResult r = c.post(base_url() + "/_control", json);
  if (r.status != 200) {
    throw std::runtime_error("POST /_control " + json + " -> " + std::to_string(r.status) + " " +
                             r.error + " " + r.body);
  }
  return r.body;
}

std::string UpstreamServer::requests() {
  HttpClient c;
  HttpResult r = c.get(base_url() + "/_control/requests");
  if (r.status != 200) {
    throw std::runtime_error("GET /_control/requests -> " + std::to_string(r.status) + " " +
                             r.error);
  }
  return r.body;
}

void UpstreamServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string UpstreamServer::log() const { return read_file(log_path_); }

}  // namespace lakehost::test
