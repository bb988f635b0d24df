// The REST API v1 (docs/api.md): one file of routes per resource. Each handler parses the
// request, calls a core service (core/services.h) and renders its answer; errors are HostErrors
// that the server turns into the JSON envelope (http/errors.h maps them to statuses).
#pragma once

#include "core/services.h"
#include "http/api_keys.h"
#include "http/metrics.h"
#include "http/server.h"

namespace lakehost {

class Readiness;  // core/readiness.h

struct RouteContext {
  CoreServices& core;
  Metrics& metrics;
  const Readiness* readiness = nullptr;  // GET /ready reports from it (without one: 503)
  ApiKeys* api_keys = nullptr;           // POST /v1/admin/reload re-reads its key file
};

// Registers every route; `ctx` must outlive the server.
void install_routes(HttpServer& server, RouteContext& ctx);

// One per file, in the order install_routes calls them:
void install_system_routes(HttpServer& s, RouteContext& ctx);      // routes_system.cpp
void install_embedding_routes(HttpServer& s, RouteContext& ctx);   // routes_embeddings.cpp
void install_collection_routes(HttpServer& s, RouteContext& ctx);  // routes_collections.cpp
void install_document_routes(HttpServer& s, RouteContext& ctx);    // routes_documents.cpp
void install_search_routes(HttpServer& s, RouteContext& ctx);      // routes_search.cpp
void install_playbook_routes(HttpServer& s, RouteContext& ctx);    // routes_playbooks.cpp
void install_storage_routes(HttpServer& s, RouteContext& ctx);     // routes_storage.cpp
void install_chat_routes(HttpServer& s, RouteContext& ctx);        // routes_chat.cpp

// Who may call what when API keys are configured (docs/operator-guide.md, "Security"). Routes
// whose collection is in the body or the query check it in the handler (require_collection).
namespace access {
inline const Access open = open_route();
inline const Access read{Scope::read};
inline const Access write{Scope::write};
inline const Access read_openai{.scope = Scope::read, .openai_errors = true};
inline const Access read_collection{.scope = Scope::read, .collection_param = 0};
inline const Access write_collection{.scope = Scope::write, .collection_param = 0};
inline const Access admin_collection{.scope = Scope::admin, .collection_param = 0};
inline const Access admin_host{.scope = Scope::admin, .global = true};
inline const Access read_storage{.scope = Scope::read, .global = true};
inline const Access write_storage{.scope = Scope::write, .global = true};
inline const Access metrics{.global = true, .metrics = true};
}  // namespace access

// The collection the matrix routes use when the request names none (the seed's "workers").
inline constexpr const char* kDefaultCollection = "workers";

}  // namespace lakehost
