// A registry in the test process, on the built plugins and a fresh data directory: for unit
// tests of the registry, the change follower and the core services (no sockets, no host).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/registry.h"
#include "host_process.h"
#include "plugin/loader.h"
#include "plugin_fixture.h"

namespace lakehost::test {

struct InProcessRegistry {
  // Loads `manifests` (a directory; by default a copy of the shipped manifests) once.
  explicit InProcessRegistry(std::string manifests = copy_default_manifests())
      : manifests_dir(std::move(manifests)) {
    LoaderOptions o;
    o.plugin_dirs = {LAKEHOST_TEST_PLUGIN_DIR};
    o.data_dir = temp_dir();
    o.runtime_dir = temp_dir() + "/loaded";
    loader = std::make_unique<PluginLoader>(o);
    registry = std::make_unique<Registry>(*loader, manifests_dir);
    auto r = registry->reload("test");
    EXPECT_TRUE(r.ok) << r.error;
  }
  // Instances are destroyed by the reaper thread: wait for it, so that no plugin outlives the
  // test that loaded it.
  ~InProcessRegistry() {
    registry.reset();
    Reaper::instance().drain();
  }
  InProcessRegistry(const InProcessRegistry&) = delete;
  InProcessRegistry& operator=(const InProcessRegistry&) = delete;

  std::string manifests_dir;
  std::unique_ptr<PluginLoader> loader;
  std::unique_ptr<Registry> registry;
};

}  // namespace lakehost::test
