#include "core/registry.h"

#include "core/catalog.h"

#include <spdlog/spdlog.h>

#include <set>

namespace lakehost {

// ---- Generation -------------------------------------------------------------------------------

InstancePtr Generation::find(const std::string& id, lh_plugin_kind kind) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second->kind() != kind) return nullptr;
  return it->second;
}

InstancePtr Generation::default_of(lh_plugin_kind kind) const {
  auto it = defaults_.find(kind);
  return it == defaults_.end() ? nullptr : it->second;
}

InstancePtr Generation::require(lh_plugin_kind kind, const std::string* id) const {
  if (id) {
    if (auto p = find(*id, kind)) return p;
    throw HostError(Errc::invalid_argument, "unknown_plugin",
                    std::string("no enabled ") + kind_name(kind) + " with id \"" + *id + "\"");
  }
  if (auto p = default_of(kind)) return p;
  throw HostError(Errc::unavailable, std::string("no_") + kind_name(kind),
                  std::string("no ") + kind_name(kind) + " plugin is enabled");
}

Storage Generation::storage() const { return Storage(require(LH_KIND_STORAGE_BACKEND, nullptr)); }

std::shared_ptr<CollectionIndex> Generation::collection(const std::string& name) const {
  std::lock_guard lock(collections_mu_);
  auto it = collections_.find(name);
  return it == collections_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<CollectionIndex>> Generation::collections() const {
  std::lock_guard lock(collections_mu_);
  std::vector<std::shared_ptr<CollectionIndex>> out;
  for (auto& [_, c] : collections_) out.push_back(c);
  return out;
}

void Generation::put_collection(std::shared_ptr<CollectionIndex> c) {
  std::lock_guard lock(collections_mu_);
  collections_[c->name()] = std::move(c);
}

void Generation::drop_collection(const std::string& name) {
  std::lock_guard lock(collections_mu_);
  collections_.erase(name);
}

// ---- LocalWrites ------------------------------------------------------------------------------

LocalWrites::Scope::Scope(LocalWrites& j, std::string collection, std::vector<std::string> ids,
                          bool whole)
    : j_(j),
      ticket_(j.begin(collection)),
      collection_(std::move(collection)),
      ids_(std::move(ids)),
      whole_(whole),
      exceptions_(std::uncaught_exceptions()) {}

LocalWrites::Scope::~Scope() {
  j_.end(ticket_, collection_, ids_, whole_, std::uncaught_exceptions() > exceptions_);
}

uint64_t LocalWrites::begin(const std::string& collection) {
  std::lock_guard lock(mu_);
  const uint64_t t = next_ticket_++;
  in_flight_.emplace(t, collection);
  return t;
}

void LocalWrites::end(uint64_t ticket, const std::string& collection,
                      const std::vector<std::string>& ids, bool whole, bool failed) {
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(ticket);
    if (!windows_.empty()) {
      auto& e = written_[collection];
      ++seq_;
      if (whole) e.whole = seq_;
      for (const auto& id : ids) e.ids[id] = seq_;
    }
    if (failed) {
      if (whole) uncertain_.collections.insert(collection);
      if (!ids.empty()) uncertain_.documents[collection].insert(ids.begin(), ids.end());
    }
  }
  ended_.notify_all();
}

uint64_t LocalWrites::open() {
  std::lock_guard lock(mu_);
  windows_.insert(seq_);
  return seq_;
}

void LocalWrites::close(uint64_t mark) {
  std::lock_guard lock(mu_);
  if (auto it = windows_.find(mark); it != windows_.end()) windows_.erase(it);
  if (windows_.empty()) {
    written_.clear();
    return;
  }
  // Forget what no open window can ask about any more.
  const uint64_t oldest = *windows_.begin();
  for (auto c = written_.begin(); c != written_.end();) {
    std::erase_if(c->second.ids, [&](const auto& kv) { return kv.second <= oldest; });
    if (c->second.ids.empty() && c->second.whole <= oldest)
      c = written_.erase(c);
    else
      ++c;
  }
}

void LocalWrites::settle(const std::string& collection) {
  std::unique_lock lock(mu_);
  const uint64_t before = next_ticket_;
  ended_.wait(lock, [&] {
    for (const auto& [t, c] : in_flight_) {
      if (t >= before) break;
      if (collection.empty() || c == collection) return false;
    }
    return true;
  });
}

LocalWrites::Since LocalWrites::since(uint64_t mark, const std::string& collection) const {
  std::lock_guard lock(mu_);
  Since out;
  auto it = written_.find(collection);
  if (it == written_.end()) return out;
  out.whole = it->second.whole > mark;
  for (const auto& [id, seq] : it->second.ids)
    if (seq > mark) out.ids.insert(id);
  return out;
}

LocalWrites::Uncertain LocalWrites::take_uncertain() {
  std::lock_guard lock(mu_);
  return std::exchange(uncertain_, {});
}

// ---- Registry ---------------------------------------------------------------------------------

Registry::Registry(PluginLoader& loader, std::filesystem::path manifests_dir)
    : loader_(loader), manifests_dir_(std::move(manifests_dir)) {}

void Registry::attach_collections(
    Generation& next, const Generation* prev,
    std::vector<std::pair<std::string, std::vector<DocumentRecord>>>& wb) {
  auto storage_inst = next.default_of(LH_KIND_STORAGE_BACKEND);
  if (!storage_inst) return;  // no storage: no collections
  Storage storage(storage_inst);
  const bool same_storage = prev && prev->default_of(LH_KIND_STORAGE_BACKEND) == storage_inst;
  for (const auto& [name, json] : storage.collection_list()) {
    auto settings = CollectionSettings::from_json(json);
    if (settings.scorer && !next.find(*settings.scorer, LH_KIND_RETRIEVAL_SCORER))
      throw std::runtime_error("collection \"" + name + "\" uses retrieval scorer \"" +
                               *settings.scorer + "\", which is not enabled");
    if (same_storage) {
      // Unchanged embedder and backend instances: keep the built index as it is.
      auto old = prev->collection(name);
      auto emb = settings.embedder ? next.find(*settings.embedder, LH_KIND_EMBED_PROVIDER)
                                   : next.default_of(LH_KIND_EMBED_PROVIDER);
      auto vb = settings.vector_backend
                    ? next.find(*settings.vector_backend, LH_KIND_VECTOR_BACKEND)
                    : next.default_of(LH_KIND_VECTOR_BACKEND);
      if (old && old->embedder() == emb && old->vector_backend() == vb) {
        next.collections_[name] = old;
        continue;
      }
    }
    std::vector<DocumentRecord> docs;
    next.collections_[name] = CollectionCatalog::build(next, &storage, name, settings, &docs);
    if (!docs.empty() ||
        settings.embedder_fingerprint != next.collections_[name]->settings().embedder_fingerprint)
      wb.emplace_back(name, std::move(docs));
  }
}

ReloadOutcome Registry::reload(const std::string& trigger) {
  std::lock_guard reload_lock(reload_mu_);
  ReloadOutcome out;
  try {
    auto manifests = load_manifests(manifests_dir_);
    GenerationPtr prev = current();
    auto next = std::make_shared<Generation>();
    std::map<lh_plugin_kind, std::vector<InstancePtr>> enabled;
    for (const auto& m : manifests) {
      if (!m.enabled) continue;
      InstancePtr inst;
      auto lib = loader_.load(m);
      if (prev) {
        auto it = prev->by_id_.find(m.id);
        if (it != prev->by_id_.end() && it->second->kind() == m.kind &&
            it->second->manifest().config_json == m.config_json &&
            it->second->library().sha256() == lib->sha256()) {
          inst = it->second;  // unchanged: keep the live instance (and its state)
        }
      }
      if (!inst) {
        inst = loader_.instantiate(m, lib);
        // Bounded: an upstream that never answers fails this reload after the probe timeout
        // instead of holding it (and every later reload) for the plugin's own request timeout.
        // A chat provider is needed by the chat routes only: its model server being down must
        // not keep a host from starting or reloading what search needs. It loads, GET /ready
        // reports it failing, and chat answers 503 until its upstream is back.
        if (auto h = PluginInstance::health_within(inst, loader_.options().health_timeout);
            !h.empty()) {
          if (m.kind != LH_KIND_CHAT_PROVIDER)
            throw LoadError(m.file.string() + ": plugin \"" + m.id + "\" is unhealthy: " + h);
          spdlog::warn(
              "{}: chat provider \"{}\" is unhealthy, loaded anyway (GET /ready shows "
              "it; chat answers 503 until it recovers): {}",
              m.file.string(), m.id, h);
        }
      }
      next->plugins_.push_back(inst);
      next->by_id_[m.id] = inst;
      enabled[m.kind].push_back(inst);
      if (m.is_default) next->defaults_[m.kind] = inst;
    }
    for (auto& [kind, list] : enabled) {
      if (next->defaults_.count(kind)) continue;
      if (list.size() == 1) {
        next->defaults_[kind] = list.front();
      } else {
        std::string ids;
        for (auto& p : list) ids += (ids.empty() ? "" : ", ") + p->id();
        throw ManifestError(manifests_dir_.string() + ": several " + kind_name(kind) +
                            " plugins are enabled (" + ids +
                            ") and none is marked \"default\": true");
      }
    }

    // Build the collections' indexes outside the write gate; redo under it only if a write
    // happened meanwhile (rare), so writers wait for the swap itself, not for the build.
    std::vector<std::pair<std::string, std::vector<DocumentRecord>>> write_back;
    uint64_t seen = writes_.load();
    attach_collections(*next, prev.get(), write_back);
    std::unique_lock gate(write_gate_);
    if (writes_.load() != seen) {
      next->collections_.clear();
      write_back.clear();
      attach_collections(*next, prev.get(), write_back);
    }
    if (!write_back.empty()) {
      Storage storage(next->default_of(LH_KIND_STORAGE_BACKEND));
      for (auto& [name, docs] : write_back) {
        constexpr size_t kBatch = 512;
        for (size_t i = 0; i < docs.size(); i += kBatch) {
          std::vector<DocumentRecord> part(docs.begin() + i,
                                           docs.begin() + std::min(docs.size(), i + kBatch));
          storage.documents_upsert(name, part);
        }
        storage.collection_put(name, next->collections_[name]->settings().to_json());
      }
    }
    next->number_ = next_number_++;
    GenerationPtr retired;  // released after the lock: destruction may be slow
    {
      std::lock_guard lock(current_mu_);
      retired = std::exchange(current_, next);
    }
    gate.unlock();
    ++reloads_ok_;
    out.ok = true;
    out.generation = next->number_;
    spdlog::info("reload ({}) ok: generation {} with {} plugins", trigger, next->number_,
                 next->plugins_.size());
  } catch (const std::exception& e) {
    ++reloads_failed_;
    out.ok = false;
    out.error = e.what();
    auto cur = current();
    out.generation = cur ? cur->number() : 0;
    spdlog::error("reload ({}) failed, generation {} keeps serving: {}", trigger, out.generation,
                  out.error);
  }
  return out;
}

}  // namespace lakehost
