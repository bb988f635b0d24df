// Manifests: one JSON file per plugin instance. Parsed and validated against the manifest schema
// here; the `config` object is validated later against the plugin's own schema (loader).
#pragma once

#include <lakehost/plugin_api.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lakehost {

// A manifest (or set of manifests) that cannot be used. The message names the file and the JSON
// pointer of the bad field.
class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Manifest {
  std::filesystem::path file;  // where it was read from
  std::string id;
  lh_plugin_kind kind{};
  std::string library;  // as written: relative to a plugin directory
  bool enabled = true;
  bool is_default = false;
  std::optional<std::string> sha256;  // lowercase hex
  std::string config_json = "{}";     // the `config` object, canonical text
};

const char* kind_name(lh_plugin_kind kind);  // "embed_provider", ...
std::optional<lh_plugin_kind> kind_from_name(std::string_view name);

// Parses one manifest text; `file` is used in error messages.
Manifest parse_manifest(const std::string& text, const std::filesystem::path& file);

// Reads every *.json file of `dir` (sorted by name). Throws ManifestError on the first bad file,
// a duplicate id, or an ambiguous default. Disabled manifests are returned too.
std::vector<Manifest> load_manifests(const std::filesystem::path& dir);

}  // namespace lakehost
