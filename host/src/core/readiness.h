// Readiness: a background prober runs every plugin instance's health check with its own short
// timeout and keeps the last answer per instance, so GET /ready and /metrics only read a
// snapshot and no request thread ever waits on a plugin's health check or its upstream.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/registry.h"

namespace lakehost {

struct ProbeOptions {
  std::chrono::milliseconds interval{5000};  // from the start of one round to the next
  std::chrono::milliseconds timeout{2000};   // per round: a check not done by then is failing
};

enum class DependencyStatus { unknown, ok, failing };
const char* status_name(DependencyStatus s);

// What the prober knows about one plugin instance of the current generation.
struct Dependency {
  std::string id;
  lh_plugin_kind kind{};
  bool is_default = false;
  uint64_t serial = 0;  // PluginInstance::serial(): an instance kept by a reload keeps its state
  DependencyStatus status = DependencyStatus::unknown;
  std::string message;  // why it is failing ("" when ok)
  std::optional<std::chrono::system_clock::time_point> checked_at;  // end of the last check
  std::chrono::steady_clock::time_point checked_steady{};
  std::chrono::steady_clock::duration latency{};  // of the last check (time waited if timed out)
  uint64_t consecutive_failures = 0;
};

struct ReadinessReport {
  uint64_t generation = 0;
  std::vector<Dependency> dependencies;  // in the generation's plugin order
  // Route groups. search: the default storage, embed provider, vector backend and retrieval
  // scorer are enabled and none is failing (every route but chat needs them). chat: a default
  // chat provider is enabled and not failing. "unknown" (not probed yet) does not fail a group:
  // the reload that created the instance ran the same check and refuses unhealthy instances.
  bool search = false;
  bool chat = false;
  bool degraded = false;  // some enabled instance is failing
};

class Readiness {
 public:
  Readiness(Registry& registry, ProbeOptions options);
  ~Readiness();  // stop()
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  void start();  // starts the prober thread; its first round runs at once
  void stop();   // returns within ~10 ms, even while a health check hangs

  ReadinessReport report() const;
  const ProbeOptions& options() const { return options_; }
  // lakehost_ready, lakehost_plugin_ready, lakehost_plugin_health_check_seconds,
  // lakehost_plugin_health_checks_total.
  void render_metrics(std::string& out) const;

 private:
  struct Counters {
    uint64_t ok = 0, failed = 0, timed_out = 0;
  };
  void run();
  void adopt(const Generation& gen);  // caller holds mu_
  void round(std::unique_lock<std::mutex>& lock, const GenerationPtr& gen);
  void record(const PluginInstance& inst, const HealthCall& call, const HealthReply* reply);

  Registry& registry_;
  const ProbeOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  uint64_t generation_ = 0;
  std::vector<Dependency> deps_;
  std::map<std::pair<std::string, std::string>, Counters> counters_;  // (id, kind), kept forever
};

// "2026-12-02T10:00:00.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point t);

}  // namespace lakehost
