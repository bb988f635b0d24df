// Fuzz target: manifests, from text to a library path. One manifest goes through
// parse_manifest (JSON, the manifest schema, canonical config) and the loader's resolution of
// its `library` inside the plugin directories (PluginLoader::resolve); or, when the first byte
// is odd, up to four manifests (separated by a line "---") go through load_manifests, which
// also refuses duplicate ids and two defaults of one kind. No library is ever loaded.
//
// Properties beyond "no crash": an accepted manifest's fields satisfy the schema; its config is
// canonical; a resolved library lies inside a plugin directory, whatever `..`, absolute paths
// or symlinks (the fixture has one pointing out) the fuzzer writes; a set has unique ids and one
// enabled default per kind at most.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "common/json.h"
#include "fuzz_input.h"
#include "fuzz_scratch.h"
#include "plugin/loader.h"
#include "plugin/manifest.h"

namespace fs = std::filesystem;
using namespace lakehost;

namespace {

struct Fixture {
  fs::path plugins, manifests;
  std::unique_ptr<PluginLoader> loader;
  Fixture() {
    spdlog::set_level(spdlog::level::off);
    const fs::path root = fuzz::scratch_dir();
    plugins = root / "plugins";
    manifests = root / "manifests";
    fs::create_directories(plugins / "sub");
    fs::create_directories(root / "outside");
    fs::create_directories(manifests);
    std::ofstream(plugins / "embed-hash.so") << "not really a library";
    std::ofstream(plugins / "sub" / "nested.so") << "nor this";
    std::ofstream(root / "outside" / "evil.so") << "outside the plugin directory";
    fs::create_directory_symlink(root / "outside", plugins / "escape");
    fs::create_symlink(root / "outside" / "evil.so", plugins / "evil.so");
    fs::create_directories(plugins / "dir.so");
    LoaderOptions o;
    o.plugin_dirs = {plugins};
    o.runtime_dir = root / "loaded";
    o.data_dir = root;
    loader = std::make_unique<PluginLoader>(o);
  }
};

void check_manifest(const Manifest& m) {
  static const std::regex id(R"(^[A-Za-z0-9_.-]{1,64}$)"), sha(R"(^[0-9a-f]{64}$)");
  LAKEHOST_FUZZ_CHECK(std::regex_match(m.id, id));
  LAKEHOST_FUZZ_CHECK(!m.library.empty());
  LAKEHOST_FUZZ_CHECK(!m.sha256 || std::regex_match(*m.sha256, sha));
  LAKEHOST_FUZZ_CHECK(std::string(kind_name(m.kind)) != "unknown");
  rapidjson::Document config;
  LAKEHOST_FUZZ_CHECK(!json::parse(m.config_json, config) && config.IsObject());
  LAKEHOST_FUZZ_CHECK(json::canonical(config) == m.config_json);
}

void resolve(const Fixture& f, const Manifest& m) {
  try {
    const auto [path, dir] = f.loader->resolve(m);
    const fs::path real_plugins = fs::canonical(f.plugins);
    LAKEHOST_FUZZ_CHECK(dir == real_plugins);
    const std::string p = path.string(), d = real_plugins.string() + "/";
    LAKEHOST_FUZZ_CHECK(p.compare(0, d.size(), d) == 0);  // inside the plugin directory
  } catch (const LoadError&) {
    // refused: missing, or outside the plugin directories
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  if (size == 0) return 0;
  const bool many = data[0] & 1;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (!many) {
    try {
      Manifest m = parse_manifest(text, "fuzz.json");
      check_manifest(m);
      resolve(fixture, m);
    } catch (const ManifestError&) {
    }
    return 0;
  }

  // A set of manifests, each in a file of its own.
  for (const auto& e : fs::directory_iterator(fixture.manifests)) fs::remove(e.path());
  size_t at = 0;
  for (int i = 0; i < 4 && at <= text.size(); ++i) {
    size_t end = text.find("\n---\n", at);
    if (end == std::string::npos) end = text.size();
    std::ofstream(fixture.manifests / (std::to_string(i) + ".json"), std::ios::binary)
        << text.substr(at, end - at);
    at = end + 5;
  }
  try {
    auto set = load_manifests(fixture.manifests);
    std::set<std::string> ids;
    std::map<lh_plugin_kind, int> defaults;
    for (const auto& m : set) {
      check_manifest(m);
      LAKEHOST_FUZZ_CHECK(ids.insert(m.id).second);
      if (m.enabled && m.is_default) LAKEHOST_FUZZ_CHECK(++defaults[m.kind] == 1);
      resolve(fixture, m);
    }
  } catch (const ManifestError&) {
  }
  return 0;
}
