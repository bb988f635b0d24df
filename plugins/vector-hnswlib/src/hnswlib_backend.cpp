// vector-hnswlib — a lakehost vector backend on hnswlib (Debian's libhnswlib-dev 0.6.2).
//
// One hnswlib::HierarchicalNSW<float> per collection over CanonicalInnerProductSpace, whose
// distance is 1 - dot: for the unit vectors the host adds, that is already the cosine distance.
// The dot is the SDK's canonical kernel (lakehost/vector_kernels.hpp), not hnswlib's own: that
// one is chosen when the plugin is compiled (baseline SSE for a Debian build), ours at run time
// (AVX-512 where the CPU has it), and ours gives the same bits on every CPU, so the graph built
// from the same vectors in the same order is the same graph everywhere.
//
// Slots. hnswlib 0.6.2 deletes with markDelete only: the node stays in the graph, still routes
// searches and is never returned, and its memory is not given back (allow_replace_deleted came in
// 0.7). The hnswlib label of a node is its slot number (0, 1, 2, ...: equal to hnswlib's internal
// id), and we keep slot -> host label and host label -> slot tables. Every add takes a new slot,
// also for a label that was removed before, so a removed vector can never answer for a re-added
// label. The host gives every updated document a new label, so tombstones pile up with churn:
// when they outnumber the live vectors, the graph is rebuilt from the live vectors, read back from
// hnswlib's own storage. That keeps memory within about twice the live data, at the price of a
// pause (under the host's writer lock) once per that much churn.
//
// Why not reuse a deleted node in place? 0.6.2's addPoint on a deleted label does unmark it and
// move it with updatePoint, but measured here, five rounds of replacing a third of 400 vectors that
// way lost 4 self-matches (a vector no longer its own nearest neighbour); fresh nodes lost none.
//
// Threading (the host's contract): search() and size() run concurrently with each other, never
// with add() or remove(). searchKnn is const and takes its visited list from hnswlib's locked pool,
// so concurrent searches are safe. ef is set once, at creation: setEf writes the shared index, and
// searchKnn already searches with max(ef, k) (checked in 0.6.2's hnswalg.h), so no per-search
// setEf is needed.
#include <hnswlib/hnswlib.h>
#include <lakehost/config.hpp>
#include <lakehost/plugin.hpp>
#include <lakehost/vector_kernels.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define LAKEHOST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LAKEHOST_TSAN 1
#endif
#endif
#ifdef LAKEHOST_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace {

using Graph = hnswlib::HierarchicalNSW<float>;

// Tells ThreadSanitizer that the given locks are gone, before their memory is freed. Only TSan
// builds need it: libstdc++'s std::mutex has a trivial destructor (no pthread_mutex_destroy), so
// TSan never hears that hnswlib's per-node locks die with a graph, and its lock-order graph keeps
// their edges, whose stacks point into this plugin. After a backend switch has unloaded the
// plugin, a fresh graph's locks (often at the same addresses) closed cycles through those stale
// edges, reported with unsymbolisable <null> stacks that no suppression can name.
void forget_locks([[maybe_unused]] std::vector<std::mutex>& locks) {
#ifdef LAKEHOST_TSAN
  for (auto& lock : locks) __tsan_mutex_destroy(&lock, 0);
#endif
}

// Owns a graph; every lock hnswlib declares in it is forgotten first (above). The visited-list
// pool's lock is private to hnswlib and is only ever held alone, so it forms no lock order.
struct GraphDeleter {
  void operator()(Graph* graph) const {
    forget_locks(graph->link_list_locks_);
    forget_locks(graph->link_list_update_locks_);
#ifdef LAKEHOST_TSAN
    __tsan_mutex_destroy(&graph->cur_element_count_guard_, 0);
    __tsan_mutex_destroy(&graph->global, 0);
#endif
    delete graph;
  }
};
using GraphPtr = std::unique_ptr<Graph, GraphDeleter>;

// hnswlib's distance interface over the canonical kernel: 1 - dot(a, b). hnswlib passes the
// space's dimension through the third pointer.
class CanonicalInnerProductSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit CanonicalInnerProductSpace(size_t dimension) : dimension_(dimension) {}
  size_t get_data_size() override { return dimension_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &distance; }
  void* get_dist_func_param() override { return &dimension_; }

 private:
  static float distance(const void* a, const void* b, const void* dimension) {
    return 1.0f - lakehost::kernels::dot(static_cast<const float*>(a), static_cast<const float*>(b),
                                         *static_cast<const size_t*>(dimension));
  }
  size_t dimension_;
};

constexpr const char* kConfigSchema = R"json({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "M": {
      "description": "HNSW M: links per node and layer (2*M on the bottom layer)",
      "type": "integer", "minimum": 2, "maximum": 128, "default": 16
    },
    "ef_construction": {
      "description": "HNSW efConstruction: candidates explored per insertion",
      "type": "integer", "minimum": 1, "maximum": 4096, "default": 200
    },
    "ef_search": {
      "description": "HNSW ef: candidates explored per search (raised to k when k is larger)",
      "type": "integer", "minimum": 1, "maximum": 4096, "default": 64
    },
    "initial_capacity": {
      "description": "vectors an index has room for before it first grows (then it doubles)",
      "type": "integer", "minimum": 1, "default": 1024
    }
  }
})json";

// hnswlib's internal ids (tableint) are 32-bit.
constexpr size_t kMaxCapacity = std::numeric_limits<hnswlib::tableint>::max();

lakehost::Error invalid(const std::string& message) {
  return lakehost::Error(LH_ERR_INVALID_ARGUMENT, message);
}

struct Config {
  size_t M, ef_construction, ef_search, initial_capacity;
};

// The host fills in the schema's defaults (lakehost/config.hpp); the limits are checked again so
// that a caller that skipped the schema cannot reach hnswlib with nonsense (M = 1 divides by
// log(1) there).
Config parse_config(std::string_view json) {
  const lakehost::Config c(json);
  return {static_cast<size_t>(c.integer("M", 2, 128)),
          static_cast<size_t>(c.integer("ef_construction", 1, 4096)),
          static_cast<size_t>(c.integer("ef_search", 1, 4096)),
          static_cast<size_t>(c.integer("initial_capacity", 1, kMaxCapacity))};
}

// One collection's index.
class HnswIndex final : public lakehost::VectorBackend::Index {
 public:
  HnswIndex(const Config& config, uint32_t dimension)
      : config_(config), dimension_(checked(dimension)), space_(dimension_) {
    graph_ = make_graph(config_.initial_capacity);
    capacity_ = config_.initial_capacity;
  }

  void add(std::span<const int64_t> labels, const float* vectors) override {
    if (labels.empty()) return;
    // Refuse the whole batch before touching the graph: a present label (the host never adds
    // one) or a label twice in the batch.
    std::unordered_set<int64_t> batch;
    for (int64_t label : labels) {
      if (slot_of_.count(label) || !batch.insert(label).second) {
        throw lakehost::Error(LH_ERR_CONFLICT,
                              "label " + std::to_string(label) + " is already in the index");
      }
    }
    // Grow first (doubling) so that addPoint never runs out of room.
    const size_t needed = slot_label_.size() + labels.size();
    if (needed > capacity_) {
      if (needed > kMaxCapacity) {
        throw lakehost::Error(LH_ERR_INVALID_ARGUMENT,
                              "hnswlib index cannot hold " + std::to_string(needed) + " vectors");
      }
      const size_t grown = std::clamp(2 * capacity_, needed, kMaxCapacity);
      forget_locks(graph_->link_list_locks_);  // resizeIndex replaces them
      graph_->resizeIndex(grown);
      capacity_ = grown;
    }
    // Each point is recorded as soon as hnswlib has it, so the tables stay consistent even if
    // hnswlib throws part way (out of memory).
    for (size_t i = 0; i < labels.size(); ++i) {
      const size_t slot = slot_label_.size();
      graph_->addPoint(vectors + i * dimension_, slot);
      slot_label_.push_back(labels[i]);
      slot_of_.emplace(labels[i], slot);
    }
  }

  void remove(std::span<const int64_t> labels) override {
    for (int64_t label : labels) {
      // Absent labels are ignored (the contract); a label repeated in the batch is harmless.
      auto it = slot_of_.find(label);
      if (it == slot_of_.end()) continue;
      graph_->markDelete(it->second);
      ++dead_;
      slot_of_.erase(it);
    }
    if (dead_ > slot_of_.size()) rebuild();
  }

  size_t search(const float* query, size_t k, int64_t* labels, float* distances) override {
    // Never ask for more than the live vectors: searchKnn skips deleted nodes, and with ef =
    // max(ef_search, k) it returns up to k live ones.
    k = std::min(k, slot_of_.size());
    if (k == 0) return 0;
    auto result = graph_->searchKnn(query, k);
    // A max-heap: the farthest comes out first, so fill from the back for ascending order.
    const size_t n = std::min(result.size(), k);
    while (result.size() > n) result.pop();
    for (size_t i = n; i-- > 0; result.pop()) {
      const auto& [distance, slot] = result.top();
      labels[i] = slot_label_[slot];
      // 1 - dot; rounding can put a unit vector's self-distance a hair below 0.
      distances[i] = std::clamp(distance, 0.0f, 2.0f);
    }
    return n;
  }

  size_t size() const override { return slot_of_.size(); }

 private:
  static uint32_t checked(uint32_t dimension) {
    if (dimension == 0) throw invalid("dimension must be at least 1, got 0");
    return dimension;
  }

  GraphPtr make_graph(size_t capacity) {
    GraphPtr graph(new Graph(&space_, capacity, config_.M, config_.ef_construction));
    graph->setEf(config_.ef_search);  // once; searches never write the shared index
    return graph;
  }

  // Replaces the graph by a fresh one holding only the live vectors, in slot order, read back
  // exactly from hnswlib's own storage (we keep no second copy). If anything throws (memory),
  // the old graph and its tombstones are intact and the next remove() tries again.
  void rebuild() {
    const size_t live = slot_of_.size();
    const size_t capacity = std::clamp(2 * live, config_.initial_capacity, kMaxCapacity);
    auto fresh = make_graph(capacity);
    std::vector<int64_t> labels;
    labels.reserve(live);
    for (size_t slot = 0; slot < slot_label_.size(); ++slot) {
      auto it = slot_of_.find(slot_label_[slot]);
      if (it == slot_of_.end() || it->second != slot) continue;  // a tombstone
      fresh->addPoint(graph_->getDataByInternalId(static_cast<hnswlib::tableint>(slot)),
                      labels.size());
      labels.push_back(slot_label_[slot]);
    }
    graph_ = std::move(fresh);
    capacity_ = capacity;
    slot_label_ = std::move(labels);
    dead_ = 0;
    for (size_t slot = 0; slot < live; ++slot) slot_of_.find(slot_label_[slot])->second = slot;
  }

  const Config config_;  // a copy: an index need not outlive its instance
  const size_t dimension_;
  // Declared before graph_: the graph keeps pointers into the space.
  CanonicalInnerProductSpace space_;
  GraphPtr graph_;
  size_t capacity_ = 0;                          // graph_'s max_elements
  std::vector<int64_t> slot_label_;              // slot (= hnswlib label) -> host label
  size_t dead_ = 0;                              // slots marked deleted in graph_
  std::unordered_map<int64_t, size_t> slot_of_;  // live host label -> slot
};

class HnswBackend final : public lakehost::VectorBackend {
 public:
  HnswBackend(const lakehost::Host& host, std::string_view config_json)
      : config_(parse_config(config_json)) {
    host.info("hnswlib " + std::string("M ") + std::to_string(config_.M) + ", ef_construction " +
              std::to_string(config_.ef_construction) + ", ef_search " +
              std::to_string(config_.ef_search) + ", initial_capacity " +
              std::to_string(config_.initial_capacity) + "; distance kernel " +
              lakehost::kernels::name(lakehost::kernels::active_level()));
  }

  Index* create_index(uint32_t dimension) override { return new HnswIndex(config_, dimension); }

 private:
  const Config config_;
};

}  // namespace

LAKEHOST_PLUGIN(HnswBackend, "vector-hnswlib", "1.0.0",
                "hnswlib HNSW vector indexes (inner product), cosine distance", kConfigSchema,
                LH_FLAG_THREAD_SAFE)
