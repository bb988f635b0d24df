// Broken on purpose: "lakehost_plugin" is a pointer-sized variable, as BOOST_DLL_ALIAS makes it,
// but it points to a data object instead of the descriptor function. The host must check where
// the pointer goes (code of this same library) before calling through it.
#include "raw_embedder.h"

namespace {
const lh_plugin_descriptor kDescriptor = broken::valid_descriptor("broken-entry-points-to-data");
}

extern "C" BOOST_SYMBOL_EXPORT const void* const lakehost_plugin = &kDescriptor;
