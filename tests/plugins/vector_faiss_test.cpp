// Contract test of the vector-faiss plugin through the host's loader and the C table only, for an
// exact index that removes in place ("Flat") and an approximate one that tombstones ("HNSW32").
#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>
#include <lakehost/vector_kernels.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_fixture.h"

namespace {

constexpr uint32_t kDim = 32;
constexpr size_t kCount = 300;
constexpr float kSelfDistance = 1e-4f;  // a vector's distance to itself, up to float rounding

// Host labels are arbitrary int64: sparse, and the first is -1, FAISS's "no result" marker.
int64_t label_of(size_t i) { return static_cast<int64_t>(i) * 7 - 1; }

// `n` unit vectors around 10 random centres: realistic for embeddings (uniform random vectors
// are nobody's neighbours) and deterministic for a given seed.
std::vector<float> clustered_unit_vectors(size_t n, uint32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> centres(10 * dim);
  for (float& x : centres) x = gauss(rng);
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    float* v = &out[i * dim];
    const float* c = &centres[(i % 10) * dim];
    float norm = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      v[j] = c[j] + 0.3f * gauss(rng);
      norm += v[j] * v[j];
    }
    for (uint32_t j = 0; j < dim; ++j) v[j] /= std::sqrt(norm);
  }
  return out;
}

float cosine_distance(const float* a, const float* b, uint32_t dim) {
  float dot = 0;
  for (uint32_t j = 0; j < dim; ++j) dot += a[j] * b[j];
  return 1.0f - dot;
}

struct Hit {
  int64_t label;
  float distance;
};

class VectorFaissTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    plugin_ = lakehost::test::load_plugin("vector-faiss",
                                          std::string(R"({"factory": ")") + GetParam() + "\"}");
    vb_ = plugin_->table<lh_vector_backend_v1>();
    index_ = create_index(kDim);
    vectors_ = clustered_unit_vectors(kCount, kDim, 42);
    std::vector<int64_t> labels;
    for (size_t i = 0; i < kCount; ++i) labels.push_back(label_of(i));
    add(labels, vectors_.data());
  }

  void TearDown() override {
    for (void* index : indexes_) vb_->index_destroy(plugin_->self(), index);
  }

  void* create_index(uint32_t dim) {
    void* index = nullptr;
    lh_error err{};
    EXPECT_EQ(vb_->index_create(plugin_->self(), dim, &index, &err), LH_OK) << err.message;
    if (index) indexes_.push_back(index);
    return index;
  }

  void add(const std::vector<int64_t>& labels, const float* vectors, void* index = nullptr) {
    lh_error err{};
    ASSERT_EQ(vb_->index_add(plugin_->self(), index ? index : index_, labels.data(), vectors,
                             labels.size(), &err),
              LH_OK)
        << err.message;
  }

  void remove(const std::vector<int64_t>& labels) {
    lh_error err{};
    ASSERT_EQ(vb_->index_remove(plugin_->self(), index_, labels.data(), labels.size(), &err), LH_OK)
        << err.message;
  }

  std::vector<Hit> search(const float* query, size_t k, void* index = nullptr) const {
    std::vector<int64_t> labels(k);
    std::vector<float> distances(k);
    size_t n = k + 1;
    lh_error err{};
    EXPECT_EQ(vb_->index_search(plugin_->self(), index ? index : index_, query, k, labels.data(),
                                distances.data(), &n, &err),
              LH_OK)
        << err.message;
    EXPECT_LE(n, k);
    std::vector<Hit> hits;
    for (size_t i = 0; i < std::min(n, k); ++i) hits.push_back({labels[i], distances[i]});
    return hits;
  }

  size_t size() const { return vb_->index_size(plugin_->self(), index_); }
  const float* vector(size_t i) const { return &vectors_[i * kDim]; }

  // Results are ascending cosine distances in [0, 2] to `query`, without repeated labels.
  static void expect_well_formed(const std::vector<Hit>& hits) {
    std::set<int64_t> seen;
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_GE(hits[i].distance, 0.0f);
      EXPECT_LE(hits[i].distance, 2.0f);
      if (i > 0) {
        EXPECT_LE(hits[i - 1].distance, hits[i].distance) << "at rank " << i;
      }
      EXPECT_TRUE(seen.insert(hits[i].label).second) << "label " << hits[i].label << " twice";
    }
  }

  std::unique_ptr<lakehost::test::LoadedPlugin> plugin_;
  const lh_vector_backend_v1* vb_ = nullptr;
  void* index_ = nullptr;
  std::vector<void*> indexes_;
  std::vector<float> vectors_;
};

TEST_P(VectorFaissTest, DescriptorIsAThreadSafeVectorBackend) {
  const lh_plugin_descriptor* d = plugin_->descriptor();
  EXPECT_EQ(d->kind, static_cast<uint32_t>(LH_KIND_VECTOR_BACKEND));
  EXPECT_STREQ(d->name, "vector-faiss");
  EXPECT_TRUE(d->flags & LH_FLAG_THREAD_SAFE);
  EXPECT_GE(vb_->struct_size, sizeof(lh_vector_backend_v1));
}

TEST_P(VectorFaissTest, EveryVectorFindsItselfFirstAtDistanceZero) {
  EXPECT_EQ(size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    auto hits = search(vector(i), 10);
    ASSERT_EQ(hits.size(), 10u);
    expect_well_formed(hits);
    EXPECT_EQ(hits[0].label, label_of(i));
    EXPECT_LT(hits[0].distance, kSelfDistance);
  }
}

TEST_P(VectorFaissTest, DistancesAreCosineDistances) {
  for (const Hit& hit : search(vector(7), 50)) {
    const size_t i = static_cast<size_t>((hit.label + 1) / 7);
    EXPECT_NEAR(hit.distance, cosine_distance(vector(7), vector(i), kDim), 1e-4f);
  }
}

TEST_P(VectorFaissTest, RemovedLabelsAreNeverReturned) {
  // Scattered removals, first 10% (HNSW only tombstones them), then 30% in all (HNSW rebuilds).
  // Vector i is in cluster i % 10, so whole clusters go: their queries' nearest are all removed.
  std::set<int64_t> removed;
  for (const std::set<size_t>& clusters : {std::set<size_t>{0}, std::set<size_t>{0, 3, 7}}) {
    std::vector<int64_t> batch;
    for (size_t i = 0; i < kCount; ++i) {
      if (clusters.count(i % 10)) batch.push_back(label_of(i));
    }
    remove(batch);
    removed.insert(batch.begin(), batch.end());
    EXPECT_EQ(size(), kCount - removed.size());
    for (size_t i = 0; i < kCount; ++i) {
      auto hits = search(vector(i), 20);
      ASSERT_EQ(hits.size(), 20u);
      expect_well_formed(hits);
      for (const Hit& hit : hits) {
        EXPECT_EQ(removed.count(hit.label), 0u) << "removed label " << hit.label << " returned";
      }
      if (!removed.count(label_of(i))) {
        EXPECT_EQ(hits[0].label, label_of(i));
      }
    }
  }
}

TEST_P(VectorFaissTest, RemovingAbsentOrRepeatedLabelsIsHarmless) {
  remove({label_of(3), label_of(3), 123456789});
  EXPECT_EQ(size(), kCount - 1);
  remove({label_of(3)});
  EXPECT_EQ(size(), kCount - 1);
}

TEST_P(VectorFaissTest, ReaddedLabelIsFoundByItsNewVectorOnly) {
  const auto fresh = clustered_unit_vectors(1, kDim, 7);  // another cluster, far from vector 5
  remove({label_of(5)});
  add({label_of(5)}, fresh.data());
  EXPECT_EQ(size(), kCount);

  auto hits = search(fresh.data(), 5);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].label, label_of(5));
  EXPECT_LT(hits[0].distance, kSelfDistance);
  // The old vector may still sit in an HNSW graph, tombstoned: it must not answer for the label.
  for (const Hit& hit : search(vector(5), 20)) {
    if (hit.label == label_of(5)) {
      EXPECT_NEAR(hit.distance, cosine_distance(vector(5), fresh.data(), kDim), 1e-4f);
    }
  }
  // Re-adding the original vector works too.
  remove({label_of(5)});
  add({label_of(5)}, vector(5));
  EXPECT_EQ(search(vector(5), 1).at(0).label, label_of(5));
}

TEST_P(VectorFaissTest, KLargerThanSizeReturnsEveryLiveVector) {
  auto hits = search(vector(0), kCount + 100);
  EXPECT_EQ(hits.size(), kCount);
  expect_well_formed(hits);

  std::vector<int64_t> removed;
  for (size_t i = 0; i < kCount; i += 4) removed.push_back(label_of(i));
  remove(removed);
  hits = search(vector(1), kCount + 100);
  EXPECT_EQ(hits.size(), kCount - removed.size());
  expect_well_formed(hits);
}

TEST_P(VectorFaissTest, EmptyIndexAndZeroKReturnNothing) {
  void* empty = create_index(kDim);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(vb_->index_size(plugin_->self(), empty), 0u);
  EXPECT_TRUE(search(vector(0), 5, empty).empty());
  EXPECT_TRUE(search(vector(0), 0).empty());
}

TEST_P(VectorFaissTest, IndexesAreIndependent) {
  constexpr uint32_t kSmallDim = 8;
  void* small = create_index(kSmallDim);
  ASSERT_NE(small, nullptr);
  const auto vectors = clustered_unit_vectors(20, kSmallDim, 3);
  add({label_of(0), label_of(1)}, vectors.data(), small);
  EXPECT_EQ(vb_->index_size(plugin_->self(), small), 2u);
  EXPECT_EQ(size(), kCount);
  EXPECT_EQ(search(&vectors[kSmallDim], 1, small).at(0).label, label_of(1));
}

TEST_P(VectorFaissTest, AddingAPresentLabelIsAConflictAndChangesNothing) {
  const auto fresh = clustered_unit_vectors(2, kDim, 9);
  const int64_t labels[] = {-42, label_of(0)};  // a new label, then a present one
  lh_error err{};
  EXPECT_EQ(vb_->index_add(plugin_->self(), index_, labels, fresh.data(), 2, &err),
            LH_ERR_CONFLICT);
  EXPECT_NE(std::string(err.message).find(std::to_string(label_of(0))), std::string::npos)
      << err.message;
  EXPECT_EQ(size(), kCount);
  for (const Hit& hit : search(fresh.data(), 10)) EXPECT_NE(hit.label, -42);
}

// The ABI passes no dimension with add or search (they are n * dimension floats), so a mismatch
// cannot be detected there; the dimension an index can refuse is the one it is created with.
TEST_P(VectorFaissTest, DimensionZeroIsRefused) {
  void* index = nullptr;
  lh_error err{};
  EXPECT_EQ(vb_->index_create(plugin_->self(), 0, &index, &err), LH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(index, nullptr);
  EXPECT_NE(std::string(err.message).find("dimension"), std::string::npos) << err.message;
}

TEST_P(VectorFaissTest, ConcurrentSearchesAgreeWithSerialOnes) {
  std::vector<std::vector<Hit>> expected;
  for (size_t i = 0; i < kCount; ++i) expected.push_back(search(vector(i), 10));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t round = 0; round < 3; ++round) {
        for (size_t i = 0; i < kCount; ++i) {
          auto hits = search(vector(i), 10);
          bool same = hits.size() == expected[i].size();
          for (size_t r = 0; same && r < hits.size(); ++r) {
            same = hits[r].label == expected[i][r].label;
          }
          if (!same) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Factories, VectorFaissTest, ::testing::Values("Flat", "HNSW32"),
                         [](const auto& info) { return std::string(info.param); });

// ---- configuration: refused by create() (or the host's schema check) with a clear message ----

std::string load_error(const std::string& config) {
  try {
    lakehost::test::load_plugin("vector-faiss", config);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// The exact index answers with the SDK's canonical distances, bit for bit, whatever order the
// vectors were added in (BLAS or FAISS's own loop would round by matrix shape and CPU).
TEST(VectorFaissFlat, DistancesAreCanonicalBitsInAnyInsertionOrder) {
  auto plugin = lakehost::test::load_plugin("vector-faiss", R"({"factory": "Flat"})");
  const auto* vb = plugin->table<lh_vector_backend_v1>();
  constexpr uint32_t kDim384 = 384;
  const auto vectors = clustered_unit_vectors(kCount, kDim384, 3);
  std::vector<size_t> forward(kCount), backward(kCount);
  for (size_t i = 0; i < kCount; ++i) forward[i] = i, backward[i] = kCount - 1 - i;
  std::vector<std::vector<std::pair<int64_t, uint32_t>>> answers;
  for (const auto* order : {&forward, &backward}) {
    void* index = nullptr;
    lh_error err{};
    ASSERT_EQ(vb->index_create(plugin->self(), kDim384, &index, &err), LH_OK);
    for (size_t first = 0; first < kCount; first += 37) {  // uneven batches
      std::vector<int64_t> labels;
      std::vector<float> batch;
      for (size_t j = first; j < std::min(kCount, first + 37); ++j) {
        const size_t i = (*order)[j];
        labels.push_back(label_of(i));
        batch.insert(batch.end(), &vectors[i * kDim384], &vectors[(i + 1) * kDim384]);
      }
      ASSERT_EQ(
          vb->index_add(plugin->self(), index, labels.data(), batch.data(), labels.size(), &err),
          LH_OK);
    }
    const float* query = &vectors[11 * kDim384];
    std::vector<int64_t> labels(50);
    std::vector<float> distances(50);
    size_t n = 0;
    ASSERT_EQ(vb->index_search(plugin->self(), index, query, 50, labels.data(), distances.data(),
                               &n, &err),
              LH_OK);
    ASSERT_EQ(n, 50u);
    std::vector<std::pair<int64_t, uint32_t>> answer;
    for (size_t r = 0; r < n; ++r) {
      const size_t i = static_cast<size_t>((labels[r] + 1) / 7);
      const float want = lakehost::kernels::cosine_distance(query, &vectors[i * kDim384], kDim384);
      EXPECT_EQ(std::bit_cast<uint32_t>(distances[r]), std::bit_cast<uint32_t>(want));
      answer.emplace_back(labels[r], std::bit_cast<uint32_t>(distances[r]));
    }
    answers.push_back(answer);
    vb->index_destroy(plugin->self(), index);
  }
  EXPECT_EQ(answers[0], answers[1]);
}

TEST(VectorFaissConfig, DefaultsToFlat) {
  auto plugin = lakehost::test::load_plugin("vector-faiss", "{}");
  const auto* vb = plugin->table<lh_vector_backend_v1>();
  void* index = nullptr;
  lh_error err{};
  ASSERT_EQ(vb->index_create(plugin->self(), 4, &index, &err), LH_OK) << err.message;
  vb->index_destroy(plugin->self(), index);
}

TEST(VectorFaissConfig, AcceptsHnswParameters) {
  EXPECT_NO_THROW(lakehost::test::load_plugin(
      "vector-faiss", R"({"factory": "HNSW16", "ef_search": 128, "ef_construction": 80})"));
}

TEST(VectorFaissConfig, BadFactoryIsRefusedNamingIt) {
  const std::string message = load_error(R"({"factory": "NoSuchIndex42"})");
  EXPECT_NE(message.find("NoSuchIndex42"), std::string::npos) << message;
}

TEST(VectorFaissConfig, FactoryThatNeedsTrainingIsRefused) {
  const std::string message = load_error(R"({"factory": "IVF16,Flat"})");
  EXPECT_NE(message.find("training"), std::string::npos) << message;
}

TEST(VectorFaissConfig, OutOfRangeOrUnknownSettingsAreRefused) {
  EXPECT_NE(load_error(R"({"ef_search": 0})"), "");
  EXPECT_NE(load_error(R"({"ef_search": 5000})"), "");
  EXPECT_NE(load_error(R"({"factory": 32})"), "");
  EXPECT_NE(load_error(R"({"metric": "L2"})"), "");
}

}  // namespace
