// Playbook routes: record that a document was a good answer to a query for a role, list the
// records, delete one. Matrix searches of the same role hand them to the scorer.
#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {
namespace {

using Value = rapidjson::Value;

HttpResponse record_playbook(RouteContext& ctx, const HttpRequest& req) {
  auto body = parse_body(req);
  Playbook p;
  p.collection = opt_string(body, "collection").value_or(kDefaultCollection);
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

  p = ctx.core.feedback.record(std::move(p));
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

HttpResponse list_playbooks(RouteContext& ctx, const HttpRequest& req) {
  const std::string collection = req.query("collection").value_or(kDefaultCollection);
  req.require_collection(collection);
  auto role = req.query("role");
  auto records = ctx.core.feedback.list(collection, role ? &*role : nullptr);
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

}  // namespace

void install_playbook_routes(HttpServer& s, RouteContext& ctx) {
  s.route("POST", "/v1/matrix/playbooks/record", access::write,
          [&ctx](const HttpRequest& r) { return record_playbook(ctx, r); });
  s.route("GET", "/v1/matrix/playbooks", access::read,
          [&ctx](const HttpRequest& r) { return list_playbooks(ctx, r); });
  s.route("DELETE", "/v1/matrix/playbooks/{id}", access::write, [&ctx](const HttpRequest& r) {
    const std::string collection = r.query("collection").value_or(kDefaultCollection);
    r.require_collection(collection);
    ctx.core.feedback.remove(collection, r.params[0]);
    return HttpResponse{204, "", "application/json"};
  });
}

}  // namespace lakehost
