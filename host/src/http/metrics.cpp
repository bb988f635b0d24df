#include "http/metrics.h"

#include <cstdio>

#include "common/prometheus.h"

namespace lakehost {

void RouteMetrics::observe(int status, double seconds) {
  size_t i = 0;
  while (i + 1 < kStatuses.size() && kStatuses[i] != status) ++i;
  by_status_[i].fetch_add(1, std::memory_order_relaxed);
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  buckets_[b].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void RouteMetrics::render(prometheus::Text& text) const {
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    uint64_t n = by_status_[i].load(std::memory_order_relaxed);
    if (!n) continue;
    const std::string status = kStatuses[i] ? std::to_string(kStatuses[i]) : "other";
    text.sample("lakehost_http_requests_total",
                {{"method", method_}, {"route", route_}, {"status", status}}, n);
  }
}

void RouteMetrics::render_histogram(prometheus::Text& text) const {
  if (!count_.load(std::memory_order_relaxed)) return;
  uint64_t cumulative = 0;
  char le[32];
  for (size_t b = 0; b <= kBuckets.size(); ++b) {
    cumulative += buckets_[b].load(std::memory_order_relaxed);
    if (b < kBuckets.size())
      std::snprintf(le, sizeof le, "%g", kBuckets[b]);
    else
      std::snprintf(le, sizeof le, "+Inf");
    text.sample("lakehost_http_request_duration_seconds_bucket",
                {{"method", method_}, {"route", route_}, {"le", le}}, cumulative);
  }
  text.sample("lakehost_http_request_duration_seconds_sum",
              {{"method", method_}, {"route", route_}},
              sum_micros_.load(std::memory_order_relaxed) / 1e6);
  text.sample("lakehost_http_request_duration_seconds_count",
              {{"method", method_}, {"route", route_}}, cumulative);
}

RouteMetrics* Metrics::route(const std::string& method, const std::string& route) {
  std::lock_guard lock(mu_);
  routes_.push_back(std::make_unique<RouteMetrics>(method, route));
  return routes_.back().get();
}

void Metrics::add_collector(std::function<void(std::string&)> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  prometheus::Text text(out);
  text.family("lakehost_http_requests_total", "counter",
              "HTTP requests by route, method and status.");
  for (const auto& r : routes_) r->render(text);
  text.family("lakehost_http_request_duration_seconds", "histogram", "HTTP request latency.");
  for (const auto& r : routes_) r->render_histogram(text);
  for (const auto& c : collectors_) c(out);
  return out;
}

}  // namespace lakehost
