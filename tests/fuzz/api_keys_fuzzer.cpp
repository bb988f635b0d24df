// Fuzz target: the API-key file (ApiKeySet::parse in host/src/http/api_keys.cpp), read at start, on
// reload and on SIGHUP, and the lookup of a presented key in what it parsed. The input's first
// line is a presented credential (the value of an Authorization header and then of X-API-Key);
// the rest is the key file.
//
// Properties beyond "no crash": a refused file has a UTF-8 reason (reasons are logged and
// returned by reload, in JSON); an accepted one has unique, non-empty names,
// unique digests and known scopes; find() answers only for a key whose digest is listed;
// credential_from_headers() yields a key only of printable ASCII within the length limit.
#include <spdlog/spdlog.h>

#include <set>

#include "common/json.h"
#include "fuzz_input.h"
#include "http/api_keys.h"

using namespace lakehost;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const std::string presented = in.until('\n');
  const std::string text = in.rest();

  std::string error;
  const auto set = ApiKeySet::parse(text, error);
  if (!set) {
    LAKEHOST_FUZZ_CHECK(!error.empty() && json::is_clean_text(error));
  } else {
    std::set<std::string> names;
    std::set<Sha256> digests;
    for (const auto& k : set->keys) {
      LAKEHOST_FUZZ_CHECK(!k.name.empty() && names.insert(k.name).second);
      LAKEHOST_FUZZ_CHECK(digests.insert(k.digest).second);
      LAKEHOST_FUZZ_CHECK((k.scopes & ~7u) == 0);
    }
    const ApiKey* found = set->find(presented);
    if (found) LAKEHOST_FUZZ_CHECK(found->digest == sha256_of(presented));
    for (const auto& k : set->keys) {
      // The file's own digests, presented as keys, are not keys (only their preimages are).
      const ApiKey* f = set->find(to_hex(k.digest));
      LAKEHOST_FUZZ_CHECK(!f || f->digest == sha256_of(to_hex(k.digest)));
    }
  }

  const Credential c = credential_from_headers(&presented, nullptr, false);
  const Credential both = credential_from_headers(&presented, &text, text.size() % 2);
  for (const Credential* cr : {&c, &both}) {
    if (cr->kind == Credential::Kind::key) {
      LAKEHOST_FUZZ_CHECK(!cr->key.empty() && cr->key.size() <= 512);
      for (unsigned char ch : cr->key) LAKEHOST_FUZZ_CHECK(ch > 0x20 && ch < 0x7f);
    } else if (cr->kind == Credential::Kind::malformed) {
      LAKEHOST_FUZZ_CHECK(json::is_clean_text(cr->reason));
    }
  }
  return 0;
}
