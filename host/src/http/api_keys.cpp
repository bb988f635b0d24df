#include "http/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/json.h"
#include "common/prometheus.h"
#include "http/metrics.h"

namespace lakehost {

namespace {

// The key file's shape. Names and collections follow the collection-name rule so that they are
// safe as Prometheus label values and in log lines.
constexpr const char* kKeyFileSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["keys"],
  "properties": {
    "keys": {
      "type": "array",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "sha256", "scopes"],
        "properties": {
          "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
          "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
          "scopes": {"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": true,
                     "items": {"enum": ["read", "write", "admin"]}},
          "collections": {"type": "array", "minItems": 1, "uniqueItems": true,
                          "items": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}},
          "comment": {"type": "string"}
        }
      }
    },
    "metrics": {"enum": ["open", "admin"]}
  }
})";

const json::Schema& key_file_schema() {
  static const json::Schema schema(kKeyFileSchema);
  return schema;
}

// Presented keys longer than this are refused before hashing: no real key is that long.
constexpr size_t kMaxKeyLength = 512;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the API key file " + file.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ApiKeySet load(const std::filesystem::path& file) {
  std::string error;
  auto set = ApiKeySet::parse(read_file(file), error);
  if (!set) throw std::runtime_error("API key file " + file.string() + ": " + error);
  return std::move(*set);
}

}  // namespace

std::optional<Scope> scope_from_name(std::string_view name) {
  if (name == "read") return Scope::read;
  if (name == "write") return Scope::write;
  if (name == "admin") return Scope::admin;
  return std::nullopt;
}

const char* scope_name(Scope s) {
  switch (s) {
    case Scope::read:
      return "read";
    case Scope::write:
      return "write";
    case Scope::admin:
      return "admin";
    case Scope::none:
      break;
  }
  return "none";
}

Sha256 sha256_of(std::string_view bytes) {
  Sha256 out{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string to_hex(const Sha256& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char b : digest) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::optional<ApiKeySet> ApiKeySet::parse(std::string_view text, std::string& error) {
  rapidjson::Document doc;
  if (auto e = json::parse(text, doc)) {
    error = "not JSON: " + *e;
    return std::nullopt;
  }
  if (auto e = json::validate(key_file_schema(), doc)) {
    error = *e;
    return std::nullopt;
  }
  ApiKeySet set;
  if (doc.HasMember("metrics")) set.metrics_need_admin = doc["metrics"] == "admin";
  const auto& keys = doc["keys"];
  for (rapidjson::SizeType i = 0; i < keys.Size(); ++i) {
    const auto& k = keys[i];
    const std::string at = "/keys/" + std::to_string(i);
    ApiKey key;
    key.name = k["name"].GetString();
    const std::string_view hex(k["sha256"].GetString(), k["sha256"].GetStringLength());
    for (size_t b = 0; b < key.digest.size(); ++b)
      key.digest[b] =
          static_cast<unsigned char>(hex_value(hex[2 * b]) * 16 + hex_value(hex[2 * b + 1]));
    for (const auto& s : k["scopes"].GetArray())
      key.scopes |= static_cast<uint8_t>(*scope_from_name(s.GetString()));
    if (k.HasMember("collections"))
      for (const auto& c : k["collections"].GetArray()) key.collections.insert(c.GetString());
    for (const auto& other : set.keys) {
      if (other.name == key.name) {
        error = at + "/name: \"" + key.name + "\" is used by another key; names must be unique";
        return std::nullopt;
      }
      // Two entries with one digest would make the key's scopes depend on the file's order.
      if (other.digest == key.digest) {
        error = at + "/sha256: the same digest as key \"" + other.name + "\"";
        return std::nullopt;
      }
    }
    set.keys.push_back(std::move(key));
  }
  return set;
}

const ApiKey* ApiKeySet::find(std::string_view presented) const {
  if (presented.empty() || presented.size() > kMaxKeyLength) return nullptr;
  const Sha256 digest = sha256_of(presented);
  const ApiKey* found = nullptr;
  for (const auto& k : keys) {
    // No early exit: every entry costs the same whether or not it matched.
    const bool equal = CRYPTO_memcmp(digest.data(), k.digest.data(), digest.size()) == 0;
    if (equal) found = &k;
  }
  return found;
}

Credential credential_from_headers(const std::string* authorization, const std::string* api_key,
                                   bool repeated) {
  Credential c;
  auto malformed = [&](std::string reason) {
    c.kind = Credential::Kind::malformed;
    c.reason = std::move(reason);
    return c;
  };
  if (repeated) return malformed("the API key header is given more than once");
  std::optional<std::string> from_auth;
  if (authorization) {
    const std::string& v = *authorization;
    // RFC 9110: the scheme is case-insensitive, one or more spaces before the token.
    size_t sp = v.find(' ');
    std::string scheme = v.substr(0, sp);
    for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (scheme != "bearer" || sp == std::string::npos)
      return malformed(
          "the Authorization header must use the Bearer scheme: "
          "\"Authorization: Bearer KEY\"");
    size_t start = v.find_first_not_of(' ', sp);
    if (start == std::string::npos) return malformed("the Authorization header has no key");
    from_auth = v.substr(start);
  }
  if (from_auth && api_key && *from_auth != *api_key)
    return malformed("Authorization and X-API-Key present two different keys");
  const std::string* key = from_auth ? &*from_auth : api_key;
  if (!key) return c;
  if (key->empty()) return malformed("the API key is empty");
  if (key->size() > kMaxKeyLength)
    return malformed("the API key is longer than " + std::to_string(kMaxKeyLength) + " bytes");
  for (unsigned char ch : *key)
    if (ch <= 0x20 || ch >= 0x7f) return malformed("the API key has a character outside ASCII");
  c.kind = Credential::Kind::key;
  c.key = *key;
  return c;
}

ApiKeys::ApiKeys(std::filesystem::path file) : file_(std::move(file)) {
  set_ = with_counts(load(file_));
}

std::shared_ptr<const ApiKeySet> ApiKeys::with_counts(ApiKeySet set) {
  std::lock_guard lock(mu_);
  for (auto& k : set.keys) {
    auto& c = counts_[k.name];
    if (!c) c = std::make_shared<ApiKeyCounts>();
    k.counts = c;
  }
  return std::make_shared<const ApiKeySet>(std::move(set));
}

std::shared_ptr<const ApiKeySet> ApiKeys::current() const {
  std::lock_guard lock(mu_);
  return set_;
}

ApiKeys::ReloadResult ApiKeys::reload() {
  ReloadResult r;
  if (!enabled()) return r;
  try {
    auto fresh = with_counts(load(file_));
    r.keys = fresh->keys.size();
    std::lock_guard lock(mu_);
    set_ = std::move(fresh);
    spdlog::info("API keys: {} loaded from {}", r.keys, file_.string());
  } catch (const std::exception& e) {
    ++reload_failures_;
    r.ok = false;
    r.error = e.what();
    r.keys = current()->keys.size();
    spdlog::error("API keys: {}; the {} previous keys stay in force", r.error, r.keys);
  }
  return r;
}

void ApiKeys::count(const ApiKey& key, Outcome o) {
  if (key.counts) (o == Outcome::allowed ? key.counts->allowed : key.counts->forbidden)++;
}

void ApiKeys::count_refusal(Refusal r) { ++refusals_[static_cast<size_t>(r)]; }

void ApiKeys::render_metrics(std::string& out) const {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  prometheus::Text text(out);
  text.family("lakehost_api_key_requests_total", "counter",
              "Requests by API key name: allowed, or forbidden (403: the key lacks the scope or "
              "the collection).");
  for (const auto& [name, c] : counts_) {
    text.sample("lakehost_api_key_requests_total", {{"key", name}, {"outcome", "allowed"}},
                c->allowed.load());
    text.sample("lakehost_api_key_requests_total", {{"key", name}, {"outcome", "forbidden"}},
                c->forbidden.load());
  }
  text.family("lakehost_auth_refusals_total", "counter",
              "Requests refused with 401: no key, an unknown key, or a malformed credential.");
  static constexpr const char* kReasons[] = {"missing", "unknown", "malformed"};
  for (size_t i = 0; i < refusals_.size(); ++i)
    text.sample("lakehost_auth_refusals_total", {{"reason", kReasons[i]}}, refusals_[i].load());
  text.family("lakehost_api_keys", "gauge", "Keys in force.")
      .sample("lakehost_api_keys", uint64_t{set_->keys.size()});
  text.family("lakehost_api_key_reload_failures_total", "counter",
              "Key files refused on reload (the previous keys stayed).")
      .sample("lakehost_api_key_reload_failures_total", reload_failures_.load());
}

std::string generate_api_key() {
  Sha256 bytes{};  // 32 random bytes; the type only gives the size and the hex encoder
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("OpenSSL's RAND_bytes failed: no key generated");
  return "lh_" + to_hex(bytes);
}

}  // namespace lakehost
