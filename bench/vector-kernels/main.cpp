// lakehost-kernel-bench: how fast the canonical inner product runs at each SIMD level on this
// CPU, scanning one query against `rows` stored vectors (what vector-faiss's exact search does),
// and whether every level gave the same bits. The SSE2 level of the same run is the baseline.
//
//   lakehost-kernel-bench [--rows N] [--dim D] [--seconds S]
#include <lakehost/vector_kernels.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace kernels = lakehost::kernels;

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// Unit vectors from a fixed generator, so every run scans the same data.
std::vector<float> unit_rows(size_t rows, size_t dim, uint64_t seed) {
  std::vector<float> v(rows * dim);
  for (size_t r = 0; r < rows; ++r) {
    double norm = 0;
    for (size_t j = 0; j < dim; ++j) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      const float x = static_cast<float>(static_cast<int32_t>(seed >> 32)) / 2147483648.0f;
      v[r * dim + j] = x;
      norm += double(x) * x;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t j = 0; j < dim; ++j) v[r * dim + j] *= inv;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  size_t rows = 100000, dim = 384;
  double seconds = 2.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows"))
      rows = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--dim"))
      dim = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::strtod(argv[i + 1], nullptr);
    else {
      std::fprintf(stderr, "usage: %s [--rows N] [--dim D] [--seconds S]\n", argv[0]);
      return 2;
    }
  }
  if (rows == 0 || dim == 0) return 2;
  const auto data = unit_rows(rows, dim, 1);
  const auto query = unit_rows(1, dim, 2);
  std::vector<float> out(rows), first(rows);

  std::printf("CPU: %s; best level %s\n", cpu_model().c_str(),
              kernels::name(kernels::detected_level()));
  std::printf("scan of %zu rows x %zu floats (%.1f MB), %.1f s per level\n\n", rows, dim,
              rows * dim * 4 / 1e6, seconds);
  std::printf("| level | scans/s | ns per row | GB/s | vs sse2 | same bits as sse2 |\n");
  std::printf("|---|---|---|---|---|---|\n");
  double sse2_rate = 0;
  for (auto level : {kernels::Level::Sse2, kernels::Level::Avx2, kernels::Level::Avx512}) {
    if (level > kernels::detected_level()) continue;
    size_t scans = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      kernels::dot_rows_at(level, query.data(), data.data(), rows, dim, dim, out.data());
      ++scans;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    const double rate = scans / elapsed;
    if (level == kernels::Level::Sse2) {
      sse2_rate = rate;
      first = out;
    }
    const bool same = std::memcmp(out.data(), first.data(), rows * sizeof(float)) == 0;
    std::printf("| %s | %.1f | %.2f | %.2f | %.2f | %s |\n", kernels::name(level), rate,
                1e9 / (rate * rows), rate * rows * dim * 4 / 1e9, rate / sse2_rate,
                same ? "yes" : "NO");
  }
  return 0;
}
