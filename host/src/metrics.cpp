#include "metrics.h"

#include <cstdio>

namespace lakehost {

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

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

void RouteMetrics::render(std::string& out) const {
  const std::string labels = "method=\"" + method_ + "\",route=\"" + label_value(route_) + "\"";
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    uint64_t n = by_status_[i].load(std::memory_order_relaxed);
    if (!n) continue;
    std::string status = kStatuses[i] ? std::to_string(kStatuses[i]) : "other";
    out += "lakehost_http_requests_total{" + labels + ",status=\"" + status + "\"} " +
           std::to_string(n) + "\n";
  }
}

void RouteMetrics::render_histogram(std::string& out) const {
  uint64_t count = count_.load(std::memory_order_relaxed);
  if (!count) return;
  const std::string labels = "method=\"" + method_ + "\",route=\"" + label_value(route_) + "\"";
  uint64_t cumulative = 0;
  char le[32];
  for (size_t b = 0; b < kBuckets.size(); ++b) {
    cumulative += buckets_[b].load(std::memory_order_relaxed);
    std::snprintf(le, sizeof le, "%g", kBuckets[b]);
    out += "lakehost_http_request_duration_seconds_bucket{" + labels + ",le=\"" + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[kBuckets.size()].load(std::memory_order_relaxed);
  out += "lakehost_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
         std::to_string(cumulative) + "\n";
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", sum_micros_.load(std::memory_order_relaxed) / 1e6);
  out += "lakehost_http_request_duration_seconds_sum{" + labels + "} " + sum + "\n";
  out += "lakehost_http_request_duration_seconds_count{" + labels + "} " +
         std::to_string(cumulative) + "\n";
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
  out += "# HELP lakehost_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE lakehost_http_requests_total counter\n";
  for (const auto& r : routes_) r->render(out);
  out += "# HELP lakehost_http_request_duration_seconds HTTP request latency.\n";
  out += "# TYPE lakehost_http_request_duration_seconds histogram\n";
  for (const auto& r : routes_) r->render_histogram(out);
  for (const auto& c : collectors_) c(out);
  return out;
}

}  // namespace lakehost
