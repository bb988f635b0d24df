// The collection catalog: the only code that builds, rebuilds and drops a collection's index.
// The API creates and deletes collections through it, a reload attaches every stored collection
// to the next generation with build(), and the change follower rebuilds or drops what another
// replica changed. Generation::put_collection/drop_collection are private to it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/playbooks.h"
#include "core/registry.h"

namespace lakehost {

// The plugins a new collection asks for; an absent one means the kind's default.
struct CollectionChoice {
  std::optional<std::string> embedder{};
  std::optional<std::string> vector_backend{};
  std::optional<std::string> scorer{};
};

class CollectionCatalog {
 public:
  CollectionCatalog(Registry& registry, PlaybookStore& playbooks)
      : registry_(registry), playbooks_(playbooks) {}

  struct Created {
    std::shared_ptr<CollectionIndex> collection;
    bool created = false;  // false: it existed with the same plugins (an idempotent create)
  };
  // Creates `name` (stored, then live). Errors: invalid_name, unknown_plugin (an id that is
  // not an enabled plugin of its kind), no_<kind> (no default), conflict (it exists with other
  // plugins).
  Created create(const std::string& name, const CollectionChoice& choice);
  // Deletes `name`, its documents and its playbooks. Error: collection_not_found.
  void drop(const std::string& name);

  // ---- for every caller, holding the write gate as its operation needs -----------------------

  // The collection, or collection_not_found.
  static std::shared_ptr<CollectionIndex> require(const Generation& gen, const std::string& name);
  // `name` must match [A-Za-z0-9_-]{1,64}; else invalid_name.
  static void validate_name(const std::string& name);
  // Builds the index of one collection on a generation's plugins (not yet live). storage ==
  // nullptr: a new, empty collection. Re-embeds the stored text when the stored vectors come
  // from another embedder; `write_back` then receives the re-embedded documents.
  static std::shared_ptr<CollectionIndex> build(const Generation& gen, Storage* storage,
                                                const std::string& name,
                                                const CollectionSettings& stored,
                                                std::vector<DocumentRecord>* write_back);
  // Makes `coll` the live index of its name in `gen` (replacing any).
  static void install(Generation& gen, std::shared_ptr<CollectionIndex> coll);
  // Takes `name` out of `gen` (its index is freed once no request holds it).
  static void remove(Generation& gen, const std::string& name);
  // Rebuilds `name` from storage and installs it; drops it when storage no longer has it.
  static void rebuild(Generation& gen, Storage& storage, const std::string& name);
  // Fingerprint of an embedder instance: changes when its library or config changes.
  static std::string fingerprint(const PluginInstance& embedder);

 private:
  Registry& registry_;
  PlaybookStore& playbooks_;
};

}  // namespace lakehost
