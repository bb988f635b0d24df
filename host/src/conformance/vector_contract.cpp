// The vector backend contract (lh_vector_backend_v1): indexes of unit vectors searched by cosine
// distance, ascending, without repeated labels; removed labels never come back; a label already
// present is a conflict; searches may run together and agree with serial ones.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "conformance/conformance.h"

namespace lakehost::conformance {

namespace {

constexpr uint32_t kDim = 32;
constexpr size_t kCount = 300;
constexpr float kSelfDistance = 1e-4f;  // a vector's distance to itself, up to float rounding

// Host labels are positive and sparse, so that a backend that confuses labels with positions
// is caught.
int64_t label_of(size_t i) { return static_cast<int64_t>(i) * 7 + 3; }

struct Hit {
  int64_t label;
  float distance;
};

struct Fixture {
  InstancePtr backend;
  std::unique_ptr<VectorIndex> index;
  std::vector<float> vectors = unit_vectors(kCount, kDim, 42);

  explicit Fixture(const Factory& make, bool fill = true)
      : backend(make()), index(std::make_unique<VectorIndex>(backend, kDim)) {
    if (fill) add_all(*index);
  }
  void add_all(VectorIndex& to) {
    std::vector<int64_t> labels;
    for (size_t i = 0; i < kCount; ++i) labels.push_back(label_of(i));
    to.add(labels, vectors);
  }
  const float* vector(size_t i) const { return &vectors[i * kDim]; }

  // Searches and checks what every answer must be: at most k results, ascending distances in
  // [0, 2] (cosine distance of unit vectors), no label twice.
  std::vector<Hit> search(const float* q, size_t k, const VectorIndex* in = nullptr) const {
    std::vector<int64_t> labels(k);
    std::vector<float> distances(k);
    size_t reported = 0;
    const size_t n = (in ? *in : *index).search(q, k, labels.data(), distances.data(), &reported);
    check(reported <= k, "index_search reported " + std::to_string(reported) + " results for k = " +
                             std::to_string(k) + " (more than the arrays hold)");
    std::vector<Hit> hits;
    std::set<int64_t> seen;
    for (size_t i = 0; i < n; ++i) {
      check(std::isfinite(distances[i]) && distances[i] >= -kSelfDistance &&
                distances[i] <= 2 + kSelfDistance,
            "distance " + std::to_string(distances[i]) + " at rank " + std::to_string(i) +
                " is not a cosine distance of unit vectors (0..2)");
      check(i == 0 || distances[i - 1] <= distances[i],
            "distances are not ascending at rank " + std::to_string(i) + " (" +
                std::to_string(distances[i - 1]) + " then " + std::to_string(distances[i]) + ")");
      check(seen.insert(labels[i]).second,
            "label " + std::to_string(labels[i]) + " returned twice in one answer");
      hits.push_back({labels[i], distances[i]});
    }
    return hits;
  }
};

bool contains(const std::vector<Hit>& hits, int64_t label) {
  return std::any_of(hits.begin(), hits.end(), [&](const Hit& h) { return h.label == label; });
}

HostError expect_error(const std::function<void()>& fn, const std::string& what) {
  try {
    fn();
  } catch (const HostError& e) {
    return e;
  }
  throw Violation(what + " succeeded; it must return an error status");
}

}  // namespace

std::vector<Case> vector_cases() {
  return {
      {"vector.self_match", "every added vector is its own nearest neighbour, at distance 0",
       [](const Factory& make) {
         Fixture f(make);
         check(f.index->size() == kCount, "index_size is " + std::to_string(f.index->size()) +
                                              " after adding " + std::to_string(kCount));
         size_t misses = 0;
         for (size_t i = 0; i < kCount; ++i) {
           auto hits = f.search(f.vector(i), 1);
           if (hits.empty() || hits[0].label != label_of(i) || hits[0].distance > kSelfDistance)
             ++misses;
         }
         // An approximate index may miss a vector now and then; more than 1 % is broken.
         check(misses * 100 <= kCount, std::to_string(misses) + " of " + std::to_string(kCount) +
                                           " vectors were not found first at distance 0");
       }},
      {"vector.cosine_distance", "a result's distance is 1 - dot(query, vector) for unit vectors",
       [](const Factory& make) {
         Fixture f(make);
         for (size_t q = 0; q < 20; ++q) {
           for (const auto& h : f.search(f.vector(q), 10)) {
             const size_t i = static_cast<size_t>((h.label - 3) / 7);
             check(h.label >= 3 && (h.label - 3) % 7 == 0 && i < kCount,
                   "label " + std::to_string(h.label) + " was never added");
             const float want = 1.0f - dot(f.vector(q), f.vector(i), kDim);
             check(std::fabs(h.distance - want) <= 1e-4f,
                   "distance " + std::to_string(h.distance) + " for label " +
                       std::to_string(h.label) + "; 1 - dot is " + std::to_string(want));
           }
         }
       }},
      {"vector.k_bounds",
       "k larger than the index returns every live vector; an empty index returns nothing",
       [](const Factory& make) {
         Fixture empty(make, /*fill=*/false);
         check(empty.search(empty.vector(0), 5).empty(), "an empty index returned results");
         Fixture f(make);
         auto all = f.search(f.vector(0), kCount + 50);
         check(all.size() == kCount, "k = " + std::to_string(kCount + 50) + " returned " +
                                         std::to_string(all.size()) + " of " +
                                         std::to_string(kCount) + " vectors");
       }},
      {"vector.remove",
       "removed labels are never returned; removing absent or repeated labels is harmless",
       [](const Factory& make) {
         Fixture f(make);
         std::vector<int64_t> gone;
         for (size_t i = 0; i < kCount; i += 3) gone.push_back(label_of(i));
         f.index->remove(gone);
         f.index->remove({gone[0], gone[0], 999999});
         check(f.index->size() == kCount - gone.size(),
               "index_size is " + std::to_string(f.index->size()) + " after removing " +
                   std::to_string(gone.size()) + " of " + std::to_string(kCount));
         const std::set<int64_t> removed(gone.begin(), gone.end());
         for (size_t q = 0; q < kCount; q += 10)
           for (const auto& h : f.search(f.vector(q), 20))
             check(!removed.count(h.label),
                   "removed label " + std::to_string(h.label) + " was returned");
       }},
      {"vector.readd", "a label removed and added again is found by its new vector only",
       [](const Factory& make) {
         Fixture f(make);
         const int64_t label = label_of(5);
         f.index->remove({label});
         std::vector<float> v(f.vector(7), f.vector(7) + kDim);  // another vector, same label
         f.index->add({label}, v);
         auto hits = f.search(v.data(), 2);
         check(contains(hits, label), "the re-added label is not found by its new vector");
         for (const auto& h : f.search(f.vector(5), 3))
           check(h.label != label || h.distance > kSelfDistance,
                 "the re-added label is still found by its old vector at distance 0");
       }},
      {"vector.add_present_is_conflict",
       "adding a label that is present returns LH_ERR_CONFLICT and changes nothing",
       [](const Factory& make) {
         Fixture f(make);
         std::vector<float> v(f.vector(9), f.vector(9) + kDim);
         auto e = expect_error([&] { f.index->add({label_of(0)}, v); },
                               "adding label " + std::to_string(label_of(0)) + " a second time");
         check(e.errc() == Errc::conflict,
               std::string("adding a present label returned another status: ") + e.what());
         check(f.index->size() == kCount, "the refused add changed index_size");
         auto hits = f.search(f.vector(0), 1);
         check(!hits.empty() && hits[0].label == label_of(0),
               "the present label lost its vector after the refused add");
       }},
      {"vector.dimension_zero_refused",
       "index_create with dimension 0 returns LH_ERR_INVALID_ARGUMENT",
       [](const Factory& make) {
         auto backend = make();
         auto e =
             expect_error([&] { VectorIndex bad(backend, 0); }, "index_create with dimension 0");
         check(e.errc() == Errc::invalid_argument,
               std::string("dimension 0 returned another status: ") + e.what());
       }},
      {"vector.independent_indexes", "indexes of one instance are independent",
       [](const Factory& make) {
         Fixture f(make);
         VectorIndex other(f.backend, kDim);
         check(other.size() == 0, "a new index is not empty");
         check(f.search(f.vector(0), 3, &other).empty(), "a new index returns another's vectors");
         other.add({1}, std::vector<float>(f.vector(0), f.vector(0) + kDim));
         check(f.index->size() == kCount, "adding to one index changed another's size");
       }},
      {"vector.deterministic",
       "the same vectors added in the same order give the same answers, bit for bit",
       [](const Factory& make) {
         Fixture a(make), b(make);
         for (size_t q = 0; q < kCount; q += 15) {
           auto x = a.search(a.vector(q), 10), y = b.search(b.vector(q), 10);
           check(x.size() == y.size(), "two identical indexes returned different counts");
           for (size_t i = 0; i < x.size(); ++i)
             check(x[i].label == y[i].label && x[i].distance == y[i].distance,
                   "two identical indexes differ at rank " + std::to_string(i) + " for query " +
                       std::to_string(q));
         }
       }},
      {"vector.concurrent_searches",
       "searches running together (LH_FLAG_THREAD_SAFE or not) agree with serial ones",
       [](const Factory& make) {
         Fixture f(make);
         std::vector<std::vector<Hit>> serial;
         for (size_t q = 0; q < 40; ++q) serial.push_back(f.search(f.vector(q), 10));
         concurrently(4, [&](int t) {
           for (int round = 0; round < 5; ++round)
             for (size_t q = static_cast<size_t>(t); q < 40; q += 4) {
               auto hits = f.search(f.vector(q), 10);
               check(hits.size() == serial[q].size(),
                     "a concurrent search returned " + std::to_string(hits.size()) +
                         " results, serially " + std::to_string(serial[q].size()));
               for (size_t i = 0; i < hits.size(); ++i)
                 check(hits[i].label == serial[q][i].label,
                       "a concurrent search disagrees with the serial one at rank " +
                           std::to_string(i));
             }
         });
       }},
  };
}

}  // namespace lakehost::conformance
