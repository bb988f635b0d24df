// Search routes: nearest documents in one collection (text or vector), and the matrix search
// (text only, with playbook boosts and injections flagged). Both run core/search.h's pipeline.
#include <cmath>

#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {
namespace {

using Value = rapidjson::Value;

constexpr size_t kMaxK = 1000;

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

// The client's vector as floats; the search service checks its dimension and norm.
std::vector<float> parse_vector(const Value& v) {
  if (!v.IsArray()) throw bad_request("/vector must be an array of numbers");
  std::vector<float> out;
  out.reserve(v.Size());
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    if (!v[i].IsNumber()) throw bad_request("/vector/" + std::to_string(i) + " must be a number");
    out.push_back(static_cast<float>(v[i].GetDouble()));
  }
  return out;
}

const Value* parse_filter(const Value& body) {
  const Value* filter = member(body, "filter");
  if (filter && !filter->IsObject()) throw bad_request("/filter must be an object");
  return filter;
}

// Writes the results array; with_flags adds boosted/injected (matrix search).
void write_results(json::Writer& w, const std::vector<SearchHit>& hits, bool with_flags) {
  json::key(w, "results");
  w.StartArray();
  for (const auto& h : hits) {
    w.StartObject();
    json::key(w, "id");
    json::put(w, h.id);
    json::key(w, "distance");
    w.Double(h.distance);
    if (with_flags) {
      json::key(w, "boosted");
      w.Bool(h.boosted);
      json::key(w, "injected");
      w.Bool(h.injected);
    }
    json::key(w, "text");
    json::put(w, h.text);
    json::key(w, "metadata");
    json::raw(w, h.metadata_json);
    w.EndObject();
  }
  w.EndArray();
}

HttpResponse search_collection(RouteContext& ctx, const HttpRequest& req) {
  auto body = parse_body(req);
  SearchQuery q;
  q.collection = req.params[0];
  CollectionCatalog::require(*ctx.core.registry.current(), q.collection);  // 404 first
  q.k = opt_k(body, 10);
  q.text = opt_string(body, "query");
  const Value* vector = member(body, "vector");
  if (q.text && vector) throw unprocessable("give either /query or /vector, not both");
  if (!q.text && !vector) throw bad_request("/query (a string) or /vector (numbers) is required");
  q.filter = parse_filter(body);
  q.scorer = opt_string(body, "scorer");
  q.role = opt_string(body, "role").value_or("");
  if (vector) q.vector = parse_vector(*vector);
  auto hits = ctx.core.search.search(q);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  write_results(w, hits, /*with_flags=*/false);
  w.EndObject();
  return ok_json(buf);
}

HttpResponse matrix_search(RouteContext& ctx, const HttpRequest& req) {
  auto body = parse_body(req);
  SearchQuery q;
  q.collection = opt_string(body, "collection").value_or(kDefaultCollection);
  req.require_collection(q.collection);
  CollectionCatalog::require(*ctx.core.registry.current(), q.collection);  // 404 first
  q.k = opt_k(body, 10);
  q.text = opt_string(body, "query");
  if (!q.text) throw bad_request("/query is required: a string");
  if (q.text->empty()) throw unprocessable("/query must not be empty");
  q.role = opt_string(body, "role").value_or("");
  q.filter = parse_filter(body);
  q.scorer = opt_string(body, "scorer");
  auto hits = ctx.core.search.search(q);
  size_t boosted = 0, injected = 0;
  for (const auto& h : hits) {
    boosted += h.boosted;
    injected += h.injected;
  }
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  write_results(w, hits, /*with_flags=*/true);
  json::key(w, "boosted");
  w.Uint64(boosted);
  json::key(w, "injected");
  w.Uint64(injected);
  w.EndObject();
  return ok_json(buf);
}

}  // namespace

void install_search_routes(HttpServer& s, RouteContext& ctx) {
  s.route("POST", "/v1/collections/{name}/search", access::read_collection,
          [&ctx](const HttpRequest& r) { return search_collection(ctx, r); });
  s.route("POST", "/v1/matrix/search", access::read,
          [&ctx](const HttpRequest& r) { return matrix_search(ctx, r); });
}

}  // namespace lakehost
