#include "core/chat.h"

#include "common/json.h"
#include "core/catalog.h"

namespace lakehost {

std::shared_ptr<ChatCall> ChatService::prepare(const ChatRequest& r) {
  auto call = std::make_shared<ChatCall>();
  call->gen = registry_.current();
  if (r.model && !r.model->empty()) {
    call->provider = call->gen->find(*r.model, LH_KIND_CHAT_PROVIDER);
    if (!call->provider)
      throw HostError(Errc::not_found, "model_not_found",
                      "/model: no chat provider with id \"" +
                          (json::is_clean_text(*r.model) ? *r.model : std::string("?")) +
                          "\" (GET /v1/models lists them)");
  } else {
    call->provider = call->gen->require(LH_KIND_CHAT_PROVIDER, nullptr);
  }
  call->messages = r.messages;
  call->temperature = r.temperature;
  call->max_tokens = r.max_tokens;
  if (!r.collection) return call;

  // Retrieval: the last user message searches the collection; the hits go into a system
  // message placed after the client's own leading system messages.
  auto coll = CollectionCatalog::require(*call->gen, *r.collection);
  const std::string* question = nullptr;
  for (auto it = call->messages.rbegin(); it != call->messages.rend(); ++it)
    if (it->first == "user") {
      question = &it->second;
      break;
    }
  if (!question || question->empty())
    throw unprocessable("/messages: retrieval needs a non-empty user message to search with");
  auto qv = search_.embed_query(*coll, *question);
  auto hits = SearchService::with_documents(
      *coll, search_.rank(*call->gen, *coll, qv, *question, r.role, r.k, nullptr, nullptr));
  std::string context =
      "Answer using the documents below when they are relevant, and cite the ids in brackets of "
      "those you use. If they do not contain the answer, say so.\n";
  for (const auto& h : hits) {
    context += "\n[" + h.id + "] " + h.text + "\n";
    call->sources.push_back(h.id);
  }
  size_t at = 0;
  while (at < call->messages.size() && call->messages[at].first == "system") ++at;
  call->messages.insert(call->messages.begin() + static_cast<std::ptrdiff_t>(at),
                        {"system", std::move(context)});
  return call;
}

ChatResult ChatService::run(const ChatCall& call,
                            const std::function<void(std::string_view)>& on_delta) {
  std::vector<lh_chat_message> msgs;
  for (const auto& [role, content] : call.messages) msgs.push_back({to_lh(role), to_lh(content)});
  lh_chat_request request{};
  request.struct_size = sizeof(lh_chat_request);
  request.messages = msgs.data();
  request.n_messages = msgs.size();
  request.model = {};  // the instance's configured model
  request.temperature = call.temperature;
  request.max_tokens = call.max_tokens;
  ChatResult result;
  lh_chat_usage usage{sizeof(lh_chat_usage), 0, 0};
  Chat(call.provider)
      .chat(
          request,
          [&](std::string_view t) {
            result.content.append(t);
            if (on_delta) on_delta(t);
          },
          usage);
  if (!json::is_clean_text(result.content))
    throw HostError(Errc::bad_upstream, "bad_upstream_reply",
                    "chat provider \"" + call.provider->id() + "\" replied with invalid UTF-8");
  result.prompt_tokens = usage.prompt_tokens;
  result.completion_tokens = usage.completion_tokens;
  return result;
}

}  // namespace lakehost
