// Key/value routes (/v1/storage): opaque values under client keys (core/blobs.h).
#include <cstdlib>

#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {
namespace {

void write_blob_info(json::Writer& w, std::string_view key, size_t size) {
  w.StartObject();
  json::key(w, "key");
  json::put(w, key);
  json::key(w, "size");
  w.Uint64(size);
  w.EndObject();
}

HttpResponse put_blob(RouteContext& ctx, const HttpRequest& req) {
  const bool created = ctx.core.blobs.put(req.params[0], *req.body);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  write_blob_info(w, req.params[0], req.body->size());
  return ok_json(buf, created ? 201 : 200);
}

HttpResponse list_blobs(RouteContext& ctx, const HttpRequest& req) {
  size_t limit = 1000;
  if (auto l = req.query("limit")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || v < 1 || v > 10000)
      throw unprocessable("limit must be an integer from 1 to 10000");
    limit = static_cast<size_t>(v);
  }
  auto listing = ctx.core.blobs.list(req.query("prefix").value_or(""), limit);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "keys");
  w.StartArray();
  for (const auto& e : listing.entries) write_blob_info(w, e.key, e.size);
  w.EndArray();
  json::key(w, "truncated");
  w.Bool(listing.truncated);
  w.EndObject();
  return ok_json(buf);
}

}  // namespace

void install_storage_routes(HttpServer& s, RouteContext& ctx) {
  s.route("PUT", "/v1/storage/{key}", access::write_storage,
          [&ctx](const HttpRequest& r) { return put_blob(ctx, r); });
  s.route("GET", "/v1/storage/{key}", access::read_storage, [&ctx](const HttpRequest& r) {
    return HttpResponse{200, ctx.core.blobs.get(r.params[0]), "application/octet-stream"};
  });
  s.route("DELETE", "/v1/storage/{key}", access::write_storage, [&ctx](const HttpRequest& r) {
    ctx.core.blobs.remove(r.params[0]);
    return HttpResponse{204, "", "application/json"};
  });
  s.route("GET", "/v1/storage", access::read_storage,
          [&ctx](const HttpRequest& r) { return list_blobs(ctx, r); });
}

}  // namespace lakehost
