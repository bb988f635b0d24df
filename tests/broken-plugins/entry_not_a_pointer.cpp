// Broken on purpose: exports "lakehost_plugin" as a 14-byte string, neither the C function nor a
// pointer to it. The host must refuse it by the symbol's type and size, never reading the bytes
// as an address or jumping to them. Built without the SDK's entry check (tests/CMakeLists.txt).
#include "raw_embedder.h"

extern "C" BOOST_SYMBOL_EXPORT const char lakehost_plugin[14] = "not a pointer";
