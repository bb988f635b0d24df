// Document routes: upsert a batch (all or nothing), read one, delete one.
#include <set>

#include "http/request_json.h"
#include "http/routes.h"

namespace lakehost {
namespace {

using Value = rapidjson::Value;

constexpr size_t kMaxIdBytes = 512;

HttpResponse upsert_documents(RouteContext& ctx, const HttpRequest& req) {
  const std::string& name = req.params[0];
  auto body = parse_body(req);
  CollectionCatalog::require(*ctx.core.registry.current(), name);  // 404 before a body error
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
  ctx.core.documents.upsert(name, std::move(docs));
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::key(w, "upserted");
  w.Uint64(n);
  w.EndObject();
  return ok_json(buf);
}

HttpResponse get_document(RouteContext& ctx, const HttpRequest& req) {
  auto doc = ctx.core.documents.get(req.params[0], req.params[1]);
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

}  // namespace

void install_document_routes(HttpServer& s, RouteContext& ctx) {
  s.route("POST", "/v1/collections/{name}/documents", access::write_collection,
          [&ctx](const HttpRequest& r) { return upsert_documents(ctx, r); });
  s.route("GET", "/v1/collections/{name}/documents/{id}", access::read_collection,
          [&ctx](const HttpRequest& r) { return get_document(ctx, r); });
  s.route("DELETE", "/v1/collections/{name}/documents/{id}", access::write_collection,
          [&ctx](const HttpRequest& r) {
            ctx.core.documents.remove(r.params[0], r.params[1]);
            return HttpResponse{204, "", "application/json"};
          });
}

}  // namespace lakehost
