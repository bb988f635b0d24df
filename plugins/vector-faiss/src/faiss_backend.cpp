// vector-faiss — a lakehost vector backend on FAISS.
//
// One FAISS index per collection, built by faiss::index_factory from the configured description
// ("Flat", "HNSW32", ...) with METRIC_INNER_PRODUCT: for the unit vectors the host adds, the inner
// product is the cosine similarity, and we report distance = 1 - similarity.
//
// Labels. FAISS numbers vectors 0, 1, 2, ... in the order they are added; we call those numbers
// slots and keep our own slot -> label table instead of wrapping the index in IndexIDMap2. The
// reason is removal on indexes that cannot remove (below): when a label is removed and added
// again, its old vector is still in the graph under the old slot, and only the slot, not the
// label, tells the stale copy from the live one.
//
// Removal. Indexes that keep their codes in one flat array (faiss::IndexFlatCodes: Flat, SQ, ...)
// support remove_ids, which deletes the slots and shifts the later ones down in order; we shift
// our table the same way. Any other index (HNSW) cannot remove: the slot is tombstoned, searches
// over-fetch and skip tombstones, and when tombstones exceed 20% of the slots the index is rebuilt
// from the live vectors, read back from the index's own storage (so we keep no second copy).
//
// Exact search. A Flat index is searched by our own scan over FAISS's stored vectors with the
// SDK's canonical kernels (lakehost/vector_kernels.hpp): bit-identical distances on every CPU,
// in every row order, at the best SIMD level the CPU has. Neither FAISS's own loop (Debian builds
// it for baseline SSE) nor BLAS (whose kernel, and so its rounding, depends on its CPU detection
// and on the matrix shape) gives that. Other indexes (HNSW, SQ) search through FAISS; the host
// re-scores their candidates with the same kernels.
//
// Threading: see SingleThreadedOmp.
#include <lakehost/config.hpp>
#include <lakehost/plugin.hpp>
#include <lakehost/vector_kernels.hpp>

#include <dlfcn.h>
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

using idx_t = faiss::Index::idx_t;  // FAISS 1.7.3 has no faiss::idx_t yet

constexpr const char* kConfigSchema = R"json({
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "factory": {
      "description": "FAISS index_factory description, e.g. \"Flat\" (exact) or \"HNSW32\"",
      "type": "string", "minLength": 1, "default": "Flat"
    },
    "ef_search": {
      "description": "HNSW efSearch: candidates explored per search (HNSW indexes only)",
      "type": "integer", "minimum": 1, "maximum": 4096, "default": 64
    },
    "ef_construction": {
      "description": "HNSW efConstruction: candidates explored per insertion (HNSW indexes only)",
      "type": "integer", "minimum": 1, "maximum": 4096, "default": 40
    }
  }
})json";

// Rebuild a non-removable index once more than 1/kMaxDeadFraction of its slots are tombstones.
constexpr size_t kMaxDeadFraction = 5;  // 20%

lakehost::Error invalid(const std::string& message) {
  return lakehost::Error(LH_ERR_INVALID_ARGUMENT, message);
}

// FAISS messages read "Error in <function signature> at <file>:<line>: <reason>"; keep the reason.
std::string reason(const faiss::FaissException& e) {
  const size_t at = e.msg.find(" at ");
  const size_t colon = at == std::string::npos ? at : e.msg.find(": ", at);
  return colon == std::string::npos ? e.msg : e.msg.substr(colon + 2);
}

struct Config {
  std::string factory;
  int ef_search;
  int ef_construction;
};

// The host fills in the schema's defaults (lakehost/config.hpp); the limits are checked again so
// that a caller that skipped the schema cannot reach FAISS with nonsense.
Config parse_config(std::string_view json) {
  const lakehost::Config c(json);
  return {c.string("factory"), static_cast<int>(c.integer("ef_search", 1, 4096)),
          static_cast<int>(c.integer("ef_construction", 1, 4096))};
}

// Builds an empty FAISS index for `dimension`-float unit vectors, as the config describes.
std::unique_ptr<faiss::Index> make_faiss_index(const Config& config, uint32_t dimension) {
  if (dimension == 0 || dimension > INT_MAX) {
    throw invalid("dimension must be in 1.." + std::to_string(INT_MAX) + ", got " +
                  std::to_string(dimension));
  }
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::index_factory(static_cast<int>(dimension), config.factory.c_str(),
                                     faiss::METRIC_INNER_PRODUCT));
  } catch (const faiss::FaissException& e) {
    throw invalid("FAISS index_factory(\"" + config.factory + "\", dimension " +
                  std::to_string(dimension) + ", inner product): " + reason(e));
  }
  // Trained indexes (IVF, PQ, SQ8, ...) learn from a sample before the first add; the ABI has no
  // training step, so they are refused rather than failing at the first add.
  if (!index->is_trained) {
    throw invalid("FAISS factory \"" + config.factory +
                  "\" needs training, which vector-faiss does not support (use e.g. \"Flat\", "
                  "\"HNSW32\" or \"SQfp16\")");
  }
  // efSearch is passed with each search instead (see FaissIndex::search).
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index.get())) {
    hnsw->hnsw.efConstruction = config.ef_construction;
  }
  return index;
}

// FAISS parallelises with OpenMP, and IndexHNSW::search opens a parallel region (each thread
// allocating a visited table of ntotal bytes) even for a single query. The host already runs
// searches concurrently, one per request thread; if each of them also started an OpenMP team,
// the threads would oversubscribe the cores (2 on the reference machine) and libgomp would keep
// an idle pool per request thread. So a search runs on its caller's thread alone. OpenMP's
// thread count is per calling thread (setting it once in create() would not reach the host's
// request threads), hence a guard around each search that restores the caller's value.
// Adds and rebuilds keep FAISS's default (all cores): they hold the index's writer lock, and
// building an HNSW graph is the slow part.
class SingleThreadedOmp {
 public:
  SingleThreadedOmp() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadedOmp() { omp_set_num_threads(saved_); }
  SingleThreadedOmp(const SingleThreadedOmp&) = delete;
  SingleThreadedOmp& operator=(const SingleThreadedOmp&) = delete;

 private:
  int saved_;
};

// ThreadSanitizer builds only: FAISS (Debian's static libfaiss.a, linked into this plugin) and
// Debian's libgomp are not instrumented. TSan sees the memset, new and delete an OpenMP worker
// makes while building an HNSW graph (intercepted calls), but not libgomp's barrier that orders
// them before the caller goes on, so each looks like a race with whichever host thread later
// frees the index. With a team of one thread, FAISS runs on the calling thread, whose ordering
// (the host's index lock, shared_ptr handover) TSan does see: no suppression is needed for FAISS,
// and races in this plugin's own code still report. Other builds keep FAISS's default team.
#if defined(__SANITIZE_THREAD__)
#define LAKEHOST_FAISS_ONE_OPENMP_THREAD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LAKEHOST_FAISS_ONE_OPENMP_THREAD 1
#endif
#endif
#ifdef LAKEHOST_FAISS_ONE_OPENMP_THREAD
using BuildTeam = SingleThreadedOmp;
#else
struct BuildTeam {};
#endif

// libgomp keeps worker threads (parked in its own code) and per-thread state after a parallel
// region. If the host unloads this plugin and with it the last reference to libgomp, those threads
// are left in unmapped code: measured here, the next load's first HNSW add crashes the process.
// So mark the OpenMP runtime RTLD_NODELETE: it stays for the life of the process, while this
// plugin itself still unloads. Found through dladdr, not by name, to fit any OpenMP runtime.
bool keep_openmp_runtime_loaded() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<const void*>(&omp_get_max_threads), &info) || !info.dli_fname) {
    return false;
  }
  return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
}

// Pinned when the library is loaded, not when an instance is created: the host may load this
// plugin and unload it again without creating anything (a manifest whose config fails the
// schema), and each such cycle would unload libgomp and lose what its constructor allocated
// (LeakSanitizer: 8 bytes from libgomp's init per cycle). dlopen of an already loaded library
// with RTLD_NOLOAD is allowed from a constructor.
const bool g_openmp_kept = keep_openmp_runtime_loaded();

// One collection's index. Concurrency (the host's contract): search() and size() run
// concurrently with each other but never with add() or remove(), so searches only read.
class FaissIndex final : public lakehost::VectorBackend::Index {
 public:
  FaissIndex(const Config& config, uint32_t dimension)
      : config_(config),
        dimension_(dimension),
        index_(make_faiss_index(config, dimension)),
        removes_in_place_(dynamic_cast<faiss::IndexFlatCodes*>(index_.get()) != nullptr),
        is_hnsw_(dynamic_cast<faiss::IndexHNSW*>(index_.get()) != nullptr),
        is_flat_(dynamic_cast<faiss::IndexFlat*>(index_.get()) != nullptr) {}

  bool removes_in_place() const { return removes_in_place_; }

  void add(std::span<const int64_t> labels, const float* vectors) override {
    if (labels.empty()) return;
    // Reserve first and map the labels before FAISS adds anything, undoing the map on failure,
    // so a refused batch changes nothing.
    const size_t first = slot_label_.size();
    slot_label_.reserve(first + labels.size());
    dead_.reserve(first + labels.size());
    size_t mapped = 0;
    try {
      for (; mapped < labels.size(); ++mapped) {
        if (!slot_of_.emplace(labels[mapped], first + mapped).second) {
          throw lakehost::Error(LH_ERR_CONFLICT, "label " + std::to_string(labels[mapped]) +
                                                     " is already in the index");
        }
      }
      [[maybe_unused]] BuildTeam team;
      index_->add(static_cast<idx_t>(labels.size()), vectors);
    } catch (...) {
      for (size_t i = 0; i < mapped; ++i) slot_of_.erase(labels[i]);
      throw;
    }
    slot_label_.insert(slot_label_.end(), labels.begin(), labels.end());
    dead_.resize(slot_label_.size(), false);
  }

  void remove(std::span<const int64_t> labels) override {
    std::vector<idx_t> slots;
    for (int64_t label : labels) {
      // Absent labels are ignored (the contract); a label repeated in the batch is harmless.
      if (auto it = slot_of_.find(label); it != slot_of_.end()) slots.push_back(it->second);
    }
    if (slots.empty()) return;
    if (removes_in_place_) {
      erase_slots(slots);  // FAISS first: if it throws, nothing has changed
    } else {
      for (idx_t slot : slots) {
        if (!dead_[slot]) ++dead_count_;
        dead_[slot] = true;
      }
    }
    for (int64_t label : labels) slot_of_.erase(label);
    if (dead_count_ * kMaxDeadFraction > slot_label_.size()) rebuild();
  }

  size_t search(const float* query, size_t k, int64_t* labels, float* distances) override {
    k = std::min(k, slot_of_.size());
    if (k == 0) return 0;
    if (is_flat_) return scan(query, k, labels, distances);
    SingleThreadedOmp single_threaded;
    // FAISS still returns tombstoned slots, so ask for more than k when there are any. They are
    // at most 20% of the slots, so 2k almost always holds k live ones; if not, double and retry.
    const size_t total = slot_label_.size();
    size_t fetch = dead_count_ == 0 ? k : std::min(total, 2 * k);
    std::vector<float> similarities;
    std::vector<idx_t> slots;
    for (;;) {
      similarities.resize(fetch);
      slots.resize(fetch);
      // FAISS's HNSW stops after efSearch candidates even when asked for more, so widen it to
      // what we fetch. Per-search parameters leave the shared index untouched.
      faiss::SearchParametersHNSW hnsw;
      hnsw.efSearch = static_cast<int>(std::clamp<size_t>(fetch, config_.ef_search, INT_MAX));
      index_->search(1, query, static_cast<idx_t>(fetch), similarities.data(), slots.data(),
                     is_hnsw_ ? &hnsw : nullptr);
      size_t n = 0;
      for (size_t i = 0; i < fetch && n < k; ++i) {
        // -1: FAISS found fewer than `fetch` (HNSW may not reach every node).
        if (slots[i] < 0 || dead_[slots[i]]) continue;
        labels[n] = slot_label_[slots[i]];
        // FAISS returns the best first, and this mapping keeps that order ascending. Rounding
        // can put a unit vector's self-similarity a hair above 1: clamp into [0, 2].
        distances[n] = std::clamp(1.0f - similarities[i], 0.0f, 2.0f);
        ++n;
      }
      if (n == k || fetch == total) return n;
      fetch = std::min(total, 2 * fetch);
    }
  }

  size_t size() const override { return slot_of_.size(); }

 private:
  // Exhaustive search of a Flat index (no tombstones: Flat removes in place): every stored vector
  // against the query with the canonical kernel, a block of rows at a time, keeping the k best
  // in a max-heap ordered by (distance, label) so that ties have one answer too.
  size_t scan(const float* query, size_t k, int64_t* labels, float* distances) const {
    const float* xb = static_cast<const faiss::IndexFlat&>(*index_).get_xb();
    const size_t total = slot_label_.size();
    using Entry = std::pair<float, int64_t>;  // (distance, label); the heap's top is the worst
    std::priority_queue<Entry> best;
    constexpr size_t kBlock = 1024;
    float dots[kBlock];
    for (size_t first = 0; first < total; first += kBlock) {
      const size_t rows = std::min(kBlock, total - first);
      lakehost::kernels::dot_rows(query, xb + first * dimension_, rows, dimension_, dots);
      for (size_t r = 0; r < rows; ++r) {
        const Entry e{lakehost::kernels::distance_from_dot(dots[r]), slot_label_[first + r]};
        if (best.size() < k) {
          best.push(e);
        } else if (e < best.top()) {
          best.pop();
          best.push(e);
        }
      }
    }
    const size_t n = best.size();
    for (size_t i = n; i-- > 0; best.pop()) {
      distances[i] = best.top().first;
      labels[i] = best.top().second;
    }
    return n;
  }

  // IndexFlatCodes::remove_ids deletes the slots and moves the later ones down, keeping their
  // order (the same assumption IndexIDMap makes); mirror that in our table. The removed labels
  // are still in slot_of_ (remove() drops them next), so only the survivors are renumbered.
  void erase_slots(const std::vector<idx_t>& slots) {
    index_->remove_ids(faiss::IDSelectorBatch(slots.size(), slots.data()));
    std::vector<bool> erased(slot_label_.size());
    for (idx_t slot : slots) erased[slot] = true;
    size_t kept = static_cast<size_t>(*std::min_element(slots.begin(), slots.end()));
    for (size_t slot = kept; slot < slot_label_.size(); ++slot) {
      if (erased[slot]) continue;
      slot_label_[kept] = slot_label_[slot];
      slot_of_[slot_label_[kept]] = kept;
      ++kept;
    }
    slot_label_.resize(kept);
    dead_.resize(kept);
    if (index_->ntotal != static_cast<idx_t>(kept)) {
      throw lakehost::Error(LH_ERR_INTERNAL, "FAISS removed an unexpected number of vectors");
    }
  }

  // Replaces the index by a fresh one holding only the live vectors, in slot order. reconstruct()
  // returns exactly what HNSW's flat storage holds. If anything throws (memory), the old index
  // and its tombstones are still intact and consistent, and the next remove() tries again.
  void rebuild() {
    const size_t live = slot_of_.size();
    std::vector<float> vectors(live * dimension_);
    std::vector<int64_t> labels;
    labels.reserve(live);
    for (size_t slot = 0; slot < slot_label_.size(); ++slot) {
      if (dead_[slot]) continue;
      index_->reconstruct(static_cast<idx_t>(slot), &vectors[labels.size() * dimension_]);
      labels.push_back(slot_label_[slot]);
    }
    auto fresh = make_faiss_index(config_, dimension_);
    if (live > 0) {
      [[maybe_unused]] BuildTeam team;
      fresh->add(static_cast<idx_t>(live), vectors.data());
    }

    index_ = std::move(fresh);
    slot_label_ = std::move(labels);
    dead_.assign(live, false);
    dead_count_ = 0;
    for (size_t slot = 0; slot < live; ++slot) slot_of_.find(slot_label_[slot])->second = slot;
  }

  const Config config_;  // a copy: an index need not outlive its instance
  const uint32_t dimension_;
  std::unique_ptr<faiss::Index> index_;
  const bool removes_in_place_;
  const bool is_hnsw_;
  const bool is_flat_;                           // exact: searched by scan()
  std::vector<int64_t> slot_label_;              // slot -> host label
  std::vector<bool> dead_;                       // slot -> tombstoned (only without remove_ids)
  size_t dead_count_ = 0;                        // number of true entries in dead_
  std::unordered_map<int64_t, size_t> slot_of_;  // live host label -> slot
};

class FaissBackend final : public lakehost::VectorBackend {
 public:
  FaissBackend(const lakehost::Host& host, std::string_view config_json)
      : config_(parse_config(config_json)) {
    if (!g_openmp_kept) host.warn("could not pin the OpenMP runtime; unloading may be unsafe");
    const bool in_place = check_factory();
    host.info("FAISS factory \"" + config_.factory + "\", ef_search " +
              std::to_string(config_.ef_search) + ", ef_construction " +
              std::to_string(config_.ef_construction) + "; removal " +
              (in_place ? "in place (remove_ids)" : "by tombstones, rebuilt above 20%") +
              "; exact-search kernel " +
              lakehost::kernels::name(lakehost::kernels::active_level()));
  }

  Index* create_index(uint32_t dimension) override { return new FaissIndex(config_, dimension); }

 private:
  // A bad factory string should fail the manifest (at load or reload), not the first collection.
  // So take one tiny index through add, search and remove (which rebuilds a tombstoning index:
  // 1 of 2 slots dead) and report any FAISS failure as a config error. Returns removes_in_place.
  bool check_factory() const {
    try {
      constexpr uint32_t kDim = 8;
      FaissIndex probe(config_, kDim);
      const float vectors[2][kDim] = {{1.0f}, {0.0f, 1.0f}};
      const int64_t labels[2] = {1, 2};
      probe.add(labels, vectors[0]);
      int64_t label = 0;
      float distance = 0;
      if (probe.search(vectors[0], 1, &label, &distance) != 1 || label != 1) {
        throw invalid("\"" + config_.factory + "\" does not find a vector as its own neighbour");
      }
      probe.remove(std::span(labels, 1));
      return probe.removes_in_place();
    } catch (const lakehost::Error& e) {
      throw invalid(std::string("config \"factory\": ") + e.what());
    } catch (const faiss::FaissException& e) {
      throw invalid("config \"factory\": FAISS \"" + config_.factory + "\": " + reason(e));
    }
  }

  const Config config_;
};

}  // namespace

LAKEHOST_PLUGIN(FaissBackend, "vector-faiss", "1.0.0",
                "FAISS vector indexes (index_factory: Flat, HNSW, ...), cosine distance",
                kConfigSchema, LH_FLAG_THREAD_SAFE)
