// The SDK's canonical vector kernels: every SIMD level gives the bits of the documented order,
// whatever the CPU running the test (levels above it run at its best, so a CPU without AVX-512
// checks what it has; CI on an AVX-512 machine checks all three).
#include <gtest/gtest.h>
#include <lakehost/vector_kernels.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace lakehost::kernels {
namespace {

const Level kLevels[] = {Level::Scalar, Level::Sse2, Level::Avx2, Level::Avx512};

// A portable generator (std:: distributions differ between standard libraries): floats in
// [-scale, scale) with all 24 bits of mantissa in play.
struct Lcg {
  uint64_t s;
  float next(float scale = 1.0f) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<int32_t>(s >> 32)) * (scale / 2147483648.0f);
  }
};

std::vector<float> random_vector(Lcg& g, size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (auto& x : v) x = g.next(scale);
  return v;
}

// The order the header documents, written out independently of its implementation.
float documented_dot(const std::vector<float>& a, const std::vector<float>& b) {
  const size_t padded = (a.size() + 15) / 16 * 16;
  float lane[16] = {};
  for (size_t i = 0; i < padded; ++i) {
    volatile float p = i < a.size() ? a[i] * b[i] : 0.0f * 0.0f;
    lane[i % 16] = lane[i % 16] + p;
  }
  for (size_t w : {8, 4, 2, 1})
    for (size_t i = 0; i < w; ++i) lane[i] = lane[i] + lane[i + w];
  return lane[0];
}

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

TEST(VectorKernels, EveryLevelGivesTheDocumentedBits) {
  Lcg g{42};
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 70; ++d) dims.push_back(d);
  for (size_t d : {100, 127, 128, 129, 300, 384, 385, 768, 1024, 1536, 3072}) dims.push_back(d);
  for (size_t dim : dims) {
    for (int trial = 0; trial < 8; ++trial) {
      // Mixed magnitudes make the order of additions visible in the last bits.
      const float scale = trial % 2 ? 1.0f : 1e4f;
      auto a = random_vector(g, dim, scale), b = random_vector(g, dim);
      const float want = documented_dot(a, b);
      for (Level level : kLevels) {
        EXPECT_EQ(bits(dot_at(level, a.data(), b.data(), dim)), bits(want))
            << "dim " << dim << " level " << name(level);
      }
    }
  }
}

TEST(VectorKernels, ManyRowsAtOnceEqualOneRowAtATime) {
  Lcg g{7};
  for (size_t dim : {1, 5, 16, 17, 100, 384, 385}) {
    for (size_t n_rows : {1, 2, 3, 4, 5, 9, 33}) {
      const size_t stride = dim + 3;  // rows need not be packed
      auto q = random_vector(g, dim);
      auto rows = random_vector(g, n_rows * stride);
      for (Level level : kLevels) {
        std::vector<float> out(n_rows, -99.0f);
        dot_rows_at(level, q.data(), rows.data(), n_rows, dim, stride, out.data());
        for (size_t r = 0; r < n_rows; ++r) {
          std::vector<float> row(rows.begin() + r * stride, rows.begin() + r * stride + dim);
          EXPECT_EQ(bits(out[r]), bits(documented_dot(q, row)))
              << "dim " << dim << " rows " << n_rows << " row " << r << " " << name(level);
        }
      }
    }
  }
}

// A scan too large for the caches, from a buffer that is not 64-byte aligned, takes another
// route at the AVX-512 level (speed only): the bits must not change.
TEST(VectorKernels, LargeUnalignedScansGiveTheSameBits) {
  Lcg g{11};
  const size_t dim = 384, n_rows = 3000;  // 4.6 MB, beyond kCacheResidentBytes
  auto q = random_vector(g, dim);
  auto storage = random_vector(g, n_rows * dim + 16);
  for (size_t offset : {0, 1, 4}) {
    const float* rows = storage.data() + offset;
    std::vector<float> want(n_rows);
    dot_rows_at(Level::Sse2, q.data(), rows, n_rows, dim, dim, want.data());
    for (Level level : kLevels) {
      std::vector<float> out(n_rows);
      dot_rows_at(level, q.data(), rows, n_rows, dim, dim, out.data());
      for (size_t r = 0; r < n_rows; r += 97)
        EXPECT_EQ(bits(out[r]), bits(want[r])) << name(level) << " offset " << offset;
      EXPECT_EQ(std::memcmp(out.data(), want.data(), n_rows * sizeof(float)), 0) << name(level);
    }
    std::vector<float> row(rows + 5 * dim, rows + 6 * dim);
    EXPECT_EQ(bits(want[5]), bits(documented_dot(q, row)));
  }
}

// Pins the canonical order across releases: stored vectors and recorded distances stay
// comparable only while this value holds. (Computed once by the documented order above.)
TEST(VectorKernels, CanonicalOrderIsStableAcrossReleases) {
  Lcg g{2026};
  auto a = random_vector(g, 384, 1e3f), b = random_vector(g, 384);
  const float want = documented_dot(a, b);
  for (Level level : kLevels) EXPECT_EQ(bits(dot_at(level, a.data(), b.data(), 384)), bits(want));
  EXPECT_EQ(bits(want), 0xC5B8FDB6u) << std::hexfloat << want;
}

TEST(VectorKernels, SignedZerosAndTinyValuesMatchToo) {
  for (size_t dim : {1, 15, 16, 17, 31}) {
    std::vector<float> a(dim, -0.0f), b(dim, 1.0f);
    std::vector<float> tiny(dim, 1e-30f), small(dim, -1e-15f);
    for (Level level : kLevels) {
      EXPECT_EQ(bits(dot_at(level, a.data(), b.data(), dim)), bits(documented_dot(a, b)));
      EXPECT_EQ(bits(dot_at(level, tiny.data(), small.data(), dim)),
                bits(documented_dot(tiny, small)));
    }
  }
}

TEST(VectorKernels, CosineDistanceIsClampedIntoZeroToTwo) {
  EXPECT_EQ(distance_from_dot(1.0000001f), 0.0f);
  EXPECT_EQ(distance_from_dot(-1.0000001f), 2.0f);
  EXPECT_EQ(distance_from_dot(0.5f), 0.5f);
  const float v[3] = {0.6f, 0.8f, 0.0f};
  EXPECT_NEAR(cosine_distance(v, v, 3), 0.0f, 1e-6f);
}

TEST(VectorKernels, ActiveLevelNeverExceedsWhatTheCpuHas) {
  EXPECT_LE(active_level(), detected_level());
#if defined(__x86_64__)
  EXPECT_GE(detected_level(), Level::Sse2);  // SSE2 is part of x86-64
#endif
  EXPECT_STREQ(name(Level::Avx512), "avx512");
  EXPECT_STREQ(name(Level::Sse2), "sse2");
}

}  // namespace
}  // namespace lakehost::kernels
