// Broken on purpose: a well-formed shared object with a perfectly valid descriptor function, but
// exported under its own C name instead of through the `lakehost_plugin` alias (the classic
// "forgot LAKEHOST_PLUGIN / BOOST_DLL_ALIAS" mistake). The host must refuse it as "not a lakehost
// plugin" without running any of its code.
#include "raw_embedder.h"

extern "C" BOOST_SYMBOL_EXPORT const lh_plugin_descriptor* lakehost_plugin_descriptor() {
  static const lh_plugin_descriptor d = broken::valid_descriptor("broken-no-entry");
  return &d;
}
