// Helpers for storage backend plugins (header-only, optional): a portable byte form for the
// vectors the host stores with documents, and the check of a host-given document field.
// storage-sqlite and storage-postgres both use them, so their files hold the same bytes.
#pragma once

#include <lakehost/plugin.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lakehost::storage {

// Vectors are stored little-endian float32 whatever the machine, so a database moves between
// machines. On little-endian hosts the vector's own bytes are returned (no copy); elsewhere they
// are converted into `scratch`, which must outlive the returned view.
inline std::string_view encode_vector(const float* v, uint32_t dimension, std::string& scratch) {
  const size_t bytes = size_t{dimension} * sizeof(float);
  if constexpr (std::endian::native == std::endian::little) {
    return {reinterpret_cast<const char*>(v), bytes};
  } else {
    scratch.resize(bytes);
    for (uint32_t i = 0; i < dimension; ++i) {
      const auto bits = std::bit_cast<uint32_t>(v[i]);
      for (int b = 0; b < 4; ++b) scratch[4 * i + b] = static_cast<char>(bits >> (8 * b));
    }
    return scratch;
  }
}

// The inverse. Always copies: a blob inside a database's page buffer need not be float-aligned.
inline void decode_vector(std::string_view blob, std::vector<float>& out) {
  out.resize(blob.size() / sizeof(float));
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty()) std::memcpy(out.data(), blob.data(), out.size() * sizeof(float));
  } else {
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b)
        bits |= uint32_t{static_cast<unsigned char>(blob[4 * i + b])} << (8 * b);
      out[i] = std::bit_cast<float>(bits);
    }
  }
}

// A document field from the host; a range with a size but no data is refused, not read.
inline std::string_view field(lh_str s, const char* name, size_t index) {
  if (!s.data && s.size)
    throw Error(LH_ERR_INVALID_ARGUMENT, "document " + std::to_string(index) + ": " + name +
                                             " has " + std::to_string(s.size) +
                                             " bytes but no data pointer");
  return view(s);
}

}  // namespace lakehost::storage
