#include "core/change_follower.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <iterator>
#include <optional>

#include "common/prometheus.h"
#include "core/catalog.h"

namespace lakehost {

namespace {
constexpr uint32_t kWaitMs = 500;  // bounds how long stop() waits for the thread
constexpr auto kRetryAfterError = std::chrono::seconds(1);
constexpr auto kIdlePoll = std::chrono::milliseconds(500);  // no feed: look again after a reload
// A storage without documents_get (ABI < 1.2) reads changed documents one by one: above this
// many in one collection (a bulk import on another replica), one scan is cheaper.
constexpr size_t kRebuildAbove = 256;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

double ChangeFollower::lag_seconds() const {
  const int64_t since = pending_since_us_.load();
  if (since == 0) return 0;
  return std::max<int64_t>(0, now_us() - since) / 1e6;
}

void ChangeFollower::render_metrics(std::string& out) const {
  prometheus::Text(out)
      .family("lakehost_replica_changes_applied_total", "counter",
              "Changes by other replicas applied here.")
      .sample("lakehost_replica_changes_applied_total", uint64_t{applied()})
      .family("lakehost_replica_following", "gauge",
              "1 while the storage's change feed is followed.")
      .sample("lakehost_replica_following", following() ? 1 : 0)
      .family("lakehost_replica_pending_changes", "gauge",
              "Changes received from the feed, not applied yet.")
      .sample("lakehost_replica_pending_changes", uint64_t{pending()})
      .family("lakehost_replica_lag_seconds", "gauge",
              "Age of the oldest change received and not applied yet (0 when caught up).")
      .sample("lakehost_replica_lag_seconds", lag_seconds())
      .family("lakehost_replica_last_delay_seconds", "gauge",
              "From the write of the oldest change of the last applied batch to its application "
              "here.")
      .sample("lakehost_replica_last_delay_seconds", last_delay_seconds())
      .family("lakehost_replica_resyncs_total", "counter",
              "Full re-reads of storage (feed lost, or a failed apply).")
      .sample("lakehost_replica_resyncs_total", uint64_t{resyncs()});
}

void ChangeFollower::run() {
  uint64_t unsupported_serial = 0;  // the storage instance that said it has no feed
  bool logged_error = false;
  bool owe_resync = false;  // an apply failed: this replica may be stale until a resync
  auto pause = [&](auto d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return stop_.load(); });
  };
  while (!stop_) {
    auto gen = registry_.current();
    auto inst = gen ? gen->default_of(LH_KIND_STORAGE_BACKEND) : nullptr;
    // The feed blocks for up to kWaitMs: only a thread-safe plugin can be asked without holding
    // its call guard (which would stall every other storage call meanwhile).
    std::optional<ChangeFeed> feed;
    if (inst && inst->serial() != unsupported_serial) feed.emplace(inst);
    Batch batch;
    if (!feed || !feed->available()) {
      following_ = false;
      pause(kIdlePoll);
    } else {
      auto on_change = [&batch](const lh_change& c) {
        ++batch.count;
        // ABI 1.2 plugins say when the change was written; otherwise it counts from now.
        int64_t written = 0;
        if (c.struct_size >= LH_SIZE_THROUGH(lh_change, committed_unix_us))
          written = c.committed_unix_us;
        if (written <= 0) written = now_us();
        if (batch.oldest_us == 0 || written < batch.oldest_us) batch.oldest_us = written;
        std::string coll(from_lh(c.collection)), key(from_lh(c.key));
        switch (c.kind) {
          case LH_CHANGE_COLLECTION:
            batch.collections.insert(coll);
            break;
          case LH_CHANGE_DOCUMENT:
            batch.documents[coll].insert(key);
            break;
          case LH_CHANGE_KV:
            batch.keys.insert(key);
            break;
          default:  // LH_CHANGE_RESYNC, and kinds a newer plugin may add: re-read everything
            batch.resync = true;
            break;
        }
      };
      std::string error;
      const auto result = feed->wait(kWaitMs, on_change, &error);
      if (result == ChangeFeed::Wait::unsupported) {
        unsupported_serial = inst->serial();
        spdlog::info(
            "storage \"{}\" is private to this process: no changes from replicas to follow",
            inst->id());
        continue;
      }
      if (result == ChangeFeed::Wait::failed) {
        following_ = false;
        if (!logged_error)
          spdlog::warn("storage \"{}\" change feed: {} (retrying every second)", inst->id(), error);
        logged_error = true;
        pause(kRetryAfterError);
        continue;
      }
      if (logged_error) spdlog::info("storage \"{}\" change feed is back", inst->id());
      logged_error = false;
      following_ = true;
    }
    // This host's own writes whose outcome storage left unknown (a connection lost around
    // COMMIT): the feed never reports them, so re-read them like another replica's.
    auto uncertain = registry_.local_writes().take_uncertain();
    batch.collections.insert(uncertain.collections.begin(), uncertain.collections.end());
    for (auto& [name, ids] : uncertain.documents) batch.documents[name].merge(ids);
    if (owe_resync) batch.resync = true;
    if (!batch.resync && batch.collections.empty() && batch.documents.empty() && batch.keys.empty())
      continue;
    if (batch.oldest_us == 0 && batch.count) batch.oldest_us = now_us();
    pending_since_us_ = batch.count ? batch.oldest_us : 0;
    pending_ = batch.count;
    try {
      apply(batch);
      owe_resync = false;
      if (batch.count) last_delay_us_ = std::max<int64_t>(0, now_us() - batch.oldest_us);
    } catch (const std::exception& e) {
      // Storage became unreachable between the notification and the re-read: the data on this
      // replica may now be stale, so the next round starts with a full resync (which also
      // re-reads the uncertain local writes taken above).
      spdlog::warn("applying {} changes from other replicas failed: {}", batch.count, e.what());
      owe_resync = true;
      pause(kRetryAfterError);
    }
    pending_ = 0;
    pending_since_us_ = 0;
  }
}

bool ChangeFollower::refresh(Storage& storage, CollectionIndex& coll,
                             const std::set<std::string>& ids) {
  if (ids.empty()) return true;
  auto stored = storage.collection_get(coll.name());
  if (!stored) return false;
  // Stored vectors are this replica's vectors only if both embedders are the same; otherwise
  // re-embedded here, and nothing is written back (replicas with different embedders would
  // fight).
  const bool same_embedder = CollectionSettings::from_json(*stored).embedder_fingerprint ==
                             coll.settings().embedder_fingerprint;
  std::map<std::string, DocumentRecord> found;
  if (!storage.documents_get(coll.name(), std::vector<std::string>(ids.begin(), ids.end()),
                             [&](DocumentRecord&& d) { found[d.id] = std::move(d); }))
    return false;
  if (test_hook_) test_hook_("read");
  std::vector<DocumentRecord> upserts, to_embed;
  for (const auto& id : ids) {
    auto it = found.find(id);
    if (it == found.end()) {
      coll.remove(id);
      continue;
    }
    if (same_embedder && it->second.vector.size() == coll.dimension())
      upserts.push_back(std::move(it->second));
    else
      to_embed.push_back(std::move(it->second));
  }
  if (!to_embed.empty()) {
    embed::documents(*coll.embedder(), to_embed);
    for (auto& d : to_embed) upserts.push_back(std::move(d));
  }
  if (!upserts.empty()) coll.upsert(upserts);
  return true;
}

// What the exclusive phase of one apply must finish.
struct ChangeFollower::Plan {
  std::map<std::string, std::shared_ptr<CollectionIndex>> swaps;  // built, not live yet
  std::set<std::string> drops;                                    // gone from storage
  std::map<std::string, std::set<std::string>> touched;           // re-read into live indexes
};

bool ChangeFollower::apply_once(const GenerationPtr& gen, const Batch& batch, uint64_t mark) {
  auto& journal = registry_.local_writes();
  Storage storage = gen->storage();
  const bool many = storage.has_documents_get();
  Plan plan;
  auto build = [&](const std::string& name, const std::string& json) {
    // Vectors are reused when the other replica's embedder is the same as ours, else
    // re-embedded here; nothing is written back.
    plan.swaps[name] = CollectionCatalog::build(*gen, &storage, name,
                                                CollectionSettings::from_json(json), nullptr);
  };
  // A collection changed elsewhere: gone, unchanged (its settings equal ours, e.g. written back
  // by the other replica), or to be rebuilt.
  auto collection_changed = [&](const std::string& name, bool force) {
    auto stored = storage.collection_get(name);
    if (!stored) {
      plan.drops.insert(name);
      return;
    }
    auto local = gen->collection(name);
    if (!force && local &&
        local->settings().to_json() == CollectionSettings::from_json(*stored).to_json())
      return;
    build(name, *stored);
  };

  // Phase 1, local writers running: read storage, build new indexes aside, re-read changed
  // documents into the live ones. Shared gate: a reload building the next generation meanwhile
  // sees these writes (the WriteScope's note) and catches up under its exclusive gate.
  {
    WriteScope write(registry_);
    if (batch.resync) {
      std::set<std::string> stored;
      for (const auto& [name, json] : storage.collection_list()) {
        stored.insert(name);
        build(name, json);
      }
      for (const auto& c : gen->collections())
        if (!stored.count(c->name())) plan.drops.insert(c->name());
    } else {
      for (const auto& name : batch.collections) collection_changed(name, false);
      for (const auto& [name, ids] : batch.documents) {
        if (plan.swaps.count(name) || plan.drops.count(name)) continue;  // read whole
        auto coll = gen->collection(name);
        if (!coll || (!many && ids.size() > kRebuildAbove)) {
          collection_changed(name, true);
          continue;
        }
        if (!refresh(storage, *coll, ids)) {
          plan.drops.insert(name);
          continue;
        }
        plan.touched[name] = ids;
      }
    }
  }
  if (test_hook_) test_hook_("built");

  // Local writes that overlapped phase 1 may have committed after our reads of the same ids.
  // Wait for those still in flight, then see which ids they wrote.
  std::map<std::string, std::set<std::string>> conflicts;
  std::set<std::string> whole;  // collections created or deleted locally meanwhile
  for (const auto& [name, ids] : plan.touched) {
    journal.settle(name);
    auto since = journal.since(mark, name);
    if (since.whole) {
      whole.insert(name);
      continue;
    }
    std::set<std::string> both;
    std::set_intersection(ids.begin(), ids.end(), since.ids.begin(), since.ids.end(),
                          std::inserter(both, both.end()));
    if (!both.empty()) conflicts[name] = std::move(both);
  }
  if (plan.swaps.empty() && plan.drops.empty() && conflicts.empty() && whole.empty()) return true;

  // Phase 2, exclusive: no local write is in flight and every one is in the journal, so what
  // storage says now is final for them. Only the ids written locally since phase 1 began are
  // read again, not whole collections.
  WriteScope write(registry_, WriteScope::Mode::exclusive);
  if (registry_.current() != gen) return false;
  for (const auto& [name, coll] : plan.swaps) {
    auto since = journal.since(mark, name);
    if (since.whole) {
      CollectionCatalog::rebuild(*gen, storage, name);
    } else if (!refresh(storage, *coll, since.ids)) {
      CollectionCatalog::remove(*gen, name);
    } else {
      if (!batch.resync)
        spdlog::info("collection \"{}\" rebuilt after a change by another replica", name);
      CollectionCatalog::install(*gen, coll);
    }
  }
  for (const auto& name : plan.drops) {
    if (journal.since(mark, name).whole) {
      CollectionCatalog::rebuild(*gen, storage, name);  // created here meanwhile
      continue;
    }
    if (gen->collection(name)) spdlog::info("collection \"{}\" deleted by another replica", name);
    CollectionCatalog::remove(*gen, name);
  }
  for (const auto& name : whole) CollectionCatalog::rebuild(*gen, storage, name);
  for (const auto& [name, ids] : conflicts)
    if (auto coll = gen->collection(name); coll && !refresh(storage, *coll, ids))
      CollectionCatalog::remove(*gen, name);
  if (batch.resync) spdlog::info("resynchronised {} collections from storage", plan.swaps.size());
  return true;
}

void ChangeFollower::apply(const Batch& batch) {
  auto& journal = registry_.local_writes();
  for (;;) {
    auto gen = registry_.current();
    if (!gen) return;
    // From here on, local writes are recorded for apply_once to check against.
    const uint64_t mark = journal.open();
    bool done = false;
    try {
      done = apply_once(gen, batch, mark);
    } catch (...) {
      journal.close(mark);
      throw;
    }
    journal.close(mark);
    if (done) break;
    spdlog::debug("a reload published a new generation meanwhile: applying {} changes again",
                  batch.count);
  }
  if (batch.resync) {
    ++resyncs_;
    on_kv_change_("");
  }
  for (const auto& key : batch.keys) on_kv_change_(key);
  applied_ += batch.count;
}

}  // namespace lakehost
