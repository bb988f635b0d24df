// lakehost: a small host that serves the REST API and does its real work through plugins.
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <arpa/inet.h>

#include "common/cpu_kernels.h"
#include "common/json.h"
#include "common/prometheus.h"
#include "conformance/conformance.h"
#include "core/change_follower.h"
#include "core/manifest_watcher.h"
#include "core/readiness.h"
#include "core/registry.h"
#include "http/api_keys.h"
#include "http/metrics.h"
#include "http/routes.h"
#include "http/server.h"
#include "plugin/failures.h"
#include "plugin/loader.h"

namespace fs = std::filesystem;
using namespace lakehost;

namespace {

// Plugin directories to use when none is configured: next to the executable in a build tree
// (build/host/lakehost -> build/plugins) or an installed tree (bin/ -> lib/lakehost/plugins).
std::vector<fs::path> default_plugin_dirs() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> out;
  for (fs::path rel : {fs::path("../plugins"), fs::path("..") / LAKEHOST_INSTALL_PLUGIN_DIR}) {
    fs::path p = (exe.parent_path() / rel).lexically_normal();
    if (fs::is_directory(p, ec)) out.push_back(p);
  }
  return out;
}

// True for addresses only this machine can reach: 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// `lakehost keys new`: a fresh random key and the line to add to the key file.
int new_key(const std::string& name, const std::vector<std::string>& scopes,
            const std::vector<std::string>& collections) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "name");
  json::put(w, name);
  const std::string key = generate_api_key();
  json::key(w, "sha256");
  json::put(w, to_hex(sha256_of(key)));
  json::key(w, "scopes");
  w.StartArray();
  for (const auto& sc : scopes) json::put(w, sc);
  w.EndArray();
  if (!collections.empty()) {
    json::key(w, "collections");
    w.StartArray();
    for (const auto& c : collections) json::put(w, c);
    w.EndArray();
  }
  w.EndObject();
  // Check the entry as the host will, so a typo is caught here and not at the next reload.
  std::string error;
  if (!ApiKeySet::parse(std::string("{\"keys\": [") + buf.GetString() + "]}", error)) {
    std::cerr << "lakehost keys new: " << error << "\n";
    return 2;
  }
  std::cout << "key (give it to the client; it is not stored anywhere): " << key << "\n"
            << "entry for the \"keys\" array of the API key file:\n"
            << buf.GetString() << "\n";
  return 0;
}

// `lakehost keys check FILE`: what the host would make of a key file, without starting.
int check_keys(const std::string& file) {
  try {
    ApiKeys keys{fs::path(file)};
    auto set = keys.current();
    for (const auto& k : set->keys) {
      std::string scopes, colls;
      for (Scope sc : {Scope::read, Scope::write, Scope::admin})
        if (k.has(sc)) scopes += (scopes.empty() ? "" : ",") + std::string(scope_name(sc));
      for (const auto& c : k.collections) colls += (colls.empty() ? "" : ",") + c;
      std::cout << k.name << ": " << scopes
                << (colls.empty() ? " on every collection" : " on " + colls) << "\n";
    }
    std::cout << set->keys.size() << " keys; /metrics "
              << (set->metrics_need_admin ? "needs admin" : "is open") << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "lakehost keys check: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

// Everything `lakehost serve` is told on its command line (or environment).
struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string manifests = "manifests";
  std::string data = "data/run";
  std::vector<std::string> plugin_dirs;  // empty: default_plugin_dirs()
  HttpOptions http;
  bool watch = true;
  std::string demo;  // a JSON-lines corpus, or empty
  std::string demo_collection = "workers";
  std::string port_file;
  size_t embed_cache_entries = 10000;
  ProbeOptions probe;
  std::string api_keys_file;
  bool insecure_no_auth = false;
};

int serve(ServeOptions o) {
  const std::string& listen = o.listen;
  const fs::path manifests = o.manifests, data = o.data;
  HttpOptions& http = o.http;
  const auto& demo = o.demo;
  const auto& api_keys_file = o.api_keys_file;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "lakehost: --listen must be HOST:PORT, got \"" << listen << "\"\n";
    return 2;
  }
  http.host = listen.substr(0, colon);
  http.port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));

  // Without keys anyone who reaches the port may do anything: only this machine may reach it,
  // unless the operator says otherwise in so many words.
  std::unique_ptr<ApiKeys> keys;
  try {
    keys = api_keys_file.empty() ? std::make_unique<ApiKeys>()
                                 : std::make_unique<ApiKeys>(fs::path(api_keys_file));
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  if (keys->enabled()) {
    spdlog::info("API keys: {} loaded from {}", keys->current()->keys.size(), api_keys_file);
  } else if (!is_loopback(http.host)) {
    if (!o.insecure_no_auth) {
      spdlog::critical(
          "refusing to listen on {} without API keys: anyone who can reach it could read, change "
          "and delete everything. Give --api-keys FILE (see `lakehost keys new`), listen on "
          "127.0.0.1, or pass --insecure-no-auth if a proxy in front authenticates",
          http.host);
      return 2;
    }
    spdlog::warn(
        "listening on {} WITHOUT authentication (--insecure-no-auth): every client that reaches "
        "this address can read, change and delete everything",
        http.host);
  }

  // Signals are handled by one thread with sigwait; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  fs::create_directories(data, ec);
  LoaderOptions lo;
  lo.plugin_dirs.assign(o.plugin_dirs.begin(), o.plugin_dirs.end());
  if (lo.plugin_dirs.empty()) lo.plugin_dirs = default_plugin_dirs();
  lo.data_dir = fs::absolute(data);
  lo.runtime_dir = lo.data_dir / ".loaded-plugins";
  lo.health_timeout = o.probe.timeout;
  for (const auto& d : lo.plugin_dirs) spdlog::info("plugin directory: {}", d.string());
  const auto& ki = kernel_info();
  spdlog::info("vector kernel: {} (CPU: {}; best supported: {}{})", ki.kernel,
               ki.cpu_model.empty() ? "unknown" : ki.cpu_model, ki.detected,
               ki.requested.empty() ? "" : "; LAKEHOST_SIMD=" + ki.requested);

  PluginLoader loader(lo);
  Registry registry(loader, manifests);
  auto first = registry.reload("start");
  if (!first.ok) {
    spdlog::critical("cannot start: {}", first.error);
    return 1;
  }
  Metrics metrics;
  metrics.add_collector([](std::string& out) {
    const auto& ki = kernel_info();
    prometheus::Text(out)
        .family("lakehost_vector_kernel_info", "gauge",
                "The SIMD level of the vector kernels in use.")
        .sample("lakehost_vector_kernel_info",
                {{"kernel", ki.kernel}, {"detected", ki.detected}, {"cpu", ki.cpu_model}}, 1);
  });
  CoreServices core(registry, o.embed_cache_entries);
  metrics.add_collector([&](std::string& out) { keys->render_metrics(out); });
  if (!demo.empty()) {
    try {
      size_t n = core.documents.load_jsonl(o.demo_collection, demo);
      if (n) spdlog::info("loaded {} demo documents into \"{}\"", n, o.demo_collection);
    } catch (const std::exception& e) {
      spdlog::critical("cannot load the demo corpus: {}", e.what());
      return 1;
    }
  }
  // Writes other replicas commit to shared storage (storage-postgres) reach this host's indexes
  // and playbook cache; a storage private to this process simply has no feed.
  ChangeFollower follower(registry, [&](const std::string& key) { core.storage_key_changed(key); });
  metrics.add_collector([&](std::string& out) { follower.render_metrics(out); });
  metrics.add_collector(render_plugin_failure_metrics);
  // Plugin health checks run on the prober's threads only: /health never calls a plugin, and
  // /ready reports the prober's last results.
  Readiness readiness(registry, o.probe);
  metrics.add_collector([&](std::string& out) { readiness.render_metrics(out); });
  readiness.start();
  HttpServer server(http, metrics);
  RouteContext routes{core, metrics, &readiness, keys.get()};
  install_routes(server, routes);
  server.set_api_keys(keys.get());
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}: {}", listen, e.what());
    return 1;
  }
  spdlog::info("listening on http://{}:{} (generation {})", http.host, server.port(),
               first.generation);
  // Watch before announcing readiness, so an edit made right after start-up is not missed.
  std::unique_ptr<ManifestWatcher> watcher;
  if (o.watch)
    watcher =
        std::make_unique<ManifestWatcher>(manifests, [&] { registry.reload("manifests changed"); });
  if (!o.port_file.empty()) {
    std::ofstream(o.port_file + ".tmp") << server.port() << "\n";
    fs::rename(o.port_file + ".tmp", o.port_file, ec);
  }

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      keys->reload();  // a broken file keeps the keys in force (and is logged)
      registry.reload("SIGHUP");
      continue;
    }
    spdlog::info("signal {}: shutting down", sig);
    break;
  }
  watcher.reset();
  server.stop();
  spdlog::info("HTTP server stopped");
  readiness.stop();
  Reaper::instance().drain();
  spdlog::info("stopped");
  return 0;
}

// `lakehost plugin test`: 0 when every case passed, 1 when one failed, 2 when the library or
// its config was refused before any case ran.
int test_plugin(const std::string& library, const std::string& config, const std::string& filter) {
  // Each failure is reported with its case; the host's own error log would repeat it.
  spdlog::set_level(spdlog::level::off);
  std::unique_ptr<conformance::Subject> subject;
  try {
    subject = std::make_unique<conformance::Subject>(library, config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lakehost plugin test: %s\n", e.what());
    return 2;
  }
  std::printf("%s: %s \"%s\", the %s contract\n", library.c_str(), kind_name(subject->kind()),
              subject->plugin_name().c_str(), kind_name(subject->kind()));
  const auto results = conformance::run_all(*subject, filter, stdout);
  size_t failed = 0;
  for (const auto& r : results) failed += !r.passed;
  std::printf("%zu of %zu cases passed\n", results.size() - failed, results.size());
  if (results.empty()) {
    std::fprintf(stderr, "lakehost plugin test: no case matches \"%s\"\n", filter.c_str());
    return 2;
  }
  return failed ? 1 : 0;
}

int main(int argc, char** argv) {
  CLI::App app{"lakehost: a retrieval server whose real work is done by hot-swappable plugins"};
  app.require_subcommand(1);
  auto* cmd = app.add_subcommand("serve", "Serve the REST API");

  ServeOptions o;
  HttpOptions& http = o.http;
  std::string log_level = "info";
  size_t max_body = http.max_body_bytes;
  int64_t header_ms = 10000, body_ms = 30000, keepalive_ms = 60000;
  bool no_watch = false;
  int64_t probe_interval_ms = 5000, probe_timeout_ms = 2000;
  cmd->add_option("--listen", o.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->envname("LAKEHOST_LISTEN")
      ->capture_default_str();
  cmd->add_option("--manifests", o.manifests, "Directory of plugin manifests (*.json)")
      ->envname("LAKEHOST_MANIFESTS")
      ->capture_default_str();
  cmd->add_option("--data", o.data, "Data directory (databases, loaded-plugin copies)")
      ->envname("LAKEHOST_DATA")
      ->capture_default_str();
  cmd->add_option("--plugin-dir", o.plugin_dirs,
                  "Directory plugins may be loaded from (repeatable). Replaces the default, "
                  "../plugins and ../lib/lakehost/plugins next to the executable: name them too "
                  "to keep the stock plugins")
      ->envname("LAKEHOST_PLUGIN_DIR")
      ->delimiter(':');
  cmd->add_option("--threads", http.threads, "HTTP worker threads")
      ->envname("LAKEHOST_THREADS")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", max_body, "Largest request body accepted (else 413)")
      ->envname("LAKEHOST_MAX_BODY_BYTES")
      ->capture_default_str();
  const auto ms_range = CLI::Range(int64_t{1}, int64_t{24} * 3600 * 1000);
  cmd->add_option("--header-timeout-ms", header_ms,
                  "Time allowed to receive a request's headers, from their first byte")
      ->check(ms_range)
      ->capture_default_str();
  cmd->add_option("--body-timeout-ms", body_ms,
                  "Time allowed to receive a request's body, from the end of its headers")
      ->check(ms_range)
      ->capture_default_str();
  cmd->add_option("--keepalive-timeout-ms", keepalive_ms,
                  "A connection without a request is closed after this long")
      ->check(ms_range)
      ->capture_default_str();
  cmd->add_option("--upstream-workers", http.workers,
                  "Threads for requests that wait on upstream servers (chat)")
      ->envname("LAKEHOST_UPSTREAM_WORKERS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--upstream-queue", http.worker_queue,
                  "Such requests that may wait for a thread; beyond it: 503 server_busy")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--embed-cache-entries", o.embed_cache_entries,
                  "Query embeddings kept in the LRU embed cache (0 disables it)")
      ->envname("LAKEHOST_EMBED_CACHE_ENTRIES")
      ->capture_default_str();
  cmd->add_option("--probe-interval-ms", probe_interval_ms,
                  "Plugin health checks run in the background this often (GET /ready)")
      ->envname("LAKEHOST_PROBE_INTERVAL_MS")
      ->check(CLI::Range(int64_t{50}, int64_t{3600000}))
      ->capture_default_str();
  cmd->add_option("--probe-timeout-ms", probe_timeout_ms,
                  "A health check not answered by then counts as failing; also bounds the check "
                  "of a new plugin instance during a reload")
      ->envname("LAKEHOST_PROBE_TIMEOUT_MS")
      ->check(CLI::Range(int64_t{10}, int64_t{600000}))
      ->capture_default_str();
  cmd->add_option("--api-keys", o.api_keys_file,
                  "JSON file of API keys (names, SHA-256 digests, scopes, collections); re-read "
                  "on reload and SIGHUP. Without it every route is open and only loopback "
                  "addresses may be listened on")
      ->envname("LAKEHOST_API_KEYS");
  cmd->add_flag("--insecure-no-auth", o.insecure_no_auth,
                "Allow listening beyond loopback without API keys (when a proxy in front "
                "authenticates)");
  cmd->add_flag("--no-watch", no_watch, "Do not reload when the manifests directory changes");
  cmd->add_option("--demo", o.demo, "JSON-lines corpus to load when the demo collection is empty")
      ->envname("LAKEHOST_DEMO");
  cmd->add_option("--demo-collection", o.demo_collection, "Collection the demo corpus goes into")
      ->capture_default_str();
  cmd->add_option("--port-file", o.port_file, "Write the bound port to this file once listening");
  cmd->add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->envname("LAKEHOST_LOG_LEVEL")
      ->capture_default_str();

  auto* keys_cmd = app.add_subcommand("keys", "Make and check API keys");
  keys_cmd->require_subcommand(1);
  auto* keys_new =
      keys_cmd->add_subcommand("new", "Print a new random key and its entry for the API key file");
  std::string key_name;
  std::vector<std::string> key_scopes, key_collections;
  keys_new->add_option("--name", key_name, "The key's name (in logs and /metrics)")->required();
  keys_new->add_option("--scopes", key_scopes, "read, write, admin (comma-separated)")
      ->check(CLI::IsMember({"read", "write", "admin"}))
      ->required()
      ->delimiter(',');
  keys_new
      ->add_option("--collections", key_collections,
                   "Limit the key to these collections (comma-separated; default: all)")
      ->delimiter(',');
  auto* keys_check = keys_cmd->add_subcommand("check", "Validate an API key file and list it");
  std::string check_file;
  keys_check->add_option("FILE", check_file, "The key file")->required();

  auto* plugin_cmd = app.add_subcommand("plugin", "Tools for plugin authors");
  plugin_cmd->require_subcommand(1);
  auto* plugin_test = plugin_cmd->add_subcommand(
      "test", "Run the contract of its kind against a plugin library (docs/plugin-authors.md)");
  std::string test_library, test_config = "{}", test_filter;
  plugin_test->add_option("LIBRARY", test_library, "The plugin's .so")->required();
  plugin_test->add_option("--config", test_config, "The manifest's config object (JSON)")
      ->capture_default_str();
  plugin_test->add_option("--case", test_filter, "Only the cases whose name contains this");

  CLI11_PARSE(app, argc, argv);
  if (*plugin_test) return test_plugin(test_library, test_config, test_filter);
  if (*keys_new) return new_key(key_name, key_scopes, key_collections);
  if (*keys_check) return check_keys(check_file);
  spdlog::set_level(spdlog::level::from_str(log_level));
  http.max_body_bytes = max_body;
  http.header_timeout = std::chrono::milliseconds(header_ms);
  http.body_timeout = std::chrono::milliseconds(body_ms);
  http.keepalive_timeout = std::chrono::milliseconds(keepalive_ms);
  o.watch = !no_watch;
  o.probe.interval = std::chrono::milliseconds(probe_interval_ms);
  o.probe.timeout = std::chrono::milliseconds(probe_timeout_ms);
  return serve(std::move(o));
}
