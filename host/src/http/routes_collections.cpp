// Collection routes: list, create (idempotent), describe and delete collections.
#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {
namespace {

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

HttpResponse list_collections(RouteContext& ctx, const HttpRequest& req) {
  auto gen = ctx.core.registry.current();
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

HttpResponse put_collection(RouteContext& ctx, const HttpRequest& req) {
  CollectionCatalog::validate_name(req.params[0]);  // before the body: the name is the path's
  auto body = parse_body(req, /*allow_empty=*/true);
  CollectionChoice choice;
  choice.embedder = opt_string(body, "embedder");
  choice.vector_backend = opt_string(body, "vector_backend");
  choice.scorer = opt_string(body, "scorer");
  auto created = ctx.core.catalog.create(req.params[0], choice);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  write_collection(w, *created.collection);
  return ok_json(buf, created.created ? 201 : 200);
}

HttpResponse get_collection(RouteContext& ctx, const HttpRequest& req) {
  auto coll = CollectionCatalog::require(*ctx.core.registry.current(), req.params[0]);
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  write_collection(w, *coll);
  return ok_json(buf);
}

}  // namespace

void install_collection_routes(HttpServer& s, RouteContext& ctx) {
  s.route("GET", "/v1/collections", access::read,
          [&ctx](const HttpRequest& r) { return list_collections(ctx, r); });
  s.route("PUT", "/v1/collections/{name}", access::admin_collection,
          [&ctx](const HttpRequest& r) { return put_collection(ctx, r); });
  s.route("GET", "/v1/collections/{name}", access::read_collection,
          [&ctx](const HttpRequest& r) { return get_collection(ctx, r); });
  s.route("DELETE", "/v1/collections/{name}", access::admin_collection,
          [&ctx](const HttpRequest& r) {
            ctx.core.catalog.drop(r.params[0]);
            return HttpResponse{204, "", "application/json"};
          });
}

}  // namespace lakehost
