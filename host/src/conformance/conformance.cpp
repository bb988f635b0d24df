#include "conformance/conformance.h"

#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <thread>

namespace lakehost::conformance {

namespace fs = std::filesystem;

std::vector<Case> cases_for(lh_plugin_kind kind) {
  switch (kind) {
    case LH_KIND_EMBED_PROVIDER:
      return embedder_cases();
    case LH_KIND_VECTOR_BACKEND:
      return vector_cases();
    case LH_KIND_RETRIEVAL_SCORER:
      return scorer_cases();
    case LH_KIND_STORAGE_BACKEND:
      return storage_cases();
    case LH_KIND_CHAT_PROVIDER:
      return chat_cases();
  }
  return {};
}

namespace {
fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "lakehost-plugin-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory");
  return tmpl;
}
}  // namespace

Subject::Subject(const fs::path& library, std::string config_json) : work_dir_(make_temp_dir()) {
  const fs::path lib = fs::absolute(library);
  LoaderOptions o;
  o.plugin_dirs = {lib.parent_path()};
  o.runtime_dir = work_dir_ / "loaded";
  o.data_dir = work_dir_ / "data";
  loader_ = std::make_unique<PluginLoader>(o);
  // The kind comes from the library itself: load it once to learn it, then check the config as
  // a manifest naming that kind.
  manifest_.file = "<lakehost plugin test>";
  manifest_.library = lib.filename().string();
  manifest_.id = lib.stem().string();
  library_ = loader_->load(manifest_);
  const auto& d = library_->descriptor();
  plugin_name_ = d.name ? d.name : manifest_.id;
  const std::string text = R"({"id": ")" + manifest_.id + R"(", "kind": ")" +
                           kind_name(static_cast<lh_plugin_kind>(d.kind)) + R"(", "library": ")" +
                           manifest_.library + R"(", "config": )" +
                           (config_json.empty() ? "{}" : config_json) + "}";
  manifest_ = parse_manifest(text, "<lakehost plugin test>");
  library_ = loader_->load(manifest_);  // checks the config against the schema
}

Subject::~Subject() {
  library_.reset();
  loader_.reset();
  Reaper::instance().drain();  // every instance a case made is destroyed
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
}

InstancePtr Subject::make() const {
  static std::atomic<int> n{0};
  // Each instance gets its own data directory: a storage case starts from nothing.
  LoaderOptions o = loader_->options();
  o.data_dir = work_dir_ / ("data-" + std::to_string(n++));
  fs::create_directories(o.data_dir);
  PluginLoader loader(o);
  return loader.instantiate(manifest_, library_);
}

CaseResult run_case(const Subject& subject, const Case& c) {
  CaseResult r{c.name, c.rule, false, "", {}};
  const auto start = std::chrono::steady_clock::now();
  try {
    c.run([&] { return subject.make(); });
    r.passed = true;
  } catch (const Violation& v) {
    r.message = v.what();
  } catch (const std::exception& e) {
    r.message = std::string("unexpected error: ") + e.what();
  } catch (...) {
    r.message = "unexpected error (not a std::exception)";
  }
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  return r;
}

std::vector<CaseResult> run_all(const Subject& subject, const std::string& filter, std::FILE* out) {
  std::vector<CaseResult> results;
  for (const auto& c : cases_for(subject.kind())) {
    if (!filter.empty() && c.name.find(filter) == std::string::npos) continue;
    results.push_back(run_case(subject, c));
    const auto& r = results.back();
    if (!out) continue;
    if (r.passed)
      std::fprintf(out, "PASS  %-40s %6lld ms\n", r.name.c_str(),
                   static_cast<long long>(r.took.count()));
    else
      std::fprintf(out, "FAIL  %-40s %6lld ms\n      rule: %s\n      saw:  %s\n", r.name.c_str(),
                   static_cast<long long>(r.took.count()), r.rule.c_str(), r.message.c_str());
    std::fflush(out);
  }
  return results;
}

std::vector<float> unit_vectors(size_t n, uint32_t dim, uint64_t seed) {
  // A fixed generator and a hand-written transform: std::normal_distribution is not the same on
  // every standard library.
  std::mt19937_64 rng(seed);
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      const double x = static_cast<double>(rng() >> 11) / 9007199254740992.0 - 0.5;
      v[i * dim + j] = static_cast<float>(x);
      norm += x * x;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (uint32_t j = 0; j < dim; ++j) v[i * dim + j] *= inv;
  }
  return v;
}

float dot(const float* a, const float* b, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

void concurrently(int threads, const std::function<void(int)>& fn) {
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        fn(t);
      } catch (...) {
        errors[static_cast<size_t>(t)] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace lakehost::conformance
