#include "plugin_fixture.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "plugin/loader.h"

namespace fs = std::filesystem;

namespace lakehost::test {
namespace {

// Namespace-scope, defined before `cleanup`: destroyed after it.
std::vector<std::string> g_temp_dirs;
std::vector<std::string>& temp_dirs() { return g_temp_dirs; }

struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    for (auto& d : temp_dirs()) fs::remove_all(d, ec);
  }
} cleanup;

class Loaded final : public LoadedPlugin {
 public:
  explicit Loaded(std::shared_ptr<PluginInstance> inst) : inst_(std::move(inst)) {}
  ~Loaded() override {
    inst_.reset();
    Reaper::instance().drain();  // destroy() has run when the test continues
  }
  const lh_plugin_descriptor* descriptor() const override { return &inst_->library().descriptor(); }
  void* self() const override { return inst_->self(); }

 private:
  std::shared_ptr<PluginInstance> inst_;
};

}  // namespace

double time_scale() {
  static const double scale = [] {
    const char* v = std::getenv("LAKEHOST_TEST_TIME_SCALE");
    const double s = v ? std::atof(v) : 1.0;
    return s > 1.0 ? s : 1.0;
  }();
  return scale;
}

std::string temp_dir() {
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::string tmpl = (fs::temp_directory_path() / "lakehost-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  temp_dirs().push_back(tmpl);
  return tmpl;
}

std::unique_ptr<LoadedPlugin> load_plugin(const std::string& name, const std::string& config_json,
                                          const std::string& data_dir) {
  LoaderOptions o;
  o.plugin_dirs = {LAKEHOST_TEST_PLUGIN_DIR};
  o.data_dir = data_dir.empty() ? temp_dir() : data_dir;
  o.runtime_dir = temp_dir();
  static std::mutex mu;
  PluginLoader loader(o);
  // Parse the manifest the way the host does, so `config` goes through the same checks.
  std::string manifest = R"({"id": ")" + name + R"(", "kind": "KIND", "library": ")" + name +
                         R"(.so", "config": )" + config_json + "}";
  // The kind comes from the library itself: load it once to learn it.
  Manifest probe;
  probe.file = "<test>";
  probe.id = name;
  probe.library = name + ".so";
  std::shared_ptr<PluginLibrary> lib;
  try {
    lib = loader.load(probe);
  } catch (const std::exception& e) {
    throw std::runtime_error(e.what());
  }
  manifest.replace(manifest.find("KIND"), 4,
                   kind_name(static_cast<lh_plugin_kind>(lib->descriptor().kind)));
  try {
    Manifest m = parse_manifest(manifest, "<test manifest for " + name + ">");
    return std::make_unique<Loaded>(loader.instantiate(m));
  } catch (const std::exception& e) {
    throw std::runtime_error(e.what());
  }
}

}  // namespace lakehost::test
