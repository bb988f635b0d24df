#include "change_follower.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>

namespace lakehost {

namespace {
constexpr uint32_t kWaitMs = 500;  // bounds how long stop() waits for the thread
constexpr auto kRetryAfterError = std::chrono::seconds(1);
constexpr auto kIdlePoll = std::chrono::milliseconds(500);  // no feed: look again after a reload
// More changed documents than this in one collection (a bulk import on another replica): one
// scan of the collection is cheaper than that many point reads.
constexpr size_t kRebuildAbove = 256;
}  // namespace

ChangeFollower::ChangeFollower(Registry& registry,
                               std::function<void(const std::string&)> on_kv_change)
    : registry_(registry), on_kv_change_(std::move(on_kv_change)), thread_([this] { run(); }) {}

ChangeFollower::~ChangeFollower() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ChangeFollower::run() {
  uint64_t unsupported_serial = 0;  // the storage instance that said it has no feed
  bool logged_error = false;
  auto pause = [&](auto d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return stop_.load(); });
  };
  while (!stop_) {
    auto gen = registry_.current();
    auto inst = gen ? gen->default_of(LH_KIND_STORAGE_BACKEND) : nullptr;
    // The feed blocks for up to kWaitMs: only a thread-safe plugin can be asked without holding
    // its call guard (which would stall every other storage call meanwhile).
    const bool usable = inst && inst->serial() != unsupported_serial &&
                        (inst->library().descriptor().flags & LH_FLAG_THREAD_SAFE) &&
                        inst->table<lh_storage_backend_v1>().struct_size >=
                            offsetof(lh_storage_backend_v1, changes_wait) + sizeof(void*) &&
                        inst->table<lh_storage_backend_v1>().changes_wait;
    if (!usable) {
      following_ = false;
      pause(kIdlePoll);
      continue;
    }
    Batch batch;
    auto sink = [](void* ctx, const lh_change* c) {
      auto& b = *static_cast<Batch*>(ctx);
      ++b.count;
      std::string coll(from_lh(c->collection)), key(from_lh(c->key));
      switch (c->kind) {
        case LH_CHANGE_COLLECTION:
          b.collections.insert(coll);
          break;
        case LH_CHANGE_DOCUMENT:
          b.documents[coll].insert(key);
          break;
        case LH_CHANGE_KV:
          b.keys.insert(key);
          break;
        default:  // LH_CHANGE_RESYNC, and kinds a newer plugin may add: re-read everything
          b.resync = true;
          break;
      }
    };
    lh_error err{};
    const lh_status st = inst->table<lh_storage_backend_v1>().changes_wait(inst->self(), kWaitMs,
                                                                           sink, &batch, &err);
    if (st == LH_ERR_UNSUPPORTED) {
      unsupported_serial = inst->serial();
      spdlog::info("storage \"{}\" is private to this process: no changes from replicas to follow",
                   inst->id());
      continue;
    }
    if (st != LH_OK) {
      following_ = false;
      if (!logged_error)
        spdlog::warn("storage \"{}\" change feed: {} (retrying every second)", inst->id(),
                     err.message);
      logged_error = true;
      pause(kRetryAfterError);
      continue;
    }
    if (logged_error) spdlog::info("storage \"{}\" change feed is back", inst->id());
    logged_error = false;
    following_ = true;
    if (batch.count == 0) continue;
    try {
      apply(batch);
    } catch (const std::exception& e) {
      // Storage became unreachable between the notification and the re-read: the data on this
      // replica may now be stale, so the next successful wait starts with a full resync.
      spdlog::warn("applying {} changes from other replicas failed: {}", batch.count, e.what());
      Batch again;
      again.resync = true;
      again.count = 1;
      pause(kRetryAfterError);
      try {
        apply(again);
      } catch (const std::exception& e2) {
        spdlog::warn("resync after a failed change failed too: {}", e2.what());
      }
    }
  }
}

bool ChangeFollower::rebuild_collection(Generation& gen, Storage& storage, const std::string& name,
                                        bool force) {
  auto stored = storage.collection_get(name);
  if (!stored) {
    if (gen.collection(name)) spdlog::info("collection \"{}\" deleted by another replica", name);
    gen.drop_collection(name);
    return true;
  }
  auto settings = CollectionSettings::from_json(*stored);
  auto local = gen.collection(name);
  // Settings written back by the other replica that match ours: nothing to rebuild.
  if (!force && local && local->settings().to_json() == settings.to_json()) return false;
  // Vectors are reused when the other replica's embedder is the same as ours, else re-embedded
  // here; nothing is written back (that would make replicas with different embedders fight).
  gen.put_collection(Registry::build_collection(gen, &storage, name, settings, nullptr));
  spdlog::info("collection \"{}\" rebuilt after a change by another replica", name);
  return true;
}

void ChangeFollower::apply(const Batch& batch) {
  // Writes from another replica are writes: a reload building the next generation meanwhile
  // sees them (note_write) and catches up under the exclusive gate.
  std::shared_lock gate(registry_.write_gate());
  auto gen = registry_.current();
  if (!gen) return;
  Storage storage = gen->storage();
  if (batch.resync) {
    std::set<std::string> stored;
    for (const auto& [name, json] : storage.collection_list()) {
      stored.insert(name);
      gen->put_collection(Registry::build_collection(*gen, &storage, name,
                                                     CollectionSettings::from_json(json), nullptr));
    }
    for (const auto& c : gen->collections())
      if (!stored.count(c->name())) gen->drop_collection(c->name());
    on_kv_change_("");
    registry_.note_write();
    applied_ += batch.count;
    spdlog::info("resynchronised {} collections from storage", stored.size());
    return;
  }
  std::set<std::string> rebuilt;  // read whole from storage: their document changes are in
  for (const auto& name : batch.collections)
    if (rebuild_collection(*gen, storage, name, false)) rebuilt.insert(name);
  for (const auto& [name, ids] : batch.documents) {
    if (rebuilt.count(name)) continue;
    auto coll = gen->collection(name);
    // An unknown collection, or a bulk change: one scan beats that many point reads.
    if (!coll || ids.size() > kRebuildAbove) {
      rebuild_collection(*gen, storage, name, true);
      continue;
    }
    // Stored vectors are this replica's vectors only if both embedders are the same.
    auto stored_settings = storage.collection_get(name);
    if (!stored_settings) {
      gen->drop_collection(name);
      continue;
    }
    const bool same_embedder =
        CollectionSettings::from_json(*stored_settings).embedder_fingerprint ==
        coll->settings().embedder_fingerprint;
    std::vector<DocumentRecord> upserts, to_embed;
    for (const auto& id : ids) {
      auto doc = storage.document_get(name, id);
      if (!doc) {
        coll->remove(id);
        continue;
      }
      if (same_embedder && doc->vector.size() == coll->dimension())
        upserts.push_back(std::move(*doc));
      else
        to_embed.push_back(std::move(*doc));
    }
    if (!to_embed.empty()) {
      embed::documents(*coll->embedder(), to_embed);
      for (auto& d : to_embed) upserts.push_back(std::move(d));
    }
    if (!upserts.empty()) coll->upsert(upserts);
  }
  for (const auto& key : batch.keys) on_kv_change_(key);
  registry_.note_write();
  applied_ += batch.count;
}

}  // namespace lakehost
