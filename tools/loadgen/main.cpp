// lakehost-loadgen: closed-loop load against a lakehost (or any HTTP/1.1) endpoint with the
// seed's rotating six-query staffing mix. Human summary on stdout, one-line JSON on stderr.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "loadgen.h"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "lakehost-loadgen: closed-loop HTTP/1.1 load with the seed's six-query staffing mix "
      "(Forklift / CNC / Warehouse / Picker / Loader / Shipping). One thread and one keep-alive "
      "socket per connection. Human summary on stdout, one-line JSON summary on stderr."};
  loadgen::Options o;
  std::string url = "http://127.0.0.1:8080", duration = "10s", timeout = "10s";
  bool fail_on_errors = false;
  app.add_option("--url", url, "Base URL (http:// only); its path, if any, prefixes --path")
      ->capture_default_str();
  app.add_option("--concurrency,-c", o.concurrency, "Connections, one thread each")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--duration,-d", duration,
                 "How long to run: 30s, 500ms, 2m; 0 = no time limit (then --requests decides)")
      ->capture_default_str();
  app.add_option("--requests,-n", o.max_requests,
                 "Total requests to send; the run stops at whichever of --duration and "
                 "--requests comes first")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  app.add_option("--path", o.path, "Request path (POST)")->capture_default_str();
  app.add_option("--collection", o.collection, "\"collection\" field of the bodies")
      ->capture_default_str();
  app.add_option("--k", o.k, "\"k\" field of the bodies")->capture_default_str();
  app.add_option("--timeout", timeout, "Per-request timeout (connect, send, response)")
      ->capture_default_str();
  app.add_option("--header,-H", o.headers,
                 "Extra request header \"Name: value\" (repeatable), e.g. an API key")
      ->check([](const std::string& h) {
        return h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos
                   ? std::string("must be one \"Name: value\" line")
                   : std::string();
      });
  app.add_flag("--fail-on-errors", fail_on_errors,
               "Exit 1 if any response was not 2xx or any transport error occurred");
  CLI11_PARSE(app, argc, argv);

  if (auto err = loadgen::parse_url(url, o.url)) {
    std::cerr << "lakehost-loadgen: --url: " << *err << "\n";
    return 2;
  }
  o.url_text = url;
  if (o.path.empty() || o.path.front() != '/') o.path = "/" + o.path;
  auto d = loadgen::parse_duration(duration);
  if (!d) {
    std::cerr << "lakehost-loadgen: --duration: cannot parse \"" << duration
              << "\" (use e.g. 30s, 500ms, 2m)\n";
    return 2;
  }
  o.duration = *d;
  auto t = loadgen::parse_duration(timeout);
  if (!t || t->count() <= 0) {
    std::cerr << "lakehost-loadgen: --timeout: cannot parse \"" << timeout << "\"\n";
    return 2;
  }
  o.timeout = *t;
  if (o.duration.count() == 0 && o.max_requests == 0) {
    std::cerr << "lakehost-loadgen: --duration 0 needs --requests\n";
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  loadgen::Summary summary;
  try {
    summary = loadgen::run(o, g_stop);
  } catch (const std::exception& e) {
    std::cerr << "lakehost-loadgen: " << e.what() << "\n";
    return 2;
  }
  std::cout << loadgen::human_summary(o, summary) << std::flush;
  std::cerr << loadgen::json_summary(o, summary) << std::endl;

  if (fail_on_errors &&
      (summary.transport_errors > 0 || summary.non_2xx() > 0 || summary.requests == 0))
    return 1;
  return 0;
}
