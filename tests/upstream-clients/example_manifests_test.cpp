// manifests/examples/{embed,chat}-{ollama,openai}.json are what operators copy: each must pass the
// host's manifest schema and its plugin's config schema, and create an instance. (None of them
// makes a request in create(): the embedders' examples give their dimension, so nothing is
// probed, and nothing here can reach a real model server.)
#include "host_process.h"
#include "upstream_clients_support.h"

namespace lakehost::upstream_test {
namespace {

TEST(ExampleManifests, EachPassesBothSchemasAndCreatesAnInstance) {
  ScopedEnv key("OPENAI_API_KEY", "sk-example-never-sent");
  for (const std::string name : {"embed-ollama", "embed-openai", "chat-ollama", "chat-openai"}) {
    SCOPED_TRACE(name);
    const rapidjson::Document m =
        parse(test::read_file(LAKEHOST_SOURCE_DIR "/manifests/examples/" + name + ".json"));
    EXPECT_EQ(m["id"].GetString(), name);
    EXPECT_EQ(m["library"].GetString(), name + ".so");
    EXPECT_TRUE(m["enabled"].GetBool());
    EXPECT_FALSE(m["default"].GetBool()) << "copied next to the defaults, it must not clash";
    // load_plugin parses a manifest with the host's own parser and validates `config` against
    // the plugin's schema before create().
    std::unique_ptr<LoadedPlugin> p;
    ASSERT_NO_THROW(p = load_plugin(name, to_json(m["config"])));
    EXPECT_STREQ(p->descriptor()->name, name.c_str());
    const uint32_t kind = p->descriptor()->kind;
    EXPECT_EQ(kind == LH_KIND_EMBED_PROVIDER  ? "embed_provider"
              : kind == LH_KIND_CHAT_PROVIDER ? "chat_provider"
                                              : "other",
              std::string(m["kind"].GetString()));
  }
}

}  // namespace
}  // namespace lakehost::upstream_test
