#include "plugin/failures.h"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "common/log_limiter.h"
#include "common/prometheus.h"

namespace lakehost {
namespace {

struct RequestFailures {
  LogLimiter log;
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, uint64_t> unavailable;  // (id, op) -> count
};

RequestFailures& request_failures() {
  static RequestFailures f;
  return f;
}

}  // namespace

void log_plugin_failure(const PluginInstance& p, const char* op, lh_status st,
                        const std::string& message) {
  auto& f = request_failures();
  if (st == LH_ERR_UNAVAILABLE) {
    std::lock_guard lock(f.mu);
    ++f.unavailable[{p.id(), op}];
  }
  uint64_t held_back = 0;
  if (!f.log.admit(p.id(), &held_back)) return;
  if (st == LH_ERR_UNAVAILABLE)
    spdlog::warn("upstream unavailable: {}{}", message, held_back_note(held_back));
  else
    spdlog::error("plugin error: {}{}", message, held_back_note(held_back));
}

void render_plugin_failure_metrics(std::string& out) {
  auto& f = request_failures();
  prometheus::Text text(out);
  text.family("lakehost_upstream_unavailable_total", "counter",
              "Plugin calls on the request path that reported their upstream unavailable (503 "
              "upstream_unavailable), by plugin and operation.");
  std::lock_guard lock(f.mu);
  for (const auto& [key, n] : f.unavailable)
    text.sample("lakehost_upstream_unavailable_total", {{"id", key.first}, {"op", key.second}}, n);
}

}  // namespace lakehost
