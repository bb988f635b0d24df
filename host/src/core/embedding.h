// Embedding texts for clients (POST /v1/embed, the OpenAI-compatible /v1/embeddings) through the
// embed cache, with the embedder the client names or the default one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/embed_cache.h"
#include "core/registry.h"

namespace lakehost {

struct Embedded {
  InstancePtr embedder;
  uint32_t dimension = 0;
  std::vector<float> vectors;  // texts.size() × dimension, row-major
};

class EmbedService {
 public:
  EmbedService(Registry& registry, EmbedCache& cache) : registry_(registry), cache_(cache) {}

  // The enabled embedder with this id (nullptr: the default). Errors: unknown_plugin,
  // no_embed_provider.
  InstancePtr embedder(const std::string* id) const {
    return registry_.current()->require(LH_KIND_EMBED_PROVIDER, id);
  }
  // Every enabled embedder's id, for messages that list them.
  std::vector<std::string> embedder_ids() const {
    std::vector<std::string> ids;
    for (const auto& p : registry_.current()->plugins())
      if (p->kind() == LH_KIND_EMBED_PROVIDER) ids.push_back(p->id());
    return ids;
  }
  // Embeds `texts` with `embedder` (cached per embedder instance and text).
  Embedded embed(const InstancePtr& embedder, const std::vector<std::string_view>& texts) {
    return {embedder, embed::dimension(*embedder), cache_.embed(*embedder, texts)};
  }

 private:
  Registry& registry_;
  EmbedCache& cache_;
};

}  // namespace lakehost
