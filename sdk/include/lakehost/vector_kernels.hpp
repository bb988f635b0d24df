// lakehost/vector_kernels.hpp — the inner products every lakehost distance is made of, with one
// result on every CPU.
//
// Why this exists. A search must return the same ids, in the same order, with bit-identical
// distances on every machine, after every restart and whichever vector backend answered. A BLAS
// library or a compiler's auto-vectoriser gives no such promise: the rounding of a float sum
// depends on the order of its additions, which depends on the SIMD width of the kernel picked for
// the CPU and on the shape of the matrix. So lakehost fixes the order (below), and every kernel,
// from plain SSE2 (the x86-64 baseline) to AVX-512, performs exactly those additions, only more of
// them at once. Results are equal bit for bit; only the speed depends on the CPU.
//
// The canonical inner product of a and b, n floats each:
//   1. Pad both with zeros to a multiple of 16 and cut them into blocks of 16.
//   2. Sixteen float lanes start at +0.0. For each block in order, lane l += a[16*blk + l] *
//      b[16*blk + l]: the product rounded to float, then the sum rounded to float (no fused
//      multiply-add, since SSE2 has none).
//   3. Fold the lanes pairwise: lane[i] += lane[i + w] for w = 8, 4, 2, 1 (i < w). lane[0] is
//      the result.
// cosine_distance(a, b) = clamp(1 - dot(a, b), 0, 2) for the unit vectors lakehost stores.
//
// Kernel choice. Each kernel is compiled for its instruction set with a target attribute and
// chosen at run time from what the CPU (and the OS) supports, never from a third party's CPU
// detection. The environment variable LAKEHOST_SIMD ("sse2", "avx2", "avx512" or "auto") lowers
// the choice — meant for tests, which run every path on whatever CPU they have and compare. A
// level the CPU lacks is never used: the request is capped at the detected level.
//
// Thread-safe; header-only (every plugin gets its own copy, chosen the same way as the host's).
// Build with the compiler's default floating-point model: -ffast-math (which reassociates sums)
// would break the guarantee.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LAKEHOST_KERNELS_X86 1
#endif

namespace lakehost::kernels {

enum class Level : int { Scalar = 0, Sse2 = 1, Avx2 = 2, Avx512 = 3 };

// "scalar", "sse2", "avx2", "avx512".
inline const char* name(Level level) {
  switch (level) {
    case Level::Sse2:
      return "sse2";
    case Level::Avx2:
      return "avx2";
    case Level::Avx512:
      return "avx512";
    default:
      return "scalar";
  }
}

namespace detail {

constexpr size_t kLanes = 16;
// A scan larger than this is taken to come from memory rather than cache (see dot_rows_at).
constexpr size_t kCacheResidentBytes = size_t{4} << 20;

// The reference implementation, written to be read: the other kernels must equal it bit for bit.
// `volatile` keeps the compiler from fusing a product into the following sum, whatever
// -ffp-contract says.
inline float dot_scalar(const float* a, const float* b, size_t n) {
  float lane[kLanes] = {};
  for (size_t i = 0; i < n; ++i) {
    volatile float p = a[i] * b[i];
    lane[i % kLanes] = lane[i % kLanes] + p;
  }
  // Zero padding adds +0.0 products, which change nothing but the sign of a lane that is -0.0:
  // add them too so that even that matches the SIMD kernels.
  if (size_t rem = n % kLanes; rem != 0)
    for (size_t l = rem; l < kLanes; ++l) lane[l] = lane[l] + 0.0f;
  for (size_t w = kLanes / 2; w >= 1; w /= 2)
    for (size_t i = 0; i < w; ++i) lane[i] = lane[i] + lane[i + w];
  return lane[0];
}

#ifdef LAKEHOST_KERNELS_X86
// An empty asm that "modifies" a register value: the compiler must materialise the product, so
// it cannot contract multiply and add into an FMA (which would round once instead of twice).
#define LAKEHOST_KERNELS_OPAQUE(v) __asm__("" : "+x"(v))

// Folds 4 lanes (after 16 -> 8 -> 4): lane0+lane2, lane1+lane3, then their sum.
inline float fold4(__m128 s4) {
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 0x55));
  return _mm_cvtss_f32(s1);
}

// SSE2: the 16 lanes are four xmm registers (lanes 0-3, 4-7, 8-11, 12-15).
struct Sse2Acc {
  __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps(), a2 = _mm_setzero_ps(), a3 = _mm_setzero_ps();
  void block(const float* a, const float* b) {
    __m128 p0 = _mm_mul_ps(_mm_loadu_ps(a), _mm_loadu_ps(b));
    __m128 p1 = _mm_mul_ps(_mm_loadu_ps(a + 4), _mm_loadu_ps(b + 4));
    __m128 p2 = _mm_mul_ps(_mm_loadu_ps(a + 8), _mm_loadu_ps(b + 8));
    __m128 p3 = _mm_mul_ps(_mm_loadu_ps(a + 12), _mm_loadu_ps(b + 12));
    // A plugin built with -mfma must still round the product on its own.
    LAKEHOST_KERNELS_OPAQUE(p0);
    LAKEHOST_KERNELS_OPAQUE(p1);
    LAKEHOST_KERNELS_OPAQUE(p2);
    LAKEHOST_KERNELS_OPAQUE(p3);
    a0 = _mm_add_ps(a0, p0);
    a1 = _mm_add_ps(a1, p1);
    a2 = _mm_add_ps(a2, p2);
    a3 = _mm_add_ps(a3, p3);
  }
  float fold() const {
    // 16 -> 8: lane i + lane i+8, i.e. (a0 + a2 | a1 + a3); 8 -> 4: their sum.
    return fold4(_mm_add_ps(_mm_add_ps(a0, a2), _mm_add_ps(a1, a3)));
  }
};

inline float dot_sse2(const float* a, const float* b, size_t n) {
  Sse2Acc acc;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) acc.block(a + i, b + i);
  if (i < n) {
    alignas(16) float ta[kLanes] = {}, tb[kLanes] = {};
    std::memcpy(ta, a + i, (n - i) * sizeof(float));
    std::memcpy(tb, b + i, (n - i) * sizeof(float));
    acc.block(ta, tb);
  }
  return acc.fold();
}

// AVX2 (the float operations are AVX's; the level is named after the CPUs that have both): the
// 16 lanes are two ymm registers, lo (lanes 0-7) and hi (lanes 8-15).
__attribute__((target("avx2"))) inline void avx2_block(__m256& lo, __m256& hi, const float* a,
                                                       const float* b) {
  __m256 p0 = _mm256_mul_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b));
  __m256 p1 = _mm256_mul_ps(_mm256_loadu_ps(a + 8), _mm256_loadu_ps(b + 8));
  LAKEHOST_KERNELS_OPAQUE(p0);
  LAKEHOST_KERNELS_OPAQUE(p1);
  lo = _mm256_add_ps(lo, p0);
  hi = _mm256_add_ps(hi, p1);
}

__attribute__((target("avx2"))) inline float avx2_fold(__m256 lo, __m256 hi) {
  __m256 s8 = _mm256_add_ps(lo, hi);
  return fold4(_mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1)));
}

// The last, partial block of 16, zero-padded.
__attribute__((target("avx2"))) inline void avx2_tail(__m256& lo, __m256& hi, const float* a,
                                                      const float* b, size_t count) {
  alignas(32) float ta[kLanes] = {}, tb[kLanes] = {};
  std::memcpy(ta, a, count * sizeof(float));
  std::memcpy(tb, b, count * sizeof(float));
  avx2_block(lo, hi, ta, tb);
}

__attribute__((target("avx2"))) inline float dot_avx2(const float* a, const float* b, size_t n) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) avx2_block(lo, hi, a + i, b + i);
  if (i < n) avx2_tail(lo, hi, a + i, b + i, n - i);
  return avx2_fold(lo, hi);
}

// AVX-512: the 16 lanes are one zmm register; the tail is a masked load (zeros beyond n).
__attribute__((target("avx512f"))) inline float fold16(__m512 acc) {
  // Through memory rather than a 512 -> 256 extract: GCC 12's extract intrinsics trip
  // -Wmaybe-uninitialized (_mm256_undefined_pd), and this runs once per row.
  alignas(64) float lane[kLanes];
  _mm512_store_ps(lane, acc);
  const __m256 s8 = _mm256_add_ps(_mm256_load_ps(lane), _mm256_load_ps(lane + 8));
  return fold4(_mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1)));
}

__attribute__((target("avx512f"))) inline float dot_avx512(const float* a, const float* b,
                                                           size_t n) {
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m512 p = _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    LAKEHOST_KERNELS_OPAQUE(p);
    acc = _mm512_add_ps(acc, p);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    LAKEHOST_KERNELS_OPAQUE(p);
    acc = _mm512_add_ps(acc, p);
  }
  return fold16(acc);
}

// Four rows against one query at once: four independent chains keep the adders busy (one chain
// waits on its own previous sum), while each row still sees exactly the canonical order.
__attribute__((target("avx512f"))) inline void dot_rows_avx512(const float* q, const float* rows,
                                                               size_t n_rows, size_t dim,
                                                               size_t stride, float* out) {
  const size_t full = dim - dim % kLanes;
  const __mmask16 m = static_cast<__mmask16>((1u << (dim % kLanes)) - 1);
  size_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const float* r0 = rows + r * stride;
    const float* r1 = r0 + stride;
    const float* r2 = r1 + stride;
    const float* r3 = r2 + stride;
    __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(),
           c3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i < full; i += kLanes) {
      const __m512 qv = _mm512_loadu_ps(q + i);
      __m512 p0 = _mm512_mul_ps(qv, _mm512_loadu_ps(r0 + i));
      __m512 p1 = _mm512_mul_ps(qv, _mm512_loadu_ps(r1 + i));
      __m512 p2 = _mm512_mul_ps(qv, _mm512_loadu_ps(r2 + i));
      __m512 p3 = _mm512_mul_ps(qv, _mm512_loadu_ps(r3 + i));
      LAKEHOST_KERNELS_OPAQUE(p0);
      LAKEHOST_KERNELS_OPAQUE(p1);
      LAKEHOST_KERNELS_OPAQUE(p2);
      LAKEHOST_KERNELS_OPAQUE(p3);
      c0 = _mm512_add_ps(c0, p0);
      c1 = _mm512_add_ps(c1, p1);
      c2 = _mm512_add_ps(c2, p2);
      c3 = _mm512_add_ps(c3, p3);
    }
    if (i < dim) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      __m512 p0 = _mm512_mul_ps(qv, _mm512_maskz_loadu_ps(m, r0 + i));
      __m512 p1 = _mm512_mul_ps(qv, _mm512_maskz_loadu_ps(m, r1 + i));
      __m512 p2 = _mm512_mul_ps(qv, _mm512_maskz_loadu_ps(m, r2 + i));
      __m512 p3 = _mm512_mul_ps(qv, _mm512_maskz_loadu_ps(m, r3 + i));
      LAKEHOST_KERNELS_OPAQUE(p0);
      LAKEHOST_KERNELS_OPAQUE(p1);
      LAKEHOST_KERNELS_OPAQUE(p2);
      LAKEHOST_KERNELS_OPAQUE(p3);
      c0 = _mm512_add_ps(c0, p0);
      c1 = _mm512_add_ps(c1, p1);
      c2 = _mm512_add_ps(c2, p2);
      c3 = _mm512_add_ps(c3, p3);
    }
    out[r] = fold16(c0);
    out[r + 1] = fold16(c1);
    out[r + 2] = fold16(c2);
    out[r + 3] = fold16(c3);
  }
  for (; r < n_rows; ++r) out[r] = dot_avx512(q, rows + r * stride, dim);
}

#undef LAKEHOST_KERNELS_OPAQUE
#endif  // LAKEHOST_KERNELS_X86

// The best level this CPU and OS support.
inline Level detect() {
#ifdef LAKEHOST_KERNELS_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Level::Avx512;
  if (__builtin_cpu_supports("avx2")) return Level::Avx2;
  return Level::Sse2;
#else
  return Level::Scalar;
#endif
}

// LAKEHOST_SIMD as a level; `fallback` when unset, "auto" or unknown.
inline Level requested(Level fallback) {
  const char* env = std::getenv("LAKEHOST_SIMD");
  const std::string_view v = env ? env : "";
  if (v == "scalar") return Level::Scalar;
  if (v == "sse2" || v == "sse") return Level::Sse2;
  if (v == "avx2") return Level::Avx2;
  if (v == "avx512") return Level::Avx512;
  return fallback;
}

struct State {
  Level detected;
  Level active;
};

inline const State& state() {
  static const State s = [] {
    const Level d = detect();
    return State{d, std::min(requested(d), d)};
  }();
  return s;
}

}  // namespace detail

// The best level this machine supports, and the one in use (LAKEHOST_SIMD may lower it).
inline Level detected_level() { return detail::state().detected; }
inline Level active_level() { return detail::state().active; }
// The canonical inner product of a and b (n floats each) at a given level. A level above
// detected_level() runs at detected_level() instead.
inline float dot_at(Level level, const float* a, const float* b, size_t n) {
  level = std::min(level, detected_level());
#ifdef LAKEHOST_KERNELS_X86
  switch (level) {
    case Level::Avx512:
      return detail::dot_avx512(a, b, n);
    case Level::Avx2:
      return detail::dot_avx2(a, b, n);
    case Level::Sse2:
      return detail::dot_sse2(a, b, n);
    default:
      break;
  }
#endif
  return detail::dot_scalar(a, b, n);
}

// out[r] = dot(query, rows + r * stride) for r < n_rows: one query against many stored vectors
// (an exhaustive scan, a re-scoring of candidates). `stride` >= dim floats between rows.
inline void dot_rows_at(Level level, const float* query, const float* rows, size_t n_rows,
                        size_t dim, size_t stride, float* out) {
  level = std::min(level, detected_level());
#ifdef LAKEHOST_KERNELS_X86
  if (level == Level::Avx512) {
    // Beyond the caches a scan is bound by memory, and a 64-byte load from a row that is not
    // 64-byte aligned spans two cache lines: measured (AMD EPYC, 100k x 384 from a 16-byte-aligned
    // buffer) 0.79x the speed of SSE2, while 32-byte loads one row at a time kept up with it. So
    // such scans take the AVX2 kernel; every level gives the same bits, only speed differs.
    const bool from_memory = n_rows * stride * sizeof(float) > detail::kCacheResidentBytes;
    const bool aligned =
        reinterpret_cast<uintptr_t>(rows) % 64 == 0 && (stride * sizeof(float)) % 64 == 0;
    if (!from_memory || aligned)
      return detail::dot_rows_avx512(query, rows, n_rows, dim, stride, out);
    level = Level::Avx2;  // every AVX-512 CPU has AVX2
  }
  // AVX2 goes row by row: interleaving two rows measured 2.5x slower once the rows come from
  // memory rather than cache (AMD EPYC, 100k x 384), while one row at a time kept up with SSE2.
#endif
  for (size_t r = 0; r < n_rows; ++r) out[r] = dot_at(level, query, rows + r * stride, dim);
}

inline float dot(const float* a, const float* b, size_t n) {
  return dot_at(active_level(), a, b, n);
}
inline void dot_rows(const float* query, const float* rows, size_t n_rows, size_t dim, float* out) {
  dot_rows_at(active_level(), query, rows, n_rows, dim, dim, out);
}

// 1 - cos for unit vectors, clamped into [0, 2] (rounding can put a vector's distance to itself
// a hair below 0). The distance lakehost reports everywhere.
inline float distance_from_dot(float dot) { return std::clamp(1.0f - dot, 0.0f, 2.0f); }
inline float cosine_distance(const float* a, const float* b, size_t n) {
  return distance_from_dot(dot(a, b, n));
}

}  // namespace lakehost::kernels
