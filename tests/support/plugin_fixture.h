// Loads a real plugin .so from the build's plugin directory through the host's own loader
// (the same trust, ABI and schema checks as `lakehost serve`) and creates one instance.
#pragma once

#include <lakehost/plugin_api.h>

#include <memory>
#include <string>

namespace lakehost::test {

class LoadedPlugin {
 public:
  virtual ~LoadedPlugin() = default;  // destroys the instance, then releases the library
  virtual const lh_plugin_descriptor* descriptor() const = 0;
  virtual void* self() const = 0;
  template <typename Table>
  const Table* table() const {
    return static_cast<const Table*>(descriptor()->table);
  }
};

// name: the plugin's library name without ".so" ("embed-hash"); config_json: the manifest's
// `config` object as text. Throws std::runtime_error with the host's message when the library
// or the config is refused, or create() fails. data_dir defaults to a fresh temporary folder.
std::unique_ptr<LoadedPlugin> load_plugin(const std::string& name, const std::string& config_json,
                                          const std::string& data_dir = "");

// A fresh empty temporary directory (removed at process exit).
std::string temp_dir();

// $LAKEHOST_TEST_TIME_SCALE (default 1, at least 1): scripts/sanitize.sh sets it, because
// instrumented hosts run several times slower. It stretches the harness's own waits (HTTP
// client timeout, host start and stop); bounds a test asserts on stay as they are.
double time_scale();

}  // namespace lakehost::test
