#include "http/routes.h"

namespace lakehost {

void install_routes(HttpServer& server, RouteContext& ctx) {
  install_system_routes(server, ctx);
  install_embedding_routes(server, ctx);
  install_collection_routes(server, ctx);
  install_document_routes(server, ctx);
  install_search_routes(server, ctx);
  install_playbook_routes(server, ctx);
  install_storage_routes(server, ctx);
  install_chat_routes(server, ctx);
}

}  // namespace lakehost
