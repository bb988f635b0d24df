// Broken on purpose: built for plugin ABI LH_ABI_MAJOR.(LH_ABI_MINOR + 1), an additive version
// newer than the host's. The host cannot know the fields such a plugin may expect it to honour,
// so it must refuse, naming both versions and asking for a host upgrade.
#include "raw_embedder.h"

namespace broken_entry {

const lh_plugin_descriptor* descriptor() {
  static const lh_plugin_descriptor d = [] {
    lh_plugin_descriptor x = broken::valid_descriptor("broken-abi-minor-newer");
    x.abi_minor = LH_ABI_MINOR + 1;
    return x;
  }();
  return &d;
}

BOOST_DLL_ALIAS(broken_entry::descriptor, lakehost_plugin)

}  // namespace broken_entry
