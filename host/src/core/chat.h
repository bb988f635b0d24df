// Chat: a provider's answer to a conversation, optionally grounded in a collection (retrieval
// puts the documents that best match the last user message into a system message).
// prepare() is fast and runs where the request arrived; run() waits on the provider's upstream
// server and belongs on a worker thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/registry.h"
#include "core/search.h"

namespace lakehost {

struct ChatRequest {
  std::optional<std::string> model;  // a chat provider id; absent or "": the default provider
  std::vector<std::pair<std::string, std::string>> messages;  // role, content
  float temperature = -1;                                     // < 0: the provider's
  int32_t max_tokens = 0;                                     // 0: the provider's
  std::optional<std::string> collection;                      // retrieval from it, if given
  size_t k = 4;                                               // documents retrieved
  std::string role;                                           // playbook role for retrieval
};

// One chat request, validated, with its retrieved context.
struct ChatCall {
  GenerationPtr gen;  // keeps the provider's instance (and library) alive during the call
  InstancePtr provider;
  std::vector<std::pair<std::string, std::string>> messages;  // with the retrieved context
  float temperature = -1;
  int32_t max_tokens = 0;
  std::vector<std::string> sources;  // ids of the documents put into the prompt
};

struct ChatResult {
  std::string content;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
};

class ChatService {
 public:
  ChatService(Registry& registry, SearchService& search) : registry_(registry), search_(search) {}

  // Errors: model_not_found (an unknown provider id), no_chat_provider, collection_not_found,
  // validation_failed (retrieval without a non-empty user message).
  std::shared_ptr<ChatCall> prepare(const ChatRequest& r);
  // Calls the provider; on_delta (may be empty) gets each piece of the reply as it arrives.
  // Errors: the provider's, bad_upstream_reply (a reply that is not UTF-8).
  static ChatResult run(const ChatCall& call,
                        const std::function<void(std::string_view)>& on_delta);

 private:
  Registry& registry_;
  SearchService& search_;
};

}  // namespace lakehost
