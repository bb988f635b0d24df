// The plugin conformance kit: the contract of each plugin kind as a list of cases, run against
// any plugin library through the host's real loader (the same trust, ABI, schema and config
// checks as `lakehost serve`). `lakehost plugin test LIB.so [--config JSON]` runs them and
// reports each case; the test suite instantiates them for every shipped plugin.
//
// A case gets a factory that creates a fresh instance of the plugin (a fresh data directory
// each time, so storage cases start empty) and throws Violation naming what it saw when the
// plugin breaks the case's rule. Any other exception out of a case (a HostError from a plugin
// status it should not have returned) fails the case too, with its message.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugin/calls.h"

namespace lakehost::conformance {

struct Violation : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws Violation(what) unless `ok`.
inline void check(bool ok, const std::string& what) {
  if (!ok) throw Violation(what);
}

using Factory = std::function<InstancePtr()>;

struct Case {
  std::string name;  // "<kind>.<what>", e.g. "vector.self_match"
  std::string rule;  // the contract, one sentence (docs/plugin-authors.md lists them all)
  std::function<void(const Factory& make)> run;
};

// One file each (host/src/conformance/<kind>_contract.cpp).
std::vector<Case> embedder_cases();
std::vector<Case> vector_cases();
std::vector<Case> scorer_cases();
std::vector<Case> storage_cases();
std::vector<Case> chat_cases();
std::vector<Case> cases_for(lh_plugin_kind kind);

// A plugin library ready to be instantiated by the cases.
class Subject {
 public:
  // Loads `library` (any path; its directory becomes the only plugin directory) and checks
  // `config_json` against the plugin's schema. Throws LoadError with the loader's message.
  Subject(const std::filesystem::path& library, std::string config_json);
  ~Subject();  // removes its temporary directory
  Subject(const Subject&) = delete;
  Subject& operator=(const Subject&) = delete;
  lh_plugin_kind kind() const { return manifest_.kind; }
  const std::string& plugin_name() const { return plugin_name_; }
  // A new instance with a fresh data directory.
  InstancePtr make() const;

 private:
  std::filesystem::path work_dir_;
  std::unique_ptr<PluginLoader> loader_;
  std::shared_ptr<PluginLibrary> library_;
  Manifest manifest_;
  std::string plugin_name_;
};

struct CaseResult {
  std::string name;
  std::string rule;
  bool passed = false;
  std::string message;  // why it failed
  std::chrono::milliseconds took{};
};

// Runs one case on `subject`.
CaseResult run_case(const Subject& subject, const Case& c);

// Runs every case of the subject's kind whose name contains `filter` ("" = all), printing one
// line per case to `out` as it finishes. Returns the results.
std::vector<CaseResult> run_all(const Subject& subject, const std::string& filter, std::FILE* out);

// ---- helpers shared by the case files ------------------------------------------------------

// Unit vectors in `dim` dimensions from a fixed seed (the same on every machine).
std::vector<float> unit_vectors(size_t n, uint32_t dim, uint64_t seed);
float dot(const float* a, const float* b, uint32_t dim);
// Runs fn(thread_index) on `threads` threads at once; rethrows the first exception.
void concurrently(int threads, const std::function<void(int)>& fn);

}  // namespace lakehost::conformance
