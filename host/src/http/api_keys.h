// API keys with scopes (docs/operator-guide.md, "Security"). The key file names each key, holds
// only its SHA-256, grants it scopes and optionally limits it to some collections:
//
//   {"keys": [{"name": "search-app", "sha256": "<64 hex digits>", "scopes": ["read"],
//              "collections": ["workers"]}],
//    "metrics": "open"}
//
// A request presents its key as `Authorization: Bearer KEY` or `X-API-Key: KEY`; the host hashes
// it and compares the digest with every entry in constant time. The set of keys is swapped whole
// on reload, so a request sees either the old set or the new one, never a mix.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lakehost {

enum class Scope : uint8_t { none = 0, read = 1, write = 2, admin = 4 };

// "read", "write", "admin" -> the scope; anything else -> nullopt.
std::optional<Scope> scope_from_name(std::string_view name);
const char* scope_name(Scope s);

using Sha256 = std::array<unsigned char, 32>;
Sha256 sha256_of(std::string_view bytes);
std::string to_hex(const Sha256& digest);

// Requests answered for one key name; kept across reloads while the name stays.
struct ApiKeyCounts {
  std::atomic<uint64_t> allowed{0}, forbidden{0};
};

struct ApiKey {
  std::string name;
  Sha256 digest{};
  uint8_t scopes = 0;                    // Scope bits
  std::set<std::string> collections;     // empty: every collection
  std::shared_ptr<ApiKeyCounts> counts;  // set by ApiKeys (null in a set parsed alone)
  bool has(Scope s) const { return (scopes & static_cast<uint8_t>(s)) != 0; }
  bool limited() const { return !collections.empty(); }
  bool may_touch(const std::string& collection) const {
    return collections.empty() || collections.count(collection) != 0;
  }
};

// One parsed key file. Immutable once built.
struct ApiKeySet {
  std::vector<ApiKey> keys;
  bool metrics_need_admin = false;  // "metrics": "admin"

  // Parses and validates a key file's text; on failure returns nullopt and sets `error` to a
  // message naming the bad field (a JSON pointer), never echoing a digest.
  static std::optional<ApiKeySet> parse(std::string_view text, std::string& error);

  // The key whose digest equals SHA-256(presented), or null. Every entry is compared, with
  // CRYPTO_memcmp, whatever matches: the time taken does not depend on which bytes match.
  const ApiKey* find(std::string_view presented) const;
};

// What a request presented: nothing, a key, or something unusable (with the reason).
struct Credential {
  enum class Kind { none, key, malformed } kind = Kind::none;
  std::string key;     // Kind::key
  std::string reason;  // Kind::malformed
};

// Reads the credential from the values of the Authorization and X-API-Key headers (null when
// absent; `repeated` when a header occurs more than once).
Credential credential_from_headers(const std::string* authorization, const std::string* api_key,
                                   bool repeated);

// The keys in force: loaded from a file at start, re-read on reload and SIGHUP. A file that does
// not parse keeps the previous keys (and the reason is reported). Thread-safe.
class ApiKeys {
 public:
  // No file: authentication is off and every route is open.
  ApiKeys() = default;
  // Loads `file`; throws std::runtime_error with the reason if it cannot be used at start.
  explicit ApiKeys(std::filesystem::path file);

  bool enabled() const { return !file_.empty(); }
  const std::filesystem::path& file() const { return file_; }
  std::shared_ptr<const ApiKeySet> current() const;

  struct ReloadResult {
    bool ok = true;
    std::string error;  // why the file was refused (the previous keys stay)
    size_t keys = 0;    // keys in force after the reload
  };
  ReloadResult reload();

  // Request accounting for /metrics, by key name (never the key). Lock-free.
  enum class Outcome { allowed, forbidden };
  static void count(const ApiKey& key, Outcome o);
  enum class Refusal { missing, unknown, malformed };
  void count_refusal(Refusal r);
  void render_metrics(std::string& out) const;

 private:
  std::filesystem::path file_;
  // Gives each key of `set` the counters of its name (new ones for a new name).
  std::shared_ptr<const ApiKeySet> with_counts(ApiKeySet set);

  mutable std::mutex mu_;
  std::shared_ptr<const ApiKeySet> set_;
  std::map<std::string, std::shared_ptr<ApiKeyCounts>> counts_;  // under mu_; only grows
  std::array<std::atomic<uint64_t>, 3> refusals_{};
  std::atomic<uint64_t> reload_failures_{0};
};

// A new random key ("lh_" + 64 hex digits, 256 bits from OpenSSL's RAND_bytes).
std::string generate_api_key();

}  // namespace lakehost
