#include "plugin/manifest.h"

#include <rapidjson/schema.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "common/json.h"

namespace lakehost {
namespace {

constexpr const char* kManifestSchema = R"({
  "type": "object",
  "required": ["id", "kind", "library"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
    "kind": {"enum": ["embed_provider", "vector_backend", "retrieval_scorer", "chat_provider",
                      "storage_backend"]},
    "library": {"type": "string", "minLength": 1},
    "enabled": {"type": "boolean"},
    "default": {"type": "boolean"},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "description": {"type": "string"},
    "config": {"type": "object"}
  }
})";

const json::Schema& manifest_schema() {
  static const json::Schema schema(kManifestSchema);
  return schema;
}

constexpr std::pair<lh_plugin_kind, const char*> kKinds[] = {
    {LH_KIND_EMBED_PROVIDER, "embed_provider"},     {LH_KIND_VECTOR_BACKEND, "vector_backend"},
    {LH_KIND_RETRIEVAL_SCORER, "retrieval_scorer"}, {LH_KIND_CHAT_PROVIDER, "chat_provider"},
    {LH_KIND_STORAGE_BACKEND, "storage_backend"},
};

}  // namespace

const char* kind_name(lh_plugin_kind kind) {
  for (auto& [k, n] : kKinds)
    if (k == kind) return n;
  return "unknown";
}

std::optional<lh_plugin_kind> kind_from_name(std::string_view name) {
  for (auto& [k, n] : kKinds)
    if (name == n) return k;
  return std::nullopt;
}

Manifest parse_manifest(const std::string& text, const std::filesystem::path& file) {
  const std::string where = file.string();
  rapidjson::Document d;
  if (auto err = json::parse(text, d)) throw ManifestError(where + ": invalid JSON: " + *err);
  if (auto err = json::validate(manifest_schema(), d)) throw ManifestError(where + ": " + *err);
  Manifest m;
  m.file = file;
  m.id = d["id"].GetString();
  m.kind = *kind_from_name(d["kind"].GetString());
  m.library = d["library"].GetString();
  if (d.HasMember("enabled")) m.enabled = d["enabled"].GetBool();
  if (d.HasMember("default")) m.is_default = d["default"].GetBool();
  if (d.HasMember("sha256")) m.sha256 = d["sha256"].GetString();
  if (d.HasMember("config")) {
    m.config_json = json::canonical(d["config"]);
    // RapidJSON's parser may be 1 ulp off for decimals of 16 or more significant digits, so
    // such a number would change on every round trip and the plugin would not get what the
    // operator wrote (manifest fuzzer). Refuse it rather than pass on a different value.
    rapidjson::Document again;
    if (json::parse(m.config_json, again) || json::canonical(again) != m.config_json)
      throw ManifestError(where +
                          ": /config holds a number that does not read back as itself (too many "
                          "significant digits): write it with at most 15");
  }
  return m;
}

std::vector<Manifest> load_manifests(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw ManifestError(dir.string() + ": manifests directory does not exist");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Manifest> out;
  std::map<std::string, std::filesystem::path> ids;
  std::map<lh_plugin_kind, std::string> defaults;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw ManifestError(f.string() + ": cannot read");
    std::stringstream ss;
    ss << in.rdbuf();
    Manifest m = parse_manifest(ss.str(), f);
    if (auto it = ids.find(m.id); it != ids.end()) {
      throw ManifestError(f.string() + ": /id \"" + m.id + "\" is already used by " +
                          it->second.string());
    }
    ids.emplace(m.id, f);
    if (m.enabled && m.is_default) {
      if (auto it = defaults.find(m.kind); it != defaults.end()) {
        throw ManifestError(f.string() + ": /default: \"" + it->second +
                            "\" is already the default " + kind_name(m.kind));
      }
      defaults.emplace(m.kind, m.id);
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace lakehost
