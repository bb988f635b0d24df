// Runs a real `lakehost serve` on an ephemeral loopback port for end-to-end tests.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace lakehost::test {

struct HostOptions {
  std::string manifests_dir;             // default: a fresh copy of the repository's manifests/
  std::string data_dir;                  // default: a fresh temporary directory
  std::vector<std::string> plugin_dirs;  // default: the build's plugin directory
  std::vector<std::string> extra_args;
  std::string listen = "127.0.0.1:0";      // --listen (tests connect to 127.0.0.1 whatever it is)
  std::map<std::string, std::string> env;  // set in the host's environment (e.g. LAKEHOST_SIMD)
  bool demo = false;                       // load data/demo/workers.jsonl
  bool watch = false;
};

class HostProcess {
 public:
  explicit HostProcess(HostOptions options = {});
  ~HostProcess();  // SIGTERM, then wait
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "") const;
  const HostOptions& options() const { return options_; }
  void stop();   // SIGTERM and wait; returns when the process has exited
  void kill9();  // SIGKILL and wait
  void start();  // (re)start with the same directories
  bool running() const { return pid_ > 0; }
  void signal(int sig);     // e.g. SIGHUP: reload
  std::string log() const;  // what the host wrote to stdout/stderr

 private:
  // Fails the current test when the host's log holds a sanitizer report (ASan, LSan, UBSan,
  // TSan) written since the last check: a report on a host thread, or LSan's at exit, would
  // otherwise go unseen whenever the test's own requests happened to succeed.
  void check_sanitizer_reports();

  HostOptions options_;
  std::string log_path_;
  size_t log_checked_ = 0;  // bytes of the log already searched for sanitizer reports
  int pid_ = -1;
  int port_ = 0;
};

// Copies the repository's default manifests into a fresh directory and returns it.
std::string copy_default_manifests();

// Called in a child right after fork(): the kernel kills the child (SIGKILL) when the test
// process dies, however it dies. A test that fails an ASSERT with client threads still joinable
// ends in std::terminate, which runs no destructor; without this its hosts and upstream servers
// would keep running (and holding ports and data directories) after the test binary is gone.
// `parent` is the pid the test process had before fork(), to catch a parent that died in between.
void die_with_parent(int parent);
// Writes `text` to `path` (creating or replacing it atomically).
void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

}  // namespace lakehost::test
