#include "http/api.h"

#include <spdlog/spdlog.h>

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/cpu_kernels.h"
#include "common/json.h"
#include "common/prometheus.h"
#include "core/readiness.h"
#include "http/openai_errors.h"
#include "http/request_json.h"

namespace lakehost {
namespace {

constexpr size_t kMaxTexts = 2048;
constexpr size_t kMaxK = 1000;
constexpr size_t kMaxIdBytes = 512;

using Value = rapidjson::Value;

size_t opt_k(const Value& obj, size_t def) {
  const Value* v = member(obj, "k");
  if (!v) return def;
  if (!v->IsNumber() || !(v->IsInt64() || v->IsUint64()))
    throw bad_request("/k must be an integer");
  if (v->IsInt64() && v->GetInt64() <= 0) throw unprocessable("/k must be at least 1");
  if (!v->IsUint64() || v->GetUint64() > kMaxK)
    throw unprocessable("/k must be at most " + std::to_string(kMaxK));
  return static_cast<size_t>(v->GetUint64());
}

void validate_collection_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 &&
                  std::all_of(name.begin(), name.end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '_' || c == '-';
                  });
  if (!ok)
    throw HostError(Errc::invalid_argument, "invalid_name",
                    "collection name \"" + name + "\" must match [A-Za-z0-9_-]{1,64}");
}

// Unit-normalises a client-given vector of the collection's dimension.
std::vector<float> client_vector(const Value& v, uint32_t dimension) {
  if (!v.IsArray()) throw bad_request("/vector must be an array of numbers");
  std::vector<float> out;
  out.reserve(v.Size());
  double norm = 0;
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    if (!v[i].IsNumber()) throw bad_request("/vector/" + std::to_string(i) + " must be a number");
    double x = v[i].GetDouble();
    if (!std::isfinite(static_cast<float>(x)))
      throw unprocessable("/vector/" + std::to_string(i) + " is out of the float range");
    out.push_back(static_cast<float>(x));
    norm += x * x;
  }
  if (out.size() != dimension)
    throw HostError(Errc::invalid_argument, "dimension_mismatch",
                    "/vector has " + std::to_string(out.size()) +
                        " numbers but the collection's dimension is " + std::to_string(dimension));
  if (norm <= 0) throw unprocessable("/vector must not be all zeros");
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (auto& x : out) x *= inv;
  return out;
}

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

void write_collection(json::Writer& w, const CollectionIndex& c) {
  w.StartObject();
  json::key(w, "name");
  json::put(w, c.name());
  json::key(w, "count");
  w.Uint64(c.size());
  json::key(w, "dimension");
  w.Uint(c.dimension());
  json::key(w, "embedder");
  json::put(w, c.embedder()->id());
  json::key(w, "vector_backend");
  json::put(w, c.vector_backend()->id());
  json::key(w, "scorer");
  c.settings().scorer ? json::put(w, *c.settings().scorer) : (void)w.Null();
  w.EndObject();
}

std::shared_ptr<CollectionIndex> require_collection(const Generation& gen,
                                                    const std::string& name) {
  auto c = gen.collection(name);
  if (!c)
    throw not_found("collection_not_found", json::is_clean_text(name)
                                                ? "no collection named \"" + name + "\""
                                                : std::string("no such collection (the name is not "
                                                              "valid UTF-8 text)"));
  return c;
}

// Rough token count for usage fields: whitespace-separated words.
uint64_t count_tokens(std::string_view s) {
  uint64_t n = 0;
  bool in = false;
  for (char c : s) {
    bool space = std::isspace(static_cast<unsigned char>(c));
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

}  // namespace

Api::Api(Registry& registry, Metrics& metrics, size_t embed_cache_entries)
    : registry_(registry), metrics_(metrics), cache_(embed_cache_entries), playbooks_(cache_) {
  metrics_.add_collector([this](std::string& out) {
    prometheus::Text text(out);
    text.family("lakehost_embed_cache_hits_total", "counter", "Embeddings served from the cache.")
        .sample("lakehost_embed_cache_hits_total", uint64_t{cache_.hits()})
        .family("lakehost_embed_cache_misses_total", "counter",
                "Embeddings the cache had to ask the embedder for.")
        .sample("lakehost_embed_cache_misses_total", uint64_t{cache_.misses()})
        .family("lakehost_embed_cache_evictions_total", "counter",
                "Entries evicted from the embed cache.")
        .sample("lakehost_embed_cache_evictions_total", uint64_t{cache_.evictions()})
        .family("lakehost_embed_cache_entries", "gauge", "Entries in the embed cache.")
        .sample("lakehost_embed_cache_entries", uint64_t{cache_.size()});
    auto gen = registry_.current();
    text.family("lakehost_generation", "gauge", "The plugin generation being served.")
        .sample("lakehost_generation", uint64_t{gen ? gen->number() : 0})
        .family("lakehost_reloads_total", "counter", "Reloads by result.")
        .sample("lakehost_reloads_total", {{"result", "ok"}}, uint64_t{registry_.reloads_ok()})
        .sample("lakehost_reloads_total", {{"result", "failed"}},
                uint64_t{registry_.reloads_failed()});
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
}

void Api::install(HttpServer& s) {
  auto bind = [this](HttpResponse (Api::*fn)(const HttpRequest&)) {
    return [this, fn](const HttpRequest& r) { return (this->*fn)(r); };
  };
  // Who may call what when API keys are configured (docs/operator-guide.md, "Security"). Routes
  // whose collection is in the body or the query check it in the handler (require_collection).
  const Access open = open_route();
  const Access read{Scope::read}, write{Scope::write};
  const Access read_openai{.scope = Scope::read, .openai_errors = true};
  const Access read_collection{.scope = Scope::read, .collection_param = 0};
  const Access write_collection{.scope = Scope::write, .collection_param = 0};
  const Access admin_collection{.scope = Scope::admin, .collection_param = 0};
  const Access admin_host{.scope = Scope::admin, .global = true};
  const Access read_storage{.scope = Scope::read, .global = true};
  const Access write_storage{.scope = Scope::write, .global = true};
  s.route("GET", "/health", open, bind(&Api::health));
  s.route("GET", "/ready", open, bind(&Api::ready));
  s.route("GET", "/metrics", Access{.global = true, .metrics = true}, [this](const HttpRequest&) {
    return HttpResponse{200, metrics_.render(), "text/plain; version=0.0.4"};
  });
  s.route("GET", "/v1/plugins", admin_host, bind(&Api::plugins));
  s.route("POST", "/v1/admin/reload", admin_host, bind(&Api::reload));
  s.route("POST", "/v1/embed", read, bind(&Api::embed));
  s.route("POST", "/v1/embeddings", read_openai, bind(&Api::embeddings));
  s.route("GET", "/v1/collections", read, bind(&Api::list_collections));
  s.route("PUT", "/v1/collections/{name}", admin_collection, bind(&Api::put_collection));
  s.route("GET", "/v1/collections/{name}", read_collection, bind(&Api::get_collection));
  s.route("DELETE", "/v1/collections/{name}", admin_collection, bind(&Api::delete_collection));
  s.route("POST", "/v1/collections/{name}/documents", write_collection,
          bind(&Api::upsert_documents));
  s.route("GET", "/v1/collections/{name}/documents/{id}", read_collection,
          bind(&Api::get_document));
  s.route("DELETE", "/v1/collections/{name}/documents/{id}", write_collection,
          bind(&Api::delete_document));
  s.route("POST", "/v1/collections/{name}/search", read_collection, bind(&Api::search_collection));
  s.route("POST", "/v1/matrix/search", read, bind(&Api::matrix_search));
  s.route("POST", "/v1/matrix/playbooks/record", write, bind(&Api::record_playbook));
  s.route("GET", "/v1/matrix/playbooks", read, bind(&Api::list_playbooks));
  s.route("DELETE", "/v1/matrix/playbooks/{id}", write, bind(&Api::delete_playbook));
  s.route("PUT", "/v1/storage/{key}", write_storage, bind(&Api::put_blob));
  s.route("GET", "/v1/storage/{key}", read_storage, bind(&Api::get_blob));
  s.route("DELETE", "/v1/storage/{key}", write_storage, bind(&Api::delete_blob));
  s.route("GET", "/v1/storage", read_storage, bind(&Api::list_blobs));
  s.route("POST", "/v1/chat", read, bind(&Api::chat));
  s.route("POST", "/v1/chat/completions", read_openai, bind(&Api::chat_completions));
  s.route("GET", "/v1/models", read_openai, bind(&Api::models));
}

// ---- health, plugins, reload ------------------------------------------------------------------

// Liveness: local and instant. Plugin health is probed in the background and reported by
// GET /ready, so a slow or dead upstream can neither stall this route nor fail it.
HttpResponse Api::health(const HttpRequest&) {
  auto gen = registry_.current();
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
HttpResponse Api::ready(const HttpRequest& req) {
  if (!readiness_)
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
  const auto r = readiness_->report();
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
  w.Int64(readiness_->options().interval.count());
  json::key(w, "timeout_ms");
  w.Int64(readiness_->options().timeout.count());
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

std::string Api::plugins_json(const Generation& gen) const {
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

HttpResponse Api::plugins(const HttpRequest&) {
  return {200, plugins_json(*registry_.current()), "application/json"};
}

HttpResponse Api::reload(const HttpRequest&) {
  // The key file is re-read with the manifests; a broken one keeps the keys in force.
  ApiKeys::ReloadResult keys;
  if (api_keys_) keys = api_keys_->reload();
  auto outcome = registry_.reload("api");
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
  return {200, plugins_json(*registry_.current()), "application/json"};
}

// ---- embeddings -------------------------------------------------------------------------------

HttpResponse Api::embed(const HttpRequest& req) {
  auto body = parse_body(req);
  auto gen = registry_.current();
  auto model = opt_string(body, "model");
  auto inst = gen->require(LH_KIND_EMBED_PROVIDER, model ? &*model : nullptr);
  const Value* texts = member(body, "texts");
  if (!texts) throw bad_request("/texts is required: an array of strings");
  if (!texts->IsArray()) throw bad_request("/texts must be an array of strings");
  if (texts->Empty()) throw unprocessable("/texts must not be empty");
  if (texts->Size() > kMaxTexts)
    throw unprocessable("/texts has " + std::to_string(texts->Size()) + " entries; at most " +
                        std::to_string(kMaxTexts) + " per request");
  std::vector<std::string_view> in;
  for (rapidjson::SizeType i = 0; i < texts->Size(); ++i) {
    const auto& t = (*texts)[i];
    if (!t.IsString()) throw bad_request("/texts/" + std::to_string(i) + " must be a string");
    in.emplace_back(t.GetString(), t.GetStringLength());
  }
  const uint32_t dim = embed::dimension(*inst);
  auto vectors = cache_.embed(*inst, in);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "model");
  json::put(w, inst->id());
  json::key(w, "dimension");
  w.Uint(dim);
  json::key(w, "vectors");
  w.StartArray();
  for (size_t i = 0; i < in.size(); ++i) {
    w.StartArray();
    for (uint32_t j = 0; j < dim; ++j) w.Double(vectors[i * dim + j]);
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  return ok_json(buf);
}

namespace {

// OpenAI's base64 embedding: the vector's float32 values as little-endian bytes, base64-encoded
// (what OpenAI's clients decode when they ask for encoding_format "base64").
std::string base64_float32(const float* v, size_t n) {
  std::vector<unsigned char> bytes(n * sizeof(float));
  std::memcpy(bytes.data(), v, bytes.size());
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i < bytes.size(); i += sizeof(float))
      std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                   bytes.begin() + static_cast<std::ptrdiff_t>(i + sizeof(float)));
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + EVP_EncodeBlock's NUL
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                  static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(len));
  return out;
}

}  // namespace

// Errors in OpenAI's shape (openai_errors.h), which OpenAI's clients read.
HttpResponse Api::embeddings(const HttpRequest& req) {
  return openai::with_openai_errors([&]() -> HttpResponse {
    auto body = parse_body(req);
    auto gen = registry_.current();
    auto model = opt_string(body, "model");
    // OpenAI clients always send a model name: use it when it names an embedder, otherwise 404
    // naming the ones there are.
    InstancePtr inst;
    if (model && gen->find(*model, LH_KIND_EMBED_PROVIDER)) {
      inst = gen->find(*model, LH_KIND_EMBED_PROVIDER);
    } else if (model) {
      std::string ids;
      for (auto& p : gen->plugins())
        if (p->kind() == LH_KIND_EMBED_PROVIDER) ids += (ids.empty() ? "" : ", ") + p->id();
      throw HostError(Errc::not_found, "model_not_found",
                      "/model \"" + (json::is_clean_text(*model) ? *model : std::string("?")) +
                          "\" is not an enabled embedder (enabled: " + ids + ")");
    } else {
      inst = gen->require(LH_KIND_EMBED_PROVIDER, nullptr);
    }
    const Value* input = member(body, "input");
    if (!input) throw bad_request("/input is required: a string or an array of strings");
    // OpenAI also takes token ids (an array of integers, or an array of such arrays); they only
    // mean something to OpenAI's own tokenizer, so they are refused by name.
    const auto refuse_tokens = [](const std::string& at) {
      return HostError(
          Errc::bad_request, "invalid_value",
          at + " is a token array: lakehost embeds text only; send the text as a string");
    };
    std::vector<std::string_view> in;
    if (input->IsString()) {
      in.emplace_back(input->GetString(), input->GetStringLength());
    } else if (input->IsArray()) {
      if (input->Empty()) throw unprocessable("/input must not be empty");
      if (input->Size() > kMaxTexts)
        throw unprocessable("/input has more than " + std::to_string(kMaxTexts) + " entries");
      for (rapidjson::SizeType i = 0; i < input->Size(); ++i) {
        const Value& t = (*input)[i];
        const auto numbers = [](const Value& a) {
          return std::all_of(a.Begin(), a.End(), [](const Value& x) { return x.IsNumber(); });
        };
        if (t.IsNumber() && numbers(*input)) throw refuse_tokens("/input");
        if (t.IsArray() && numbers(t)) throw refuse_tokens("/input/" + std::to_string(i));
        if (!t.IsString()) throw bad_request("/input/" + std::to_string(i) + " must be a string");
        in.emplace_back(t.GetString(), t.GetStringLength());
      }
    } else {
      throw bad_request("/input must be a string or an array of strings");
    }
    bool base64 = false;  // OpenAI's default is "float"; its clients ask for "base64" themselves
    if (auto format = opt_string(body, "encoding_format")) {
      if (*format == "base64")
        base64 = true;
      else if (*format != "float")
        throw HostError(
            Errc::bad_request, "invalid_value",
            "/encoding_format must be \"float\" or \"base64\"" +
                (json::is_clean_text(*format) ? ", not \"" + *format + "\"" : std::string()));
    }
    const uint32_t dim = embed::dimension(*inst);
    // `dimensions` asks OpenAI's text-embedding-3 models for shortened vectors. lakehost's
    // embedders are not trained for truncation (a feature-hashing or word-vector embedding cut
    // short loses arbitrary features), so only the embedder's own dimension is accepted.
    if (const Value* d = member(body, "dimensions")) {
      if (!d->IsUint64() || d->GetUint64() == 0)
        throw bad_request("/dimensions must be a positive integer");
      if (d->GetUint64() != dim)
        throw HostError(Errc::bad_request, "invalid_value",
                        "/dimensions " + std::to_string(d->GetUint64()) + " is not supported: \"" +
                            inst->id() + "\" produces " + std::to_string(dim) +
                            "-dimensional vectors only; omit dimensions or send " +
                            std::to_string(dim));
    }
    auto vectors = cache_.embed(*inst, in);
    uint64_t tokens = 0;
    for (auto t : in) tokens += count_tokens(t);
    rapidjson::StringBuffer buf;
    json::Writer w(buf);
    w.StartObject();
    json::key(w, "object");
    json::put(w, "list");
    json::key(w, "data");
    w.StartArray();
    for (size_t i = 0; i < in.size(); ++i) {
      w.StartObject();
      json::key(w, "object");
      json::put(w, "embedding");
      json::key(w, "index");
      w.Uint64(i);
      json::key(w, "embedding");
      if (base64) {
        json::put(w, base64_float32(&vectors[i * dim], dim));
      } else {
        w.StartArray();
        for (uint32_t j = 0; j < dim; ++j) w.Double(vectors[i * dim + j]);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
    json::key(w, "model");
    json::put(w, inst->id());
    json::key(w, "usage");
    w.StartObject();
    json::key(w, "prompt_tokens");
    w.Uint64(tokens);
    json::key(w, "total_tokens");
    w.Uint64(tokens);
    w.EndObject();
    w.EndObject();
    return ok_json(buf);
  });
}

// ---- collections ------------------------------------------------------------------------------

HttpResponse Api::list_collections(const HttpRequest& req) {
  auto gen = registry_.current();
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "collections");
  w.StartArray();
  // A key limited to some collections sees only those.
  for (auto& c : gen->collections())
    if (req.may_touch(c->name())) write_collection(w, *c);
  w.EndArray();
  w.EndObject();
  return ok_json(buf);
}

HttpResponse Api::put_collection(const HttpRequest& req) {
  const std::string& name = req.params[0];
  validate_collection_name(name);
  auto body = parse_body(req, /*allow_empty=*/true);
  auto embedder_id = opt_string(body, "embedder");
  auto backend_id = opt_string(body, "vector_backend");
  auto scorer_id = opt_string(body, "scorer");

  WriteScope write(registry_);
  auto gen = registry_.current();
  auto check = [&](const std::optional<std::string>& id, lh_plugin_kind kind, const char* field) {
    if (id && !gen->find(*id, kind))
      throw HostError(Errc::invalid_argument, "unknown_plugin",
                      std::string("/") + field + ": no enabled " + kind_name(kind) + " with id \"" +
                          *id + "\"");
    if (!id && !gen->default_of(kind))
      throw HostError(Errc::unavailable, std::string("no_") + kind_name(kind),
                      std::string("no ") + kind_name(kind) + " plugin is enabled");
  };
  check(embedder_id, LH_KIND_EMBED_PROVIDER, "embedder");
  check(backend_id, LH_KIND_VECTOR_BACKEND, "vector_backend");
  if (scorer_id && !gen->find(*scorer_id, LH_KIND_RETRIEVAL_SCORER))
    throw HostError(Errc::invalid_argument, "unknown_plugin",
                    "/scorer: no enabled retrieval_scorer with id \"" + *scorer_id + "\"");
  auto storage = gen->storage();

  int status = 201;
  if (auto existing = gen->collection(name)) {
    // Compare with what the collection really uses (a default resolves to an id).
    const auto& s = existing->settings();
    auto scorer_now = [&] {
      auto d = gen->default_of(LH_KIND_RETRIEVAL_SCORER);
      return s.scorer ? *s.scorer : d ? d->id() : std::string();
    };
    if ((embedder_id && *embedder_id != existing->embedder()->id()) ||
        (backend_id && *backend_id != existing->vector_backend()->id()) ||
        (scorer_id && *scorer_id != scorer_now()))
      throw conflict("collection \"" + name + "\" exists with embedder \"" +
                     existing->embedder()->id() + "\", vector backend \"" +
                     existing->vector_backend()->id() + "\" and scorer \"" +
                     s.scorer.value_or("(default)") + "\"; delete it to change them");
    status = 200;
  } else {
    CollectionSettings settings;
    settings.embedder = embedder_id;
    settings.vector_backend = backend_id;
    settings.scorer = scorer_id;
    // Build the (empty) index first so the stored settings carry the real fingerprint.
    auto coll = Registry::build_collection(*gen, nullptr, name, settings, nullptr);
    LocalWrites::Scope journal(registry_.local_writes(), name, {}, /*whole=*/true);
    storage.collection_put(name, coll->settings().to_json());
    gen->put_collection(coll);
  }
  auto coll = gen->collection(name);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  write_collection(w, *coll);
  return ok_json(buf, status);
}

HttpResponse Api::get_collection(const HttpRequest& req) {
  auto coll = require_collection(*registry_.current(), req.params[0]);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  write_collection(w, *coll);
  return ok_json(buf);
}

HttpResponse Api::delete_collection(const HttpRequest& req) {
  const std::string& name = req.params[0];
  WriteScope write(registry_);
  auto gen = registry_.current();
  require_collection(*gen, name);
  auto storage = gen->storage();
  LocalWrites::Scope journal(registry_.local_writes(), name, {}, /*whole=*/true);
  storage.collection_delete(name);
  playbooks_.drop_collection(storage, name);
  gen->drop_collection(name);
  return {204, "", "application/json"};
}

// ---- documents --------------------------------------------------------------------------------

void Api::upsert(const std::string& collection, std::vector<DocumentRecord> docs) {
  // Embed outside the write gate (an upstream embedder may be slow); redo it under the gate
  // only if a reload replaced the collection's embedder meanwhile.
  InstancePtr embedded_with;
  auto embed_all = [&](const InstancePtr& embedder) {
    embed::documents(*embedder, docs);
    embedded_with = embedder;
  };
  embed_all(require_collection(*registry_.current(), collection)->embedder());

  WriteScope write(registry_);
  auto gen = registry_.current();
  auto coll = require_collection(*gen, collection);
  if (coll->embedder() != embedded_with) embed_all(coll->embedder());
  auto storage = gen->storage();
  // Until the index has the batch, the change follower must not replace these ids with an
  // older read of storage (read-your-writes).
  std::vector<std::string> ids;
  for (const auto& d : docs) ids.push_back(d.id);
  LocalWrites::Scope journal(registry_.local_writes(), collection, std::move(ids));
  storage.documents_upsert(collection, docs);  // all or nothing
  try {
    coll->upsert(docs);
  } catch (const std::exception& e) {
    // Storage has the batch; make the index agree with storage again.
    spdlog::error("index update of \"{}\" failed ({}); rebuilding it from storage", collection,
                  e.what());
    gen->put_collection(
        Registry::build_collection(*gen, &storage, collection, coll->settings(), nullptr));
  }
}

HttpResponse Api::upsert_documents(const HttpRequest& req) {
  const std::string& name = req.params[0];
  auto body = parse_body(req);
  require_collection(*registry_.current(), name);
  const Value* list = member(body, "documents");
  if (!list) throw bad_request("/documents is required: an array of documents");
  if (!list->IsArray()) throw bad_request("/documents must be an array");
  if (list->Empty()) throw unprocessable("/documents must not be empty");
  std::vector<DocumentRecord> docs;
  std::set<std::string> seen;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const std::string at = "/documents/" + std::to_string(i);
    const Value& d = (*list)[i];
    if (!d.IsObject()) throw bad_request(at + " must be an object");
    const Value* id = member(d, "id");
    const Value* text = member(d, "text");
    const Value* meta = member(d, "metadata");
    if (!id || !id->IsString()) throw bad_request(at + "/id is required and must be a string");
    if (!text || !text->IsString())
      throw bad_request(at + "/text is required and must be a string");
    if (meta && !meta->IsObject()) throw bad_request(at + "/metadata must be an object");
    DocumentRecord r;
    r.id.assign(id->GetString(), id->GetStringLength());
    if (r.id.empty() || r.id.size() > kMaxIdBytes)
      throw unprocessable(at + "/id must be 1 to " + std::to_string(kMaxIdBytes) + " bytes");
    if (!seen.insert(r.id).second)
      throw unprocessable(at + "/id \"" + r.id + "\" appears twice in this batch");
    if (!json::is_clean_text(r.id)) throw unprocessable(at + "/id must not contain NUL");
    r.text.assign(text->GetString(), text->GetStringLength());
    if (r.text.find('\0') != std::string::npos)
      throw unprocessable(at + "/text must not contain NUL (\\u0000)");
    r.metadata_json = meta ? json::to_string(*meta) : "{}";
    docs.push_back(std::move(r));
  }
  const size_t n = docs.size();
  upsert(name, std::move(docs));
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "upserted");
  w.Uint64(n);
  w.EndObject();
  return ok_json(buf);
}

namespace {
// A path id that is not clean text cannot name a stored document (and must not be echoed).
void require_clean_id(const std::string& id) {
  if (!json::is_clean_text(id))
    throw not_found("document_not_found", "no such document (the id is not valid UTF-8 text)");
}
}  // namespace

HttpResponse Api::get_document(const HttpRequest& req) {
  auto gen = registry_.current();
  require_collection(*gen, req.params[0]);
  require_clean_id(req.params[1]);
  auto doc = gen->storage().document_get(req.params[0], req.params[1]);
  if (!doc)
    throw not_found("document_not_found", "no document \"" + req.params[1] + "\" in collection \"" +
                                              req.params[0] + "\"");
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "id");
  json::put(w, doc->id);
  json::key(w, "text");
  json::put(w, doc->text);
  json::key(w, "metadata");
  json::raw(w, doc->metadata_json);
  w.EndObject();
  return ok_json(buf);
}

HttpResponse Api::delete_document(const HttpRequest& req) {
  WriteScope write(registry_);
  auto gen = registry_.current();
  auto coll = require_collection(*gen, req.params[0]);
  require_clean_id(req.params[1]);
  LocalWrites::Scope journal(registry_.local_writes(), req.params[0], {req.params[1]});
  if (!gen->storage().document_delete(req.params[0], req.params[1]))
    throw not_found("document_not_found", "no document \"" + req.params[1] + "\" in collection \"" +
                                              req.params[0] + "\"");
  coll->remove(req.params[1]);
  return {204, "", "application/json"};
}

// ---- search -----------------------------------------------------------------------------------

namespace {
struct ScoreContext {
  const CollectionIndex* coll;
};
lh_status document_vector(void* ctx, lh_str id, float* out) {
  auto* c = static_cast<ScoreContext*>(ctx);
  return c->coll->vector(std::string(from_lh(id)), out) ? LH_OK : LH_ERR_NOT_FOUND;
}
lh_status document_text(void* ctx, lh_str id, void (*sink)(void*, lh_str), void* sink_ctx) {
  auto* c = static_cast<ScoreContext*>(ctx);
  std::string text, meta;
  if (!c->coll->text_and_metadata(std::string(from_lh(id)), text, meta)) return LH_ERR_NOT_FOUND;
  sink(sink_ctx, to_lh(text));
  return LH_OK;
}
lh_status document_metadata(void* ctx, lh_str id, void (*sink)(void*, lh_str), void* sink_ctx) {
  auto* c = static_cast<ScoreContext*>(ctx);
  std::string text, meta;
  if (!c->coll->text_and_metadata(std::string(from_lh(id)), text, meta)) return LH_ERR_NOT_FOUND;
  sink(sink_ctx, to_lh(meta.empty() ? std::string_view("{}") : std::string_view(meta)));
  return LH_OK;
}
lh_status documents_scan(void* ctx, void (*sink)(void*, lh_str, lh_str), void* sink_ctx) {
  auto* c = static_cast<ScoreContext*>(ctx);
  c->coll->for_each_text([&](const std::string& id, const std::string& text) {
    sink(sink_ctx, to_lh(id), to_lh(text));
  });
  return LH_OK;
}
}  // namespace

std::vector<ScoredResult> Api::search(const Generation& gen, const CollectionIndex& coll,
                                      const std::vector<float>& query_vector,
                                      const std::string& query_text, const std::string& role,
                                      size_t k, const rapidjson::Value* filter,
                                      const std::string* scorer_id) {
  // The scorer: the request's, else the collection's, else the default.
  const std::string* chosen = scorer_id                ? scorer_id
                              : coll.settings().scorer ? &*coll.settings().scorer
                                                       : nullptr;
  const Scorer scorer(gen.require(LH_KIND_RETRIEVAL_SCORER, chosen));
  auto hits = coll.search(query_vector.data(), k * scorer.overfetch(), filter);
  std::vector<lh_candidate> candidates;
  candidates.reserve(hits.size());
  for (const auto& h : hits) candidates.push_back({to_lh(h.id), h.distance});

  // Role gate: only records made under this search's role reach the scorer.
  std::vector<PlaybookMatch> matches;
  if (!role.empty()) {
    auto storage = gen.storage();
    matches = playbooks_.for_role(storage, coll.name(), role, *coll.embedder());
  }
  std::vector<lh_feedback> feedback;
  feedback.reserve(matches.size());
  for (const auto& m : matches) {
    if (m.query_vector->size() != query_vector.size()) continue;
    feedback.push_back({to_lh(m.record->query), m.query_vector->data(), to_lh(m.record->role),
                        to_lh(m.record->doc_id), m.record->score});
  }

  ScoreContext ctx{&coll};
  lh_score_services services{sizeof(lh_score_services), &ctx,
                             &document_vector,          &document_text,
                             coll.revision(),           &documents_scan,
                             &document_metadata};
  lh_score_request request{};
  request.struct_size = sizeof(lh_score_request);
  request.collection = to_lh(coll.name());
  request.query = to_lh(query_text);
  request.role = to_lh(role);
  request.query_vector = query_vector.data();
  request.dimension = static_cast<uint32_t>(query_vector.size());
  request.k = static_cast<uint32_t>(k);
  request.candidates = candidates.data();
  request.n_candidates = candidates.size();
  request.feedback = feedback.data();
  request.n_feedback = feedback.size();
  request.services = &services;

  std::unordered_map<std::string, ScoredResult> emitted;
  scorer.score(request, [&](std::string_view id, float distance, uint32_t flags) {
    std::string key(id);
    auto it = emitted.find(key);
    if (it == emitted.end() || distance < it->second.distance)
      emitted[key] = {key, distance, flags};
  });

  std::vector<ScoredResult> out;
  std::set<std::string> candidate_ids;
  for (const auto& h : hits) candidate_ids.insert(h.id);
  for (auto& [id, r] : emitted) {
    // A scorer may only add documents that exist and pass the client's filter.
    if (!candidate_ids.count(id) && !coll.matches(id, filter)) continue;
    if (!std::isfinite(r.distance)) continue;
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const ScoredResult& a, const ScoredResult& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<float> Api::query_vector(const CollectionIndex& coll, const std::string* query,
                                     const Value* vector) {
  if (query) return cache_.embed(*coll.embedder(), {std::string_view(*query)});
  return client_vector(*vector, coll.dimension());
}

namespace {
// Writes the results array; with_flags adds boosted/injected (matrix search).
std::pair<size_t, size_t> write_results(json::Writer& w, const CollectionIndex& coll,
                                        const std::vector<ScoredResult>& results, bool with_flags) {
  size_t boosted = 0, injected = 0;
  json::key(w, "results");
  w.StartArray();
  std::string text, meta;
  for (const auto& r : results) {
    if (!coll.text_and_metadata(r.id, text, meta)) continue;  // deleted meanwhile
    const bool is_injected = r.flags & LH_RESULT_INJECTED;
    const bool is_boosted = !is_injected && (r.flags & LH_RESULT_BOOSTED);
    boosted += is_boosted;
    injected += is_injected;
    w.StartObject();
    json::key(w, "id");
    json::put(w, r.id);
    json::key(w, "distance");
    w.Double(r.distance);
    if (with_flags) {
      json::key(w, "boosted");
      w.Bool(is_boosted);
      json::key(w, "injected");
      w.Bool(is_injected);
    }
    json::key(w, "text");
    json::put(w, text);
    json::key(w, "metadata");
    json::raw(w, meta);
    w.EndObject();
  }
  w.EndArray();
  return {boosted, injected};
}
}  // namespace

HttpResponse Api::search_collection(const HttpRequest& req) {
  auto body = parse_body(req);
  auto gen = registry_.current();
  auto coll = require_collection(*gen, req.params[0]);
  const size_t k = opt_k(body, 10);
  auto query = opt_string(body, "query");
  const Value* vector = member(body, "vector");
  if (query && vector) throw unprocessable("give either /query or /vector, not both");
  if (!query && !vector) throw bad_request("/query (a string) or /vector (numbers) is required");
  const Value* filter = member(body, "filter");
  if (filter && !filter->IsObject()) throw bad_request("/filter must be an object");
  auto scorer_id = opt_string(body, "scorer");
  auto role = opt_string(body, "role");

  auto qv = query_vector(*coll, query ? &*query : nullptr, vector);
  auto results = search(*gen, *coll, qv, query.value_or(""), role.value_or(""), k, filter,
                        scorer_id ? &*scorer_id : nullptr);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  write_results(w, *coll, results, /*with_flags=*/false);
  w.EndObject();
  return ok_json(buf);
}

// ---- matrix search and playbooks --------------------------------------------------------------

namespace {
constexpr const char* kDefaultCollection = "workers";

std::string collection_field(const Value& body) {
  return opt_string(body, "collection").value_or(kDefaultCollection);
}
}  // namespace

HttpResponse Api::matrix_search(const HttpRequest& req) {
  auto body = parse_body(req);
  auto gen = registry_.current();
  const std::string collection = collection_field(body);
  req.require_collection(collection);
  auto coll = require_collection(*gen, collection);
  const size_t k = opt_k(body, 10);
  auto query = opt_string(body, "query");
  if (!query) throw bad_request("/query is required: a string");
  if (query->empty()) throw unprocessable("/query must not be empty");
  auto role = opt_string(body, "role").value_or("");
  const Value* filter = member(body, "filter");
  if (filter && !filter->IsObject()) throw bad_request("/filter must be an object");
  auto scorer_id = opt_string(body, "scorer");

  auto qv = query_vector(*coll, &*query, nullptr);
  auto results =
      search(*gen, *coll, qv, *query, role, k, filter, scorer_id ? &*scorer_id : nullptr);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  auto [boosted, injected] = write_results(w, *coll, results, /*with_flags=*/true);
  json::key(w, "boosted");
  w.Uint64(boosted);
  json::key(w, "injected");
  w.Uint64(injected);
  w.EndObject();
  return ok_json(buf);
}

HttpResponse Api::record_playbook(const HttpRequest& req) {
  auto body = parse_body(req);
  Playbook p;
  p.collection = collection_field(body);
  req.require_collection(p.collection);
  auto query = opt_string(body, "query");
  auto role = opt_string(body, "role");
  auto id = opt_string(body, "id");
  if (!query) throw bad_request("/query is required: a string");
  if (!role) throw bad_request("/role is required: a string");
  if (!id) throw bad_request("/id is required: the document id");
  if (query->empty()) throw unprocessable("/query must not be empty");
  if (role->empty()) throw unprocessable("/role must not be empty");
  const Value* score = member(body, "score");
  if (!score) throw bad_request("/score is required: a number in [0, 1]");
  if (!score->IsNumber()) throw bad_request("/score must be a number");
  const double s = score->GetDouble();
  if (!(s >= 0.0 && s <= 1.0)) throw unprocessable("/score must be in [0, 1]");
  p.query = *query;
  p.role = *role;
  p.doc_id = *id;
  p.score = static_cast<float>(s);

  WriteScope write(registry_);
  auto gen = registry_.current();
  auto coll = require_collection(*gen, p.collection);
  std::string text, meta;
  if (!coll->text_and_metadata(p.doc_id, text, meta))
    throw not_found("document_not_found",
                    "/id: no document \"" + p.doc_id + "\" in collection \"" + p.collection + "\"");
  auto storage = gen->storage();
  p = playbooks_.record(storage, std::move(p));
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "recorded");
  w.Bool(true);
  json::key(w, "playbook_id");
  json::put(w, p.playbook_id);
  w.EndObject();
  return ok_json(buf, 201);
}

HttpResponse Api::list_playbooks(const HttpRequest& req) {
  auto gen = registry_.current();
  const std::string collection = req.query("collection").value_or(kDefaultCollection);
  req.require_collection(collection);
  require_collection(*gen, collection);
  auto role = req.query("role");
  auto storage = gen->storage();
  auto records = playbooks_.list(storage, collection, role ? &*role : nullptr);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "playbooks");
  w.StartArray();
  for (const auto& p : records) json::raw(w, p.to_json());
  w.EndArray();
  w.EndObject();
  return ok_json(buf);
}

HttpResponse Api::delete_playbook(const HttpRequest& req) {
  const std::string collection = req.query("collection").value_or(kDefaultCollection);
  req.require_collection(collection);
  WriteScope write(registry_);
  auto gen = registry_.current();
  require_collection(*gen, collection);
  auto storage = gen->storage();
  if (!json::is_clean_text(req.params[0]))
    throw not_found("playbook_not_found", "no such playbook (the id is not valid UTF-8 text)");
  if (!playbooks_.remove(storage, collection, req.params[0]))
    throw not_found("playbook_not_found",
                    "no playbook \"" + req.params[0] + "\" in collection \"" + collection + "\"");
  return {204, "", "application/json"};
}

// ---- key/value storage ------------------------------------------------------------------------

namespace {
// Client keys live under their own prefix in the storage backend's key/value space, so no client
// can read or overwrite the host's records (playbooks/...).
constexpr std::string_view kBlobPrefix = "blobs/";
constexpr size_t kMaxKeyBytes = 512;

std::string blob_key(const std::string& key) {
  if (key.empty() || key.size() > kMaxKeyBytes)
    throw unprocessable("the key must be 1 to " + std::to_string(kMaxKeyBytes) + " bytes");
  if (!json::is_clean_text(key)) throw unprocessable("the key must be valid UTF-8 without NUL");
  return std::string(kBlobPrefix) + key;
}

void write_blob_info(json::Writer& w, std::string_view key, size_t size) {
  w.StartObject();
  json::key(w, "key");
  json::put(w, key);
  json::key(w, "size");
  w.Uint64(size);
  w.EndObject();
}
}  // namespace

HttpResponse Api::put_blob(const HttpRequest& req) {
  const std::string key = blob_key(req.params[0]);
  WriteScope write(registry_);
  auto storage = registry_.current()->storage();
  const bool existed = storage.kv_get(key).has_value();
  storage.kv_put(key, *req.body);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  write_blob_info(w, req.params[0], req.body->size());
  return ok_json(buf, existed ? 200 : 201);
}

HttpResponse Api::get_blob(const HttpRequest& req) {
  auto value = registry_.current()->storage().kv_get(blob_key(req.params[0]));
  if (!value) throw not_found("key_not_found", "no stored value under \"" + req.params[0] + "\"");
  return {200, std::move(*value), "application/octet-stream"};
}

HttpResponse Api::delete_blob(const HttpRequest& req) {
  const std::string key = blob_key(req.params[0]);
  WriteScope write(registry_);
  if (!registry_.current()->storage().kv_delete(key))
    throw not_found("key_not_found", "no stored value under \"" + req.params[0] + "\"");
  return {204, "", "application/json"};
}

HttpResponse Api::list_blobs(const HttpRequest& req) {
  const std::string prefix = req.query("prefix").value_or("");
  size_t limit = 1000;
  if (auto l = req.query("limit")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || v < 1 || v > 10000)
      throw unprocessable("limit must be an integer from 1 to 10000");
    limit = static_cast<size_t>(v);
  }
  auto entries = registry_.current()->storage().kv_list(std::string(kBlobPrefix) + prefix);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "keys");
  w.StartArray();
  for (size_t i = 0; i < entries.size() && i < limit; ++i)
    write_blob_info(w, std::string_view(entries[i].first).substr(kBlobPrefix.size()),
                    entries[i].second.size());
  w.EndArray();
  json::key(w, "truncated");
  w.Bool(entries.size() > limit);
  w.EndObject();
  return ok_json(buf);
}

// ---- demo seeding -----------------------------------------------------------------------------

size_t Api::seed_collection(const std::string& collection, const std::filesystem::path& jsonl) {
  auto gen = registry_.current();
  if (!gen->collection(collection)) {
    HttpRequest req;
    req.params = {collection};
    std::string empty;
    req.body = &empty;
    put_collection(req);
  }
  if (gen->collection(collection)->size() > 0) return 0;
  std::ifstream in(jsonl);
  if (!in) throw std::runtime_error("cannot read " + jsonl.string());
  std::vector<DocumentRecord> docs;
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rapidjson::Document d;
    if (auto err = json::parse(line, d); err || !d.IsObject() || !d.HasMember("id") ||
                                         !d["id"].IsString() || !d.HasMember("text") ||
                                         !d["text"].IsString())
      throw std::runtime_error(jsonl.string() + ":" + std::to_string(lineno) +
                               ": expected {\"id\": str, \"text\": str, \"metadata\": {...}}");
    DocumentRecord r;
    r.id = d["id"].GetString();
    r.text = d["text"].GetString();
    if (d.HasMember("metadata") && d["metadata"].IsObject())
      r.metadata_json = json::to_string(d["metadata"]);
    docs.push_back(std::move(r));
  }
  const size_t n = docs.size();
  if (n) upsert(collection, std::move(docs));
  return n;
}

}  // namespace lakehost
