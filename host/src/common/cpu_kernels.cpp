#include "common/cpu_kernels.h"

#include <lakehost/vector_kernels.hpp>

#include <cstdlib>
#include <fstream>

namespace lakehost {

namespace {
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) break;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    return value;
  }
  return "";
}
}  // namespace

const KernelInfo& kernel_info() {
  static const KernelInfo info = [] {
    const char* env = std::getenv("LAKEHOST_SIMD");
    return KernelInfo{kernels::name(kernels::active_level()),
                      kernels::name(kernels::detected_level()), env ? env : "", cpu_model()};
  }();
  return info;
}

}  // namespace lakehost
