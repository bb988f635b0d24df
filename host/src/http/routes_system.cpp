// System routes: liveness (/health), readiness (/ready), Prometheus metrics (/metrics), the
// loaded plugins (/v1/plugins) and reloading them (/v1/admin/reload).
#include <chrono>
#include <map>

#include "common/cpu_kernels.h"
#include "common/prometheus.h"
#include "core/readiness.h"
#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {
namespace {

void write_plugin(json::Writer& w, const PluginInstance& p, bool is_default) {
  const auto& d = p.library().descriptor();
  w.StartObject();
  json::key(w, "id");
  json::put(w, p.id());
  json::key(w, "kind");
  json::put(w, kind_name(p.kind()));
  json::key(w, "name");
  json::put(w, d.name);
  json::key(w, "version");
  json::put(w, d.version);
  json::key(w, "abi");
  json::put(w, p.library().abi());
  json::key(w, "library");
  json::put(w, p.library().path().string());
  json::key(w, "sha256");
  json::put(w, p.library().sha256());
  json::key(w, "manifest");
  json::put(w, p.manifest().file.string());
  json::key(w, "default");
  w.Bool(is_default);
  json::key(w, "description");
  json::put(w, d.description ? d.description : "");
  json::key(w, "build_info");
  json::put(w, d.build_info ? d.build_info : "");
  json::key(w, "config");
  json::raw(w, p.manifest().config_json);
  w.EndObject();
}

std::string plugins_json(const Generation& gen) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "generation");
  w.Uint64(gen.number());
  // The SIMD level every distance is computed with (the same bits at any level; only the speed
  // differs), and the CPU, so a report can name both.
  const auto& ki = kernel_info();
  json::key(w, "vector_kernel");
  w.StartObject();
  json::key(w, "kernel");
  json::put(w, ki.kernel);
  json::key(w, "detected");
  json::put(w, ki.detected);
  json::key(w, "cpu");
  json::put(w, ki.cpu_model);
  w.EndObject();
  json::key(w, "plugins");
  w.StartArray();
  for (auto& p : gen.plugins()) write_plugin(w, *p, gen.default_of(p->kind()) == p);
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

// Liveness: local and instant. Plugin health is probed in the background and reported by
// GET /ready, so a slow or dead upstream can neither stall this route nor fail it.
HttpResponse health(RouteContext& ctx, const HttpRequest&) {
  auto gen = ctx.core.registry.current();
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "status");
  json::put(w, "ok");
  json::key(w, "generation");
  w.Uint64(gen ? gen->number() : 0);
  w.EndObject();
  return ok_json(buf);
}

// Readiness from the prober's last results (never a plugin call). 503 only when a route group
// every client needs (search: storage, embedder, vector backend, scorer) or one the caller
// requires (?require=chat) cannot be served; another failing dependency is 200 "degraded".
HttpResponse ready(RouteContext& ctx, const HttpRequest& req) {
  if (!ctx.readiness)
    throw HostError(Errc::unavailable, "readiness_unavailable",
                    "no background health prober runs in this host");
  bool need_chat = false;
  if (auto require = req.query("require")) {
    size_t at = 0;
    while (at <= require->size()) {
      size_t end = std::min(require->find(',', at), require->size());
      const std::string group = require->substr(at, end - at);
      if (group == "chat")
        need_chat = true;
      else if (group != "search" && !group.empty())
        throw unprocessable(
            "require: unknown route group " +
            (json::is_clean_text(group) ? "\"" + group + "\"" : "(not UTF-8 text)") +
            " (known: search, chat)");
      at = end + 1;
    }
  }
  const auto r = ctx.readiness->report();
  const bool ok = r.search && (!need_chat || r.chat);
  const auto now_steady = std::chrono::steady_clock::now();
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "status");
  json::put(w, !ok ? "not_ready" : r.degraded ? "degraded" : "ready");
  json::key(w, "generation");
  w.Uint64(r.generation);
  json::key(w, "routes");
  w.StartObject();
  json::key(w, "search");
  w.Bool(r.search);
  json::key(w, "chat");
  w.Bool(r.chat);
  w.EndObject();
  json::key(w, "required");
  w.StartArray();
  json::put(w, "search");
  if (need_chat) json::put(w, "chat");
  w.EndArray();
  json::key(w, "probe");
  w.StartObject();
  json::key(w, "interval_ms");
  w.Int64(ctx.readiness->options().interval.count());
  json::key(w, "timeout_ms");
  w.Int64(ctx.readiness->options().timeout.count());
  w.EndObject();
  json::key(w, "dependencies");
  w.StartArray();
  for (const auto& d : r.dependencies) {
    w.StartObject();
    json::key(w, "id");
    json::put(w, d.id);
    json::key(w, "kind");
    json::put(w, kind_name(d.kind));
    json::key(w, "default");
    w.Bool(d.is_default);
    json::key(w, "status");
    json::put(w, status_name(d.status));
    json::key(w, "message");
    json::put(w, d.message);
    json::key(w, "checked_at");
    d.checked_at ? json::put(w, iso8601_utc(*d.checked_at)) : (void)w.Null();
    json::key(w, "age_ms");
    if (d.checked_at)
      w.Int64(std::chrono::duration_cast<std::chrono::milliseconds>(now_steady - d.checked_steady)
                  .count());
    else
      w.Null();
    json::key(w, "latency_ms");
    if (d.checked_at)
      w.Double(std::chrono::duration<double, std::milli>(d.latency).count());
    else
      w.Null();
    json::key(w, "consecutive_failures");
    w.Uint64(d.consecutive_failures);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return ok_json(buf, ok ? 200 : 503);
}

HttpResponse reload(RouteContext& ctx, const HttpRequest&) {
  // The key file is re-read with the manifests; a broken one keeps the keys in force.
  ApiKeys::ReloadResult keys;
  if (ctx.api_keys) keys = ctx.api_keys->reload();
  auto outcome = ctx.core.registry.reload("api");
  if (!outcome.ok) {
    throw HostError(Errc::invalid_argument, "reload_failed",
                    outcome.error + " (generation " + std::to_string(outcome.generation) +
                        " keeps serving)" +
                        (keys.ok ? "" : "; and the API key file was refused: " + keys.error));
  }
  if (!keys.ok)
    throw HostError(Errc::invalid_argument, "api_keys_refused",
                    keys.error + " (the " + std::to_string(keys.keys) +
                        " keys in force stay; plugins reloaded: generation " +
                        std::to_string(outcome.generation) + ")");
  return {200, plugins_json(*ctx.core.registry.current()), "application/json"};
}

}  // namespace

void install_system_routes(HttpServer& s, RouteContext& ctx) {
  ctx.metrics.add_collector([&ctx](std::string& out) {
    prometheus::Text text(out);
    text.family("lakehost_embed_cache_hits_total", "counter", "Embeddings served from the cache.")
        .sample("lakehost_embed_cache_hits_total", uint64_t{ctx.core.cache.hits()})
        .family("lakehost_embed_cache_misses_total", "counter",
                "Embeddings the cache had to ask the embedder for.")
        .sample("lakehost_embed_cache_misses_total", uint64_t{ctx.core.cache.misses()})
        .family("lakehost_embed_cache_evictions_total", "counter",
                "Entries evicted from the embed cache.")
        .sample("lakehost_embed_cache_evictions_total", uint64_t{ctx.core.cache.evictions()})
        .family("lakehost_embed_cache_entries", "gauge", "Entries in the embed cache.")
        .sample("lakehost_embed_cache_entries", uint64_t{ctx.core.cache.size()});
    auto gen = ctx.core.registry.current();
    text.family("lakehost_generation", "gauge", "The plugin generation being served.")
        .sample("lakehost_generation", uint64_t{gen ? gen->number() : 0})
        .family("lakehost_reloads_total", "counter", "Reloads by result.")
        .sample("lakehost_reloads_total", {{"result", "ok"}},
                uint64_t{ctx.core.registry.reloads_ok()})
        .sample("lakehost_reloads_total", {{"result", "failed"}},
                uint64_t{ctx.core.registry.reloads_failed()});
    if (!gen) return;
    text.family("lakehost_plugins", "gauge", "Enabled plugin instances by kind.");
    std::map<std::string, int> kinds;
    for (auto& p : gen->plugins()) ++kinds[kind_name(p->kind())];
    for (auto& [k, n] : kinds) text.sample("lakehost_plugins", {{"kind", k}}, n);
    text.family("lakehost_collection_documents", "gauge", "Documents per collection.");
    for (auto& c : gen->collections())
      text.sample("lakehost_collection_documents", {{"collection", c->name()}},
                  uint64_t{c->size()});
  });
  s.route("GET", "/health", access::open, [&ctx](const HttpRequest& r) { return health(ctx, r); });
  s.route("GET", "/ready", access::open, [&ctx](const HttpRequest& r) { return ready(ctx, r); });
  s.route("GET", "/metrics", access::metrics, [&ctx](const HttpRequest&) {
    return HttpResponse{200, ctx.metrics.render(), "text/plain; version=0.0.4"};
  });
  s.route("GET", "/v1/plugins", access::admin_host, [&ctx](const HttpRequest&) {
    return HttpResponse{200, plugins_json(*ctx.core.registry.current()), "application/json"};
  });
  s.route("POST", "/v1/admin/reload", access::admin_host,
          [&ctx](const HttpRequest& r) { return reload(ctx, r); });
}

}  // namespace lakehost
