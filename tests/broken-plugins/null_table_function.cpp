// Broken on purpose: the embed table is full size but its `embed` pointer is NULL. The host
// calls every ABI 1.0 function without checking it, so it must refuse the library at load
// instead of crashing at the first request (found by tests/fuzz/plugin_descriptor_fuzzer.cpp's
// property that an accepted descriptor has every required function).
#include "raw_embedder.h"

namespace broken_entry {

const lh_embed_provider_v1 kTableWithoutEmbed = {sizeof(lh_embed_provider_v1), &broken::dimension,
                                                 nullptr};

const lh_plugin_descriptor* descriptor() {
  static const lh_plugin_descriptor d = [] {
    lh_plugin_descriptor x = broken::valid_descriptor("broken-null-table-function");
    x.table = &kTableWithoutEmbed;
    return x;
  }();
  return &d;
}

BOOST_DLL_ALIAS(broken_entry::descriptor, lakehost_plugin)

}  // namespace broken_entry
