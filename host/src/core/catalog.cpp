#include "core/catalog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "common/json.h"

namespace lakehost {

std::shared_ptr<CollectionIndex> CollectionCatalog::require(const Generation& gen,
                                                            const std::string& name) {
  auto c = gen.collection(name);
  if (!c)
    throw not_found("collection_not_found",
                    json::is_clean_text(name)
                        ? "no collection named \"" + name + "\""
                        : std::string("no such collection (the name is not valid UTF-8 text)"));
  return c;
}

void CollectionCatalog::validate_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 &&
                  std::all_of(name.begin(), name.end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '_' || c == '-';
                  });
  if (!ok)
    throw HostError(Errc::invalid_argument, "invalid_name",
                    "collection name \"" + name + "\" must match [A-Za-z0-9_-]{1,64}");
}

CollectionCatalog::Created CollectionCatalog::create(const std::string& name,
                                                     const CollectionChoice& choice) {
  validate_name(name);
  WriteScope write(registry_);
  auto gen = registry_.current();
  auto check = [&](const std::optional<std::string>& id, lh_plugin_kind kind, const char* field) {
    if (id && !gen->find(*id, kind))
      throw HostError(Errc::invalid_argument, "unknown_plugin",
                      std::string("/") + field + ": no enabled " + kind_name(kind) + " with id \"" +
                          *id + "\"");
    if (!id && !gen->default_of(kind))
      throw HostError(Errc::unavailable, std::string("no_") + kind_name(kind),
                      std::string("no ") + kind_name(kind) + " plugin is enabled");
  };
  check(choice.embedder, LH_KIND_EMBED_PROVIDER, "embedder");
  check(choice.vector_backend, LH_KIND_VECTOR_BACKEND, "vector_backend");
  if (choice.scorer && !gen->find(*choice.scorer, LH_KIND_RETRIEVAL_SCORER))
    throw HostError(Errc::invalid_argument, "unknown_plugin",
                    "/scorer: no enabled retrieval_scorer with id \"" + *choice.scorer + "\"");
  auto storage = gen->storage();

  if (auto existing = gen->collection(name)) {
    // Compare with what the collection really uses (a default resolves to an id).
    const auto& s = existing->settings();
    auto scorer_now = [&] {
      auto d = gen->default_of(LH_KIND_RETRIEVAL_SCORER);
      return s.scorer ? *s.scorer : d ? d->id() : std::string();
    };
    if ((choice.embedder && *choice.embedder != existing->embedder()->id()) ||
        (choice.vector_backend && *choice.vector_backend != existing->vector_backend()->id()) ||
        (choice.scorer && *choice.scorer != scorer_now()))
      throw conflict("collection \"" + name + "\" exists with embedder \"" +
                     existing->embedder()->id() + "\", vector backend \"" +
                     existing->vector_backend()->id() + "\" and scorer \"" +
                     s.scorer.value_or("(default)") + "\"; delete it to change them");
    return {existing, false};
  }
  CollectionSettings settings;
  settings.embedder = choice.embedder;
  settings.vector_backend = choice.vector_backend;
  settings.scorer = choice.scorer;
  // Build the (empty) index first so the stored settings carry the real fingerprint.
  auto coll = build(*gen, nullptr, name, settings, nullptr);
  LocalWrites::Scope journal(registry_.local_writes(), name, {}, /*whole=*/true);
  storage.collection_put(name, coll->settings().to_json());
  install(*gen, coll);
  return {coll, true};
}

void CollectionCatalog::drop(const std::string& name) {
  WriteScope write(registry_);
  auto gen = registry_.current();
  require(*gen, name);
  auto storage = gen->storage();
  LocalWrites::Scope journal(registry_.local_writes(), name, {}, /*whole=*/true);
  storage.collection_delete(name);
  playbooks_.drop_collection(storage, name);
  remove(*gen, name);
}

std::string CollectionCatalog::fingerprint(const PluginInstance& embedder) {
  return sha256_hex(embedder.library().sha256() + '\n' + embedder.manifest().config_json)
      .substr(0, 32);
}

std::shared_ptr<CollectionIndex> CollectionCatalog::build(const Generation& gen, Storage* storage,
                                                          const std::string& name,
                                                          const CollectionSettings& stored,
                                                          std::vector<DocumentRecord>* write_back) {
  auto embedder = gen.find(stored.embedder.value_or(""), LH_KIND_EMBED_PROVIDER);
  if (!stored.embedder) embedder = gen.default_of(LH_KIND_EMBED_PROVIDER);
  auto backend = stored.vector_backend ? gen.find(*stored.vector_backend, LH_KIND_VECTOR_BACKEND)
                                       : gen.default_of(LH_KIND_VECTOR_BACKEND);
  if (!embedder)
    throw std::runtime_error("collection \"" + name + "\" needs embed provider \"" +
                             stored.embedder.value_or("(default)") + "\", which is not enabled");
  if (!backend)
    throw std::runtime_error("collection \"" + name + "\" needs vector backend \"" +
                             stored.vector_backend.value_or("(default)") +
                             "\", which is not enabled");
  CollectionSettings settings = stored;
  settings.embedder_fingerprint = fingerprint(*embedder);
  settings.dimension = embed::dimension(*embedder);

  std::vector<DocumentRecord> docs;
  if (storage)
    storage->documents_scan(name, [&](const lh_document& d) {
      DocumentRecord r;
      r.id = from_lh(d.id);
      r.text = from_lh(d.text);
      r.metadata_json = d.metadata_json.size ? std::string(from_lh(d.metadata_json)) : "{}";
      if (d.vector && d.dimension) r.vector.assign(d.vector, d.vector + d.dimension);
      docs.push_back(std::move(r));
    });
  bool reuse = stored.embedder_fingerprint == settings.embedder_fingerprint;
  for (const auto& d : docs) reuse = reuse && d.vector.size() == settings.dimension;
  if (!reuse && !docs.empty()) {
    spdlog::info("re-embedding {} documents of collection \"{}\" with \"{}\"", docs.size(), name,
                 embedder->id());
    embed::documents(*embedder, docs);
  }
  auto coll = std::make_shared<CollectionIndex>(name, settings, embedder, backend);
  if (!docs.empty()) coll->upsert(docs);
  if (!reuse && write_back) *write_back = std::move(docs);
  return coll;
}

void CollectionCatalog::install(Generation& gen, std::shared_ptr<CollectionIndex> coll) {
  gen.put_collection(std::move(coll));
}

void CollectionCatalog::remove(Generation& gen, const std::string& name) {
  gen.drop_collection(name);
}

void CollectionCatalog::rebuild(Generation& gen, Storage& storage, const std::string& name) {
  auto stored = storage.collection_get(name);
  if (!stored) {
    remove(gen, name);
    return;
  }
  install(gen, build(gen, &storage, name, CollectionSettings::from_json(*stored), nullptr));
}

}  // namespace lakehost
