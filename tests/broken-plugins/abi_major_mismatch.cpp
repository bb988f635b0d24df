// Broken on purpose: built for plugin ABI (LH_ABI_MAJOR + 1).0, a future breaking version.
// The host must refuse it after calling nothing but the descriptor getter, naming the manifest,
// the library and both versions. Exported with BOOST_DLL_ALIAS directly (the helper macro always
// stamps the SDK's own version).
#include "raw_embedder.h"

namespace broken_entry {

const lh_plugin_descriptor* descriptor() {
  static const lh_plugin_descriptor d = [] {
    lh_plugin_descriptor x = broken::valid_descriptor("broken-abi-major-mismatch");
    x.abi_major = LH_ABI_MAJOR + 1;
    x.abi_minor = 0;
    return x;
  }();
  return &d;
}

BOOST_DLL_ALIAS(broken_entry::descriptor, lakehost_plugin)

}  // namespace broken_entry
