// Fuzz target: every REST route, its request body through JSON parsing, validation and the
// handler, on a real Registry with real plugins (embed-hash, vector-hnswlib, scorer-playbook,
// scorer-cosine, scorer-hybrid, storage-sqlite, and tests/fuzz's echo chat provider) behind an
// HttpServer that is never started: HttpServer::dispatch is what a network thread calls once
// Pistache has parsed a request. Deferred (chat) and streamed (chat completions) answers are run
// at once on this thread.
//
// Input: the first line chooses the request and the rest is the body.
//   - a line "METHOD /path?query" (corpus files are written so, readable), or
//   - one byte below 0x20: route number N of kRoutes with fixed path parameters (workers,
//     w001, ...), then the body, so that mutations keep hitting real handlers.
//
// Every input starts from the same state: after a request that may have written (2xx on a
// writing route), collections, stored keys and playbooks are reset to the 12-document
// collection "workers" the fixture begins with.
//
// Properties beyond "no crash, no leak, no sanitizer report": no 500 (an exception the handler
// did not turn into a 4xx is a bug), and every JSON answer is valid UTF-8 JSON.
#include <spdlog/spdlog.h>

#include <fstream>
#include <map>

#include "common/json.h"
#include "core/registry.h"
#include "fuzz_input.h"
#include "fuzz_scratch.h"
#include "http/errors.h"
#include "http/metrics.h"
#include "http/routes.h"
#include "http/server.h"
#include "plugin/loader.h"

namespace fs = std::filesystem;
using namespace lakehost;

namespace {

// Every route install_routes registers, with a path whose parameters name things that exist.
constexpr std::pair<const char*, const char*> kRoutes[] = {
    {"GET", "/health"},
    {"GET", "/ready"},
    {"GET", "/metrics"},
    {"GET", "/v1/plugins"},
    {"POST", "/v1/admin/reload"},
    {"POST", "/v1/embed"},
    {"POST", "/v1/embeddings"},
    {"GET", "/v1/collections"},
    {"PUT", "/v1/collections/fz"},
    {"GET", "/v1/collections/workers"},
    {"DELETE", "/v1/collections/workers"},
    {"POST", "/v1/collections/workers/documents"},
    {"GET", "/v1/collections/workers/documents/w001"},
    {"DELETE", "/v1/collections/workers/documents/w001"},
    {"POST", "/v1/collections/workers/search"},
    {"POST", "/v1/matrix/search"},
    {"POST", "/v1/matrix/playbooks/record"},
    {"GET", "/v1/matrix/playbooks"},
    {"DELETE", "/v1/matrix/playbooks/w001"},
    {"PUT", "/v1/storage/k"},
    {"GET", "/v1/storage/k"},
    {"DELETE", "/v1/storage/k"},
    {"GET", "/v1/storage"},
    {"POST", "/v1/chat"},
    {"POST", "/v1/chat/completions"},
    {"GET", "/v1/models"},
};

constexpr const char* kRoles[] = {"Forklift Operator", "CNC Operator", "Warehouse Associate",
                                  "Picker"};
constexpr const char* kCities[] = {"Dayton", "Toledo", "Akron"};

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string manifest(const std::string& id, const std::string& kind, bool is_default,
                     const std::string& config) {
  return R"({"id": ")" + id + R"(", "kind": ")" + kind + R"(", "library": ")" + id +
         R"(.so", "default": )" + (is_default ? "true" : "false") + R"(, "config": )" + config +
         "}";
}

struct Fixture {
  fs::path manifests, data, demo;
  std::unique_ptr<PluginLoader> loader;
  std::unique_ptr<Registry> registry;
  Metrics metrics;
  std::unique_ptr<CoreServices> core;
  std::unique_ptr<RouteContext> routes;
  std::unique_ptr<HttpServer> server;

  Fixture() {
    spdlog::set_level(spdlog::level::off);
    const fs::path root = fuzz::scratch_dir();
    manifests = root / "manifests";
    data = root / "data";
    demo = root / "workers.jsonl";
    fs::create_directories(manifests);
    fs::create_directories(data);
    // 64 dimensions rather than the default 384: the same code, five times the executions.
    write(manifests / "embed-hash.json",
          manifest("embed-hash", "embed_provider", true, R"({"dimension": 64})"));
    write(
        manifests / "vector-hnswlib.json",
        manifest("vector-hnswlib", "vector_backend", true,
                 R"({"M": 16, "ef_construction": 100, "ef_search": 32, "initial_capacity": 64})"));
    write(manifests / "scorer-playbook.json",
          manifest("scorer-playbook", "retrieval_scorer", true,
                   R"({"boost_factor": 0.5, "similarity_threshold": 0.8, "max_injected": 3})"));
    write(manifests / "scorer-cosine.json",
          manifest("scorer-cosine", "retrieval_scorer", false, "{}"));
    write(manifests / "scorer-hybrid.json",
          manifest("scorer-hybrid", "retrieval_scorer", false, R"({"bm25_depth": 50})"));
    write(manifests / "storage-sqlite.json",
          manifest("storage-sqlite", "storage_backend", true, R"({"path": "fuzz.sqlite3"})"));
    write(manifests / "fuzz-chat-echo.json",
          manifest("fuzz-chat-echo", "chat_provider", true, "{}"));
    std::string lines;
    for (int i = 1; i <= 12; ++i) {
      char id[8];
      std::snprintf(id, sizeof id, "w%03d", i);
      lines += std::string(R"({"id": ")") + id + R"(", "text": ")" + kRoles[i % 4] + " in " +
               kCities[i % 3] + R"(, forklift and OSHA experience", "metadata": {"role": ")" +
               kRoles[i % 4] + R"(", "city": ")" + kCities[i % 3] + "\"}}\n";
    }
    write(demo, lines);

    LoaderOptions o;
    o.plugin_dirs = {LAKEHOST_FUZZ_PLUGIN_BUILD_DIR, LAKEHOST_FUZZ_STUB_PLUGIN_DIR};
    o.data_dir = data;
    o.runtime_dir = data / ".loaded-plugins";
    loader = std::make_unique<PluginLoader>(o);
    registry = std::make_unique<Registry>(*loader, manifests);
    auto r = registry->reload("fuzz");
    if (!r.ok) {
      std::fprintf(stderr, "route fuzzer: cannot load the plugins: %s\n", r.error.c_str());
      std::abort();
    }
    core = std::make_unique<CoreServices>(*registry, 256);
    routes = std::make_unique<RouteContext>(RouteContext{*core, metrics});
    HttpOptions http;
    http.max_body_bytes = 1u << 20;
    server = std::make_unique<HttpServer>(http, metrics);
    install_routes(*server, *routes);
    reset();
  }

  // Back to the starting state: only "workers", as seeded; no stored keys, no playbooks. The
  // collections are rebuilt only when they changed (that costs ~25 ms; keys cost nothing).
  void reset() {
    auto gen = registry->current();
    auto storage = gen->storage();
    for (const auto& [key, value] : storage.kv_list("")) storage.kv_delete(key);
    core->storage_key_changed("");
    const auto colls = gen->collections();
    if (colls.size() == 1 && colls[0]->name() == "workers" &&
        colls[0]->revision() == workers_revision)
      return;
    const auto none = [](const std::string&) { return std::optional<std::string>(); };
    for (const auto& c : colls)
      server->dispatch("DELETE", "/v1/collections/" + c->name(), "", none);
    core->documents.load_jsonl("workers", demo);
    workers_revision = registry->current()->collection("workers")->revision();
  }
  uint64_t workers_revision = 0;
};

// The query string of a request line, for HttpRequest::query.
std::map<std::string, std::string> parse_query(const std::string& q) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < q.size()) {
    size_t end = q.find('&', at);
    if (end == std::string::npos) end = q.size();
    const std::string pair = q.substr(at, end - at);
    const size_t eq = pair.find('=');
    out[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
    at = end + 1;
  }
  return out;
}

void check_answer(const HttpResponse& r) {
  if (r.status == 500) std::fprintf(stderr, "500: %s\n", r.body.c_str());
  LAKEHOST_FUZZ_CHECK(r.status >= 200 && r.status < 600 && r.status != 500);
  if (r.content_type.rfind("application/json", 0) == 0 && !r.body.empty()) {
    rapidjson::Document d;
    const auto err = json::parse(r.body, d);
    if (err) std::fprintf(stderr, "not JSON (%s): %s\n", err->c_str(), r.body.c_str());
    LAKEHOST_FUZZ_CHECK(!err);
  }
}

bool writes(const std::string& method, const std::string& path) {
  return method == "PUT" || method == "DELETE" || path.find("/documents") != std::string::npos ||
         path.find("/playbooks") != std::string::npos || path.find("/reload") != std::string::npos;
}

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

// Loads the plugins before libFuzzer counts the instrumented modules, so their coverage
// counters are registered from the start (the replay main calls only the function below).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  fuzz::Input in(data, size);
  if (in.empty()) return 0;
  std::string method, path;
  if (data[0] < 0x20) {
    const auto& route = kRoutes[in.byte() % std::size(kRoutes)];
    method = route.first;
    path = route.second;
  } else {
    const std::string line = in.until('\n');
    const size_t space = line.find(' ');
    if (space == std::string::npos) return 0;
    method = line.substr(0, space);
    path = line.substr(space + 1);
  }
  const std::string body = in.rest();
  std::map<std::string, std::string> query;
  if (const size_t qm = path.find('?'); qm != std::string::npos) {
    query = parse_query(path.substr(qm + 1));
    path.resize(qm);
  }
  auto q = [&](const std::string& k) -> std::optional<std::string> {
    auto it = query.find(k);
    return it == query.end() ? std::nullopt : std::optional<std::string>(it->second);
  };

  HttpResponse r = f.server->dispatch(method, path, body, q);
  // What the server's worker pool does with a deferred or streamed answer.
  try {
    if (r.stream) {
      std::string sent;
      HttpResponse last = r.stream([&](std::string_view chunk) {
        sent += chunk;
        return true;
      });
      if (sent.empty()) check_answer(last);
    } else if (r.deferred) {
      check_answer(r.deferred());
    } else {
      check_answer(r);
    }
  } catch (const HostError&) {
    // answered with its envelope by the server
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deferred answer threw (a 500): %s\n", e.what());
    std::abort();
  }
  if (writes(method, path) && r.status >= 200 && r.status < 300) f.reset();
  return 0;
}
