// Prometheus text exposition (format 0.0.4), hand-written: Debian 12 packages no Prometheus
// client library for C++. Every /metrics line the host writes goes through this one writer, so
// escaping and the HELP/TYPE header of each family are done the same way everywhere.
// https://prometheus.io/docs/instrumenting/exposition_formats/
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace lakehost::prometheus {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// A label value with \, " and newline escaped.
std::string label_value(std::string_view v);

// Appends to a scrape body. Write each family's header once, then its samples.
class Text {
 public:
  explicit Text(std::string& out) : out_(out) {}
  // "# HELP name help" and "# TYPE name type" (counter, gauge, histogram).
  Text& family(std::string_view name, std::string_view type, std::string_view help);
  // "name{label="value",...} value": integers exactly, other numbers with six decimals.
  Text& sample(std::string_view name, Labels labels, uint64_t value);
  Text& sample(std::string_view name, Labels labels, int64_t value);
  Text& sample(std::string_view name, Labels labels, int value) {
    return sample(name, labels, static_cast<int64_t>(value));
  }
  Text& sample(std::string_view name, Labels labels, double value);
  Text& sample(std::string_view name, uint64_t value) { return sample(name, {}, value); }
  Text& sample(std::string_view name, int64_t value) { return sample(name, {}, value); }
  Text& sample(std::string_view name, int value) { return sample(name, {}, value); }
  Text& sample(std::string_view name, double value) { return sample(name, {}, value); }

 private:
  void line(std::string_view name, Labels labels, std::string_view value);
  std::string& out_;
};

}  // namespace lakehost::prometheus
