// Contract test of the vector-hnswlib plugin through the host's loader and the C table only.
#include <gtest/gtest.h>
#include <lakehost/plugin_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
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
constexpr size_t kCount = 400;
constexpr float kSelfDistance = 1e-4f;  // a vector's distance to itself, up to float rounding

// Host labels are positive and sparse here, so that label and position differ.
int64_t label_of(size_t i) { return static_cast<int64_t>(i) * 7 + 3; }
size_t index_of(int64_t label) { return static_cast<size_t>((label - 3) / 7); }

// `n` unit vectors around 10 random centres: realistic for embeddings and deterministic.
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

class VectorHnswlibTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = lakehost::test::load_plugin("vector-hnswlib", R"({"ef_search": 64})");
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

  size_t size(void* index = nullptr) const {
    return vb_->index_size(plugin_->self(), index ? index : index_);
  }
  const float* vector(size_t i) const { return &vectors_[i * kDim]; }

  // Results are ascending cosine distances in [0, 2], without repeated labels.
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

TEST_F(VectorHnswlibTest, DescriptorIsAThreadSafeVectorBackend) {
  const lh_plugin_descriptor* d = plugin_->descriptor();
  EXPECT_EQ(d->kind, static_cast<uint32_t>(LH_KIND_VECTOR_BACKEND));
  EXPECT_STREQ(d->name, "vector-hnswlib");
  EXPECT_TRUE(d->flags & LH_FLAG_THREAD_SAFE);
  EXPECT_GE(vb_->struct_size, sizeof(lh_vector_backend_v1));
}

TEST_F(VectorHnswlibTest, EveryVectorFindsItselfFirstAtDistanceZero) {
  EXPECT_EQ(size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    auto hits = search(vector(i), 10);
    ASSERT_EQ(hits.size(), 10u);
    expect_well_formed(hits);
    EXPECT_EQ(hits[0].label, label_of(i));
    EXPECT_LT(hits[0].distance, kSelfDistance);
  }
}

TEST_F(VectorHnswlibTest, DistancesAreCosineDistances) {
  for (const Hit& hit : search(vector(7), 50)) {
    EXPECT_NEAR(hit.distance, cosine_distance(vector(7), vector(index_of(hit.label)), kDim), 1e-4f);
  }
}

TEST_F(VectorHnswlibTest, RecallAtTenAgainstBruteForce) {
  const auto queries = clustered_unit_vectors(100, kDim, 4242);  // same centres, new points
  size_t found = 0;
  for (size_t q = 0; q < 100; ++q) {
    const float* query = &queries[q * kDim];
    std::vector<size_t> order(kCount);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 10, order.end(), [&](size_t a, size_t b) {
      return cosine_distance(query, vector(a), kDim) < cosine_distance(query, vector(b), kDim);
    });
    std::set<int64_t> truth;
    for (size_t r = 0; r < 10; ++r) truth.insert(label_of(order[r]));
    auto hits = search(query, 10);
    expect_well_formed(hits);
    for (const Hit& hit : hits) found += truth.count(hit.label);
  }
  EXPECT_GE(static_cast<double>(found) / 1000.0, 0.95);
}

TEST_F(VectorHnswlibTest, RemovedLabelsAreNeverReturned) {
  // Vector i is in cluster i % 10, so whole clusters go: their queries' nearest are all removed.
  std::set<int64_t> removed;
  for (const std::set<size_t>& clusters : {std::set<size_t>{0}, std::set<size_t>{0, 3, 7}}) {
    std::vector<int64_t> batch;
    for (size_t i = 0; i < kCount; ++i) {
      if (clusters.count(i % 10) && !removed.count(label_of(i))) batch.push_back(label_of(i));
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

TEST_F(VectorHnswlibTest, RemovingAbsentOrRepeatedLabelsIsHarmless) {
  remove({label_of(3), label_of(3), 123456789});
  EXPECT_EQ(size(), kCount - 1);
  remove({label_of(3)});
  EXPECT_EQ(size(), kCount - 1);
}

TEST_F(VectorHnswlibTest, ReaddedLabelIsFoundByItsNewVectorOnly) {
  const auto fresh = clustered_unit_vectors(1, kDim, 7);  // another cluster, far from vector 5
  remove({label_of(5)});
  add({label_of(5)}, fresh.data());
  EXPECT_EQ(size(), kCount);

  auto hits = search(fresh.data(), 5);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].label, label_of(5));
  EXPECT_LT(hits[0].distance, kSelfDistance);
  for (const Hit& hit : search(vector(5), 20)) {
    if (hit.label == label_of(5)) {
      EXPECT_NEAR(hit.distance, cosine_distance(vector(5), fresh.data(), kDim), 1e-4f);
    }
  }
  // Re-adding the original vector works too.
  remove({label_of(5)});
  add({label_of(5)}, vector(5));
  EXPECT_EQ(size(), kCount);
  EXPECT_EQ(search(vector(5), 1).at(0).label, label_of(5));
}

// The host gives an updated document a new label: remove old labels, add new ones, many times.
TEST_F(VectorHnswlibTest, ChurnUnderNewLabelsKeepsEveryVectorFindable) {
  std::vector<int64_t> current(kCount);
  for (size_t i = 0; i < kCount; ++i) current[i] = label_of(i);
  int64_t next = 1'000'000;
  for (size_t round = 0; round < 5; ++round) {
    std::vector<int64_t> old_labels, new_labels;
    std::vector<float> moved;
    for (size_t i = round; i < kCount; i += 3) {
      old_labels.push_back(current[i]);
      current[i] = next++;
      new_labels.push_back(current[i]);
      moved.insert(moved.end(), vector(i), vector(i) + kDim);
    }
    remove(old_labels);
    add(new_labels, moved.data());
    EXPECT_EQ(size(), kCount);
  }
  const std::set<int64_t> live(current.begin(), current.end());
  for (size_t i = 0; i < kCount; ++i) {
    auto hits = search(vector(i), 10);
    ASSERT_EQ(hits.size(), 10u);
    expect_well_formed(hits);
    EXPECT_EQ(hits[0].label, current[i]);
    for (const Hit& hit : hits) EXPECT_EQ(live.count(hit.label), 1u) << hit.label;
  }
}

TEST_F(VectorHnswlibTest, KLargerThanSizeReturnsEveryLiveVector) {
  auto hits = search(vector(0), kCount + 100);
  EXPECT_EQ(hits.size(), kCount);
  expect_well_formed(hits);

  std::vector<int64_t> removed;
  for (size_t i = 0; i < kCount; i += 4) removed.push_back(label_of(i));
  remove(removed);
  hits = search(vector(1), kCount + 100);
  EXPECT_EQ(hits.size(), kCount - removed.size());
  expect_well_formed(hits);
  const std::set<int64_t> gone(removed.begin(), removed.end());
  for (const Hit& hit : hits) EXPECT_EQ(gone.count(hit.label), 0u);
}

TEST_F(VectorHnswlibTest, EmptyIndexAndZeroKReturnNothing) {
  void* empty = create_index(kDim);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(size(empty), 0u);
  EXPECT_TRUE(search(vector(0), 5, empty).empty());
  EXPECT_TRUE(search(vector(0), 0).empty());
  // Everything removed: nothing comes back.
  add({1}, vector(0), empty);
  const int64_t one = 1;
  lh_error err{};
  ASSERT_EQ(vb_->index_remove(plugin_->self(), empty, &one, 1, &err), LH_OK);
  EXPECT_EQ(size(empty), 0u);
  EXPECT_TRUE(search(vector(0), 5, empty).empty());
}

TEST_F(VectorHnswlibTest, IndexesAreIndependent) {
  constexpr uint32_t kSmallDim = 7;  // not a multiple of 4: hnswlib's scalar distance
  void* small = create_index(kSmallDim);
  ASSERT_NE(small, nullptr);
  const auto vectors = clustered_unit_vectors(20, kSmallDim, 3);
  add({label_of(0), label_of(1)}, vectors.data(), small);
  EXPECT_EQ(size(small), 2u);
  EXPECT_EQ(size(), kCount);
  auto hits = search(&vectors[kSmallDim], 2, small);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].label, label_of(1));
  EXPECT_NEAR(hits[1].distance, cosine_distance(&vectors[kSmallDim], vectors.data(), kSmallDim),
              1e-5f);
}

TEST_F(VectorHnswlibTest, AddingAPresentLabelIsAConflictAndChangesNothing) {
  const auto fresh = clustered_unit_vectors(2, kDim, 9);
  const int64_t labels[] = {42'000'000, label_of(0)};  // a new label, then a present one
  lh_error err{};
  EXPECT_EQ(vb_->index_add(plugin_->self(), index_, labels, fresh.data(), 2, &err),
            LH_ERR_CONFLICT);
  EXPECT_NE(std::string(err.message).find(std::to_string(label_of(0))), std::string::npos)
      << err.message;
  EXPECT_EQ(size(), kCount);
  for (const Hit& hit : search(fresh.data(), 10)) EXPECT_NE(hit.label, 42'000'000);
}

TEST_F(VectorHnswlibTest, DimensionZeroIsRefused) {
  void* index = nullptr;
  lh_error err{};
  EXPECT_EQ(vb_->index_create(plugin_->self(), 0, &index, &err), LH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(index, nullptr);
  EXPECT_NE(std::string(err.message).find("dimension"), std::string::npos) << err.message;
}

TEST_F(VectorHnswlibTest, ConcurrentSearchesAgreeWithSerialOnes) {
  std::vector<std::vector<Hit>> expected;
  for (size_t i = 0; i < kCount; ++i) expected.push_back(search(vector(i), 10));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t round = 0; round < 3; ++round) {
        for (size_t i = 0; i < kCount; ++i) {
          // Odd threads repeat the serial searches; even ones ask for k = 100, which raises ef
          // for that search only (searchKnn uses max(ef, k); nothing shared is written).
          if (t % 2) {
            auto hits = search(vector(i), 10);
            bool same = hits.size() == expected[i].size();
            for (size_t r = 0; same && r < hits.size(); ++r) {
              same = hits[r].label == expected[i][r].label;
            }
            if (!same) ++mismatches[t];
            continue;
          }
          auto hits = search(vector(i), 100);
          const bool same = hits.size() == 100 && hits[0].label == expected[i][0].label;
          if (!same) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// ---- capacity and configuration ----

TEST(VectorHnswlibGrowth, GrowsPastInitialCapacity) {
  auto plugin = lakehost::test::load_plugin("vector-hnswlib", R"({"initial_capacity": 16})");
  const auto* vb = plugin->table<lh_vector_backend_v1>();
  void* index = nullptr;
  lh_error err{};
  ASSERT_EQ(vb->index_create(plugin->self(), kDim, &index, &err), LH_OK) << err.message;
  const auto vectors = clustered_unit_vectors(500, kDim, 11);
  // One at a time past 16, 32, 64, ..., then a batch larger than the doubled capacity.
  for (size_t i = 0; i < 100; ++i) {
    const int64_t label = label_of(i);
    ASSERT_EQ(vb->index_add(plugin->self(), index, &label, &vectors[i * kDim], 1, &err), LH_OK)
        << err.message;
  }
  std::vector<int64_t> labels;
  for (size_t i = 100; i < 500; ++i) labels.push_back(label_of(i));
  ASSERT_EQ(vb->index_add(plugin->self(), index, labels.data(), &vectors[100 * kDim], labels.size(),
                          &err),
            LH_OK)
      << err.message;
  EXPECT_EQ(vb->index_size(plugin->self(), index), 500u);
  size_t self_first = 0;
  for (size_t i = 0; i < 500; ++i) {
    int64_t label = 0;
    float distance = 0;
    size_t n = 0;
    ASSERT_EQ(
        vb->index_search(plugin->self(), index, &vectors[i * kDim], 1, &label, &distance, &n, &err),
        LH_OK);
    ASSERT_EQ(n, 1u);
    self_first += label == label_of(i);
  }
  EXPECT_EQ(self_first, 500u);
  vb->index_destroy(plugin->self(), index);
}

std::string load_error(const std::string& config) {
  try {
    lakehost::test::load_plugin("vector-hnswlib", config);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(VectorHnswlibConfig, DefaultsAndFullConfigLoad) {
  auto plugin = lakehost::test::load_plugin("vector-hnswlib", "{}");
  const auto* vb = plugin->table<lh_vector_backend_v1>();
  void* index = nullptr;
  lh_error err{};
  ASSERT_EQ(vb->index_create(plugin->self(), 4, &index, &err), LH_OK) << err.message;
  vb->index_destroy(plugin->self(), index);
  EXPECT_NO_THROW(lakehost::test::load_plugin(
      "vector-hnswlib",
      R"({"M": 32, "ef_construction": 100, "ef_search": 128, "initial_capacity": 1})"));
}

TEST(VectorHnswlibConfig, OutOfRangeOrUnknownSettingsAreRefused) {
  EXPECT_NE(load_error(R"({"M": 1})"), "");
  EXPECT_NE(load_error(R"({"M": 129})"), "");
  EXPECT_NE(load_error(R"({"M": 16.5})"), "");
  EXPECT_NE(load_error(R"({"ef_search": 0})"), "");
  EXPECT_NE(load_error(R"({"ef_construction": 5000})"), "");
  EXPECT_NE(load_error(R"({"initial_capacity": 0})"), "");
  EXPECT_NE(load_error(R"({"ef_search": "64"})"), "");
  EXPECT_NE(load_error(R"({"metric": "L2"})"), "");
}

}  // namespace
