// Broken on purpose: raw C create() that returns LH_ERR_INVALID_ARGUMENT with a message (as a
// plugin does when its config parses but cannot work, e.g. a model file that does not exist).
// The host must refuse the instance with that message.
#include "raw_embedder.h"

namespace broken_entry {

lh_status failing_create(const lh_host_api*, lh_str, void** out_self, lh_error* err) noexcept {
  *out_self = nullptr;
  broken::set_error(err, "create_fails: refusing every config on purpose");
  return LH_ERR_INVALID_ARGUMENT;
}

const lh_plugin_descriptor* descriptor() {
  static const lh_plugin_descriptor d = [] {
    lh_plugin_descriptor x = broken::valid_descriptor("broken-create-fails");
    x.create = &failing_create;
    return x;
  }();
  return &d;
}

BOOST_DLL_ALIAS(broken_entry::descriptor, lakehost_plugin)

}  // namespace broken_entry
