#include "host_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace fs = std::filesystem;

namespace lakehost::test {

void die_with_parent(int parent) {
  // PR_SET_PDEATHSIG fires when the thread that forked exits: tests start hosts from their main
  // thread, which lives as long as the test process.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
}

void write_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  fs::rename(tmp, path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string copy_default_manifests() {
  std::string dir = temp_dir();
  for (const auto& e : fs::directory_iterator(LAKEHOST_SOURCE_DIR "/manifests")) {
    if (e.is_regular_file() && e.path().extension() == ".json")
      fs::copy_file(e.path(), fs::path(dir) / e.path().filename());
  }
  return dir;
}

HostProcess::HostProcess(HostOptions options) : options_(std::move(options)) {
  if (options_.manifests_dir.empty()) options_.manifests_dir = copy_default_manifests();
  if (options_.data_dir.empty()) options_.data_dir = temp_dir();
  if (options_.plugin_dirs.empty()) options_.plugin_dirs = {LAKEHOST_TEST_PLUGIN_DIR};
  log_path_ = temp_dir() + "/host.log";
  start();
}

HostProcess::~HostProcess() {
  try {
    stop();
  } catch (...) {
  }
}

std::string HostProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string HostProcess::log() const { return read_file(log_path_); }

void HostProcess::check_sanitizer_reports() {
  const std::string text = log();
  if (text.size() <= log_checked_) return;
  const std::string_view fresh = std::string_view(text).substr(log_checked_);
  log_checked_ = text.size();
  // The first line of every report of the sanitizers the build can enable (scripts/sanitize.sh).
  for (const char* marker :
       {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
        "ThreadSanitizer: ", ": runtime error: ", "SUMMARY: UndefinedBehaviorSanitizer"}) {
    const size_t at = fresh.find(marker);
    if (at == std::string_view::npos) continue;
    const size_t from = fresh.rfind('\n', at > 2000 ? at - 2000 : 0);
    ADD_FAILURE() << "sanitizer report in the lakehost host process (" << log_path_ << "):\n"
                  << fresh.substr(from == std::string_view::npos ? 0 : from, 12000);
    return;
  }
}

void HostProcess::start() {
  if (pid_ > 0) return;
  std::string port_file = options_.data_dir + "/port";
  fs::remove(port_file);
  std::vector<std::string> args = {
      LAKEHOST_BINARY,        "serve",  "--listen",        options_.listen, "--manifests",
      options_.manifests_dir, "--data", options_.data_dir, "--port-file",   port_file};
  for (const auto& d : options_.plugin_dirs) {
    args.push_back("--plugin-dir");
    args.push_back(d);
  }
  if (!options_.watch) args.push_back("--no-watch");
  if (options_.demo) {
    args.push_back("--demo");
    args.push_back(LAKEHOST_SOURCE_DIR "/data/demo/workers.jsonl");
  }
  for (const auto& a : options_.extra_args) args.push_back(a);

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    die_with_parent(parent);
    FILE* f = std::fopen(log_path_.c_str(), "a");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    for (const auto& [name, value] : options_.env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  // Wait for the port file (the host writes it once it is listening).
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(60'000 * time_scale()));
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      check_sanitizer_reports();
      throw std::runtime_error("lakehost exited during start-up:\n" + log());
    }
    std::string p = read_file(port_file);
    if (!p.empty() && p.back() == '\n') {
      port_ = std::stoi(p);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill9();
  throw std::runtime_error("lakehost did not start listening within 60 s:\n" + log());
}

void HostProcess::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void HostProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(20'000 * time_scale()));
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  check_sanitizer_reports();  // after exit: LSan reports then
}

void HostProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  check_sanitizer_reports();
}

}  // namespace lakehost::test
