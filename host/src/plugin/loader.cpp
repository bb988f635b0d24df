#include "plugin/loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/dll/import.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "common/json.h"

namespace lakehost {
namespace fs = std::filesystem;

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

namespace {

bool is_within(const fs::path& file, const fs::path& dir) {
  auto f = file.lexically_normal().string();
  auto d = dir.lexically_normal().string();
  if (!d.empty() && d.back() != '/') d += '/';
  return f.compare(0, d.size(), d) == 0;
}

// Refuses files an attacker other than the owner could have written.
void check_permissions(const fs::path& p, const std::string& what) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0)
    throw LoadError(what + " " + p.string() + ": " + std::strerror(errno));
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw LoadError(what + " " + p.string() +
                    " is group- or world-writable; refusing to load code anyone could replace "
                    "(chmod go-w)");
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    throw LoadError(what + " " + p.string() + " is owned by uid " + std::to_string(st.st_uid) +
                    ", neither root nor the host's user");
}

std::atomic<uint64_t> g_next_serial{1};

void host_log(void* ctx, lh_log_level level, lh_str message) {
  auto* id = static_cast<const std::string*>(ctx);
  std::string_view m(message.data ? message.data : "", message.size);
  switch (level) {
    case LH_LOG_DEBUG:
      spdlog::debug("[{}] {}", *id, m);
      break;
    case LH_LOG_INFO:
      spdlog::info("[{}] {}", *id, m);
      break;
    case LH_LOG_WARN:
      spdlog::warn("[{}] {}", *id, m);
      break;
    default:
      spdlog::error("[{}] {}", *id, m);
      break;
  }
}

}  // namespace

std::string PluginLibrary::abi() const {
  return std::to_string(descriptor_->abi_major) + "." + std::to_string(descriptor_->abi_minor);
}

// ---- PluginInstance ---------------------------------------------------------------------------

PluginInstance::PluginInstance(std::shared_ptr<PluginLibrary> lib, Manifest manifest,
                               std::string data_dir, std::string config_json)
    : lib_(std::move(lib)),
      manifest_(std::move(manifest)),
      config_json_(std::move(config_json)),
      data_dir_(std::move(data_dir)),
      serial_(g_next_serial++) {}

void PluginInstance::create() {
  host_api_.struct_size = sizeof(lh_host_api);
  host_api_.ctx = &manifest_.id;
  host_api_.log = &host_log;
  host_api_.data_dir = data_dir_.c_str();
  host_api_.instance_id = manifest_.id.c_str();
  lh_error err{};
  lh_status st = lib_->descriptor().create(&host_api_, {config_json_.data(), config_json_.size()},
                                           &self_, &err);
  if (st != LH_OK || !self_) {
    self_ = nullptr;
    throw LoadError(manifest_.file.string() + ": library " + lib_->path().string() + ": plugin \"" +
                    lib_->descriptor().name + "\" failed to create an instance: " +
                    (err.message[0] ? err.message : "create failed"));
  }
}

PluginInstance::~PluginInstance() {
  if (self_) lib_->descriptor().destroy(self_);
}

std::unique_lock<std::mutex> PluginInstance::call_guard() const {
  if (lib_->descriptor().flags & LH_FLAG_THREAD_SAFE) return {};
  return std::unique_lock<std::mutex>(call_mutex_);
}

std::string PluginInstance::health() const {
  const auto& d = lib_->descriptor();
  if (!d.health) return "";
  lh_error err{};
  auto guard = call_guard();
  if (d.health(self_, &err) == LH_OK) return "";
  return err.message[0] ? err.message : "unhealthy";
}

HealthCall PluginInstance::health_async(const std::shared_ptr<PluginInstance>& self) {
  std::lock_guard lock(self->health_mu_);
  if (self->health_inflight_.reply.valid()) {
    HealthCall joined = self->health_inflight_;
    joined.joined = true;
    return joined;
  }
  auto promise = std::make_shared<std::promise<HealthReply>>();
  HealthCall call{promise->get_future().share(), std::chrono::steady_clock::now(), false};
  try {
    std::thread([self, promise, started = call.started] {
      HealthReply r;
      try {
        r.message = self->health();
      } catch (const std::exception& e) {  // e.g. bad_alloc copying the message
        r.message = e.what();
      }
      r.took = std::chrono::steady_clock::now() - started;
      {
        std::lock_guard lock(self->health_mu_);
        self->health_inflight_ = {};
      }
      promise->set_value(std::move(r));
    }).detach();
  } catch (const std::system_error& e) {
    promise->set_value({std::string("cannot start a health check thread: ") + e.what(), {}});
    return call;
  }
  self->health_inflight_ = call;
  return call;
}

std::string PluginInstance::health_within(const std::shared_ptr<PluginInstance>& self,
                                          std::chrono::milliseconds timeout) {
  auto call = health_async(self);
  if (call.reply.wait_for(timeout) == std::future_status::ready) return call.reply.get().message;
  return "the health check did not answer within " + std::to_string(timeout.count()) + " ms";
}

// ---- PluginLoader -----------------------------------------------------------------------------

PluginLoader::PluginLoader(LoaderOptions options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.runtime_dir, ec);
  fs::permissions(options_.runtime_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
}

std::pair<fs::path, fs::path> PluginLoader::resolve(const Manifest& m) const {
  const std::string where = m.file.string() + ": /library \"" + m.library + "\"";
  if (options_.plugin_dirs.empty()) throw LoadError(where + ": no plugin directory configured");
  fs::path lib(m.library);
  std::vector<fs::path> candidates;
  if (lib.is_absolute()) {
    candidates.push_back(lib);
  } else {
    for (const auto& d : options_.plugin_dirs) candidates.push_back(d / lib);
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!fs::exists(c, ec)) continue;
    fs::path real = fs::canonical(c, ec);
    if (ec) throw LoadError(where + ": " + ec.message());
    for (const auto& d : options_.plugin_dirs) {
      fs::path real_dir = fs::weakly_canonical(d, ec);
      if (is_within(real, real_dir)) return {real, real_dir.lexically_normal()};
    }
    throw LoadError(where + " resolves to " + real.string() +
                    ", outside the plugin directories; refusing to load it");
  }
  std::string dirs;
  for (const auto& d : options_.plugin_dirs) dirs += (dirs.empty() ? "" : ", ") + d.string();
  throw LoadError(where + ": no such file in the plugin directories (" + dirs + ")");
}

namespace {

// The .dynsym entry dladdr finds for `addr` (null for an address no exported symbol starts at or
// covers, e.g. a hidden function), and the object it lies in.
const ElfW(Sym) * symbol_at(const void* addr, Dl_info& info) {
  void* sym = nullptr;
  if (!dladdr1(addr, &info, &sym, RTLD_DL_SYMENT)) return nullptr;
  return static_cast<const ElfW(Sym)*>(sym);
}

// Whether `addr` lies in an executable PT_LOAD segment of the object loaded at `base`.
bool in_code_of(const void* base, const void* addr) {
  struct Query {
    const void* base;
    uintptr_t addr;
    bool found;
  } q{base, reinterpret_cast<uintptr_t>(addr), false};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* q = static_cast<Query*>(data);
        for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
          const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          // dli_fbase is the lowest mapped address; the object is the one mapping it.
          if (q->addr >= start && q->addr < start + ph.p_memsz) {
            Dl_info di;
            q->found = dladdr(reinterpret_cast<void*>(q->addr), &di) && di.dli_fbase == q->base;
            return 1;
          }
        }
        return 0;
      },
      &q);
  return q.found;
}

}  // namespace

EntryPoint find_entry_point(void* library_handle, std::string& refusal) {
  void* addr = dlsym(library_handle, LH_PLUGIN_ENTRY_SYMBOL);
  if (!addr) {
    refusal = ": does not export \"" LH_PLUGIN_ENTRY_SYMBOL
              "\"; not a lakehost plugin (export it with LAKEHOST_PLUGIN, BOOST_DLL_ALIAS or an "
              "extern \"C\" function of that name)";
    return nullptr;
  }
  Dl_info info;
  const ElfW(Sym)* sym = symbol_at(addr, info);
  // ELF64_ST_TYPE and ELF32_ST_TYPE are the same (the low four bits of st_info).
  if (!sym || info.dli_saddr != addr) {
    refusal = ": cannot read the type of its \"" LH_PLUGIN_ENTRY_SYMBOL "\" symbol";
    return nullptr;
  }
  switch (ELF64_ST_TYPE(sym->st_info)) {
    case STT_FUNC:
      // The plain C form: `const lh_plugin_descriptor* lakehost_plugin(void)`.
      return reinterpret_cast<EntryPoint>(addr);
    case STT_OBJECT: {
      // The BOOST_DLL_ALIAS form: a variable holding the address of the getter. Read it only if
      // it is pointer-sized, and call it only if it points to code of this same library.
      if (sym->st_size != sizeof(void*)) {
        refusal = ": its \"" LH_PLUGIN_ENTRY_SYMBOL "\" symbol is a variable of " +
                  std::to_string(sym->st_size) +
                  " bytes, neither a function nor a pointer to one (see docs/plugin-authors.md)";
        return nullptr;
      }
      void* target = nullptr;
      std::memcpy(&target, addr, sizeof target);
      if (!target || !in_code_of(info.dli_fbase, target)) {
        refusal = ": its \"" LH_PLUGIN_ENTRY_SYMBOL
                  "\" variable does not point to a function in the library";
        return nullptr;
      }
      return reinterpret_cast<EntryPoint>(target);
    }
    default:
      refusal = ": its \"" LH_PLUGIN_ENTRY_SYMBOL "\" symbol is of ELF type " +
                std::to_string(ELF64_ST_TYPE(sym->st_info)) +
                ", neither a function nor a pointer to one";
      return nullptr;
  }
}

std::string check_descriptor(const lh_plugin_descriptor* d) {
  const std::string host_abi = std::to_string(LH_ABI_MAJOR) + "." + std::to_string(LH_ABI_MINOR);
  if (!d || d->struct_size < offsetof(lh_plugin_descriptor, kind))  // the versions themselves
    return ": returned no valid descriptor";
  const std::string plugin_abi = std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  if (d->abi_major != LH_ABI_MAJOR) {
    return " was built for plugin ABI " + plugin_abi + " but this host speaks " + host_abi +
           " (the major versions must be equal; rebuild the plugin against this host's SDK)";
  }
  if (d->abi_minor > LH_ABI_MINOR)
    return " was built for plugin ABI " + plugin_abi + ", newer than this host's " + host_abi +
           "; upgrade the host";
  if (!LH_HAS_FIELD(lh_plugin_descriptor, d, table))
    return ": descriptor is truncated (struct_size " + std::to_string(d->struct_size) + ")";
  if (!d->name || !d->version || !d->create || !d->destroy || !d->table)
    return ": descriptor lacks a name, version, create, destroy or table";
  // The strings are echoed in /v1/plugins (JSON), logs and error messages: they must be text.
  const std::pair<const char*, const char*> strings[] = {{"name", d->name},
                                                         {"version", d->version},
                                                         {"description", d->description},
                                                         {"build_info", d->build_info}};
  for (const auto& [field, text] : strings) {
    if (!text) continue;  // description and build_info are optional
    const size_t len = ::strnlen(text, kMaxDescriptorString + 1);
    if (len > kMaxDescriptorString)
      return std::string(": descriptor ") + field + " is longer than " +
             std::to_string(kMaxDescriptorString) + " bytes";
    if (!json::is_clean_text({text, len}))
      return std::string(": descriptor ") + field + " is not UTF-8 text";
  }
  if (!*d->name || !*d->version) return ": descriptor has an empty name or version";
  auto table_size = *static_cast<const uint32_t*>(d->table);
  // What ABI 1.0 requires of each table: up to and including its last 1.0 function. Fields a
  // later minor appends are optional, read only when the plugin's struct_size covers them.
  size_t needed = 0;
  switch (d->kind) {
    case LH_KIND_EMBED_PROVIDER:
      needed = LH_SIZE_THROUGH(lh_embed_provider_v1, embed);
      break;
    case LH_KIND_VECTOR_BACKEND:
      needed = LH_SIZE_THROUGH(lh_vector_backend_v1, index_size);
      break;
    case LH_KIND_RETRIEVAL_SCORER:
      needed = LH_SIZE_THROUGH(lh_retrieval_scorer_v1, score);
      break;
    case LH_KIND_CHAT_PROVIDER:
      needed = LH_SIZE_THROUGH(lh_chat_provider_v1, chat);
      break;
    case LH_KIND_STORAGE_BACKEND:
      needed = LH_SIZE_THROUGH(lh_storage_backend_v1, kv_list);
      break;
    default:
      return ": unknown plugin kind " + std::to_string(d->kind);
  }
  if (table_size < needed)
    return ": function table is truncated (" + std::to_string(table_size) + " < " +
           std::to_string(needed) + " bytes)";
  // Every 1.0 slot of every table is a function the host calls unconditionally: a NULL one
  // would crash the host on the first request instead of being refused here. (Each table is
  // struct_size followed by function pointers only.)
  const auto* table = static_cast<const unsigned char*>(d->table);
  for (size_t at = sizeof(void*); at < needed; at += sizeof(void*)) {
    void* fn = nullptr;
    std::memcpy(&fn, table + at, sizeof fn);
    if (!fn)
      return ": function table has no function at byte " + std::to_string(at) +
             " (every ABI 1.0 function is required)";
  }
  return "";
}

std::shared_ptr<PluginLibrary> PluginLoader::load(const Manifest& m) {
  const auto [path, plugin_dir] = resolve(m);
  const std::string where = m.file.string() + ": library " + path.string();
  check_permissions(path, m.file.string() + ": library");
  // Every directory from the library up to its plugin directory: a writable one anywhere on
  // the way would let someone else swap the file.
  for (fs::path d = path.parent_path();; d = d.parent_path()) {
    check_permissions(d, where + ": plugin directory");
    if (d == plugin_dir || d == d.parent_path()) break;
  }

  // Hash the bytes we are about to load, and load exactly those bytes (from a private copy).
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
    if (!in) throw LoadError(where + ": cannot read");
  }
  const std::string sha = sha256_hex(bytes);
  if (m.sha256 && *m.sha256 != sha) {
    throw LoadError(where + ": sha256 mismatch: the manifest pins " + *m.sha256 +
                    " but the file is " + sha);
  }

  std::lock_guard lock(mutex_);
  if (auto it = by_sha_.find(sha); it != by_sha_.end()) {
    if (auto lib = it->second.lock()) return lib;
  }
  // Write the copy afresh from the hashed bytes every time a library is (re)loaded: a file
  // already sitting in the runtime directory is never trusted by its name.
  fs::path copy = options_.runtime_dir / (sha + ".so");
  fs::path tmp = copy;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw LoadError(where + ": cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace,
                  ec);
  fs::rename(tmp, copy, ec);
  if (ec) throw LoadError(where + ": cannot write " + copy.string() + ": " + ec.message());

  boost::dll::shared_library so;
  try {
    so.load(copy.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (msg.find("GLIBCXX") != std::string::npos || msg.find("CXXABI") != std::string::npos)
      msg += " (the plugin was built against a newer C++ runtime than this host has)";
    throw LoadError(where + ": cannot load: " + msg);
  }
  std::string refusal;
  const EntryPoint entry = find_entry_point(so.native(), refusal);
  if (!entry) throw LoadError(where + refusal);
  // Besides the library's static initialisers (run by dlopen itself), the descriptor getter is
  // the only plugin code run before the version check.
  const lh_plugin_descriptor* d = entry();
  if (auto refusal = check_descriptor(d); !refusal.empty()) throw LoadError(where + refusal);

  auto lib = std::make_shared<PluginLibrary>(std::move(so), d, path, sha);
  try {
    lib->schema_ = std::make_unique<json::Schema>(d->config_schema ? d->config_schema : "{}");
  } catch (const std::exception& e) {
    throw LoadError(where + ": the plugin's config " + e.what());
  }
  by_sha_[sha] = lib;
  return lib;
}

std::shared_ptr<PluginInstance> PluginLoader::instantiate(const Manifest& m) {
  return instantiate(m, load(m));
}

std::shared_ptr<PluginInstance> PluginLoader::instantiate(const Manifest& m,
                                                          std::shared_ptr<PluginLibrary> lib) {
  const auto& d = lib->descriptor();
  if (d.kind != static_cast<uint32_t>(m.kind)) {
    throw LoadError(
        m.file.string() + ": /kind is \"" + kind_name(m.kind) + "\" but " + lib->path().string() +
        " is a " + kind_name(static_cast<lh_plugin_kind>(d.kind)) + " plugin (\"" + d.name + "\")");
  }
  rapidjson::Document config;
  json::parse(m.config_json, config);
  const auto refuse = [&](const std::string& err, const char* what) {
    // err starts with the pointer inside the config ("/" for the object itself).
    const std::string inner = err.rfind("/ ", 0) == 0 ? err.substr(1) : err;
    throw LoadError(m.file.string() + ": /config" + inner + " (" + what + " of plugin \"" + d.name +
                    "\" " + d.version + ")");
  };
  if (auto err = json::validate(lib->config_schema(), config)) refuse(*err, "config schema");
  // The plugin sees every default its schema declares (plugin_api.h, create()), so no plugin
  // restates them in code. A default that breaks its own schema is the plugin's bug: said so.
  json::apply_defaults(lib->config_schema().json, config, config.GetAllocator());
  if (auto err = json::validate(lib->config_schema(), config))
    refuse(*err, "a default in the config schema");
  // Destroy on the Reaper's thread, never on whichever request thread dropped the last ref.
  std::shared_ptr<PluginInstance> inst(
      new PluginInstance(lib, m, options_.data_dir.string(), json::canonical(config)),
      [](PluginInstance* p) { Reaper::instance().submit([p] { delete p; }); });
  inst->create();
  if (m.kind == LH_KIND_EMBED_PROVIDER) {
    auto guard = inst->call_guard();
    if (inst->table<lh_embed_provider_v1>().dimension(inst->self()) == 0)
      throw LoadError(m.file.string() + ": plugin \"" + d.name + "\" reports dimension 0");
  }
  return inst;
}

// ---- Reaper -----------------------------------------------------------------------------------

struct Reaper::State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  size_t running = 0;
  bool stop = false;
  std::thread worker;
};

Reaper::Reaper() : state_(std::make_shared<State>()) {
  state_->worker = std::thread([s = state_] {
    std::unique_lock lock(s->mu);
    for (;;) {
      s->cv.wait(lock, [&] { return s->stop || !s->jobs.empty(); });
      if (s->jobs.empty()) return;
      auto job = std::move(s->jobs.front());
      s->jobs.pop_front();
      ++s->running;
      lock.unlock();
      // Run the destroy on its own thread so a hung plugin costs a thread, not the reaper.
      auto done = std::make_shared<std::promise<void>>();
      auto fut = done->get_future();
      std::thread([job = std::move(job), done] {
        job();
        done->set_value();
      }).detach();
      if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
        spdlog::error("a plugin instance's destroy() did not return within 10 s; leaking it");
      lock.lock();
      --s->running;
      s->cv.notify_all();
    }
  });
}

Reaper::~Reaper() {
  drain();
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_all();
  state_->worker.join();
}

Reaper& Reaper::instance() {
  static Reaper r;
  return r;
}

void Reaper::submit(std::function<void()> job) {
  {
    std::lock_guard lock(state_->mu);
    state_->jobs.push_back(std::move(job));
  }
  state_->cv.notify_all();
}

void Reaper::drain() {
  std::unique_lock lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->jobs.empty() && state_->running == 0; });
}

}  // namespace lakehost
