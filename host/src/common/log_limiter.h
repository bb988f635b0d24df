// Rate-limited logging: at most one line per key in a window, the next line saying how many were
// held back. For failures that can repeat on every request or every probe (an upstream that is
// down), so the log stays readable and cheap while the counters in /metrics stay exact.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace lakehost {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration window = std::chrono::seconds(10))
      : window_(window) {}

  // Whether to write the line for `key` now; *held_back = lines suppressed since the last one.
  bool admit(const std::string& key, uint64_t* held_back) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = entries_.try_emplace(key);
    auto& e = it->second;
    if (!fresh && now - e.last < window_) {
      ++e.held_back;
      return false;
    }
    e.last = now;
    *held_back = std::exchange(e.held_back, 0);
    return true;
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last{};
    uint64_t held_back = 0;
  };
  const std::chrono::steady_clock::duration window_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// " (N more since the last such line, not logged)", or "" for none.
inline std::string held_back_note(uint64_t n) {
  if (!n) return "";
  return " (" + std::to_string(n) + " more since the last such line, not logged)";
}

}  // namespace lakehost
