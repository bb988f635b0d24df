// Shared by the raw-C broken plugins in this folder (not a plugin itself: only *.cpp files are
// built). A minimal, *valid* embed provider written against plugin_api.h directly, without the
// C++ helper, so that each broken plugin can break exactly one thing in its own descriptor.
#pragma once

#include <lakehost/plugin_api.h>

#include <boost/dll/alias.hpp>
#include <cstring>

namespace broken {

constexpr uint32_t kDimension = 8;

inline uint32_t dimension(void*) noexcept { return kDimension; }

// Every text becomes the first unit vector.
inline lh_status embed(void*, const lh_str*, size_t n, float* out, lh_error*) noexcept {
  for (size_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < kDimension; ++j) out[i * kDimension + j] = j == 0 ? 1.0f : 0.0f;
  return LH_OK;
}

inline int g_instance;  // instances carry no state: all of them are this address

inline lh_status create(const lh_host_api*, lh_str, void** out_self, lh_error*) noexcept {
  *out_self = &g_instance;
  return LH_OK;
}

inline void destroy(void*) noexcept {}

inline void set_error(lh_error* err, const char* message) noexcept {
  std::strncpy(err->message, message, LH_ERROR_MESSAGE_MAX - 1);
  err->message[LH_ERROR_MESSAGE_MAX - 1] = '\0';
}

inline const lh_embed_provider_v1 kTable = {sizeof(lh_embed_provider_v1), &dimension, &embed};

// A correct ABI 1.0 descriptor; each broken plugin copies it and changes one field.
constexpr lh_plugin_descriptor valid_descriptor(const char* name) {
  return {sizeof(lh_plugin_descriptor),
          LH_ABI_MAJOR,
          LH_ABI_MINOR,
          LH_KIND_EMBED_PROVIDER,
          LH_FLAG_THREAD_SAFE,
          name,
          "0.0.1",
          "deliberately broken plugin for the loader tests",
          R"({"type": "object"})",
          "test",
          &create,
          &destroy,
          nullptr,
          &kTable};
}

}  // namespace broken
