// Reading structured values from a fuzz input (the compiler-neutral part of what clang's
// FuzzedDataProvider does, so the targets also build with gcc for corpus replay).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace lakehost::fuzz {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}

  bool empty() const { return n_ == 0; }
  size_t left() const { return n_; }

  // Little-endian integer from the next bytes; 0 for bytes past the end.
  template <typename T>
  T take() {
    T v{};
    const size_t k = std::min(sizeof(T), n_);
    std::memcpy(&v, p_, k);
    p_ += k;
    n_ -= k;
    return v;
  }
  uint8_t byte() { return take<uint8_t>(); }

  // Up to `max` bytes, the length given by the next byte(s).
  std::string bytes(size_t max) {
    size_t len = max < 256 ? byte() : take<uint16_t>();
    len = std::min({len % (max + 1), n_});
    std::string out(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    return out;
  }
  // The rest of the input up to (not including) `sep`, which is consumed.
  std::string until(char sep) {
    const void* at = std::memchr(p_, sep, n_);
    const size_t len = at ? static_cast<size_t>(static_cast<const uint8_t*>(at) - p_) : n_;
    std::string out(reinterpret_cast<const char*>(p_), len);
    p_ += std::min(n_, len + 1);
    n_ -= std::min(n_, len + 1);
    return out;
  }
  std::string rest() {
    std::string out(reinterpret_cast<const char*>(p_), n_);
    p_ += n_;
    n_ = 0;
    return out;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// Stops the fuzzer (libFuzzer reports the input as a crash) when a property does not hold.
#define LAKEHOST_FUZZ_CHECK(cond)                                                        \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

}  // namespace lakehost::fuzz
