#include "core/readiness.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <utility>

#include "common/log_limiter.h"
#include "common/prometheus.h"

namespace lakehost {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

LogLimiter& probe_log() {
  static LogLimiter l;
  return l;
}

double ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

const char* status_name(DependencyStatus s) {
  switch (s) {
    case DependencyStatus::ok:
      return "ok";
    case DependencyStatus::failing:
      return "failing";
    default:
      return "unknown";
  }
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  const auto since = t.time_since_epoch();
  const std::time_t secs =
      static_cast<std::time_t>(std::chrono::duration_cast<std::chrono::seconds>(since).count());
  const auto millis = duration_cast<milliseconds>(since).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(millis));
  return buf;
}

// ---- Readiness --------------------------------------------------------------------------------

Readiness::Readiness(Registry& registry, ProbeOptions options)
    : registry_(registry), options_(options) {}

Readiness::~Readiness() { stop(); }

void Readiness::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void Readiness::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Readiness::adopt(const Generation& gen) {
  std::vector<Dependency> next;
  for (const auto& p : gen.plugins()) {
    auto it = std::find_if(deps_.begin(), deps_.end(),
                           [&](const Dependency& d) { return d.serial == p->serial(); });
    Dependency d;
    if (it != deps_.end()) {
      d = std::move(*it);  // the reload kept this instance: keep what we know about it
    } else {
      d.id = p->id();
      d.kind = p->kind();
      d.serial = p->serial();
    }
    d.is_default = gen.default_of(p->kind()) == p;
    next.push_back(std::move(d));
  }
  deps_ = std::move(next);  // instances no longer served are dropped
  generation_ = gen.number();
}

void Readiness::run() {
  auto next_round = SteadyClock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    auto gen = registry_.current();
    const bool changed = gen && gen->number() != generation_;
    if (changed) adopt(*gen);
    if (gen && (changed || SteadyClock::now() >= next_round)) {
      const auto started = SteadyClock::now();
      round(lock, gen);
      next_round = started + options_.interval;
      continue;  // a reload during the round is adopted and probed at once
    }
    // Wake often enough to notice a new generation soon after a reload publishes it.
    cv_.wait_until(lock, std::min(next_round, SteadyClock::now() + milliseconds(100)),
                   [&] { return stop_; });
  }
}

void Readiness::round(std::unique_lock<std::mutex>& lock, const GenerationPtr& gen) {
  // Every check starts at once on its own thread (PluginInstance::health_async), so a hung one
  // delays no other; the round ends when all have answered or the timeout has passed.
  struct Probe {
    InstancePtr inst;  // keeps an instance of an older generation alive until the round ends
    HealthCall call;
    bool done = false;
  };
  std::vector<Probe> probes;
  lock.unlock();
  for (const auto& p : gen->plugins()) probes.push_back({p, PluginInstance::health_async(p)});
  lock.lock();
  const auto deadline = SteadyClock::now() + options_.timeout;
  size_t left = probes.size();
  while (!stop_) {
    for (auto& pr : probes) {
      if (pr.done || pr.call.reply.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
        continue;
      pr.done = true;
      --left;
      record(*pr.inst, pr.call, &pr.call.reply.get());
    }
    if (!left || SteadyClock::now() >= deadline) break;
    cv_.wait_until(lock, std::min(deadline, SteadyClock::now() + milliseconds(10)),
                   [&] { return stop_; });
  }
  if (stop_) return;
  for (auto& pr : probes)
    if (!pr.done) record(*pr.inst, pr.call, nullptr);
}

void Readiness::record(const PluginInstance& inst, const HealthCall& call,
                       const HealthReply* reply) {
  auto it = std::find_if(deps_.begin(), deps_.end(),
                         [&](const Dependency& d) { return d.serial == inst.serial(); });
  if (it == deps_.end()) return;
  Dependency& d = *it;
  auto& counters = counters_[{d.id, kind_name(d.kind)}];
  const auto now = SteadyClock::now();
  const long long timeout_ms = options_.timeout.count();
  std::string failure;
  if (!reply) {
    ++counters.timed_out;
    d.latency = now - call.started;
    failure = "timed out after " + std::to_string(timeout_ms) + " ms";
    if (call.joined)
      failure += " (the check started " +
                 std::to_string(duration_cast<milliseconds>(d.latency).count()) +
                 " ms ago has not returned; no second one is started meanwhile)";
  } else {
    d.latency = reply->took;
    if (!reply->message.empty()) {
      ++counters.failed;
      failure = reply->message;
    } else if (reply->took > options_.timeout) {
      // A check joined from an earlier round that answered at last, but too slowly to count.
      ++counters.timed_out;
      failure = "answered after " +
                std::to_string(duration_cast<milliseconds>(reply->took).count()) +
                " ms, over the probe timeout of " + std::to_string(timeout_ms) + " ms";
    } else {
      ++counters.ok;
    }
  }
  d.checked_at = std::chrono::system_clock::now();
  d.checked_steady = now;
  if (failure.empty()) {
    if (d.status == DependencyStatus::failing)
      spdlog::info("plugin \"{}\" ({}) passes its health check again, after {} failed checks", d.id,
                   kind_name(d.kind), d.consecutive_failures);
    d.status = DependencyStatus::ok;
    d.message.clear();
    d.consecutive_failures = 0;
    return;
  }
  d.status = DependencyStatus::failing;
  d.message = failure;
  ++d.consecutive_failures;
  uint64_t held_back = 0;
  if (probe_log().admit(d.id + '\0' + kind_name(d.kind), &held_back))
    spdlog::warn("plugin \"{}\" ({}) fails its health check: {}{}", d.id, kind_name(d.kind),
                 failure, held_back_note(held_back));
}

ReadinessReport Readiness::report() const {
  ReadinessReport r;
  {
    std::lock_guard lock(mu_);
    r.generation = generation_;
    r.dependencies = deps_;
  }
  auto group_ok = [&](std::initializer_list<lh_plugin_kind> kinds) {
    for (auto k : kinds) {
      auto it = std::find_if(r.dependencies.begin(), r.dependencies.end(),
                             [&](const Dependency& d) { return d.is_default && d.kind == k; });
      if (it == r.dependencies.end() || it->status == DependencyStatus::failing) return false;
    }
    return true;
  };
  r.search = group_ok({LH_KIND_STORAGE_BACKEND, LH_KIND_EMBED_PROVIDER, LH_KIND_VECTOR_BACKEND,
                       LH_KIND_RETRIEVAL_SCORER});
  r.chat = group_ok({LH_KIND_CHAT_PROVIDER});
  r.degraded = std::any_of(r.dependencies.begin(), r.dependencies.end(), [](const Dependency& d) {
    return d.status == DependencyStatus::failing;
  });
  return r;
}

void Readiness::render_metrics(std::string& out) const {
  const auto r = report();
  prometheus::Text text(out);
  text.family("lakehost_ready", "gauge", "1 when the routes of a group can be served (GET /ready).")
      .sample("lakehost_ready", {{"group", "search"}}, r.search ? 1 : 0)
      .sample("lakehost_ready", {{"group", "chat"}}, r.chat ? 1 : 0);
  text.family("lakehost_plugin_ready", "gauge",
              "1 when the plugin instance passed its last background health check, 0 when it "
              "failed or timed out (absent until its first check).");
  for (const auto& d : r.dependencies) {
    if (d.status == DependencyStatus::unknown) continue;
    text.sample("lakehost_plugin_ready", {{"id", d.id}, {"kind", kind_name(d.kind)}},
                d.status == DependencyStatus::ok ? 1 : 0);
  }
  text.family("lakehost_plugin_health_check_seconds", "gauge",
              "Duration of the last background health check (the time waited, for one that timed "
              "out).");
  for (const auto& d : r.dependencies) {
    if (d.status == DependencyStatus::unknown) continue;
    text.sample("lakehost_plugin_health_check_seconds", {{"id", d.id}, {"kind", kind_name(d.kind)}},
                ms(d.latency) / 1000.0);
  }
  text.family("lakehost_plugin_health_checks_total", "counter",
              "Background health checks by result.");
  std::lock_guard lock(mu_);
  for (const auto& [key, c] : counters_) {
    const auto& [id, kind] = key;
    text.sample("lakehost_plugin_health_checks_total",
                {{"id", id}, {"kind", kind}, {"result", "ok"}}, uint64_t{c.ok});
    text.sample("lakehost_plugin_health_checks_total",
                {{"id", id}, {"kind", kind}, {"result", "failed"}}, uint64_t{c.failed});
    text.sample("lakehost_plugin_health_checks_total",
                {{"id", id}, {"kind", kind}, {"result", "timeout"}}, uint64_t{c.timed_out});
  }
}

}  // namespace lakehost
