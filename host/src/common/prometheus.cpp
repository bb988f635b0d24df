#include "common/prometheus.h"

#include <cstdio>

namespace lakehost::prometheus {

std::string label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

Text& Text::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  return *this;
}

Text& Text::sample(std::string_view name, Labels labels, uint64_t value) {
  line(name, labels, std::to_string(value));
  return *this;
}

Text& Text::sample(std::string_view name, Labels labels, int64_t value) {
  line(name, labels, std::to_string(value));
  return *this;
}

Text& Text::sample(std::string_view name, Labels labels, double value) {
  char num[64];
  std::snprintf(num, sizeof num, "%.6f", value);
  line(name, labels, num);
  return *this;
}

void Text::line(std::string_view name, Labels labels, std::string_view value) {
  out_.append(name);
  if (labels.size()) {
    out_ += '{';
    bool first = true;
    for (const auto& [key, val] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_.append(key).append("=\"").append(label_value(val)).append("\"");
    }
    out_ += '}';
  }
  out_.append(" ").append(value).append("\n");
}

}  // namespace lakehost::prometheus
