// Loading plugin libraries and creating instances, with every check made before plugin code
// runs: trust (directory, permissions, owner, sha256), then the ABI version read from the
// descriptor, then the kind, then the config against the plugin's own schema.
#pragma once

#include <lakehost/plugin_api.h>

#include <rapidjson/schema.h>

#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json.h"
#include "plugin/manifest.h"

namespace lakehost {

std::string sha256_hex(std::string_view bytes);

// A library or instance that was refused. The message names the manifest/library file.
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoaderOptions {
  std::vector<std::filesystem::path> plugin_dirs;  // libraries are loaded only from here
  // Private folder where a content-addressed copy of each library is loaded from, so that a
  // rebuilt library at the same path becomes a new library (dlopen dedups by path).
  std::filesystem::path runtime_dir;
  std::filesystem::path data_dir;  // handed to plugins (lh_host_api::data_dir)
  // How long a reload waits for a new instance's health check (--probe-timeout-ms).
  std::chrono::milliseconds health_timeout{2000};
};

// The answer of one health check.
struct HealthReply {
  std::string message;  // "" when healthy
  std::chrono::steady_clock::duration took{};
};

// A health check running on its own thread (PluginInstance::health_async).
struct HealthCall {
  std::shared_future<HealthReply> reply;
  std::chrono::steady_clock::time_point started;
  bool joined = false;  // an earlier, still running call was returned instead of a new one
};

// A loaded library. Instances hold a shared_ptr to it: it is unmapped only after the last
// instance made from it is destroyed.
class PluginLibrary {
 public:
  PluginLibrary(boost::dll::shared_library lib, const lh_plugin_descriptor* d,
                std::filesystem::path path, std::string sha256)
      : lib_(std::move(lib)), descriptor_(d), path_(std::move(path)), sha256_(std::move(sha256)) {}
  const lh_plugin_descriptor& descriptor() const { return *descriptor_; }
  const std::filesystem::path& path() const { return path_; }  // the operator's path
  const std::string& sha256() const { return sha256_; }
  std::string abi() const;  // "major.minor" the plugin was built with
  // The plugin's config schema, parsed once.
  const json::Schema& config_schema() const { return *schema_; }

 private:
  friend class PluginLoader;
  std::unique_ptr<json::Schema> schema_;
  boost::dll::shared_library lib_;
  const lh_plugin_descriptor* descriptor_;
  std::filesystem::path path_;
  std::string sha256_;
};

// One created plugin instance. Destroying it calls the plugin's destroy() (off the request
// path: see Reaper) and then releases the library.
class PluginInstance {
 public:
  // `config_json`: what create() receives, the manifest's config with the schema's defaults
  // filled in (PluginLoader::instantiate).
  PluginInstance(std::shared_ptr<PluginLibrary> lib, Manifest manifest, std::string data_dir,
                 std::string config_json);
  ~PluginInstance();
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  // Calls create(); throws LoadError on failure.
  void create();

  const Manifest& manifest() const { return manifest_; }
  // The config create() was given: the manifest's, with every schema default filled in.
  const std::string& config_json() const { return config_json_; }
  const std::string& id() const { return manifest_.id; }
  lh_plugin_kind kind() const { return manifest_.kind; }
  const PluginLibrary& library() const { return *lib_; }
  void* self() const { return self_; }
  uint64_t serial() const { return serial_; }  // unique per created instance in this process
  template <typename Table>
  const Table& table() const {
    return *static_cast<const Table*>(lib_->descriptor().table);
  }
  // Serialises calls for plugins that are not LH_FLAG_THREAD_SAFE; free for those that are.
  std::unique_lock<std::mutex> call_guard() const;
  // Optional health check; returns an error message or "". Blocks as long as the plugin does.
  std::string health() const;
  // Runs health() on a thread of its own, which keeps the instance alive until it returns. While
  // a call is still running (an upstream that never answers), its future is returned instead of
  // starting another: a hung plugin costs one thread, not one per check.
  static HealthCall health_async(const std::shared_ptr<PluginInstance>& self);
  // health_async() waited on for at most `timeout`: "" when healthy, else why not.
  static std::string health_within(const std::shared_ptr<PluginInstance>& self,
                                   std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<PluginLibrary> lib_;
  Manifest manifest_;
  std::string config_json_;
  std::string data_dir_;
  lh_host_api host_api_{};
  void* self_ = nullptr;
  uint64_t serial_;
  mutable std::mutex call_mutex_;
  std::mutex health_mu_;
  HealthCall health_inflight_;  // reply.valid() while a health_async() call runs
};

// The longest name, version, description or build_info a descriptor may carry.
inline constexpr size_t kMaxDescriptorString = 4096;

// The descriptor getter of a loaded library (dlopen handle), found from its exported
// LH_PLUGIN_ENTRY_SYMBOL in either form plugin_api.h allows: an `extern "C"` function (ELF
// STT_FUNC) or a pointer-sized variable holding the getter's address (STT_OBJECT, what
// BOOST_DLL_ALIAS makes), told apart by the symbol's type. Nothing is read or called unless it is
// what it claims to be; otherwise returns null and says why in `refusal` (worded to follow the
// library's path).
using EntryPoint = const lh_plugin_descriptor* (*)();
EntryPoint find_entry_point(void* library_handle, std::string& refusal);

// Checks a descriptor returned by a library's entry point before anything else of the plugin is
// used: ABI versions, struct_size, required fields, strings, kind, function table. Returns why
// it is refused ("" when it may be used), worded to follow the library's path.
// Assumes only what the C ABI promises and nothing in it can be checked: `d` (when not NULL)
// points to at least `struct_size` readable bytes (and the 8 bytes that hold struct_size and
// the versions); each non-NULL string is NUL-terminated in the library's memory (or has at
// least kMaxDescriptorString + 1 readable bytes); `table` points to at least the table's own
// struct_size bytes. Fuzzed by tests/fuzz/plugin_descriptor_fuzzer.cpp.
std::string check_descriptor(const lh_plugin_descriptor* d);

class PluginLoader {
 public:
  explicit PluginLoader(LoaderOptions options);

  // Resolves, checks and loads the library a manifest names, then checks its descriptor and
  // its config. Libraries with identical content are shared.
  std::shared_ptr<PluginLibrary> load(const Manifest& m);

  // load() + create(). Throws LoadError.
  std::shared_ptr<PluginInstance> instantiate(const Manifest& m);
  // The same with a library already loaded for `m` (a reload compares bytes first).
  std::shared_ptr<PluginInstance> instantiate(const Manifest& m,
                                              std::shared_ptr<PluginLibrary> lib);

  const LoaderOptions& options() const { return options_; }

  // The library's canonical path and the canonical plugin directory that contains it; throws
  // LoadError when the manifest's `library` is missing or resolves outside the directories.
  // Public for the manifest fuzzer (tests/fuzz/manifest_fuzzer.cpp).
  std::pair<std::filesystem::path, std::filesystem::path> resolve(const Manifest& m) const;

 private:
  LoaderOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<PluginLibrary>> by_sha_;  // sha256 -> loaded library
};

// Destroys plugin instances on a background thread so that no request thread runs a plugin's
// destroy(), and so that a destroy() that hangs cannot block a reload: after a timeout the
// instance (and its library) is leaked with a log line.
class Reaper {
 public:
  static Reaper& instance();
  void submit(std::function<void()> job);
  void drain();  // waits for queued destroys (used at shutdown and in tests)
  ~Reaper();

 private:
  Reaper();
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace lakehost
