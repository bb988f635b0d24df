// Which vector kernel this process runs and on what CPU: logged at start, shown in /v1/plugins
// and /metrics, so a benchmark figure or a bug report can always name them.
#pragma once

#include <string>

namespace lakehost {

struct KernelInfo {
  std::string kernel;     // in use: "avx512", "avx2", "sse2" or "scalar"
  std::string detected;   // the best this CPU supports
  std::string requested;  // LAKEHOST_SIMD as given ("" when unset)
  std::string cpu_model;  // /proc/cpuinfo's "model name" ("" when unknown)
};

const KernelInfo& kernel_info();

}  // namespace lakehost
