// The storage backend contract (lh_storage_backend_v1): collections, documents and key/value
// records, durable when a call returns, all or nothing per batch.
#include <string>

#include "conformance/conformance.h"

namespace lakehost::conformance {

std::vector<Case> storage_cases() {
  return {
      {"storage.kv_round_trip",
       "a value put under a key is read back byte for byte, replaced by the next put, and gone "
       "after a delete",
       [](const Factory& make) {
         Storage s(make());
         const std::string value("bytes \0 with a NUL and \xff", 25);
         s.kv_put("k", value);
         check(s.kv_get("k") == value, "kv_get did not return the bytes kv_put stored");
         s.kv_put("k", "second");
         check(s.kv_get("k") == "second", "a second kv_put did not replace the value");
         check(s.kv_delete("k"), "kv_delete of a present key reported it absent");
         check(!s.kv_get("k"), "a deleted key is still readable");
         check(!s.kv_delete("k"), "kv_delete of an absent key reported it present");
       }},
  };
}

}  // namespace lakehost::conformance
