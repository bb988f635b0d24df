// The /metrics registry: request counters and latency histograms per route (lock-free atomics,
// created at start-up), plus collectors that append other families at scrape time. The text
// format itself is common/prometheus.h.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/prometheus.h"

namespace lakehost {

class RouteMetrics {
 public:
  RouteMetrics(std::string method, std::string route)
      : method_(std::move(method)), route_(std::move(route)) {}
  void observe(int status, double seconds);
  void render(prometheus::Text& text) const;
  void render_histogram(prometheus::Text& text) const;

  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

 private:
  static constexpr std::array<int, 16> kStatuses = {200, 201, 204, 400, 401, 403, 404, 405,
                                                    408, 409, 413, 422, 429, 500, 503, 0};
  std::string method_, route_;
  std::array<std::atomic<uint64_t>, kStatuses.size()> by_status_{};
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  RouteMetrics* route(const std::string& method, const std::string& route);
  // Extra gauges rendered at scrape time (generation, documents per collection, ...).
  void add_collector(std::function<void(std::string&)> fn);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<RouteMetrics>> routes_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

}  // namespace lakehost
