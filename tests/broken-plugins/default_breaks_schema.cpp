// Broken on purpose: the config schema's default for "n" (0) violates the schema's own minimum
// (1). The host fills defaults in before create() and must refuse the manifest, naming the
// member and saying the default is at fault, rather than create the plugin with an invalid
// config.
#include "raw_embedder.h"

namespace broken_entry {

const lh_plugin_descriptor* descriptor() {
  static const lh_plugin_descriptor d = [] {
    lh_plugin_descriptor x = broken::valid_descriptor("broken-default-breaks-schema");
    x.config_schema =
        R"({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "default": 0}}})";
    return x;
  }();
  return &d;
}

BOOST_DLL_ALIAS(broken_entry::descriptor, lakehost_plugin)

}  // namespace broken_entry
