// The embed cache: hits and misses, LRU eviction, and no vectors shared between embedder
// instances (a swapped embedder never serves its predecessor's vectors).
#include <gtest/gtest.h>

#include "core/embed_cache.h"
#include "plugin/calls.h"
#include "plugin/manifest.h"
#include "plugin_fixture.h"

using namespace lakehost;

namespace {

std::shared_ptr<PluginInstance> embedder(PluginLoader& loader, int dim) {
  Manifest m = parse_manifest(R"({"id": "e", "kind": "embed_provider", "library": "embed-hash.so",
                                  "config": {"dimension": )" +
                                  std::to_string(dim) + "}}",
                              "<test>");
  return loader.instantiate(m);
}

PluginLoader make_loader() {
  LoaderOptions o;
  o.plugin_dirs = {LAKEHOST_TEST_PLUGIN_DIR};
  o.data_dir = test::temp_dir();
  o.runtime_dir = test::temp_dir();
  return PluginLoader(o);
}

}  // namespace

TEST(EmbedCache, ServesRepeatsFromTheCacheWithIdenticalVectors) {
  auto loader = make_loader();
  auto e = embedder(loader, 64);
  EmbedCache cache(100);
  auto a = cache.embed(*e, {"Forklift Operator", "CNC Operator"});
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_EQ(cache.hits(), 0u);
  auto b = cache.embed(*e, {"CNC Operator", "Forklift Operator", "Loader"});
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 3u);
  // Cached rows equal what the plugin computes.
  EXPECT_EQ(std::vector<float>(b.begin(), b.begin() + 64),
            std::vector<float>(a.begin() + 64, a.end()));
  EXPECT_EQ(b, embed::run(*e, {"CNC Operator", "Forklift Operator", "Loader"}));
}

TEST(EmbedCache, EvictsLeastRecentlyUsed) {
  auto loader = make_loader();
  auto e = embedder(loader, 16);
  EmbedCache cache(16);  // one entry per shard
  for (int i = 0; i < 200; ++i) cache.embed(*e, {"text " + std::to_string(i)});
  EXPECT_LE(cache.size(), 16u);
  EXPECT_GE(cache.evictions(), 184u);
}

TEST(EmbedCache, ANewInstanceNeverSeesTheOldInstancesVectors) {
  auto loader = make_loader();
  auto old_e = embedder(loader, 32);
  auto new_e = embedder(loader, 32);  // same config, but a different (re-created) instance
  EmbedCache cache(100);
  cache.embed(*old_e, {"Loader"});
  cache.embed(*new_e, {"Loader"});
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.misses(), 2u);
  auto other = embedder(loader, 48);  // a different dimension: still a miss, right size
  EXPECT_EQ(cache.embed(*other, {"Loader"}).size(), 48u);
}

TEST(EmbedCache, ZeroCapacityDisablesIt) {
  auto loader = make_loader();
  auto e = embedder(loader, 8);
  EmbedCache cache(0);
  cache.embed(*e, {"x"});
  cache.embed(*e, {"x"});
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.size(), 0u);
}
