// Broken on purpose: the descriptor is fine but its embed table's struct_size stops before the
// `embed` pointer, as if built against an older, shorter v1 table. The host must refuse it
// rather than call through a pointer the plugin never promised.
#include <cstddef>

#include "raw_embedder.h"

namespace broken_entry {

const lh_embed_provider_v1 kShortTable = {
    static_cast<uint32_t>(offsetof(lh_embed_provider_v1, embed)), &broken::dimension, nullptr};

const lh_plugin_descriptor* descriptor() {
  static const lh_plugin_descriptor d = [] {
    lh_plugin_descriptor x = broken::valid_descriptor("broken-truncated-table");
    x.table = &kShortTable;
    return x;
  }();
  return &d;
}

BOOST_DLL_ALIAS(broken_entry::descriptor, lakehost_plugin)

}  // namespace broken_entry
